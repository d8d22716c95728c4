"""ABC-SMC: a posterior over parameters from a simulator and a distance to the record.

Adaptive sequential Monte Carlo ABC (Beaumont, Cornuet, Marin & Robert 2009; thresholds adapted
from the previous population as in Del Moral, Doucet & Jasra 2012 and Lenormand, Jabot &
Deffuant 2013). Generation 0 samples the prior. Generation t accepts proposals whose distance is
at most eps_t, the ``quantile`` of generation t-1's particle distances (unweighted: with few
particles and uneven weights a weighted quantile can fall on the best particle and leave nothing
to accept); a proposal perturbs a particle of t-1 (chosen by weight) with a Gaussian kernel of
twice the weighted covariance of t-1, and gets the importance weight
prior(theta) / sum_j w_j K(theta | theta_j). Parameters live in a working space z where
log-uniform priors are uniform (z = log x), so the prior density is constant inside its box.

Deterministic: proposal i of generation t draws from a random stream keyed to (seed, t, i), and
the population is the first N accepted proposals by index, so a result does not depend on the
executor, the number of workers or their timing. Every evaluation is written to an SQLite
history as it is consumed; rerunning with the same file resumes where it stopped (finished
evaluations are reused, never re-run) and gives the result an uninterrupted run would have.
"""
from __future__ import annotations

import itertools
import json
import math
import sqlite3
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np
import pandas as pd

from greatleap.analysis.executor import local_executor, ordered_map


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
    quantile: float = 0.5        # eps_t = this quantile of generation t-1's particle distances
    seed: int = 0                # master seed of proposals and simulation seeds
    min_drop: float = 0.05       # stop when eps falls by less than this fraction in a generation
    max_generations: int = 20
    max_runs: int | None = None      # budget: model runs in the whole history
    max_wall_s: float | None = None  # budget: seconds in this call
    min_epsilon: float = 0.0         # stop once eps is this small
    min_acceptance: float = 0.01     # give up a generation once its acceptance rate cannot reach this

    def check(self) -> None:
        rules = {"population": self.population >= 2, "seeds_per_particle": self.seeds_per_particle >= 1,
                 "quantile": 0.0 < self.quantile < 1.0, "min_drop": 0.0 <= self.min_drop < 1.0,
                 "max_generations": self.max_generations >= 1, "seed": 0 <= self.seed < 2**62,
                 "max_runs": self.max_runs is None or self.max_runs >= 1,
                 "max_wall_s": self.max_wall_s is None or self.max_wall_s > 0, "min_epsilon": self.min_epsilon >= 0,
                 "min_acceptance": 0.0 <= self.min_acceptance < 1.0}
        allowed = {"population": ">= 2", "seeds_per_particle": ">= 1", "quantile": "0 < q < 1", "min_drop": "0 <= f < 1",
                   "max_generations": ">= 1", "seed": "0 .. 2^62-1", "max_runs": ">= 1", "max_wall_s": "> 0",
                   "min_epsilon": ">= 0", "min_acceptance": "0 <= a < 1"}
        for key, ok in rules.items():
            if not ok:
                raise ABCError(f"ABC setting {key} = {getattr(self, key)!r}; allowed: {allowed[key]}")

    def fingerprint(self) -> dict:
        """What shapes the populations (stopping rules and budgets may change between resumes)."""
        return {k: getattr(self, k) for k in ("population", "seeds_per_particle", "quantile", "seed")}


@dataclass
class Population:
    generation: int
    epsilon: float
    z: np.ndarray          # particles x parameters (working space)
    weights: np.ndarray    # normalised importance weights
    distances: np.ndarray
    summaries: np.ndarray  # particles x summaries (mean over the particle's runs)
    evaluated: int         # proposals evaluated to fill the generation

    @property
    def ess(self) -> float:
        return float(1.0 / np.sum(self.weights ** 2))


@dataclass
class SMCResult:
    prior: Prior
    settings: SMCSettings
    population: Population
    generations: pd.DataFrame  # generation, epsilon, evaluated, accepted, acceptance_rate, ess, runs, wall_s
    stop_reason: str
    runs: int                  # model runs in the whole history
    wall_s: float              # seconds spent in this call

    def particles(self) -> pd.DataFrame:
        """The last population: one row per particle, parameter values (natural units), weight, distance."""
        x = self.prior.to_x(self.population.z)
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


