"""The posterior predictive at fresh seeds: every particle run again with seeds its fit never saw.

ABC keeps a particle together with the run that scored it. With one run a particle, the particles
kept are partly those whose run's noise happened to fit, so headlines and pass rates read off the
fit's own runs are conditioned on that noise. At scale 20,000 the headline's seed spread is ~3 M
(most of it the run's own 1957 death rate, the baseline of "excess", counted from ~360 agent
deaths), and the fit's own runs put the shipped band 6-8 M below fresh runs of the same particles.

:func:`predictive_runs` runs every particle at seeds 1..N (the same seeds for every particle:
common random numbers) at a chosen scale; :func:`apply_predictive` rewrites a posterior folder's
headlines, pass rates and ``predictive.csv`` from those runs. The fit's own figures stay: in the
CSV as ``<headline>_fit`` columns and in the JSON as ``fit_runs``; ``predictive`` records the seeds,
scale and model the runs were made with.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from greatleap.analysis.posterior import (HEADLINES, ModelProblem, Posterior, PosteriorError, load_targets_for,
                                          predictive_against, targets_hash, weighted_band)
from greatleap.analysis.targets import TargetError
from greatleap.scenario import ScenarioError, load_scenario

FIT_SUFFIX = "_fit"


def problem_for(post: Posterior, scale: float, scenario=None) -> ModelProblem:
    """The fit's problem (scenario, targets, vintage) at ``scale``; the targets must be those it was fitted to."""
    meta = post.meta
    try:
        scen = scenario if scenario is not None else load_scenario(meta["scenario"])
        targets = load_targets_for(None, meta["vintage"]).reset_index(drop=True)
    except (ScenarioError, TargetError, KeyError) as exc:
        raise PosteriorError(f"posterior {post.source}: cannot rebuild its fit ({exc}); allowed: a posterior "
                             f"fitted to a built-in scenario and the package's targets") from None
    fitted = meta.get("targets", {}).get("hash")
    if fitted not in (None, targets_hash(targets)):
        raise PosteriorError(f"posterior {post.source}: targets hash = {fitted!r}, the package's targets now hash "
                             f"{targets_hash(targets)!r}; allowed: a posterior fitted to these targets (refit it)")
    return ModelProblem(scen.to_dict(), targets, float(scale), meta["vintage"])


def predictive_runs(particles: pd.DataFrame, problem: ModelProblem, seeds: Sequence[int], jobs=1,
                    progress: Callable[[int, int], None] | None = None, cache_dir=None) -> np.ndarray:
    """Summaries (targets' simulated values, then the headlines) of every particle (a row of parameter
    values, one column per key) at every seed: an array (particles, seeds, targets + headlines); a
    failed run is all NaN."""
    from greatleap.analysis.ensemble import run_many
    from greatleap.analysis.posterior import apply_params, headline_values
    from greatleap.analysis.targets import simulated_values

    members = [(apply_params(problem.base, dict(zip(particles.columns, map(float, row)))), int(s))
               for row in particles.to_numpy() for s in seeds]
    outcomes = run_many(members, problem.scale, jobs, progress=progress, cache_dir=cache_dir)
    width = len(problem.targets) + len(HEADLINES)
    rows = []
    for o in outcomes:
        if o.tables is None:
            rows.append(np.full(width, np.nan))
            continue
        heads = headline_values(o.tables)
        rows.append(np.concatenate([simulated_values(problem.targets, o.tables), [heads[k] for k in HEADLINES]]))
    return np.asarray(rows, float).reshape(len(particles), len(seeds), width)


def predictive_figures(targets: pd.DataFrame, runs: np.ndarray, weights: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """``predictive.csv`` and the headline bands over every particle x seed run (a run weighs its
    particle's weight / seeds; failed runs are skipped)."""
    n, s, _ = runs.shape
    flat = runs.reshape(n * s, -1)
    w = np.repeat(weights / weights.sum(), s) / s
    heads = {k: weighted_band(flat[:, len(targets) + i], w) for i, k in enumerate(HEADLINES)}
    return predictive_against(targets, flat[:, :len(targets)], w), heads


def apply_predictive(folder: Path, problem: ModelProblem, runs: np.ndarray, seeds: Sequence[int],
                     wall_s: float, command: str | None = None) -> dict:
    """Rewrite ``folder``'s posterior.csv, posterior.json and predictive.csv from fresh runs; return the JSON."""
    from greatleap.provenance import model_hash
    folder = Path(folder)
    table = pd.read_csv(folder / "posterior.csv")
    meta = json.loads((folder / "posterior.json").read_text(encoding="utf-8"))
    if "fit_runs" not in meta:  # the first refresh keeps the fit's own figures
        meta["fit_runs"] = {"headlines": meta.get("headlines"), "predictive_pass_rate": meta.get("predictive_pass_rate"),
                            "note": "read off the runs that scored the particles during the fit (conditioned on "
                                    "their seeds); the headlines and pass rates above are from fresh seeds"}
        for k in HEADLINES:
            if k in table.columns:
                table[k + FIT_SUFFIX] = table[k]
    for i, k in enumerate(HEADLINES):  # a particle's headline: the mean of its fresh runs
        table[k] = np.nanmean(runs[:, :, len(problem.targets) + i], axis=1)
    pred, heads = predictive_figures(problem.targets, runs, table["weight"].to_numpy(float))
    meta["headlines"] = heads
    meta["predictive_pass_rate"] = {"all": float(pred.pass_rate.mean()),
                                    **{v: float(g.pass_rate.mean()) for v, g in pred.groupby("vintage")}}
    meta["predictive"] = {"seeds": [int(s) for s in seeds], "scale": problem.scale, "runs": int(runs.shape[0] *
                          runs.shape[1]), "failed": int(np.isnan(runs[:, :, -1]).sum()), "wall_s": round(wall_s, 1),
                          "model_hash": model_hash(), "created": time.strftime("%Y-%m-%d %H:%M:%S"),
                          **({"command": command} if command else {}),
                          "note": "every particle run again at these seeds (common to all particles); headlines "
                                  "and pass rates are over particle x seed runs, weighted by the particles' weights"}
    table.to_csv(folder / "posterior.csv", index=False)
    (folder / "posterior.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    pred.to_csv(folder / "predictive.csv", index=False)
    return meta
