"""Ensembles: many runs (seeds, parameter sets) batched into shared worlds, on local processes or a cluster.

Members that share a world's structure (``greatleap.sim.STRUCTURE``: months, scale, communes, ...)
are stepped together in one :class:`~greatleap.sim.Sim` (a batch, one member axis), which gives
each member exactly the tables it gets alone and saves per-run overhead at coarse scales. Each run
returns its annual tables. A failing member is reported (seed and error) without losing the
others: a batch that fails is rerun member by member, and the members of a batch whose worker
died are resubmitted one by one. Finished runs go to an optional cache (one entry per scenario,
seed, scale and model source) as soon as they finish, so an interrupted ensemble loses nothing
that finished. ``jobs`` is a number of local processes or an open pool
(:mod:`greatleap.analysis.executor`, :mod:`greatleap.analysis.cluster`).
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from greatleap import interrupt
from greatleap.analysis.executor import WorkerPool, as_finished, open_pool, slots
from greatleap.io import clean_stale, write_file_atomic

__all__ = ["RunOutcome", "WorkerPool", "as_finished", "make_batches", "run_batch", "run_ensemble", "run_key",
           "run_many", "run_one", "CacheWarning"]

TABLES = ("annual_national", "annual_province", "deaths_by_age_class")


class CacheWarning(UserWarning):
    """The run cache could not be written (the analysis goes on without it)."""


@dataclass
class RunOutcome:
    seed: int
    tables: dict[str, pd.DataFrame] | None
    error: str | None = None
    cached: bool = False


# what makes the tables from a run: this module and the prefix-tree runner (analysis/forks.py)
_RUNNER_HASH = hashlib.sha256(b"".join(p.read_bytes() for p in (Path(__file__), Path(__file__).with_name("forks.py")))
                              ).hexdigest()[:16]


def run_key(scenario_dict: dict, seed: int, scale: float | None) -> str:
    """Cache key of one run: scenario (every parameter and event), seed, scale and the hash of the
    model, its scenarios and data, and of this module, which makes the tables (any change to them
    invalidates the cache; a change to the command line, the web page or another analysis does not)."""
    from greatleap.provenance import model_hash
    blob = json.dumps({"scenario": scenario_dict, "seed": seed, "scale": scale, "model": model_hash(),
                       "runner": _RUNNER_HASH},
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
def _failed(seed: int, exc: BaseException) -> RunOutcome:
    return RunOutcome(seed, None, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")


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
        return _failed(seed, exc)


def run_batch(members: Sequence[tuple[dict, int]], scale: float | None) -> list[RunOutcome]:
    """Run members that share a structure as one batched world (in this process); outcomes in order.

    If the batch fails (a member's parameters break the run, say), each member is rerun alone, so
    only the faulty one fails. An interrupt propagates."""
    from greatleap.scenario import validate_scenario
    from greatleap.sim import Sim
    if len(members) == 1:
        return [run_one(members[0][0], members[0][1], scale)]
    try:
        scens = [validate_scenario(_with(data, seed, scale), data.get("name", "scenario")) for data, seed in members]
        results = Sim(scens).run(interrupt.progress_check)
        return [RunOutcome(seed, {name: getattr(r, name) for name in TABLES}) for (_, seed), r in zip(members, results)]
    except Exception:  # noqa: BLE001 - find the faulty member(s) by running each alone
        return [run_one(data, seed, scale) for data, seed in members]


def _with(data: dict, seed: int, scale: float | None) -> dict:
    """A scenario dict with its seed (and scale, when given) set."""
    run = {**data.get("run", {}), "seed": seed, **({"scale": scale} if scale is not None else {})}
    return {**data, "run": run}


# A batch is filled up to this many person agents (all members together) and this many members: the
# gain of a batch is the per-month overhead shared by small worlds; a member of 300,000 agents or more
# (scale <= ~2,000) already keeps the kernels busy and runs alone.
BATCH_AGENTS = 300_000
BATCH_MEMBERS = 16


def structure_key(data: dict, scale: float | None):
    """What members must share to be batched (``greatleap.sim.STRUCTURE``), or None if unreadable."""
    from greatleap.sim import STRUCTURE
    try:
        return tuple(json.dumps(scale if key == "run.scale" and scale is not None else data[section][name])
                     for key, (section, name) in ((k, k.split(".")) for k in STRUCTURE))
    except (KeyError, TypeError):
        return None


def _agents(data: dict, scale: float | None) -> int:
    """Person agents of one member at the start (as ``communes.layout`` counts them)."""
    try:
        return max(1, round(float(data["population"]["initial_population_million"]) * 1e6
                            / float(scale if scale is not None else data["run"]["scale"])))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return BATCH_AGENTS


def make_batches(n: int, agents: int, workers: int = 1, batch: int | None = None) -> list[range]:
    """Split ``n`` members of ``agents`` person agents each into batches of near-equal size.

    A batch holds up to ``BATCH_AGENTS`` agents and ``BATCH_MEMBERS`` members (or ``batch`` members
    when given), and there are at least as many batches as ``workers`` (while members last)."""
    if n <= 0:
        return []
    size = batch if batch is not None else max(1, min(BATCH_MEMBERS, BATCH_AGENTS // max(1, agents)))
    count = math.ceil(n / max(1, size))
    if batch is None:
        count = max(count, min(workers, n))
    edges = [round(k * n / count) for k in range(count + 1)]
    return [range(a, b) for a, b in zip(edges, edges[1:]) if b > a]


def plan_batches(members: Sequence[tuple[dict, int]], todo: Sequence[int], scale: float | None, workers: int,
                 batch: int | None = None) -> list[list[int]]:
    """Batches (lists of member indices) of the members ``todo``: grouped by structure, then sized."""
    groups: dict = {}
    for k in todo:
        key = structure_key(members[k][0], scale)
        groups.setdefault(key if key is not None else ("alone", k), []).append(k)
    share = max(1, round(workers / max(1, len(groups))))  # spread the workers over the groups
    out = []
    for ks in groups.values():
        agents = _agents(members[ks[0]][0], scale)
        out += [[ks[i] for i in r] for r in make_batches(len(ks), agents, share, batch)]
    return sorted(out, key=len, reverse=True)  # big batches first: the small ones fill the gaps at the end


def run_ensemble(scenario, seeds: Sequence[int], scale: float | None = None, jobs=1,
                 progress: Callable[[int, int], None] | None = None, cache_dir=None) -> list[RunOutcome]:
    """Run ``scenario`` once per seed, in ``jobs`` processes (or an open pool); outcomes in seed order."""
    return run_many([(scenario.to_dict(), seed) for seed in seeds], scale, jobs, progress, cache_dir)


# a member whose solo run loses its worker this many times is reported failed (it may be what kills it)
SOLO_ATTEMPTS = 2


def run_many(members: Sequence[tuple[dict, int]], scale: float | None = None, jobs=1,
             progress: Callable[[int, int], None] | None = None, cache_dir=None,
             batch: int | None = None, share_prefix: bool = False, keep_tables: bool = True) -> list[RunOutcome]:
    """Run many (scenario dict, seed) members; finished runs are reused from ``cache_dir``.

    ``jobs``: local worker processes, or an open pool (``WorkerPool``, ``ClusterPool``). Members
    sharing a structure run in batches (:func:`make_batches`; ``batch`` = members per batch, 1 =
    each alone). Outcomes come back in the order of ``members``; a failed member is reported, not
    raised. A cache that cannot be written is said once (:class:`CacheWarning`) and the runs go on.
    ``share_prefix``: members that differ only in their events and agree on their first months run
    those months once (:mod:`greatleap.analysis.forks`; the same tables). ``keep_tables=False``:
    only fill the cache; finished outcomes come back with empty ``tables`` ({}), failed ones with None.
    """
    outcomes: list[RunOutcome | None] = [None] * len(members)
    keys = [run_key(data, seed, scale) for data, seed in members] if cache_dir else []
    if cache_dir:
        clean_stale(cache_dir)
    todo = []
    for k, (data, seed) in enumerate(members):
        cached = _cache_load(cache_dir, keys[k]) if cache_dir else None
        if cached is not None:
            outcomes[k] = RunOutcome(seed, cached if keep_tables else {}, cached=True)
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
                              f"finished runs are not cached", CacheWarning, stacklevel=4)
        if not keep_tables and outcome.tables is not None:
            outcomes[k] = RunOutcome(outcome.seed, {}, outcome.error, outcome.cached)
        done += 1
        if progress:
            progress(done, len(members))

    if share_prefix:
        from greatleap.analysis.forks import plan_units, run_forked
        batches, runner = plan_units(members, todo, scale, slots(jobs)), run_forked
    else:
        batches, runner = plan_batches(members, todo, scale, slots(jobs), batch), run_batch
    with open_pool(jobs, needed=len(batches)) as pool:
        if pool is None:
            for ks in batches:
                for k, outcome in zip(ks, runner([members[k] for k in ks], scale)):
                    finish(k, outcome)
                interrupt.check()
        else:
            _run_on(pool, members, batches, scale, finish, runner)
    return outcomes


def _run_on(pool, members, batches: list[list[int]], scale, finish: Callable[[int, RunOutcome], None],
            runner: Callable = run_batch) -> None:
    """Run the batches on ``pool`` with ``runner``; a batch whose worker died is resubmitted member
    by member."""
    futures = {pool.submit(runner, [members[k] for k in ks], scale): (ks, 0) for ks in batches}
    try:
        while futures:
            fut = next(as_finished(list(futures)))
            ks, attempt = futures.pop(fut)
            try:
                for k, outcome in zip(ks, fut.result()):
                    finish(k, outcome)
            except Exception as exc:  # noqa: BLE001 - the worker died (or the pool broke) under this batch
                if len(ks) == 1 and attempt + 1 >= SOLO_ATTEMPTS:
                    finish(ks[0], RunOutcome(members[ks[0]][1], None, f"worker failed: {type(exc).__name__}: {exc}"))
                    continue
                for k in ks:
                    futures[pool.submit(run_batch, [members[k]], scale)] = ([k], attempt + 1 if len(ks) == 1 else 0)
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
