"""ABC-SMC: a posterior over parameters from a simulator and a distance to the record.

Adaptive sequential Monte Carlo ABC with MCMC moves (Del Moral, Doucet & Jasra 2012; the
replenishment algorithm of Drovandi & Pettitt 2011). Generation 0 samples the prior. Generation t
sets the threshold eps_t to the ``quantile`` of the particles' distances, keeps the particles
within it and resamples them back to N, then moves every particle by ABC Metropolis-Hastings
steps (Marjoram et al. 2003): a Gaussian random-walk proposal (covariance 2.38^2/d times the
population's), accepted if its simulation lies within eps_t and by the prior ratio. The number of
moves R follows the first round's acceptance rate a (R = log 0.05 / log(1 - a), at most
``max_moves``), so that a particle is left where it was with probability about 5%.

Why not importance weights (Beaumont et al. 2009 PMC, as in pyabc)? With ~30 parameters and a few
hundred particles the weight prior / sum_j w_j K(theta | theta_j) varies by orders of magnitude
from particle to particle (its logarithm has a spread of about sqrt(d/2)), and the effective
sample size collapses to a handful (measured on this model: 1-5 of 60). MCMC moves leave the
weights equal. The random walk works in an unbounded space: z = x (log x where the prior is
log-uniform) is uniform on its box; y = logit of z's position in the box has the logistic prior.

Deterministic: every proposal, simulation seed and acceptance draw comes from a random stream
keyed to (seed, generation, round, particle) and results are consumed in order, so a result does
not depend on the executor, the number of workers or their timing. Every evaluation is written to
an SQLite history as it is consumed; rerunning with the same file resumes where it stopped
(finished evaluations are reused, never re-run) and gives the result an uninterrupted run would have.
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np
import pandas as pd

from greatleap.analysis.executor import local_executor, ordered_map, slots
from greatleap.io import lock_exclusively


ALGORITHM = "abc-smc-mcmc/1"  # changes whenever the same settings would give other populations


class ABCError(ValueError):
    """Bad ABC settings or history file; the message names the key, the value and what is allowed."""


class Problem(Protocol):
    """What ABC needs from a simulator: summaries of one run, and a distance over k runs."""

    def simulate(self, params: dict[str, float], seed: int) -> np.ndarray: ...
    def distance(self, summaries: np.ndarray) -> float: ...  # (k runs x m summaries) -> distance >= 0
    def fingerprint(self) -> dict: ...                         # what must match to resume a history


class Prior:
    """Independent uniform priors (log-uniform where ``log``), from ``[[calibration.parameters]]`` specs."""

    def __init__(self, specs: Sequence[dict]):
        if not specs:
            raise ABCError("prior: no parameters; allowed: at least one {key, low, high[, log]}")
        for s in specs:
            if not (np.isfinite(s["low"]) and np.isfinite(s["high"]) and s["low"] < s["high"]):
                raise ABCError(f"prior {s['key']}: low = {s['low']}, high = {s['high']}; allowed: finite, low < high")
            if s.get("log") and s["low"] <= 0:
                raise ABCError(f"prior {s['key']}: log = true with low = {s['low']}; allowed: low > 0")
        self.keys = tuple(s["key"] for s in specs)
        self.low = np.array([float(s["low"]) for s in specs])
        self.high = np.array([float(s["high"]) for s in specs])
        self.log = np.array([bool(s.get("log", False)) for s in specs])
        self.z_low, self.z_high = self.to_z(self.low), self.to_z(self.high)

    def to_z(self, x: np.ndarray) -> np.ndarray:
        z = np.array(x, float)
        z[..., self.log] = np.log(z[..., self.log])
        return z

    def to_x(self, z: np.ndarray) -> np.ndarray:
        x = np.array(z, float)
        x[..., self.log] = np.exp(x[..., self.log])
        return x

    def sample_z(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.z_low, self.z_high, size=(n, len(self.keys)))

    def inside(self, z: np.ndarray) -> np.ndarray:
        return np.all((z >= self.z_low) & (z <= self.z_high), axis=-1)

    def unbound(self, z: np.ndarray) -> np.ndarray:
        """y = logit of z's position in the prior box (the kernel's working space)."""
        u = np.clip((np.asarray(z, float) - self.z_low) / (self.z_high - self.z_low), 1e-12, 1 - 1e-12)
        return np.log(u) - np.log1p(-u)

    def bound(self, y: np.ndarray) -> np.ndarray:
        return self.z_low + (self.z_high - self.z_low) / (1.0 + np.exp(-np.clip(np.asarray(y, float), -700, 700)))

    def log_density_y(self, y: np.ndarray) -> np.ndarray:
        """Log prior density of y, up to a constant: sum of log(u (1 - u)), u = sigmoid(y)."""
        y = np.asarray(y, float)
        return -(np.logaddexp(0, -y) + np.logaddexp(0, y)).sum(axis=-1)

    def params(self, z: np.ndarray) -> dict[str, float]:
        return dict(zip(self.keys, map(float, self.to_x(z))))

    def specs(self) -> list[dict]:
        return [{"key": k, "low": float(lo), "high": float(hi), "log": bool(lg)}
                for k, lo, hi, lg in zip(self.keys, self.low, self.high, self.log)]


@dataclass(frozen=True)
class SMCSettings:
    """Population size, runs per particle, threshold schedule and stopping rules."""

    population: int = 100        # particles per generation
    seeds_per_particle: int = 1  # model runs per particle (distance of their mean)
    quantile: float = 0.5        # eps_t = this quantile of the particles' distances (the share kept)
    seed: int = 0                # master seed of proposals and simulation seeds
    min_drop: float = 0.05       # stop when eps falls by less than this fraction in a generation
    max_generations: int = 20
    max_runs: int | None = None      # budget: model runs in the whole history
    max_wall_s: float | None = None  # budget: seconds in this call
    min_epsilon: float = 0.0         # stop once eps is this small
    min_acceptance: float = 0.02     # stop once the MCMC moves are accepted less often than this
    max_moves: int = 8               # most MCMC rounds per generation

    def check(self) -> None:
        rules = {"population": self.population >= 2, "seeds_per_particle": self.seeds_per_particle >= 1,
                 "quantile": 0.0 < self.quantile < 1.0, "min_drop": 0.0 <= self.min_drop < 1.0,
                 "max_generations": self.max_generations >= 1, "seed": 0 <= self.seed < 2**62,
                 "max_runs": self.max_runs is None or self.max_runs >= 1,
                 "max_wall_s": self.max_wall_s is None or self.max_wall_s > 0, "min_epsilon": self.min_epsilon >= 0,
                 "min_acceptance": 0.0 <= self.min_acceptance < 1.0, "max_moves": self.max_moves >= 1}
        allowed = {"population": ">= 2", "seeds_per_particle": ">= 1", "quantile": "0 < q < 1", "min_drop": "0 <= f < 1",
                   "max_generations": ">= 1", "seed": "0 .. 2^62-1", "max_runs": ">= 1", "max_wall_s": "> 0",
                   "min_epsilon": ">= 0", "min_acceptance": "0 <= a < 1", "max_moves": ">= 1"}
        for key, ok in rules.items():
            if not ok:
                raise ABCError(f"ABC setting {key} = {getattr(self, key)!r}; allowed: {allowed[key]}")

    def fingerprint(self) -> dict:
        """What shapes the populations (stopping rules and budgets may change between resumes)."""
        keys = ("population", "seeds_per_particle", "quantile", "seed", "max_moves")
        return {"algorithm": ALGORITHM, **{k: getattr(self, k) for k in keys}}


@dataclass
class Population:
    generation: int
    epsilon: float
    y: np.ndarray          # particles x parameters (unbounded working space, see Prior.unbound)
    weights: np.ndarray    # normalised (equal after the resampling and moves)
    distances: np.ndarray
    summaries: np.ndarray  # particles x summaries (mean over the particle's runs)
    evaluated: int         # proposals evaluated in the generation
    moves: int = 0         # MCMC rounds
    acceptance: float = 1.0  # share of MCMC proposals accepted (1 for the prior sample)

    @property
    def ess(self) -> float:
        return float(1.0 / np.sum(self.weights ** 2))

    @property
    def unique(self) -> int:
        """Distinct particles: resampling duplicates, moves make them distinct again."""
        return len(np.unique(self.y, axis=0))


@dataclass
class SMCResult:
    prior: Prior
    settings: SMCSettings
    population: Population
    generations: pd.DataFrame  # generation, epsilon, evaluated, moves, acceptance_rate, ess, unique, runs, wall_s
    stop_reason: str
    runs: int                  # model runs in the whole history
    wall_s: float              # seconds spent in this call

    def particles(self) -> pd.DataFrame:
        """The last population: one row per particle, parameter values (natural units), weight, distance."""
        x = self.prior.to_x(self.prior.bound(self.population.y))
        out = pd.DataFrame(x, columns=list(self.prior.keys))
        out.insert(0, "distance", self.population.distances)
        out.insert(0, "weight", self.population.weights)
        return out


def evaluate_particle(problem: Problem, params: dict[str, float],
                      seeds: Sequence[int]) -> tuple[np.ndarray | None, float, str | None]:
    """Run the simulator once per seed (in a worker): mean summaries, distance, and the error if a run
    failed (the particle is then rejected; a broken worker or pool is raised, not recorded)."""
    try:
        sims = np.vstack([np.asarray(problem.simulate(params, int(s)), float) for s in seeds])
        return sims.mean(axis=0), float(problem.distance(sims)), None
    except Exception as exc:  # noqa: BLE001 - a model failure is an outcome (distance inf), kept in the history
        return None, math.inf, f"{type(exc).__name__}: {exc}"


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][min(np.searchsorted(cum, q * cum[-1]), len(values) - 1)])


def systematic_resample(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices drawn in proportion to ``weights`` with one uniform (low variance, deterministic)."""
    cum = np.cumsum(weights)
    u = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(cum, u * cum[-1]), len(cum) - 1)


