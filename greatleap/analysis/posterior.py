"""A posterior over the calibrated parameters: fitting it by ABC-SMC, its file, and drawing from it.

``fit_posterior`` runs :mod:`greatleap.analysis.abc` on the model: the prior is the scenario's
``[[calibration.parameters]]`` (uniform, log-uniform where ``log = true``), a particle is scored
by the mean of its runs against the targets, and the distance is the root of the weighted mean of
squared normalised errors (0 = every target at its centre, 1 = on average at the edge of its
tolerance; the square root of :func:`greatleap.analysis.targets.score`). ``vintage = "both"``
fits the official registered series and Banister's reconstruction of the true rates at once.

A posterior is two files: ``<name>.csv`` (one row per particle: weight, distance, parameter
values, headline results) and ``<name>.json`` (settings, targets and their hash, source hash,
thresholds by generation, effective sample size, posterior predictive pass rates).
``load_posterior("builtin")`` reads the one shipped in ``greatleap/scenarios``.
"""
from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from greatleap.analysis.abc import Prior, SMCResult, SMCSettings, run_smc, weighted_quantile
from greatleap.analysis.calibrate import apply_params, check_parameters
from greatleap.analysis.targets import VINTAGES, TargetError, load_targets, simulated_values
from greatleap.io import atomic_folder
from greatleap.scenario import ScenarioError, validate_scenario

FORMAT = "greatleap-posterior/1"
BUILTIN = "builtin"
# headline results recorded for every particle (and the outputs of `greatleap sensitivity`)
HEADLINES = {
    "excess_deaths": ("true excess deaths 1958-62 (against the run's 1957 death rate)", "persons"),
    "cdr_registered_peak": ("peak registered crude death rate 1958-62", "per mille"),
    "grain_collapse": ("grain harvest 1960 / 1957", "ratio"),
    "births_deficit": ("lost births 1958-62 (against the run's 1957 birth rate)", "persons"),
}


class PosteriorError(ScenarioError):
    """A posterior file is missing or malformed; the message names the file, key, value and what is allowed."""


