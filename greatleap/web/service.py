"""The explorer's run service: request -> scenario -> cached or fresh run, and the Why jobs.

Runs are cached in memory and on disk under ``cache_dir`` by :func:`greatleap.analysis.ensemble.run_key`
(scenario with every parameter and event, seed, scale and the hash of the package's source and
data), so a changed model never serves an old number. Nothing is read or written outside
``cache_dir``: requests name built-in scenarios and levers only, and downloads take a run key.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greatleap.analysis.ensemble import run_key
from greatleap.provenance import source_hash
from greatleap.scenario import builtin_names
from greatleap.web.levers import LeverError, apply_levers, check_levers, check_preset
from greatleap.web.pool import RunPool

KEY = re.compile(r"^[0-9a-f]{24}$")
MEMORY_RUNS = 512


@dataclass
class Config:
    """Server settings (``greatleap serve`` options)."""
    cache_dir: Path
    scale: float = 20000.0          # the page's default scale (real persons per agent)
    seeds: int = 4                  # seeds per state on the page (interval of excess deaths)
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    queue: int | None = None        # requests allowed to wait for a worker (None = 4 x workers)
    run_timeout: float = 60.0       # seconds per run
    why_timeout: float = 1800.0     # seconds per Shapley breakdown
    why_scale: float = 50000.0      # coarse scale of the Shapley runs
    why_permutations: int = 8       # sampled orderings for moved levers (built-ins: exact)
    precompute: bool = True         # Shapley of the built-ins in the background
    posterior: Any = None           # a greatleap.analysis.posterior.Posterior, or None: the calibrated point
    draws: int = 8                  # with a posterior: parameter sets per state, each run with every seed
    draw_seed: int = 0              # fixed, so a page state is reproducible

    def __post_init__(self) -> None:
        self.cache_dir = Path(self.cache_dir).expanduser().resolve()
        if self.queue is None:
            self.queue = 4 * self.workers
        # systematic resampling on the weights, once: every state (and its baseline) uses these draws
        self.params = [] if self.posterior is None else self.posterior.draws(self.draws, self.draw_seed)

    @property
    def n_draws(self) -> int:
        """Parameter sets per page state (0: the calibrated point only)."""
        return len(self.params)

    def replicates(self, seed: int) -> list[tuple[int | None, int]]:
        """(draw, seed) of every run behind a state's intervals; the page's seed first, draw-major."""
        seeds = [seed + k for k in range(self.seeds)]
        return [(d, s) for d in range(self.n_draws) for s in seeds] if self.params else [(None, s) for s in seeds]

    def uncertainty(self) -> str:
        """The plain-words note shown with every interval (page and API)."""
        seeds = f"{self.seeds} seed{'s' if self.seeds > 1 else ''}"
        if not self.params:
            return f"Intervals: range over {seeds} - seed uncertainty only, at the calibrated point."
        return (f"Intervals: {self.n_draws} parameter sets from the posterior x {seeds} each "
                f"({self.n_draws * self.seeds} runs) - parameter and seed uncertainty; changes against history "
                f"are paired within each run (same parameters and seed).")


def atomic_write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(value), encoding="utf-8")
    os.replace(tmp, path)


class RunService:
    """Turns a checked request into a run payload, from the cache or a worker."""

    def __init__(self, config: Config, pool: RunPool):
        self.cfg, self.pool = config, pool
        self.runs_dir = config.cache_dir / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self._memory: OrderedDict[str, dict] = OrderedDict()
        self._inflight: dict[str, asyncio.Task] = {}

    def scenario(self, preset: str, levers: dict[str, Any], draw: int | None = None
                 ) -> tuple[str, dict[str, Any], dict]:
        """(preset, the moved levers, the scenario dict under posterior ``draw`` if given); raises
        LeverError or ScenarioError."""
        preset = check_preset(preset)
        moved = check_levers(levers)
        if draw is not None and not 0 <= draw < self.cfg.n_draws:
            allowed = (f"an integer 0 .. {self.cfg.n_draws - 1}" if self.cfg.n_draws else
                       "none: this server runs at the calibrated point (start it with --posterior)")
            raise LeverError("draw", draw, allowed)
        return preset, moved, apply_levers(preset, moved, None if draw is None else self.cfg.params[draw])

    def folder(self, key: str) -> Path | None:
        """The cache folder of a finished run, or None (``key`` must be a run key)."""
        if not KEY.match(key):
            return None
        path = self.runs_dir / key
        return path if (path / "payload.json").is_file() else None

    async def run(self, preset: str, levers: dict[str, Any], seed: int, scale: float, draw: int | None = None
                  ) -> dict:
        preset, moved, data = self.scenario(preset, levers, draw)
        key = run_key(data, seed, scale)
        meta = {"key": key, "scenario": preset, "levers": moved, "seed": seed, "scale": scale, "draw": draw,
                "name": data["name"], "source_hash": source_hash()}
        payload, cached = self._memory.get(key), True
        if payload is None and (folder := self.folder(key)) is not None:
            payload = json.loads((folder / "payload.json").read_text(encoding="utf-8"))
        if payload is None:
            task = self._inflight.get(key)
            if task is None:
                task = asyncio.get_running_loop().create_task(self.pool.call(
                    "run", {"data": data, "seed": seed, "scale": scale, "folder": str(self.runs_dir / key)}))
                self._inflight[key] = task
                task.add_done_callback(lambda _t: self._inflight.pop(key, None))
            payload, cached = await asyncio.shield(task), False
        self._memory[key] = payload
        self._memory.move_to_end(key)
        while len(self._memory) > MEMORY_RUNS:
            self._memory.popitem(last=False)
        return {**payload, "meta": {**meta, "cached": cached}}

    async def excess(self, preset: str, levers: dict[str, Any], seed: int, scale: float) -> dict:
        """Excess deaths 1958-62 of a state over every replicate, each paired with the historical
        baseline under the same draw and seed: the replicates and mean / 5-95% / range of each."""
        self.scenario(preset, levers)  # refuse a bad state before anything runs
        gate = asyncio.Semaphore(max(1, self.pool.size))  # never more at once than workers: no "busy"

        async def one(draw, s, state):
            async with gate:
                return (await self.run(*state, s, scale, draw))["metrics"]["excess_deaths_true"]

        reps = self.cfg.replicates(seed)
        now = await asyncio.gather(*(one(d, s, (preset, levers)) for d, s in reps))
        base = await asyncio.gather(*(one(d, s, ("historical", {})) for d, s in reps))
        rows = [{"draw": d, "seed": s, "excess": a, "baseline": b, "change": a - b}
                for (d, s), a, b in zip(reps, now, base)]
        return {"replicates": rows, "excess": interval([r["excess"] for r in rows]),
                "change": interval([r["change"] for r in rows]), **self.cfg_view()}

    def cfg_view(self) -> dict[str, Any]:
        """What the intervals are made of, for the API's JSON and the page."""
        return {"draws": self.cfg.n_draws, "seeds": self.cfg.seeds, "runs": len(self.cfg.replicates(1)),
                "uncertainty": self.cfg.uncertainty()}


