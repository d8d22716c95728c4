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
