"""Random valid scenarios (every parameter drawn within its declared range, events dropped or
shifted) at a coarse scale: no crash, no ledger violation, no NaN, infinity or negative count.

Any problem (a crash, a ledger error, a bad number in a table) fails the test, naming it."""
import traceback

import pytest
from tally import tally
from corpus import random_scenario, table_problems

from greatleap.ledger import LedgerError
from greatleap.scenario import ScenarioError, validate_scenario

N_FULL, N_SAMPLE = 320, 4


def pytest_generate_tests(metafunc):  # noqa: D103 - the corpus size depends on --full
    if "k" in metafunc.fixturenames:
        n = N_FULL if metafunc.config.getoption("--full") else N_SAMPLE
        metafunc.parametrize("k", range(n))


def test_random_valid_scenario(k, request):
    from greatleap import Sim
    data = random_scenario(k)
    try:
        scen = validate_scenario(data, f"random_{k}")
    except ScenarioError as exc:  # drawn within the declared ranges, so this is our bug
        tally("random scenarios", "refused although valid", f"{k}: {str(exc)[:200]}")
        raise
    try:
        results = Sim(scen).run()
    except LedgerError as exc:
        problem = f"ledger: {str(exc).splitlines()[0][:160]}"
    except Exception as exc:  # noqa: BLE001 - a crash, classified below
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        problem = f"crash: {type(exc).__name__}: {str(exc)[:120]} ({frame.filename.rsplit('/', 1)[-1]}:{frame.lineno})"
    else:
        found = table_problems(results.tables())
        problem = f"tables: {'; '.join(found[:6])}{' ...' if len(found) > 6 else ''}" if found else None
    if problem is None:
        tally("random scenarios", "clean")
        return
    tally("random scenarios", problem.split(":")[0], f"{k}: {problem}")
    pytest.fail(problem)
