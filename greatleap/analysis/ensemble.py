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

TABLES = ("annual_national", "annual_province", "deaths_by_age_class")


@dataclass
class RunOutcome:
    seed: int
    tables: dict[str, pd.DataFrame] | None
    error: str | None = None
    cached: bool = False


def run_key(scenario_dict: dict, seed: int, scale: float | None) -> str:
    """Cache key of one run: scenario (every parameter and event), seed, scale and the hash of the
    package's source and data (any change to the model invalidates the cache)."""
    import hashlib
    import json

    from greatleap.provenance import source_hash
    blob = json.dumps({"scenario": scenario_dict, "seed": seed, "scale": scale, "source": source_hash()},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _cache_load(cache_dir, key: str) -> dict[str, pd.DataFrame] | None:
    from pathlib import Path
    paths = {name: Path(cache_dir) / f"{key}-{name}.parquet" for name in TABLES}
    if not all(p.is_file() for p in paths.values()):
        return None
    return {name: pd.read_parquet(p) for name, p in paths.items()}


def _cache_store(cache_dir, key: str, tables: dict[str, pd.DataFrame]) -> None:
    import os
    from pathlib import Path
    d = Path(cache_dir)
    d.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        tmp = d / f".{key}-{name}.parquet.tmp"
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, d / f"{key}-{name}.parquet")  # atomic: a half-written file is never read


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
                 progress: Callable[[int, int], None] | None = None, cache_dir=None) -> list[RunOutcome]:
    """Run ``scenario`` once per seed, in ``jobs`` processes; outcomes in seed order."""
    return run_many([(scenario.to_dict(), seed) for seed in seeds], scale, jobs, progress, cache_dir)


def run_many(members: Sequence[tuple[dict, int]], scale: float | None = None, jobs: int = 1,
             progress: Callable[[int, int], None] | None = None, cache_dir=None) -> list[RunOutcome]:
    """Run many (scenario dict, seed) members; finished runs are reused from ``cache_dir``.

    Outcomes come back in the order of ``members``; a failed member is reported, not raised.
    """
    outcomes: list[RunOutcome | None] = [None] * len(members)
    todo = []
    for k, (data, seed) in enumerate(members):
        cached = _cache_load(cache_dir, run_key(data, seed, scale)) if cache_dir else None
        if cached is not None:
            outcomes[k] = RunOutcome(seed, cached, cached=True)
        else:
            todo.append(k)
    done = len(members) - len(todo)
    if progress:
        progress(done, len(members))

    def finish(k: int, outcome: RunOutcome) -> None:
        nonlocal done
        outcomes[k] = outcome
        if cache_dir and outcome.tables is not None:
            _cache_store(cache_dir, run_key(members[k][0], members[k][1], scale), outcome.tables)
        done += 1
        if progress:
            progress(done, len(members))

    if jobs <= 1 or len(todo) <= 1:
        for k in todo:
            finish(k, run_one(members[k][0], members[k][1], scale))
    else:
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker) as pool:
            futures = {pool.submit(run_one, members[k][0], members[k][1], scale): k for k in todo}
            for fut in as_completed(futures):
                k = futures[fut]
                try:
                    finish(k, fut.result())
                except Exception as exc:  # a worker process died
                    finish(k, RunOutcome(members[k][1], None, f"worker failed: {exc}"))
    return outcomes