def headline_values(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """The headline results of one run (see ``HEADLINES``)."""
    from greatleap.analysis.compare import run_metrics
    a = tables["annual_national"].set_index("year")
    m = run_metrics(tables)
    return {"excess_deaths": m["excess_deaths_true"],
            "cdr_registered_peak": float(a.loc[1958:1962, "cdr_registered"].max()),
            "grain_collapse": float(a.loc[1960, "grain_harvest_mt"] / a.loc[1957, "grain_harvest_mt"]),
            "births_deficit": m["lost_births"]}


# ------------------------------------------------------------------ targets and distance
def load_targets_for(path: str | Path | None, vintage: str) -> pd.DataFrame:
    """The targets of one vintage, or of ``both``: official rows plus Banister's rows that compare a
    different simulated column (true rates), renamed ``<name>_banister``. Adds a ``vintage`` column."""
    if vintage not in (*VINTAGES, "both"):
        raise TargetError(f"vintage = {vintage!r}; allowed: {', '.join(VINTAGES)}, both")
    if vintage != "both":
        return load_targets(path, vintage).assign(vintage=vintage)
    official, banister = load_targets(path, "official"), load_targets(path, "banister")
    key = lambda t: list(zip(t.table, t.column, t.province.astype(str), t.sector.astype(str), t.year))
    seen = set(key(official))
    extra = banister[[k not in seen for k in key(banister)]].copy()
    extra["name"] = extra["name"] + "_banister"
    return pd.concat([official.assign(vintage="official"), extra.assign(vintage="banister")], ignore_index=True)


def targets_hash(targets: pd.DataFrame) -> str:
    cols = ["name", "table", "column", "province", "sector", "year", "observed", "lower", "upper", "weight"]
    return hashlib.sha256(targets[cols].to_csv(index=False).encode()).hexdigest()[:16]


def normalised_errors(targets: pd.DataFrame, simulated: np.ndarray) -> np.ndarray:
    """(simulated - centre) / half-width of each target's tolerance (NaN where not simulated)."""
    half = np.maximum((targets.upper.to_numpy() - targets.lower.to_numpy()) / 2, 1e-12)
    return (simulated - (targets.upper.to_numpy() + targets.lower.to_numpy()) / 2) / half


def target_distance(targets: pd.DataFrame, simulated: np.ndarray) -> float:
    """sqrt of the weighted mean squared normalised error (inf if no target could be simulated)."""
    e = normalised_errors(targets, simulated)
    ok = np.isfinite(e)
    w = targets.weight.to_numpy()[ok]
    return float(np.sqrt((w * e[ok] ** 2).sum() / w.sum())) if ok.any() and w.sum() > 0 else float("inf")


@dataclass
class ModelProblem:
    """The ABC problem of a scenario: summaries = the targets' simulated values, then the headlines."""

    base: dict
    targets: pd.DataFrame
    scale: float
    vintage: str

    def simulate(self, params: dict[str, float], seed: int) -> np.ndarray:
        from greatleap.analysis.ensemble import run_one
        outcome = run_one(apply_params(self.base, params), seed, self.scale)
        if outcome.tables is None:
            raise RuntimeError(outcome.error.splitlines()[0])
        heads = headline_values(outcome.tables)
        return np.concatenate([simulated_values(self.targets, outcome.tables), [heads[k] for k in HEADLINES]])

    def distance(self, summaries: np.ndarray) -> float:
        return target_distance(self.targets, summaries[:, :len(self.targets)].mean(axis=0))

    def fingerprint(self) -> dict:
        from greatleap.provenance import model_hash
        blob = json.dumps(self.base, sort_keys=True, default=str).encode()
        return {"scenario": self.base.get("name"), "scenario_hash": hashlib.sha256(blob).hexdigest()[:16],
                "scale": self.scale, "vintage": self.vintage, "targets_hash": targets_hash(self.targets),
                "model_hash": model_hash()}


def fit_posterior(scenario, targets: pd.DataFrame, vintage: str, settings: SMCSettings, history: str | Path,
                  scale: float = 20000.0, jobs: int = 1, executor=None, progress=None) -> tuple[SMCResult, ModelProblem]:
    """ABC-SMC of the scenario's declared parameters against ``targets`` (resumable from ``history``)."""
    prior = Prior(check_parameters(scenario))
    problem = ModelProblem(scenario.to_dict(), targets.reset_index(drop=True), float(scale), vintage)
    return run_smc(problem, prior, settings, history, executor=executor, jobs=jobs, progress=progress), problem


# ------------------------------------------------------------------ the posterior files
def weighted_band(values: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """Weighted mean and 5-95% of ``values``, skipping failed (non-finite) runs; NaN when all failed."""
    ok = np.isfinite(values)
    if not ok.any():
        return {"mean": float("nan"), "p05": float("nan"), "p95": float("nan")}
    v, w = values[ok], w[ok] / w[ok].sum()
    return {"mean": float(w @ v), "p05": weighted_quantile(v, w, 0.05), "p95": weighted_quantile(v, w, 0.95)}


def predictive_against(targets: pd.DataFrame, sims: np.ndarray, w: np.ndarray) -> pd.DataFrame:
    """Every target beside the runs ``sims`` (runs, targets) weighted by ``w``: mean, 5-95%, and the
    weighted share of runs within tolerance."""
    inside = (sims >= targets.lower.to_numpy()) & (sims <= targets.upper.to_numpy())
    bands = [weighted_band(sims[:, k], w) for k in range(len(targets))]
    out = targets[["name", "vintage", "table", "column", "province", "year", "observed", "lower", "upper",
                   "weight"]].copy()
    for key in ("mean", "p05", "p95"):
        out[f"predictive_{key}"] = [b[key] for b in bands]
    out["pass_rate"] = w @ inside
    return out


def predictive_table(result: SMCResult, problem: ModelProblem) -> pd.DataFrame:
    """Every target beside the posterior predictive of the fit's own runs (one per particle)."""
    t = problem.targets
    return predictive_against(t, result.population.summaries[:, :len(t)], result.population.weights)


def write_posterior(result: SMCResult, problem: ModelProblem, out_dir: str | Path, info: dict | None = None,
                    extra=None) -> Path:
    """posterior.csv, posterior.json, generations.csv, predictive.csv, atomically; ``extra(tmp)`` adds more."""
    from greatleap.provenance import provenance
    particles = result.particles()
    heads = result.population.summaries[:, len(problem.targets):]
    for k, name in enumerate(HEADLINES):
        particles[name] = heads[:, k]
    particles.insert(0, "particle", np.arange(len(particles)))
    pred = predictive_table(result, problem)
    w = result.population.weights
    pass_by_vintage = {v: float(g.pass_rate.mean()) for v, g in pred.groupby("vintage")}
    s = result.settings
    meta = {
        "format": FORMAT, "status": "final", "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "scenario": problem.base.get("name"), "scale": problem.scale, "vintage": problem.vintage,
        "seeds_per_particle": s.seeds_per_particle, "seed": s.seed, "population": s.population, "quantile": s.quantile,
        "stopping": {"min_drop": s.min_drop, "max_generations": s.max_generations, "max_runs": s.max_runs,
                     "max_wall_s": s.max_wall_s, "min_epsilon": s.min_epsilon},
        "stop_reason": result.stop_reason,
        "distance": "sqrt of the weighted mean squared normalised error of the particle's mean run "
                    "(0 = every target at its centre, 1 = on average at the edge of its tolerance)",
        "targets": {"count": len(problem.targets), "hash": targets_hash(problem.targets)},
        **problem.fingerprint(), "provenance": provenance(),
        "parameters": result.prior.specs(),
        "epsilon_by_generation": [None if not np.isfinite(e) else e for e in result.generations.epsilon],
        "ess": result.population.ess, "unique_particles": result.population.unique, "runs": result.runs,
        "generations": len(result.generations),
        "wall_s_total": float(result.generations.wall_s.sum()),
        "predictive_pass_rate": {"all": float(pred.pass_rate.mean()), **pass_by_vintage},
        "headlines": {k: weighted_band(particles[k].to_numpy(), w)
                      for k in HEADLINES},
        **(info or {}),
    }
    with atomic_folder(out_dir) as tmp:
        particles.to_csv(tmp / "posterior.csv", index=False)
        (tmp / "posterior.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        result.generations.to_csv(tmp / "generations.csv", index=False)
        pred.to_csv(tmp / "predictive.csv", index=False)
        if extra is not None:
            extra(tmp)
    return Path(out_dir)


@dataclass
class Posterior:
    values: pd.DataFrame  # one row per particle, one column per parameter key
    weights: np.ndarray   # normalised
    meta: dict
    source: str
    headlines: pd.DataFrame

    @property
    def keys(self) -> list[str]:
        return list(self.values.columns)

    def prior(self) -> Prior:
        return Prior(self.meta["parameters"])

    def label(self) -> str:
        status = self.meta.get("status", "final")
        return f"{self.source} ({len(self.values)} particles, {self.effective():.0f} effective" + \
            (f", {status.upper()})" if status != "final" else ")")

    def effective(self) -> float:
        """Effective sample size: of the weights, and at most the number of distinct particles."""
        return min(float(1.0 / np.sum(self.weights ** 2)), float(len(self.values.drop_duplicates())))

    def draws(self, n: int, seed: int = 0) -> list[dict[str, float]]:
        """``n`` parameter sets by systematic resampling on the weights (deterministic for a seed)."""
        if n < 1:
            raise PosteriorError(f"--draws = {n}; allowed: >= 1")
        cum = np.cumsum(self.weights)
        u = (np.random.default_rng(seed).random() + np.arange(n)) / n
        idx = np.minimum(np.searchsorted(cum, u * cum[-1]), len(cum) - 1)
        return [dict(zip(self.keys, map(float, self.values.iloc[i]))) for i in idx]


def _paths(path_or_builtin: str | Path) -> tuple[Path, Path, str]:
    if str(path_or_builtin) == BUILTIN:
        csv = Path(str(resources.files("greatleap") / "scenarios" / "historical.posterior.csv"))
        if not csv.is_file():
            raise PosteriorError("--posterior builtin: no posterior is shipped yet; allowed: a posterior folder or "
                                 "CSV made by `greatleap calibrate --method abc`")
        return csv, csv.with_suffix(".json"), BUILTIN
    p = Path(path_or_builtin)
    csv = p / "posterior.csv" if p.is_dir() else p
    if not csv.is_file() or csv.suffix != ".csv":
        raise PosteriorError(f"--posterior = {str(path_or_builtin)!r}: not found; allowed: builtin, a folder with "
                             f"posterior.csv, or a posterior CSV with its JSON beside it")
    return csv, csv.with_suffix(".json"), str(p)


def load_posterior(path_or_builtin: str | Path = BUILTIN, label: str | None = None) -> Posterior:
    """A posterior from a folder, a CSV (its JSON beside it) or ``"builtin"``; checked on loading.
    ``label`` names it in reports (default: the path given)."""
    csv, js, given = _paths(path_or_builtin)
    label = label or given
    try:
        meta = json.loads(js.read_text(encoding="utf-8"))
        table = pd.read_csv(csv)
    except (OSError, ValueError) as exc:
        raise PosteriorError(f"posterior {label}: cannot read {js.name} or {csv.name} ({exc})") from None
    if meta.get("format") != FORMAT:
        raise PosteriorError(f"posterior {label}: format = {meta.get('format')!r}; allowed: {FORMAT}")
    keys = [p["key"] for p in meta.get("parameters", [])]
    missing = [k for k in ["weight", *keys] if k not in table.columns]
    if missing or not keys or table.empty:
        raise PosteriorError(f"posterior {label}: column(s) {missing} missing or no particles; allowed: weight "
                             f"and one column per parameter of {js.name}")
    w = table["weight"].to_numpy(float)
    if not (np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
        raise PosteriorError(f"posterior {label}: weights must be finite, >= 0 and not all 0")
    prior = Prior(meta["parameters"])
    inside = prior.inside(prior.to_z(table[keys].to_numpy(float)))
    if not inside.all():
        k = int(np.argmin(inside))
        raise PosteriorError(f"posterior {label}: particle {k} lies outside the prior bounds in {js.name}")
    if meta.get("status", "final") != "final":
        warnings.warn(f"posterior {label} is {meta['status']}", stacklevel=2)
    heads = table[[c for c in HEADLINES if c in table.columns]]
    return Posterior(table[keys].astype(float), w / w.sum(), meta, label, heads)


# ------------------------------------------------------------------ member expansion
def draw_scenarios(scenario, draws: Sequence[dict[str, float]]) -> list:
    """One validated scenario per draw: the scenario with the draw's parameter values set."""
    return [validate_scenario(apply_params(scenario.to_dict(), d), scenario.name) for d in draws]


def members(scenario, draws: Sequence[dict[str, float]], seeds: Sequence[int]) -> list[tuple[dict, int]]:
    """(scenario dict, seed) for every draw x seed; the same seeds in every draw (common random numbers)."""
    return [(s.to_dict(), seed) for s in draw_scenarios(scenario, draws) for seed in seeds]