class History:
    """The SMC history in SQLite: settings fingerprint, every evaluation, every finished generation."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise ABCError(f"history = {str(path)!r}: not a file; allowed: an SQLite file (new or from an earlier run)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:  # one run at a time: two would both write each generation
            self._lock = lock_exclusively(self.path)
        except BlockingIOError:
            raise ABCError(f"history = {str(path)!r}: in use by another ABC calibration running now; allowed: "
                           f"another history file (--storage), or wait for that run to end and rerun to resume") \
                from None
        try:
            self.db = sqlite3.connect(self.path)
            # WAL without fsync per commit: a crash loses at most the last evaluations, never the file
            self.db.executescript(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
                "CREATE TABLE IF NOT EXISTS evaluations(generation INT, idx INT, y TEXT, distance REAL, "
                "summaries TEXT, error TEXT, runs INT, PRIMARY KEY(generation, idx));"
                "CREATE TABLE IF NOT EXISTS generations(generation INT PRIMARY KEY, epsilon REAL, evaluated INT, "
                "moves INT, acceptance REAL, y TEXT, weights TEXT, distances TEXT, summaries TEXT, runs INT, "
                "wall_s REAL);")
        except sqlite3.DatabaseError as exc:
            os.close(self._lock)
            raise ABCError(f"history = {str(path)!r}: not an ABC history ({exc}); allowed: a new file or one "
                           f"written by an earlier ABC run") from None

    def bind(self, fingerprint: dict) -> None:
        """Record the fingerprint in a new history; refuse one made with other settings."""
        fp = json.loads(json.dumps(fingerprint, default=str))
        row = self.db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
        if row is None:
            with self.db:
                self.db.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (json.dumps(fp, sort_keys=True),))
            return
        old = json.loads(row[0])
        for key in sorted(set(old) | set(fp)):
            if old.get(key) != fp.get(key):
                raise ABCError(f"history {self.path}: made with other settings ({key} = {old.get(key)!r}, now "
                               f"{fp.get(key)!r}); allowed: the same settings to resume, or a new history file")

    def evaluation(self, t: int, i: int) -> tuple[np.ndarray | None, float, str | None] | None:
        row = self.db.execute("SELECT summaries, distance, error FROM evaluations WHERE generation = ? AND idx = ?",
                              (t, i)).fetchone()
        if row is None:
            return None
        return (np.array(json.loads(row[0]), float) if row[0] else None,
                math.inf if row[1] is None else float(row[1]), row[2])

    def add_evaluation(self, t: int, i: int, y: np.ndarray, summaries, distance: float, error: str | None,
                       runs: int) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (t, i, json.dumps(y.tolist()), distance if np.isfinite(distance) else None,
                             json.dumps(np.asarray(summaries).tolist()) if summaries is not None else None, error, runs))

    def total_runs(self) -> int:
        return int(self.db.execute("SELECT COALESCE(SUM(runs), 0) FROM evaluations").fetchone()[0])

    def add_generation(self, pop: Population, wall_s: float) -> None:
        arrays = [json.dumps(np.asarray(v).tolist()) for v in (pop.y, pop.weights,
                                                                np.where(np.isfinite(pop.distances), pop.distances, -1),
                                                                pop.summaries)]
        with self.db:
            self.db.execute("INSERT INTO generations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (pop.generation, pop.epsilon if np.isfinite(pop.epsilon) else None, pop.evaluated,
                             pop.moves, pop.acceptance, *arrays, self.total_runs(), wall_s))

    def populations(self) -> list[Population]:
        out = []
        for t, eps, evaluated, moves, acc, y, w, d, summ, _, _ in self.db.execute(
                "SELECT * FROM generations ORDER BY generation"):
            d = np.array(json.loads(d), float)
            out.append(Population(t, math.inf if eps is None else eps, np.array(json.loads(y), float),
                                  np.array(json.loads(w), float), np.where(d < 0, math.inf, d),
                                  np.array(json.loads(summ), float), evaluated, moves, acc))
        return out

    def table(self) -> pd.DataFrame:
        runs = dict(self.db.execute("SELECT generation, runs FROM generations").fetchall())
        walls = dict(self.db.execute("SELECT generation, wall_s FROM generations").fetchall())
        return pd.DataFrame([{"generation": p.generation, "epsilon": p.epsilon, "evaluated": p.evaluated,
                              "moves": p.moves, "acceptance_rate": p.acceptance, "ess": p.ess, "unique": p.unique,
                              "runs": runs[p.generation], "wall_s": walls[p.generation]} for p in self.populations()])

    def close(self) -> None:
        self.db.close()
        os.close(self._lock)  # after the connection: closing it drops this process's SQLite locks


def _stop_reason(pops: list[Population], s: SMCSettings, runs: int, elapsed: float) -> str | None:
    if len(pops) >= s.max_generations:
        return f"max generations ({s.max_generations})"
    if pops and pops[-1].epsilon <= s.min_epsilon:
        return f"threshold {pops[-1].epsilon:.4g} <= min epsilon {s.min_epsilon:g}"
    if len(pops) >= 3:
        drop = (pops[-2].epsilon - pops[-1].epsilon) / pops[-2].epsilon
        if drop < s.min_drop:
            return f"converged: threshold fell by {drop:.1%} in the last generation (< {s.min_drop:.0%})"
    if len(pops) >= 2 and pops[-1].acceptance < s.min_acceptance:
        return (f"particles barely move: {pops[-1].acceptance:.1%} of the moves accepted in generation "
                f"{pops[-1].generation} (< {s.min_acceptance:.0%})")
    if s.max_runs is not None and runs >= s.max_runs:
        return f"run budget ({s.max_runs} runs) spent"
    if s.max_wall_s is not None and elapsed >= s.max_wall_s:
        return f"wall-time budget ({s.max_wall_s:g} s) spent"
    return None


class _Round:
    """Evaluates one batch of proposals of a generation (stored ones are reused), within the budgets."""

    def __init__(self, problem: Problem, prior: Prior, s: SMCSettings, hist: History, executor, window: int,
                 deadline: float, progress):
        self.problem, self.prior, self.s, self.hist = problem, prior, s, hist
        self.executor, self.window, self.deadline, self.progress = executor, window, deadline, progress
        self.runs = hist.total_runs()

    def __call__(self, t: int, offset: int, ys: np.ndarray, total: int) -> list | str:
        """Results (summaries, distance, error) of proposals ``ys``, evaluation ids offset + k; or why not."""
        s, hist = self.s, self.hist

        def calls():
            for k, y in enumerate(ys):
                if hist.evaluation(t, offset + k) is None:
                    if (s.max_runs is not None and self.runs + s.seeds_per_particle > s.max_runs) \
                            or time.monotonic() > self.deadline:
                        return
                    self.runs += s.seeds_per_particle
                seeds = np.random.default_rng([s.seed, _SIM, t, offset + k]).integers(1, 2**31 - 1, s.seeds_per_particle)
                yield self.problem, self.prior.params(self.prior.bound(y)), seeds.tolist()

        out = []
        stored = lambda k: hist.evaluation(t, offset + k)
        for k, value in ordered_map(evaluate_particle, calls(), self.executor, self.window, stored):
            if hist.evaluation(t, offset + k) is None:
                hist.add_evaluation(t, offset + k, ys[k], *value, s.seeds_per_particle)
            out.append(value)
            if self.progress:
                self.progress(t, offset + k + 1, total)
        if len(out) < len(ys):
            budget = "run" if s.max_runs is not None and self.runs + s.seeds_per_particle > s.max_runs else "wall-time"
            return (f"{budget} budget spent during generation {t} (its evaluations are kept: rerun with a larger "
                    f"budget to continue)")
        return out


_MOVE, _SIM, _RESAMPLE = 1, 2, 3  # random stream tags: proposals and acceptance draws, run seeds, resampling


def _summaries(results: list, width: int | None = None) -> np.ndarray:
    """Stack the summaries of evaluations; a failed one (None) becomes a row of NaN."""
    width = width if width is not None else next((len(r[0]) for r in results if r[0] is not None), 0)
    return np.array([r[0] if r[0] is not None else np.full(width, np.nan) for r in results], float)


def _generation(t: int, prev: Population | None, prior: Prior, s: SMCSettings, run_round: _Round) -> Population | str:
    """Generation t: the prior sample, or threshold, resample and MCMC moves; a string says why it stopped short."""
    n, d = s.population, len(prior.keys)
    if prev is None:
        y = np.array([prior.unbound(prior.sample_z(np.random.default_rng([s.seed, _MOVE, 0, 0, i]), 1)[0])
                      for i in range(n)])
        res = run_round(0, 0, y, n)
        if isinstance(res, str):
            return res
        return Population(0, math.inf, y, np.full(n, 1.0 / n), np.array([r[1] for r in res]), _summaries(res), n)
    ok = np.isfinite(prev.distances)
    if not ok.any():
        return f"every simulation of generation {t - 1} failed (see the errors in the history)"
    eps = float(np.quantile(prev.distances[ok], s.quantile))
    alive = np.flatnonzero(ok & (prev.distances <= eps))
    keep = alive[systematic_resample(prev.weights[alive], n, np.random.default_rng([s.seed, _RESAMPLE, t]))]
    y, dist, summ = prev.y[keep].copy(), prev.distances[keep].copy(), prev.summaries[keep].copy()
    centred = y - y.mean(axis=0)
    chol = np.linalg.cholesky((2.38**2 / d) * (centred.T @ centred) / n + np.diag(np.full(d, 1e-8)))
    rounds, accepted, r = None, 0, 1
    while rounds is None or r <= rounds:
        rngs = [np.random.default_rng([s.seed, _MOVE, t, r, i]) for i in range(n)]
        steps = np.array([g.standard_normal(d) for g in rngs])
        log_u = np.log([g.random() for g in rngs])
        proposal = y + steps @ chol.T
        res = run_round(t, (r - 1) * n, proposal, n * (rounds or s.max_moves))
        if isinstance(res, str):
            return res
        new_d = np.array([q[1] for q in res])
        move = np.isfinite(new_d) & (new_d <= eps) & (log_u < prior.log_density_y(proposal) - prior.log_density_y(y))
        y[move], dist[move] = proposal[move], new_d[move]
        summ[move] = _summaries(res, summ.shape[1])[move]
        accepted += int(move.sum())
        if rounds is None:  # the first round's acceptance sets the number of rounds
            a = move.mean()
            rounds = s.max_moves if a == 0 else 1 if a == 1 else int(min(s.max_moves, max(1, math.ceil(
                math.log(0.05) / math.log(1 - a)))))
        r += 1
    return Population(t, eps, y, np.full(n, 1.0 / n), dist, summ, rounds * n, rounds, accepted / (rounds * n))


def run_smc(problem: Problem, prior: Prior, settings: SMCSettings, history: str | Path, executor=None,
            jobs: int = 1, window: int | None = None,
            progress: Callable[[int, int, int], None] | None = None) -> SMCResult:
    """Run (or resume) ABC-SMC until a stopping rule or a budget ends it.

    ``executor``: any object with ``submit`` (a process pool, a Dask client); default a local pool
    of ``jobs`` spawned processes. ``progress(generation, evaluated, planned)``.
    """
    settings.check()
    hist = History(history)
    try:
        hist.bind({"settings": settings.fingerprint(), "prior": prior.specs(), "problem": problem.fingerprint()})
        pops = hist.populations()
        start = time.monotonic()
        deadline = start + settings.max_wall_s if settings.max_wall_s else math.inf
        with nullcontext(executor) if executor is not None else local_executor(jobs) as ex:
            win = window or (1 if slots(jobs) <= 1 and executor is None else 2 * slots(jobs))
            run_round = _Round(problem, prior, settings, hist, ex, win, deadline, progress)
            while (reason := _stop_reason(pops, settings, hist.total_runs(), time.monotonic() - start)) is None:
                t0 = time.monotonic()
                done = _generation(len(pops), pops[-1] if pops else None, prior, settings, run_round)
                if isinstance(done, str):
                    reason = done
                    break
                hist.add_generation(done, time.monotonic() - t0)
                pops.append(done)
        if not pops:
            raise ABCError(f"ABC: no generation finished ({reason}); allowed: a budget of at least "
                           f"{settings.population * settings.seeds_per_particle} runs")
        return SMCResult(prior, settings, pops[-1], hist.table(), reason, hist.total_runs(),
                         time.monotonic() - start)
    finally:
        hist.close()