class _Kernel:
    """Gaussian perturbation around the particles of a population, covariance 2 x weighted covariance."""

    def __init__(self, pop: Population, prior: Prior):
        z, w = pop.z, pop.weights
        d = z - w @ z
        cov = 2.0 * (d.T * w) @ d + np.diag(1e-10 * (prior.z_high - prior.z_low) ** 2)
        self.chol = np.linalg.cholesky(cov)
        self.z, self.w, self.prior = z, w, prior

    def propose(self, rng: np.random.Generator) -> np.ndarray:
        for _ in range(10000):
            z = self.z[rng.choice(len(self.w), p=self.w)] + self.chol @ rng.standard_normal(self.z.shape[1])
            if self.prior.inside(z):
                return z
        raise ABCError("ABC: 10,000 perturbations in a row fell outside the prior; the prior box is degenerate")

    def weights_of(self, z_new: np.ndarray) -> np.ndarray:
        """Importance weights prior / proposal density (the prior is flat in z), normalised."""
        sol = np.linalg.solve(self.chol, (z_new[:, None, :] - self.z[None, :, :]).reshape(-1, z_new.shape[1]).T)
        sq = (sol ** 2).sum(axis=0).reshape(len(z_new), len(self.z))
        log_q = np.log(self.w)[None, :] - 0.5 * sq
        m = log_q.max(axis=1, keepdims=True)
        log_den = (m + np.log(np.exp(log_q - m).sum(axis=1, keepdims=True)))[:, 0]
        w = np.exp(-(log_den - log_den.min()))
        return w / w.sum()


