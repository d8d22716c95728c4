"""The memory a run needs, known before it is built: slots of the people frame and bytes a slot.

The people frame holds a slot for everyone alive at once; newborns take the slots of the dead.
A run finer than ``PILOT_SCALE`` with at least ``PILOT_MIN_AGENTS`` agents is sized from the
projected births: a pilot run of the same scenario(s) and mechanisms at ``PILOT_SCALE`` gives
the peak of the living population over the run (after each month's births) relative to the
start, and the frame gets that many slots per initial agent plus ``SPARE`` (the historical run
peaks at ~1.19 in 1966). Smaller runs take ``run.capacity_factor`` slots per agent, as before.
Should a run still outgrow its frame, the births pass grows it by ``passes.GROWTH``, column by
column (one old column is held while its larger copy is filled); the estimate counts one such
growth.

:func:`estimate_memory` (bytes) is what ``greatleap run`` checks against the memory available
(``GREATLEAP_AVAILABLE_MEMORY``, bytes, overrides what the system reports) before building.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

PILOT_SCALE = 20000.0      # persons per agent of the pilot run (~31,000 agents; well under a second)
PILOT_MIN_AGENTS = 2_000_000  # smaller frames (scale above ~300) are sized by run.capacity_factor
# slots above the pilot's peak, per initial agent: the pilot's own noise is ~0.3%, and its coarser communes
# grow ~2% less by 1966 than validate's scale (peak 1.170 against 1.192 at 5,000 on the model of stop 38)
SPARE = 0.03
RUNTIME_BYTES = 400 * 2**20  # interpreter, NumPy, Numba and the compiled kernels, measured ~250 MiB
SETUP_BYTES_PER_AGENT = 80   # temporaries of the setup, per agent of a setup slice (world.SETUP_CHUNK) being set up
PLACE_BYTES = 8 * 200        # per member and place: the places frame and the passes' per-chunk tallies
AVAILABLE_ENV = "GREATLEAP_AVAILABLE_MEMORY"


@dataclass(frozen=True)
class Estimate:
    """Bytes a run needs, by part (see the module docstring)."""
    agents: int
    slots: int
    bytes_per_slot: int
    people: int       # the people frame as built
    growth: int       # one growth of the frame (passes.GROWTH) while its largest column is copied
    other: int        # places and tallies, setup temporaries, the runtime

    @property
    def total(self) -> int:
        return self.people + self.growth + self.other

    @property
    def bytes_per_person(self) -> float:
        """People-frame bytes (spare slots included) per person alive at the start."""
        return self.people / self.agents


def _key(scenarios) -> str:
    data = [s.to_dict() for s in scenarios]
    for d in data:
        d["run"]["scale"] = None
    return json.dumps(data, sort_keys=True, default=str)


def _pilot_sim(key: str, mechanisms: tuple[type, ...]):
    from greatleap.scenario import validate_scenario
    from greatleap.sim import Sim

    scenarios = []
    for d in json.loads(key):
        d["run"]["scale"] = PILOT_SCALE
        scenarios.append(validate_scenario(d, d.get("name", "pilot")))
    return Sim(scenarios, mechanisms=mechanisms)


@lru_cache(maxsize=32)
def _peak(key: str, mechanisms: tuple[type, ...]) -> float:
    """Peak living population / initial (largest over members) of the run at PILOT_SCALE."""
    sim = _pilot_sim(key, mechanisms)
    start = sim.world.people.alive.sum(axis=1)
    peak = start.copy()
    sim.run(lambda done, total: np.maximum(peak, sim.world.people.alive.sum(axis=1), out=peak))
    return float((peak / start).max())


@lru_cache(maxsize=32)
def _itemsizes(key: str, mechanisms: tuple[type, ...]) -> dict[str, int]:
    """Bytes a slot of each people column takes (from a world built at PILOT_SCALE)."""
    return {name: arr.dtype.itemsize for name, arr in _pilot_sim(key, mechanisms).world.people.arrays().items()}


def people_capacity(scenarios: Sequence, n_agents: int, mechanisms: Sequence[type]) -> int:
    """Slots of the people frame for a run of ``n_agents`` initial agents (see the module docstring)."""
    run = scenarios[0].run
    if run.scale >= PILOT_SCALE or n_agents < PILOT_MIN_AGENTS:
        return int(n_agents * run.capacity_factor)
    peak = _peak(_key(scenarios), tuple(mechanisms))
    return int(math.ceil(n_agents * (peak + SPARE))) + 1


def estimate(scenarios: Sequence, mechanisms: Sequence[type] | None = None) -> Estimate:
    """The memory a run of ``scenarios`` (members of one batch) needs, by part, without building it."""
    from greatleap.mechanisms import DEFAULT
    from greatleap.mechanisms.communes import ScaleError, layout
    from greatleap.mechanisms.migration import place_dtype
    from greatleap.passes import GROWTH
    from greatleap.world import SETUP_CHUNK, setup_workers

    mechanisms = tuple(DEFAULT if mechanisms is None else mechanisms)
    try:
        lay = layout(scenarios[0])
    except ScaleError as exc:
        from greatleap.scenario import ScenarioError
        raise ScenarioError(str(exc)) from None
    slots = people_capacity(scenarios, lay.n_agents, mechanisms)
    itemsize = dict(_itemsizes(_key(scenarios), mechanisms))
    itemsize["place"] = place_dtype(lay.geography.n_places).itemsize
    per_slot, members = sum(itemsize.values()), len(scenarios)
    people = members * slots * per_slot
    growth = int(people * (GROWTH - 1.0)) + members * slots * max(itemsize.values())
    setup = setup_workers(lay.n_agents) * min(lay.n_agents, SETUP_CHUNK) * SETUP_BYTES_PER_AGENT  # slices at once
    other = members * lay.geography.n_places * PLACE_BYTES + setup + RUNTIME_BYTES
    return Estimate(lay.n_agents, slots, per_slot, people, growth, other)


def estimate_memory(scenario, scale: float | None = None) -> int:
    """Bytes a run of ``scenario`` at ``scale`` (default: the scenario's) needs, all included."""
    from greatleap.sim import Sim

    return estimate([Sim._prepare(scenario, scale, None)]).total


def available_memory() -> int | None:
    """Bytes this process may still use: ``GREATLEAP_AVAILABLE_MEMORY`` if set, else the system's
    MemAvailable (free memory plus what the page cache would give back); None if unknown."""
    given = os.environ.get(AVAILABLE_ENV)
    if given is not None:
        return int(float(given))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return None
