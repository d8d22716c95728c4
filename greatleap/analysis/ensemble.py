"""Ensembles: many runs of a scenario (seeds, parameter sets) in parallel local processes.

Each run returns its annual tables. A failing run is reported (seed and error) without losing
the others. The interface (``run_ensemble(jobs=...)``) is where a Ray or Dask backend would plug in.
"""
from __future__ import annotations

import multiprocessing as mp
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd

TABLES = ("annual_national", "annual_province")


@dataclass
class RunOutcome:
    seed: int
    tables: dict[str, pd.DataFrame] | None
    error: str | None = None


def _init_worker() -> None:
    import numba
    numba.set_num_threads(1)  # one process per core; no oversubscription


def run_one(scenario_dict: dict, seed: int, scale: float | None) -> RunOutcome:
    """Run one member (in this process). Exceptions become a failed outcome."""
    from greatleap.scenario import validate_scenario
    from greatleap.sim import Sim
    try:
        scen = validate_scenario(scenario_dict, scenario_dict.get("name", "scenario"))
        results = Sim(scen, scale=scale, seed=seed).run()
        return RunOutcome(seed, {name: getattr(results, name) for name in TABLES})
    except Exception as exc:  # noqa: BLE001 - reported, not swallowed
        return RunOutcome(seed, None, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")


def run_ensemble(scenario, seeds: Sequence[int], scale: float | None = None, jobs: int = 1,
                 progress: Callable[[int, int], None] | None = None) -> list[RunOutcome]:
    """Run ``scenario`` once per seed, in ``jobs`` processes; outcomes in seed order."""
    data = scenario.to_dict()
    outcomes: dict[int, RunOutcome] = {}
    if jobs <= 1:
        for k, seed in enumerate(seeds):
            outcomes[seed] = run_one(data, seed, scale)
            if progress:
                progress(k + 1, len(seeds))
    else:
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker) as pool:
            futures = {pool.submit(run_one, data, seed, scale): seed for seed in seeds}
            for k, fut in enumerate(as_completed(futures)):
                seed = futures[fut]
                try:
                    outcomes[seed] = fut.result()
                except Exception as exc:  # a worker process died
                    outcomes[seed] = RunOutcome(seed, None, f"worker failed: {exc}")
                if progress:
                    progress(k + 1, len(seeds))
    return [outcomes[s] for s in seeds]
