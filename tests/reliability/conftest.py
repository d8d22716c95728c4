"""The reliability suite: a sample runs with the tests, everything with ``--full``.

Figures (refused cleanly, random scenarios run, problems found) are printed at the end.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from tally import FIGURES, PROBLEMS  # noqa: E402


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames and hasattr(metafunc.function, "cases"):
        full = metafunc.config.getoption("--full")
        cases = metafunc.function.cases()
        every = getattr(metafunc.function, "every", 8)
        chosen = cases if full else cases[::every]
        metafunc.parametrize("case", chosen, ids=[str(c[0]) for c in chosen])


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    tr = terminalreporter
    tr.section("reliability figures")
    for group, counts in FIGURES.items():
        tr.write_line(f"{group}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for group, details in PROBLEMS.items():
        tr.write_line(f"{group} problems ({len(details)}):")
        for d in details[:40]:
            tr.write_line(f"  {d}")
