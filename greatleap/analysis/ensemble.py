"""Ensembles: many runs of a scenario (seeds, parameter sets) in parallel local processes.

Each run returns its annual tables. A failing run is reported (seed and error) without losing
the others. Finished runs go to an optional cache (one entry per scenario, seed, scale and model
source) as soon as they finish, so an interrupted ensemble loses nothing that finished. Workers
ignore Ctrl-C, die with their parent and are killed when the parent stops early. The interface
(``run_many(jobs=...)``) is where a Ray or Dask backend would plug in.
"""
from __future__ import annotations

import hashlib
import io
import json
import multiprocessing as mp
import os
import traceback
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import pandas as pd

from greatleap import interrupt
from greatleap.io import clean_stale, write_file_atomic

TABLES = ("annual_national", "annual_province", "deaths_by_age_class")


class CacheWarning(UserWarning):
    """The run cache could not be written (the analysis goes on without it)."""


@dataclass
class RunOutcome:
    seed: int
    tables: dict[str, pd.DataFrame] | None
    error: str | None = None
    cached: bool = False


def run_key(scenario_dict: dict, seed: int, scale: float | None) -> str:
    """Cache key of one run: scenario (every parameter and event), seed, scale and the hash of the
    package's source and data (any change to the model invalidates the cache)."""
    from greatleap.provenance import source_hash
    blob = json.dumps({"scenario": scenario_dict, "seed": seed, "scale": scale, "source": source_hash()},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


# ------------------------------------------------------------------ the run cache
def _entry_files(cache_dir, key: str) -> list[Path]:
    d = Path(cache_dir)
    return [d / f"{key}.json"] + [d / f"{key}-{name}.parquet" for name in TABLES]


def _cache_drop(cache_dir, key: str) -> None:
    for p in _entry_files(cache_dir, key):
        try:
            p.unlink()
        except OSError:
            pass


def _cache_load(cache_dir, key: str) -> dict[str, pd.DataFrame] | None:
    """A cached run, or None if absent; an entry whose files fail their checksum (truncated, empty,
    swapped) or cannot be read is deleted, so the run is recomputed."""
    manifest = Path(cache_dir) / f"{key}.json"
    if not manifest.is_file():
        return None
    try:
        digests = json.loads(manifest.read_text(encoding="utf-8"))["sha256"]
        out = {}
        for name in TABLES:
            blob = (Path(cache_dir) / f"{key}-{name}.parquet").read_bytes()
            if hashlib.sha256(blob).hexdigest() != digests[name]:
                raise ValueError(f"checksum of {name} does not match")
            out[name] = pd.read_parquet(io.BytesIO(blob))
        return out
    except Exception:  # noqa: BLE001 - any damage means: recompute
        _cache_drop(cache_dir, key)
        return None


def _cache_store(cache_dir, key: str, tables: dict[str, pd.DataFrame]) -> None:
    """Store one run: the Parquet tables, then a manifest with their checksums (the entry exists
    only once the manifest is in place). Raises OSError when the cache cannot be written."""
    d = Path(cache_dir)
    d.mkdir(parents=True, exist_ok=True)
    digests = {}
    try:
        for name in TABLES:
            blob = tables[name].to_parquet(index=False)
            write_file_atomic(d / f"{key}-{name}.parquet", blob)
            digests[name] = hashlib.sha256(blob).hexdigest()
        write_file_atomic(d / f"{key}.json", json.dumps({"sha256": digests}).encode())
    except OSError:
        _cache_drop(cache_dir, key)
        raise


# ------------------------------------------------------------------ running
def run_one(scenario_dict: dict, seed: int, scale: float | None) -> RunOutcome:
    """Run one member (in this process). Exceptions become a failed outcome; an interrupt
    (checked between months) propagates."""
    from greatleap.scenario import validate_scenario
    from greatleap.sim import Sim
    try:
        scen = validate_scenario(scenario_dict, scenario_dict.get("name", "scenario"))
        results = Sim(scen, scale=scale, seed=seed).run(interrupt.progress_check)
        return RunOutcome(seed, {name: getattr(results, name) for name in TABLES})
    except Exception as exc:  # noqa: BLE001 - reported, not swallowed
        return RunOutcome(seed, None, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")


class WorkerPool:
    """Worker processes that ignore Ctrl-C, die with the parent, and are killed if the parent
    leaves the ``with`` block early (an interrupt or an error)."""

    def __init__(self, jobs: int):
        self.executor = ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"),
                                            initializer=interrupt.worker_init, initargs=(os.getpid(),))

    def __enter__(self) -> "WorkerPool":
        return self

    def submit(self, fn, *args) -> Future:
        return self.executor.submit(fn, *args)

    def kill(self) -> None:
        procs = list((getattr(self.executor, "_processes", None) or {}).values())
        self.executor.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.kill()
        for p in procs:
            p.join(timeout=10)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.executor.shutdown(wait=True)
        else:
            self.kill()


def as_finished(futures: Iterable[Future], poll: float = 0.2) -> Iterator[Future]:
    """Futures as they finish, checking for an interrupt between short waits."""
    pending = set(futures)
    while pending:
        interrupt.check()
        done, pending = wait(pending, timeout=poll, return_when=FIRST_COMPLETED)
        interrupt.check()
        yield from done


def run_ensemble(scenario, seeds: Sequence[int], scale: float | None = None, jobs: int = 1,
                 progress: Callable[[int, int], None] | None = None, cache_dir=None) -> list[RunOutcome]:
    """Run ``scenario`` once per seed, in ``jobs`` processes; outcomes in seed order."""
    return run_many([(scenario.to_dict(), seed) for seed in seeds], scale, jobs, progress, cache_dir)


def run_many(members: Sequence[tuple[dict, int]], scale: float | None = None, jobs: int = 1,
             progress: Callable[[int, int], None] | None = None, cache_dir=None) -> list[RunOutcome]:
    """Run many (scenario dict, seed) members; finished runs are reused from ``cache_dir``.

    Outcomes come back in the order of ``members``; a failed member is reported, not raised. A
    cache that cannot be written is said once (:class:`CacheWarning`) and the runs go on.
    """
    outcomes: list[RunOutcome | None] = [None] * len(members)
    keys = [run_key(data, seed, scale) for data, seed in members] if cache_dir else []
    if cache_dir:
        clean_stale(cache_dir)
    todo = []
    for k, (data, seed) in enumerate(members):
        cached = _cache_load(cache_dir, keys[k]) if cache_dir else None
        if cached is not None:
            outcomes[k] = RunOutcome(seed, cached, cached=True)
        else:
            todo.append(k)
    done = len(members) - len(todo)
    if progress:
        progress(done, len(members))
    cache_ok = bool(cache_dir)

    def finish(k: int, outcome: RunOutcome) -> None:
        nonlocal done, cache_ok
        outcomes[k] = outcome
        if cache_ok and outcome.tables is not None:
            try:
                _cache_store(cache_dir, keys[k], outcome.tables)
            except OSError as exc:
                cache_ok = False
                warnings.warn(f"run cache {cache_dir} cannot be written ({exc.strerror or exc}); "
                              f"finished runs are not cached", CacheWarning, stacklevel=3)
        done += 1
        if progress:
            progress(done, len(members))

    if jobs <= 1 or len(todo) <= 1:
        for k in todo:
            finish(k, run_one(members[k][0], members[k][1], scale))
            interrupt.check()
    else:
        with WorkerPool(min(jobs, len(todo))) as pool:
            futures = {pool.submit(run_one, members[k][0], members[k][1], scale): k for k in todo}
            for fut in as_finished(futures):
                k = futures[fut]
                try:
                    finish(k, fut.result())
                except Exception as exc:  # noqa: BLE001 - a worker process died
                    finish(k, RunOutcome(members[k][1], None, f"worker failed: {exc}"))
    return outcomes
