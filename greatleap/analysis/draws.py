"""Analyses over posterior draws: run, validate, compare and decompose with parameter uncertainty.

A *replicate* is one (draw, seed) pair: N parameter sets drawn from the posterior, each run with
the same k seeds. Within a draw every scenario (compare) or coalition (decompose) uses those seeds,
so differences keep common random numbers; intervals are 5-95% over all N x k replicates and so
carry parameter as well as seed uncertainty. Compare and decompose run every member first (in
one parallel pass per draw, into the run cache), then read each replicate back from the cache
through the unchanged single-seed analysis and pool the replicates here.
"""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from greatleap.analysis.compare import Comparison, _interval, compare
from greatleap.analysis.decompose import Decomposition, coalition_runs, decompose
from greatleap.analysis.ensemble import run_many
from greatleap.analysis.posterior import HEADLINES, Posterior, draw_scenarios, headline_values, members
from greatleap.io import atomic_folder


def note(posterior: Posterior, n_draws: int, seeds: Sequence[int]) -> str:
    """The sentence every table and report carries when intervals come from posterior draws."""
    return (f"Intervals carry parameter and seed uncertainty: {n_draws} draws from the posterior "
            f"{posterior.label()} x {len(seeds)} seeds each ({n_draws * len(seeds)} replicates), "
            f"common random numbers within each draw.")


def draws_table(posterior: Posterior, n_draws: int) -> pd.DataFrame:
    return pd.DataFrame(posterior.draws(n_draws)).rename_axis("draw").reset_index()


@contextmanager
def _cache(cache_dir) -> Iterator[Path]:
    if cache_dir is not None:
        yield Path(cache_dir)
        return
    with tempfile.TemporaryDirectory(prefix="greatleap-draws-") as tmp:
        yield Path(tmp)


def pool(frames: Sequence[pd.DataFrame], keys: list[str], pairs: Sequence[tuple[str, str, str]] | None = None,
         means: Sequence[str] = ()) -> pd.DataFrame:
    """Pool replicate tables with the same rows: mean of each value and its 5-95% over replicates.

    ``pairs`` are (value, p05, p95) columns; by default every ``X`` with ``X_p05``/``X_p95`` beside it.
    Other listed ``means`` are averaged. Column order and row order follow the first frame.
    """
    cols = list(frames[0].columns)
    if pairs is None:
        pairs = [(c[:-4], c, c[:-4] + "_p95") for c in cols if c.endswith("_p05") and c[:-4] in cols]
    stacked = pd.concat(frames, ignore_index=True)
    g = stacked.groupby(keys, sort=False, dropna=False)
    out = g[[p[0] for p in pairs] + list(means)].mean()
    for value, lo, hi in pairs:
        out[lo] = g[value].quantile(0.05)
        out[hi] = g[value].quantile(0.95)
    return out.reset_index()[cols]


# ------------------------------------------------------------------ validate and run
def run_draws(scenario, posterior: Posterior, n_draws: int, seeds: Sequence[int], scale, jobs: int = 1,
              progress=None, cache_dir=None):
    """Every draw x seed of ``scenario``: (outcomes in draw-major order, the draws)."""
    draws = posterior.draws(n_draws)
    return run_many(members(scenario, draws, seeds), scale, jobs, progress, cache_dir), draws


def validate_draws(scenario, targets: pd.DataFrame, posterior: Posterior | None, n_draws: int, seeds: Sequence[int],
                   scale, jobs: int = 1, progress=None, cache_dir=None):
    """As :func:`greatleap.analysis.validate.validate` (which it is without a posterior), over draws x seeds:
    (evaluated, runs, failures)."""
    from greatleap.analysis.targets import evaluate
    if posterior is None:
        from greatleap.analysis.validate import validate
        return validate(scenario, targets, seeds, scale, jobs, progress, cache_dir=cache_dir)
    outcomes, _ = run_draws(scenario, posterior, n_draws, seeds, scale, jobs, progress, cache_dir)
    runs = [o.tables for o in outcomes if o.tables is not None]
    if not runs:
        raise RuntimeError("every run failed: " + "; ".join(o.error.splitlines()[0] for o in outcomes))
    return evaluate(targets, runs), runs, [o for o in outcomes if o.tables is None]


