"""greatleap: a simulator of the Great Leap Forward (China, 1958-1962) and of the famine it caused.

``from greatleap import Sim, load_scenario``; ``Sim(load_scenario("historical")).run()``.
"""
__version__ = "0.1.0"

from greatleap.scenario import ScenarioError, load_scenario  # noqa: E402
from greatleap.sim import Sim  # noqa: E402

__all__ = ["Sim", "load_scenario", "ScenarioError", "__version__"]
