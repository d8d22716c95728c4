"""The orchestrator: builds the world from the registered mechanisms and runs the month's plan.

``Sim`` holds no model rule. It validates the scenario(s), lays out provinces and places, builds
one :class:`~greatleap.world.World` (one member per scenario: a batch of seeds or parameter sets
steps together), initialises every mechanism in registration order, and then, month by month,
runs the plan (:mod:`greatleap.loop`) that ``greatleap plan`` prints, timing each step.
``run(until=...)`` may stop at a month and continue later; ``snapshot()``/``restore()`` branch a run.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Sequence

import numpy as np

from greatleap import __version__
from greatleap.kernels import get_backend
from greatleap.levers import parse_month
from greatleap.lifecycle import Tables
from greatleap.loop import build_plan, describe_plan
from greatleap.memory import estimate_memory, people_capacity
from greatleap.mechanisms import DEFAULT
from greatleap.mechanisms.base import Month
from greatleap.mechanisms.communes import ScaleError, layout
from greatleap.params import Params
from greatleap.passes import BirthsPass, CensusPass, LivePass, Ledgers
from greatleap.provenance import provenance
from greatleap.recorder import Recorder
from greatleap.results import MemberRecords, Results
from greatleap.scenario import Scenario, ScenarioError, load_scenario, validate_scenario
from greatleap.timeline import lever_matrix
from greatleap.world import World

ENGINE_PARTS = (CensusPass, LivePass, BirthsPass, Ledgers, Recorder)
# Below this many person slots (all members together) a run uses one Numba thread: thread start-up
# and, on a busy machine, oversubscription cost more than the parallel loops save (a scale-20000
# run took 5.6 s with two threads on a loaded 2-core machine, 0.6 s with one). Results do not
# depend on the thread count.
SMALL_RUN_SLOTS = 300_000
# parameters that shape the world's layout: every member of a batch must share them
STRUCTURE = ("run.start", "run.end", "run.scale", "run.communes", "run.min_agents_per_commune",
             "run.capacity_factor", "population.initial_population_million")


def _get(scenario: Scenario, dotted: str):
    section, name = dotted.split(".")
    return getattr(getattr(scenario, section), name)


class Sim:
    """``Sim(load_scenario("historical"), scale=1000, seed=1).run()`` -> :class:`Results`.

    ``scenario`` may be a list of scenarios (members of one batch: same structure, other seeds or
    parameters); ``run()`` then returns one Results per member.
    """

    def __init__(self, scenario: Scenario | str | Sequence[Scenario] | None = None, *, scale: float | None = None,
                 seed: int | None = None, backend: str = "cpu", mechanisms: Sequence[type] = DEFAULT,
                 threads: int | None = None):
        scenarios = list(scenario) if isinstance(scenario, (list, tuple)) else [scenario]
        scenarios = [self._prepare(s, scale, seed) for s in scenarios]
        for key in STRUCTURE:
            values = {_get(s, key) for s in scenarios}
            if len(values) > 1:
                raise ScenarioError(f"members of one batch must share {key}; got {sorted(values, key=str)}")
        self.scenarios, self.scenario = scenarios, scenarios[0]
        self.batched = isinstance(scenario, (list, tuple))
        self.params = Params(scenarios)
        self.seeds = np.array([s.run.seed for s in scenarios], dtype=np.int64)
        self.check_ledgers = all(s.run.check_ledgers for s in scenarios)
        self.backend = get_backend(backend)
        self.backend_name = backend
        try:
            self.layout = layout(self.scenario)
        except ScaleError as exc:
            raise ScenarioError(str(exc)) from None
        self.geo = self.layout.geography
        self.start = parse_month(self.scenario.run.start)
        self.n_months = parse_month(self.scenario.run.end) - self.start + 1
        self.levers = np.stack([lever_matrix(s, self.geo.province_names) for s in scenarios])
        capacity = people_capacity(scenarios, self.layout.n_agents, tuple(mechanisms))
        self.world = World(self.geo, len(scenarios), capacity, self.n_months, self.start, float(self.scenario.run.scale))
        self.threads = threads if threads is not None else (1 if capacity * len(scenarios) < SMALL_RUN_SLOTS else None)
        self.mechanisms = [cls() for cls in tuple(mechanisms) + ENGINE_PARTS]
        with _numba_threads(self.threads):  # the setup's slices too (world.map_slices)
            for mech in self.mechanisms:
                mech.init(self)
        self.tables = self._tables()
        self.plan = build_plan(self.mechanisms)
        self.timings = {step.name: 0.0 for step in self.plan}
        self.compile_seconds = 0.0

    @staticmethod
    def _prepare(scenario, scale, seed) -> Scenario:
        if scenario is None or isinstance(scenario, str):
            scenario = load_scenario(scenario or "historical")
        if scale is None and seed is None:
            return scenario
        data = scenario.to_dict()
        if scale is not None:
            data["run"]["scale"] = scale
        if seed is not None:
            data["run"]["seed"] = seed
        return validate_scenario(data, scenario.name)

    def mechanism(self, name: str):
        """The registered mechanism called ``name``."""
        for mech in self.mechanisms:
            if mech.name == name:
                return mech
        raise KeyError(f"no mechanism {name!r}; registered: {[m.name for m in self.mechanisms]}")

    def _tables(self) -> Tables:
        """Per-member lookup tables the person passes read (built by the mechanisms' init)."""
        nu, mo, fe, la = (self.mechanism(n) for n in ("nutrition", "mortality", "fertility", "labor"))
        return Tables(nu.need, nu.activity_extra, nu.capacity, mo.base_hazard, fe.conception, fe.amenorrhoea,
                      la.work_capacity, mo.hunger_beta, mo.frailty)

    # ------------------------------------------------------------------ the plan
    @classmethod
    def default_plan(cls, mechanisms: Sequence[type] = DEFAULT) -> str:
        """The month's plan of the default mechanisms, as ``greatleap plan`` prints it."""
        return describe_plan(build_plan([m() for m in tuple(mechanisms) + ENGINE_PARTS]))

    def describe(self) -> str:
        return describe_plan(self.plan)

    def place_name(self, k: int) -> str:
        kind = "city" if self.geo.place_is_city[k] else "commune"
        return f"{k} ({kind} of {self.geo.province_names[self.geo.place_province[k]]})"

    # ------------------------------------------------------------------ the month
    @property
    def t(self) -> int:
        return self.world.t

    def step(self) -> None:
        """One month: every step of the plan, in order."""
        t = self.world.t
        month = Month(t, self.start + t, self.levers[:, t], t == self.n_months - 1)
        for step in self.plan:
            t0 = time.perf_counter()
            step.run(self.world, month)
            self.timings[step.name] += time.perf_counter() - t0
        self.world.t += 1

    def run(self, progress: Callable[[int, int], None] | None = None, until: str | int | None = None):
        """Run months until ``until`` (a 'YYYY-MM' month, included, or a number of months) or the end.

        ``progress(done, total)`` is called after each month. Returns the results so far: one
        :class:`Results` (or a list, one per member, for a batch).
        """
        stop = self.n_months if until is None else (
            int(until) if isinstance(until, int) else parse_month(until) - self.start + 1)
        if not 0 <= stop <= self.n_months:
            raise ScenarioError(f"until = {until!r}: outside the run {self.scenario.run.start} .. {self.scenario.run.end}")
        if self.compile_seconds == 0.0:
            t0 = time.perf_counter()
            warmup(self.backend_name)
            self.compile_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        with _numba_threads(self.threads):
            while self.world.t < stop:
                self.step()
                if progress is not None:
                    progress(self.world.t, self.n_months)
        self._wall = getattr(self, "_wall", 0.0) + time.perf_counter() - t0
        out = [self.results(m) for m in range(self.world.members)]
        return out if self.batched else out[0]

    def snapshot(self) -> dict:
        """Everything that changes during a run; ``restore`` it to continue or branch from this month."""
        return self.world.snapshot()

    def restore(self, snap: dict) -> None:
        self.world.restore(snap)

    def results(self, member: int = 0) -> Results:
        """The result tables of one member for the months run so far."""
        scen = self.scenarios[member]
        records = MemberRecords(self.world.records, member, self.geo, self.start, self.world.t)
        meta = {"scenario": scen.to_dict(), "seed": scen.run.seed, "scale": self.world.scale,
                "backend": self.backend_name, "agents_start": int(self.layout.n_agents),
                "persons_start": float(self.layout.n_agents * self.world.scale), "n_communes": int(self.geo.n_communes),
                "months": int(self.world.t), "wall_seconds": getattr(self, "_wall", 0.0),
                "compile_seconds": self.compile_seconds, "timings_seconds": dict(self.timings),
                "plan": [s.name for s in self.plan], **provenance()}
        meta["version"] = __version__
        return Results(records, meta)


@contextmanager
def _numba_threads(threads: int | None):
    """Run with ``threads`` Numba threads (None: Numba's default), then restore the setting."""
    if threads is None:
        yield
        return
    import numba
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


_WARM: set[str] = set()


def warmup(backend: str = "cpu") -> None:
    """Compile (or load from cache) every kernel by stepping a tiny world for two months."""
    if backend in _WARM:
        return
    _WARM.add(backend)
    tiny = load_scenario("historical", **{"run.scale": 1e5, "run.end": "1957-06"})
    sim = Sim(tiny, backend=backend)
    sim.compile_seconds = -1.0  # no recursion
    for _ in range(sim.n_months):
        sim.step()


__all__ = ["Sim", "ScenarioError", "estimate_memory", "warmup"]