class History:
    """The SMC history in SQLite: settings fingerprint, every evaluation, every finished generation."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise ABCError(f"history = {str(path)!r}: not a file; allowed: an SQLite file (new or from an earlier run)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path)
            # WAL without fsync per commit: a crash loses at most the last evaluations, never the file
            self.db.executescript(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
                "CREATE TABLE IF NOT EXISTS evaluations(generation INT, idx INT, z TEXT, distance REAL, "
                "summaries TEXT, error TEXT, runs INT, PRIMARY KEY(generation, idx));"
                "CREATE TABLE IF NOT EXISTS generations(generation INT PRIMARY KEY, epsilon REAL, evaluated INT, "
                "accepted TEXT, weights TEXT, runs INT, wall_s REAL);")
        except sqlite3.DatabaseError as exc:
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

    def add_evaluation(self, t: int, i: int, z: np.ndarray, summaries, distance: float, error: str | None,
                       runs: int) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (t, i, json.dumps(z.tolist()), distance if np.isfinite(distance) else None,
                             json.dumps(np.asarray(summaries).tolist()) if summaries is not None else None, error, runs))

    def total_runs(self) -> int:
        return int(self.db.execute("SELECT COALESCE(SUM(runs), 0) FROM evaluations").fetchone()[0])

    def add_generation(self, pop: Population, accepted: list[int], wall_s: float) -> None:
        with self.db:
            self.db.execute("INSERT INTO generations VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (pop.generation, pop.epsilon if np.isfinite(pop.epsilon) else None, pop.evaluated,
                             json.dumps(accepted), json.dumps(pop.weights.tolist()), self.total_runs(), wall_s))

    def populations(self) -> list[Population]:
        out = []
        for t, eps, evaluated, accepted, weights, _, _ in self.db.execute("SELECT * FROM generations ORDER BY generation"):
            idx = json.loads(accepted)
            rows = {i: (z, d, s) for i, z, d, s in self.db.execute(
                "SELECT idx, z, distance, summaries FROM evaluations WHERE generation = ?", (t,)) if i in set(idx)}
            out.append(Population(t, math.inf if eps is None else eps, np.array([json.loads(rows[i][0]) for i in idx]),
                                  np.array(json.loads(weights)), np.array([rows[i][1] for i in idx], float),
                                  np.array([json.loads(rows[i][2]) for i in idx], float), evaluated))
        return out

    def table(self) -> pd.DataFrame:
        rows = self.db.execute("SELECT generation, epsilon, evaluated, weights, runs, wall_s FROM generations "
                               "ORDER BY generation").fetchall()
        out = []
        for t, eps, evaluated, weights, runs, wall in rows:
            w = np.array(json.loads(weights))
            out.append({"generation": t, "epsilon": math.inf if eps is None else eps, "evaluated": evaluated,
                        "accepted": len(w), "acceptance_rate": len(w) / evaluated, "ess": float(1 / np.sum(w ** 2)),
                        "runs": runs, "wall_s": wall})
        return pd.DataFrame(out)

    def close(self) -> None:
        self.db.close()


def _stop_reason(pops: list[Population], s: SMCSettings, runs: int, elapsed: float) -> str | None:
    if len(pops) >= s.max_generations:
        return f"max generations ({s.max_generations})"
    if pops and pops[-1].epsilon <= s.min_epsilon:
        return f"threshold {pops[-1].epsilon:.4g} <= min epsilon {s.min_epsilon:g}"
    if len(pops) >= 3:
        drop = (pops[-2].epsilon - pops[-1].epsilon) / pops[-2].epsilon
        if drop < s.min_drop:
            return f"converged: threshold fell by {drop:.1%} in the last generation (< {s.min_drop:.0%})"
    if s.max_runs is not None and runs >= s.max_runs:
        return f"run budget ({s.max_runs} runs) spent"
    if s.max_wall_s is not None and elapsed >= s.max_wall_s:
        return f"wall-time budget ({s.max_wall_s:g} s) spent"
    return None


def _generation(t: int, prev: Population | None, problem: Problem, prior: Prior, s: SMCSettings, hist: History,
                executor, window: int, deadline: float, progress) -> tuple[Population, list[int]] | str:
    """Fill generation t, or say why it stopped short (budget, acceptance); its evaluations stay in the history."""
    eps = math.inf if prev is None else float(np.quantile(prev.distances, s.quantile))
    most = math.inf if s.min_acceptance == 0 else math.ceil(s.population / s.min_acceptance)
    kernel = None if prev is None else _Kernel(prev, prior)
    zs: dict[int, np.ndarray] = {}
    runs = [hist.total_runs()]

    def proposals():
        for i in itertools.count():
            known = hist.evaluation(t, i) is not None
            if i >= most or (not known and ((s.max_runs is not None and runs[0] + s.seeds_per_particle > s.max_runs)
                                            or time.monotonic() > deadline)):
                return
            runs[0] += 0 if known else s.seeds_per_particle
            rng = np.random.default_rng([s.seed, t, i])
            zs[i] = prior.sample_z(rng, 1)[0] if kernel is None else kernel.propose(rng)
            seeds = np.random.default_rng([s.seed, t, i, 1]).integers(1, 2**31 - 1, size=s.seeds_per_particle)
            yield problem, prior.params(zs[i]), seeds.tolist()

    accepted, summaries, distances, n = [], {}, {}, 0
    stored = lambda i: hist.evaluation(t, i)
    for i, value in ordered_map(evaluate_particle, proposals(), executor, window, stored):
        if hist.evaluation(t, i) is None:
            hist.add_evaluation(t, i, zs[i], *value, s.seeds_per_particle)
        n += 1
        summaries[i], distances[i] = value[:2]
        if np.isfinite(distances[i]) and distances[i] <= eps:
            accepted.append(i)
        if progress:
            progress(t, len(accepted), s.population, n)
        if len(accepted) == s.population:
            break
    if len(accepted) < s.population:
        if n >= most:
            return (f"acceptance rate below {s.min_acceptance:.0%} in generation {t} (threshold {eps:.4g}): "
                    f"the threshold cannot fall further at this population size")
        budget = "run" if s.max_runs is not None and runs[0] + s.seeds_per_particle > s.max_runs else "wall-time"
        return (f"{budget} budget spent during generation {t} (its evaluations are kept: rerun with a larger "
                f"budget to continue)")
    z = np.array([zs[i] for i in accepted])
    w = np.full(len(z), 1.0 / len(z)) if kernel is None else kernel.weights_of(z)
    return Population(t, eps, z, w, np.array([distances[i] for i in accepted]),
                      np.array([summaries[i] for i in accepted], float), n), accepted


def run_smc(problem: Problem, prior: Prior, settings: SMCSettings, history: str | Path, executor=None,
            jobs: int = 1, window: int | None = None,
            progress: Callable[[int, int, int, int], None] | None = None) -> SMCResult:
    """Run (or resume) ABC-SMC until a stopping rule or a budget ends it.

    ``executor``: any object with ``submit`` (a process pool, a Dask client); default a local pool
    of ``jobs`` spawned processes. ``progress(generation, accepted, population, evaluated)``.
    """
    settings.check()
    hist = History(history)
    try:
        hist.bind({"settings": settings.fingerprint(), "prior": prior.specs(), "problem": problem.fingerprint()})
        pops = hist.populations()
        start = time.monotonic()
        deadline = start + settings.max_wall_s if settings.max_wall_s else math.inf
        with nullcontext(executor) if executor is not None else local_executor(jobs) as ex:
            win = window or (1 if jobs <= 1 and executor is None else 2 * max(jobs, 1))
            while (reason := _stop_reason(pops, settings, hist.total_runs(), time.monotonic() - start)) is None:
                t0 = time.monotonic()
                done = _generation(len(pops), pops[-1] if pops else None, problem, prior, settings, hist, ex, win,
                                   deadline, progress)
                if isinstance(done, str):
                    reason = done
                    break
                hist.add_generation(done[0], done[1], time.monotonic() - t0)
                pops.append(done[0])
        if not pops:
            raise ABCError(f"ABC: no generation finished ({reason}); allowed: a budget of at least "
                           f"{settings.population * settings.seeds_per_particle} runs")
        return SMCResult(prior, settings, pops[-1], hist.table(), reason, hist.total_runs(),
                         time.monotonic() - start)
    finally:
        hist.close()


