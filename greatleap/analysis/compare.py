"""Counterfactuals side by side: excess deaths, lost births, grain, with intervals over seeds.

Every scenario is run with the same seeds (common random numbers: a person's draws depend only
on seed, stream, month and the person's id), so differences between scenarios are not noise:
compare(A, A) is exactly zero. Intervals are 5-95% over seeds of the paired differences.

Excess deaths (``compare``): true deaths in 1958-1962 above the run's own 1957 death rate applied
to its 1958-62 person-years (registered likewise). Attribution to mechanisms is in
:mod:`greatleap.analysis.decompose`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from greatleap.analysis.ensemble import run_many
from greatleap.io import atomic_folder, markdown_table

PERIOD = (1958, 1962)


def ending_with(data: dict, year: int = PERIOD[1]) -> dict:
    """The scenario ``data`` run only to December of ``year`` (if it ran longer and starts before).

    For analyses whose outputs end with ``year`` (decompose, sensitivity's headlines): a month
    after it cannot change anything counted before it (draws are keyed by person, stream and month),
    so they are those of the full run, for 72 months instead of 120. Bit for bit where the frame is
    sized by ``run.capacity_factor`` (scales above ~300, see :mod:`greatleap.memory`); finer scales
    size it from a pilot run to the run's end, which changes the chunks float sums are added in.
    """
    run = data.get("run", {})
    last = f"{year}-12"
    if str(run.get("end", "9999-12")) <= last or str(run.get("start", "1957-01")) > last:
        return data
    return {**data, "run": {**run, "end": last}}


# ------------------------------------------------------------------ metrics of one run
def run_metrics(tables: dict[str, pd.DataFrame], period=PERIOD) -> dict[str, float]:
    """Scalar outcomes of one run: excess deaths (true, registered), lost births, grain, procurement."""
    a = tables["annual_national"].set_index("year")
    sel = a.loc[period[0]:period[1]]
    base = a.loc[1957] if 1957 in a.index else a.iloc[0]
    return {
        "excess_deaths_true": float(sel.deaths.sum() - base.cdr_true / 1000 * sel.population_mean.sum()),
        "excess_deaths_registered": float(sel.deaths_registered.sum()
                                          - base.cdr_registered / 1000 * sel.registered_population_mean.sum()),
        "lost_births": float(base.cbr_true / 1000 * sel.population_mean.sum() - sel.births.sum()),
        "deaths_true": float(sel.deaths.sum()),
        "famine_and_violence_deaths": float((sel.deaths_famine + sel.deaths_violence).sum()),
        "grain_mt": float(sel.grain_harvest_mt.sum()),
        "procurement_mt": float(sel.procurement_mt.sum()),
    }


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    return float(np.mean(values)), float(np.percentile(values, 5)), float(np.percentile(values, 95))


@dataclass
class Comparison:
    names: list[str]
    seeds: list[int]
    summary: pd.DataFrame       # scenario, metric, mean, p05, p95, diff_mean, diff_p05, diff_p95
    by_year: pd.DataFrame       # scenario, year, deaths/births/grain/procurement means and diffs
    by_province: pd.DataFrame   # scenario, province, deaths 1958-62 mean and diff
    by_age_class: pd.DataFrame  # scenario, age_group, class, deaths 1958-62 mean and diff
    failures: list[str]


def compare(scenarios: Sequence, seeds: Sequence[int], scale: float | None = None, jobs: int = 1,
            cache_dir=None, progress: Callable[[int, int], None] | None = None) -> Comparison:
    """Run every scenario with the same seeds; differences are against the first scenario, paired by seed.

    Every scenario must cover the same months (``run.start``, ``run.end``), else ValueError."""
    periods = {(s.run.start, s.run.end) for s in scenarios}
    if len(periods) > 1:
        raise ValueError(f"scenarios cover different months ({', '.join(f'{s.name}: {s.run.start} .. {s.run.end}' for s in scenarios)}); "
                         f"allowed: the same run.start and run.end in every scenario")
    members = [(s.to_dict(), seed) for s in scenarios for seed in seeds]
    outcomes = run_many(members, scale, jobs, progress, cache_dir, share_prefix=True)
    names = [s.name for s in scenarios]
    failures = [f"{names[k // len(seeds)]} seed {o.seed}: {o.error.splitlines()[0]}"
                for k, o in enumerate(outcomes) if o.tables is None]
    ok_seeds = [seed for j, seed in enumerate(seeds)
                if all(outcomes[i * len(seeds) + j].tables is not None for i in range(len(scenarios)))]
    if not ok_seeds:
        raise RuntimeError("no seed ran in every scenario: " + "; ".join(failures))
    tab = {(names[i], seed): outcomes[i * len(seeds) + j].tables
           for i in range(len(scenarios)) for j, seed in enumerate(seeds) if seed in ok_seeds}
    first = names[0]
    rows = []
    for name in names:
        mets = [run_metrics(tab[(name, s)]) for s in ok_seeds]
        base = [run_metrics(tab[(first, s)]) for s in ok_seeds]
        for metric in mets[0]:
            v = np.array([m[metric] for m in mets])
            d = v - np.array([b[metric] for b in base])
            rows.append((name, metric, *_interval(v), *_interval(d)))
    summary = pd.DataFrame(rows, columns=["scenario", "metric", "mean", "p05", "p95", "diff_mean", "diff_p05", "diff_p95"])

    def stacked(table: str, keys: list[str], value_cols: list[str], filt=None) -> pd.DataFrame:
        """Mean and 5-95% over seeds of each value, and of its paired difference against the first scenario."""
        def per_seed(name):
            frames = []
            for s in ok_seeds:
                f = tab[(name, s)][table]
                frames.append((filt(f) if filt else f).groupby(keys)[value_cols].sum())
            return np.stack([f.to_numpy() for f in frames]), frames[0].index

        base, _ = per_seed(first)
        out_frames = []
        for name in names:
            values, index = per_seed(name)
            out = pd.DataFrame(index=index)
            diffs = values - base
            for j, c in enumerate(value_cols):
                out[c] = values[:, :, j].mean(axis=0)
                out[f"{c}_p05"] = np.percentile(values[:, :, j], 5, axis=0)
                out[f"{c}_p95"] = np.percentile(values[:, :, j], 95, axis=0)
                out[f"{c}_diff"] = diffs[:, :, j].mean(axis=0)
                out[f"{c}_diff_p05"] = np.percentile(diffs[:, :, j], 5, axis=0)
                out[f"{c}_diff_p95"] = np.percentile(diffs[:, :, j], 95, axis=0)
            out.insert(0, "scenario", name)
            out_frames.append(out.reset_index())
        return pd.concat(out_frames, ignore_index=True)

    in_period = lambda f: f[(f.year >= PERIOD[0]) & (f.year <= PERIOD[1])]
    by_year = stacked("annual_national", ["year"], ["deaths", "deaths_registered", "births", "grain_harvest_mt",
                                                     "procurement_mt"])
    by_province = stacked("annual_province", ["province"], ["deaths", "deaths_registered"],
                          lambda f: in_period(f[f.sector == "total"]))
    by_age_class = stacked("deaths_by_age_class", ["age_group", "class"], ["deaths"], in_period)
    return Comparison(names, list(ok_seeds), summary, by_year, by_province, by_age_class, failures)


def write_comparison(c: Comparison, out_dir) -> Path:
    from matplotlib.figure import Figure  # its own canvas: the caller's backend is left alone

    with atomic_folder(out_dir) as tmp:
        for name in ("summary", "by_year", "by_province", "by_age_class"):
            getattr(c, name).to_csv(tmp / f"{name}.csv", index=False)
        fig = Figure(figsize=(12, 4.5), constrained_layout=True)
        ax = fig.subplots(1, 2)
        ex = c.summary[c.summary.metric == "excess_deaths_true"]
        ax[0].barh(ex.scenario, ex["mean"] / 1e6, xerr=[(ex["mean"] - ex.p05) / 1e6, (ex.p95 - ex["mean"]) / 1e6])
        ax[0].set_xlabel("excess deaths 1958-62, million (true; 5-95% over seeds)")
        for name in c.names:
            y = c.by_year[c.by_year.scenario == name]
            ax[1].plot(y.year, y.deaths / 1e6, "-o", ms=3, label=name)
        ax[1].set_ylabel("deaths per year, million (true)")
        ax[1].legend(fontsize=7)
        fig.savefig(tmp / "compare.png", dpi=100)
        (tmp / "report.md").write_text(
            f"# Scenario comparison ({len(c.seeds)} seeds, common random numbers)\n\n"
            f"Excess deaths: true deaths 1958-62 above each run's 1957 death rate. Differences are "
            f"against **{c.names[0]}**, paired by seed; intervals 5-95% over seeds.\n\n"
            + markdown_table(c.summary) + "\n\n![chart](compare.png)\n", encoding="utf-8")
    return Path(out_dir)
