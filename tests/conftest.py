"""Shared fixtures: runs are expensive, so the historical run is made once per session."""
import pytest

from greatleap import Sim, load_scenario

SMALL_SCALE = 5000.0  # ~126,000 agents: fast, and enough for national shapes


@pytest.fixture(scope="session")
def historical():
    """The historical scenario, 1957-1966, at a small scale."""
    return Sim(load_scenario("historical"), scale=SMALL_SCALE).run()


@pytest.fixture(scope="session")
def historical_annual(historical):
    return historical.annual_national.set_index("year")


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true", default=False,
                     help="run the full reliability corpus and the slow README figures (minutes)")


@pytest.fixture(scope="session")
def full(request) -> bool:
    """True with --full: the whole corpus instead of the sample."""
    return bool(request.config.getoption("--full"))


@pytest.fixture
def ctrl_c_at_run(monkeypatch):
    """``arm(n)``: the n-th ``Sim.run`` of this test sends this process a real SIGINT (as Ctrl-C
    does) as it starts; returns the list that counts the runs."""
    import os
    import signal

    real = Sim.run

    def arm(n: int) -> list:
        runs: list = []

        def run(self, progress=None, until=None):
            runs.append(1)
            if len(runs) == n:
                os.kill(os.getpid(), signal.SIGINT)
            return real(self, progress, until)

        monkeypatch.setattr(Sim, "run", run)
        return runs

    return arm


@pytest.fixture(scope="session")
def tiny_posterior(tmp_path_factory):
    """A real small posterior: a tiny ABC calibration through the command line (2 generations of 4
    particles at scale 100,000), as test_abc_model's ``fitted``; made once, used by the explorer tests."""
    from typer.testing import CliRunner

    from greatleap.cli import app
    d = tmp_path_factory.mktemp("tiny-posterior")
    r = CliRunner().invoke(app, ["calibrate", "--method", "abc", "--particles", "4", "--seeds", "1",
                                 "--vintage", "both", "--storage", str(d / "h.sqlite"), "--scale", "100000",
                                 "--jobs", "1", "--generations", "2", "--out", str(d / "post2")])
    assert r.exit_code == 0, r.output
    return d / "post2"  # its folder holds the history h.sqlite, which test_abc_model resumes