@dataclass
class RunDraws:
    annual: pd.DataFrame     # annual_national of every member, with draw and seed columns
    summary: pd.DataFrame    # year, column, mean, p05, p95 over replicates
    headlines: pd.DataFrame  # draw, seed, one column per headline
    draws: pd.DataFrame      # draw, parameter values
    failures: list[str]


SUMMARY_COLUMNS = ("population_end", "cdr_registered", "cdr_true", "cbr_registered", "cbr_true", "grain_harvest_mt",
                   "procurement_mt", "deaths")


def summarise_run_draws(scenario, posterior: Posterior, n_draws: int, seeds: Sequence[int], scale, jobs=1,
                        progress=None) -> RunDraws:
    outcomes, draws = run_draws(scenario, posterior, n_draws, seeds, scale, jobs, progress)
    frames, heads, failures = [], [], []
    for k, o in enumerate(outcomes):
        d, seed = divmod(k, len(seeds))
        if o.tables is None:
            failures.append(f"draw {d} seed {seeds[seed]}: {o.error.splitlines()[0]}")
            continue
        frames.append(o.tables["annual_national"].assign(draw=d, seed=seeds[seed]))
        heads.append({"draw": d, "seed": seeds[seed], **headline_values(o.tables)})
    if not frames:
        raise RuntimeError("every run failed: " + "; ".join(failures[:3]))
    annual = pd.concat(frames, ignore_index=True)
    cols = [c for c in SUMMARY_COLUMNS if c in annual.columns]
    long = annual.melt(id_vars=["year"], value_vars=cols, var_name="column")
    g = long.groupby(["year", "column"], sort=False).value
    summary = pd.DataFrame({"mean": g.mean(), "p05": g.quantile(0.05), "p95": g.quantile(0.95)}).reset_index()
    return RunDraws(annual, summary, pd.DataFrame(heads), pd.DataFrame(draws).rename_axis("draw").reset_index(),
                    failures)


def write_run_draws(r: RunDraws, out_dir, text: str) -> Path:
    """annual_national.parquet (all members), summary.csv, headlines.csv, draws.csv, report.md; atomically."""
    from greatleap.io import markdown_table
    with atomic_folder(out_dir) as tmp:
        r.annual.to_parquet(tmp / "annual_national.parquet", index=False)
        r.summary.to_csv(tmp / "summary.csv", index=False)
        r.headlines.to_csv(tmp / "headlines.csv", index=False)
        r.draws.to_csv(tmp / "draws.csv", index=False)
        heads = pd.DataFrame([(k, HEADLINES[k][0], *_interval(r.headlines[k].to_numpy())) for k in HEADLINES],
                             columns=["headline", "meaning", "mean", "p05", "p95"])
        (tmp / "report.md").write_text(f"# Runs over posterior draws\n\n{text}\n\n" + markdown_table(heads) + "\n",
                                       encoding="utf-8")
    return Path(out_dir)


# ------------------------------------------------------------------ compare and decompose
def compare_draws(scenarios: Sequence, posterior: Posterior | None, n_draws: int, seeds: Sequence[int], scale,
                  jobs: int = 1, cache_dir=None, progress: Callable[[int, int], None] | None = None) -> Comparison:
    """:func:`compare` over draws x seeds (plain :func:`compare` without a posterior); paired within each replicate."""
    if posterior is None:
        return compare(scenarios, seeds, scale, jobs, cache_dir, progress)
    draws = posterior.draws(n_draws)
    per_draw = [[draw_scenarios(s, [d])[0] for s in scenarios] for d in draws]
    reps, failures = [], []
    with _cache(cache_dir) as cache:
        run_many([(s.to_dict(), seed) for scens in per_draw for s in scens for seed in seeds], scale, jobs,
                 progress, cache)
        for d, scens in enumerate(per_draw):
            for seed in seeds:
                try:
                    reps.append(compare(scens, [seed], scale, 1, cache))
                except RuntimeError as exc:
                    failures.append(f"draw {d} seed {seed}: {str(exc)[:200]}")
    if not reps:
        raise RuntimeError("no replicate ran in every scenario: " + "; ".join(failures[:3]))
    summary = pool([c.summary for c in reps], ["scenario", "metric"],
                   [("mean", "p05", "p95"), ("diff_mean", "diff_p05", "diff_p95")])
    return Comparison(reps[0].names, list(range(len(reps))), summary,
                      pool([c.by_year for c in reps], ["scenario", "year"]),
                      pool([c.by_province for c in reps], ["scenario", "province"]),
                      pool([c.by_age_class for c in reps], ["scenario", "age_group", "class"]),
                      failures + [f for c in reps for f in c.failures])