def interval(values: list[float]) -> dict[str, float]:
    """Mean, 5-95% and full range of replicate values."""
    import numpy as np
    v = np.asarray(values, float)
    return {"mean": float(v.mean()), "p05": float(np.quantile(v, 0.05)), "p95": float(np.quantile(v, 0.95)),
            "min": float(v.min()), "max": float(v.max())}


@dataclass
class WhyJob:
    id: str
    preset: str
    levers: dict[str, Any]
    data: dict
    exact: bool
    status: str = "queued"          # idle (not started), queued, running, done, error
    done: int = 0
    total: int = 0
    result: dict | None = None
    error: str | None = None

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "scenario": self.preset, "levers": self.levers, "status": self.status,
                "done": self.done, "total": self.total, "exact": self.exact, "result": self.result,
                "error": self.error}


class WhyService:
    """Shapley breakdowns, one worker at a time (``slots``); asked-for jobs before background ones."""

    def __init__(self, config: Config, runs: RunService, slots: int = 1):
        self.cfg, self.runs, self.slots = config, runs, slots
        self.dir = config.cache_dir / "why"
        self.runs_dir = config.cache_dir / "why-runs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.jobs: dict[str, WhyJob] = {}
        self._queue: asyncio.PriorityQueue | None = None
        self._seq = 0
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self._queue = asyncio.PriorityQueue()
        self._tasks = [asyncio.get_running_loop().create_task(self._runner()) for _ in range(self.slots)]
        if self.cfg.precompute:
            for name in builtin_names():
                self.submit(name, {}, priority=1)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

    def _job_id(self, data: dict, exact: bool) -> str:
        blob = json.dumps({"run": run_key(data, 1, self.cfg.why_scale), "exact": exact,
                           "permutations": 0 if exact else self.cfg.why_permutations}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def submit(self, preset: str, levers: dict[str, Any], priority: int = 0, start: bool = True) -> WhyJob:
        """The breakdown of a state: from the cache, under way, or queued (``start``; asked-for jobs first)."""
        preset, moved, data = self.runs.scenario(preset, levers)
        exact = not moved  # built-ins exactly; moved levers by sampled orderings (faster)
        job_id = self._job_id(data, exact)
        job = self.jobs.get(job_id)
        if job is None:
            job = WhyJob(job_id, preset, moved, data, exact, status="idle")
            stored = self.dir / f"{job_id}.json"
            if stored.is_file():
                job.result, job.status = json.loads(stored.read_text(encoding="utf-8")), "done"
            if job.status == "done" or start:
                self.jobs[job_id] = job
        if start and job.status in ("idle", "queued", "error"):
            job.status, job.error = "queued", None
            self._seq += 1
            self._queue.put_nowait((priority, self._seq, job))
        return job

    def get(self, job_id: str) -> WhyJob | None:
        return self.jobs.get(job_id) if KEY.match(job_id) else None

    def status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for job in self.jobs.values():
            counts[job.status] = counts.get(job.status, 0) + 1
        return counts

    async def _runner(self) -> None:
        while True:
            _, _, job = await self._queue.get()
            if job.status != "queued":
                continue
            job.status = "running"

            def progress(done: int, total: int, job: WhyJob = job) -> None:
                job.done, job.total = done, total

            try:
                result = await self.runs.pool.call(
                    "why", {"data": job.data, "scale": self.cfg.why_scale, "seeds": (1,),
                            "permutations": 0 if job.exact else self.cfg.why_permutations,
                            "runs_cache": str(self.runs_dir)},
                    timeout=self.cfg.why_timeout, progress=progress, bounded=False)
                atomic_write_json(self.dir / f"{job.id}.json", result)
                job.result, job.status = result, "done"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - shown to the page, the server goes on
                job.status, job.error = "error", str(exc)