def decompose_draws(scenario, mechanisms: Sequence[str], posterior: Posterior | None, n_draws: int,
                    seeds: Sequence[int], scale, jobs: int = 1, permutations: int = 0, cache_dir=None,
                    progress: Callable[[int, int], None] | None = None) -> Decomposition:
    """:func:`decompose` over draws x seeds (plain without a posterior): a draw's coalitions share its seeds."""
    if posterior is None:
        return decompose(scenario, mechanisms, seeds, scale, jobs, permutations, cache_dir, progress)
    scens = draw_scenarios(scenario, posterior.draws(n_draws))
    reps, failures = [], []
    with _cache(cache_dir) as cache:
        # every draw's coalitions x seeds in one parallel pass (one pool; a draw's coalitions share
        # their first months), into the cache; then each replicate is read back
        runs = [run for s in scens for run in coalition_runs(s, mechanisms, seeds, permutations)[2]]
        run_many(runs, scale, jobs, progress, cache, share_prefix=True, keep_tables=False)
        for k, s in enumerate(scens):
            for seed in seeds:
                try:
                    reps.append((k, decompose(s, mechanisms, [seed], scale, 1, permutations, cache)))
                except RuntimeError as exc:
                    failures.append(f"draw {k} seed {seed}: {str(exc)[:200]}")
    if not reps:
        raise RuntimeError("no replicate completed every coalition: " + "; ".join(failures[:3]))
    ds = [d for _, d in reps]
    shapley = pool([d.shapley for d in ds], ["mechanism", "switched_off_means"],
                   [("shapley", "shapley_p05", "shapley_p95")], ["effect_alone", "total_effect"])
    coalitions = pd.concat([d.coalitions.assign(draw=k) for k, d in reps], ignore_index=True)
    return Decomposition(ds[0].mechanisms, list(range(len(ds))),
                         shapley.sort_values("shapley", ascending=False).reset_index(drop=True),
                         pool([d.interactions for d in ds], ["mechanism_a", "mechanism_b"], [], ["interaction"]),
                         coalitions, _interval(np.array([d.total[0] for d in ds])), ds[0].exact,
                         failures + [f for d in ds for f in d.failures])


# ------------------------------------------------------------------ reports that say so
def write_noted(write: Callable[[Path], Path], out_dir, posterior: Posterior | None, n_draws: int,
                seeds: Sequence[int]) -> Path:
    """Write a report with ``write``; with a posterior, add its note (report.md, index.html) and draws.csv,
    atomically."""
    if posterior is None:
        return write(out_dir)
    text, draws = note(posterior, n_draws, seeds), draws_table(posterior, n_draws)
    with atomic_folder(out_dir) as tmp:
        inner = write(tmp / "report")
        for f in list(inner.iterdir()):
            f.rename(tmp / f.name)
        inner.rmdir()
        md = tmp / "report.md"
        if md.is_file():
            head, _, rest = md.read_text(encoding="utf-8").partition("\n")
            md.write_text(f"{head}\n\n**{text}**\n{rest}", encoding="utf-8")
        page = tmp / "index.html"
        if page.is_file():
            page.write_text(page.read_text(encoding="utf-8").replace("</h1>", f"</h1>\n<p><b>{text}</b></p>", 1),
                            encoding="utf-8")
        draws.to_csv(tmp / "draws.csv", index=False)
    return Path(out_dir)

