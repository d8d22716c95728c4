"""Counterfactuals side by side, and attribution of excess deaths to mechanisms (Shapley values).

Every scenario is run with the same seeds (common random numbers: a person's draws depend only
on seed, stream, month and the person's id), so differences between scenarios are not noise:
compare(A, A) is exactly zero. Intervals are 5-95% over seeds of the paired differences.

Excess deaths (``compare``): true deaths in 1958-1962 above the run's own 1957 death rate applied
to its 1958-62 person-years (registered likewise). Attribution (``decompose``): v(S) = true deaths
1958-62 in the world where only the mechanisms in S operate, minus those of the world with all
chosen mechanisms switched off (same seeds). Shapley values split v(all) among the mechanisms.
"""
from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from greatleap.analysis.ensemble import run_many
from greatleap.io import atomic_folder, markdown_table

PERIOD = (1958, 1962)


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
    """Run every scenario with the same seeds; differences are against the first scenario, paired by seed."""
    members = [(s.to_dict(), seed) for s in scenarios for seed in seeds]
    outcomes = run_many(members, scale, jobs, progress, cache_dir)
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
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with atomic_folder(out_dir) as tmp:
        for name in ("summary", "by_year", "by_province", "by_age_class"):
            getattr(c, name).to_csv(tmp / f"{name}.csv", index=False)
        fig, ax = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
        ex = c.summary[c.summary.metric == "excess_deaths_true"]
        ax[0].barh(ex.scenario, ex["mean"] / 1e6, xerr=[(ex["mean"] - ex.p05) / 1e6, (ex.p95 - ex["mean"]) / 1e6])
        ax[0].set_xlabel("excess deaths 1958-62, million (true; 5-95% over seeds)")
        for name in c.names:
            y = c.by_year[c.by_year.scenario == name]
            ax[1].plot(y.year, y.deaths / 1e6, "-o", ms=3, label=name)
        ax[1].set_ylabel("deaths per year, million (true)")
        ax[1].legend(fontsize=7)
        fig.savefig(tmp / "compare.png", dpi=100)
        plt.close(fig)
        (tmp / "report.md").write_text(
            f"# Scenario comparison ({len(c.seeds)} seeds, common random numbers)\n\n"
            f"Excess deaths: true deaths 1958-62 above each run's 1957 death rate. Differences are "
            f"against **{c.names[0]}**, paired by seed; intervals 5-95% over seeds.\n\n"
            + markdown_table(c.summary) + "\n\n![chart](compare.png)\n", encoding="utf-8")
    return Path(out_dir)


# ------------------------------------------------------------------ mechanisms and Shapley values
def _off_events(*pairs: tuple[str, float]) -> list[dict]:
    return [{"lever": lever, "start": "1957-01", "value": value, "note": "mechanism switched off",
             "source": "decompose"} for lever, value in pairs]


# name -> (what switching it off means, events appended, parameter overrides)
MECHANISMS: dict[str, tuple[str, list[dict], dict[str, object]]] = {
    "reporting_inflation": ("cadres report the true harvest", [],
                            {"reporting.inflation_max": 0.0, "reporting.province_inflation_max": 0.0}),
    "procurement_rule": ("quotas follow the true harvest (flexible procurement)", [], {"planning.flexible_quotas": True}),
    "exports": ("no grain exports", _off_events(("exports", 0.0)), {}),
    "labor_diversion": ("no furnaces, water works or recruitment boom",
                        _off_events(("furnace_labor", 0.0), ("waterworks_labor", 0.0), ("recruitment", 0.0015)), {}),
    "techniques": ("no close cropping, deep plowing or fallowing",
                   _off_events(("close_cropping", 0.0), ("deep_plowing", 0.0), ("fallow", 0.0)), {}),
    "pests": ("no sparrow campaign", _off_events(("sparrow_campaign", 0.0)), {}),
    "canteens": ("no canteens or free eating", _off_events(("canteen", 0.0), ("free_eating", 0.0)), {}),
    "weather": ("normal weather every year", [], {"agriculture.weather": {}}),
    "political_campaign": ("no campaign pressure, Anti-Right struggle, hard enforcement or relief suppression",
                           _off_events(("campaign", 0.1), ("anti_right", 0.0), ("enforcement", 0.0),
                                       ("relief", 0.8), ("search", 0.2), ("ambition", 0.05)), {}),
}
DEFAULT_MECHANISMS = tuple(MECHANISMS)


def switch_off(data: dict, names: Sequence[str]) -> dict:
    """A copy of the scenario dict with the named mechanisms switched off."""
    out = copy.deepcopy(data)
    for name in names:
        if name not in MECHANISMS:
            raise ValueError(f"mechanism {name!r}; allowed: {', '.join(MECHANISMS)}")
        _, events, params = MECHANISMS[name]
        out["events"] = list(out.get("events", [])) + copy.deepcopy(events)
        for key, value in params.items():
            node = out
            *head, last = key.split(".")
            for part in head:
                node = node[part]
            node[last] = copy.deepcopy(value)
    return out


def shapley_exact(v: Callable[[frozenset], float], players: Sequence[str]) -> dict[str, float]:
    """Exact Shapley values of the value function ``v`` over ``players``."""
    n = len(players)
    phi = {p: 0.0 for p in players}
    for p in players:
        others = [q for q in players if q != p]
        for k in range(n):
            w = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            for s in itertools.combinations(others, k):
                s = frozenset(s)
                phi[p] += w * (v(s | {p}) - v(s))
    return phi


def permutations_sample(players: Sequence[str], n: int, seed: int) -> list[tuple[str, ...]]:
    rng = np.random.default_rng(seed)
    return [tuple(np.array(players)[rng.permutation(len(players))]) for _ in range(n)]


def shapley_sampled(v: Callable[[frozenset], float], perms: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
    """Marginal contributions of every player along sampled permutations (one value per permutation)."""
    out = {p: [] for p in perms[0]}
    for perm in perms:
        s = frozenset()
        for p in perm:
            out[p].append(v(s | {p}) - v(s))
            s = s | {p}
    return {p: np.array(x) for p, x in out.items()}


@dataclass
class Decomposition:
    mechanisms: list[str]
    seeds: list[int]
    shapley: pd.DataFrame       # mechanism, shapley mean, p05, p95, alone, total effect
    interactions: pd.DataFrame  # pairwise interaction at the all-off base
    coalitions: pd.DataFrame    # every coalition run: members, seed, value
    total: tuple[float, float, float]
    exact: bool
    failures: list[str]


def decompose(scenario, mechanisms: Sequence[str] = DEFAULT_MECHANISMS, seeds: Sequence[int] = (1, 2),
              scale: float | None = None, jobs: int = 1, permutations: int = 0, cache_dir=None,
              progress: Callable[[int, int], None] | None = None) -> Decomposition:
    """Attribute excess deaths to mechanisms by switching them off in combination.

    Exact over all 2^n coalitions when ``permutations`` is 0; otherwise sampled permutations
    (the coalitions they visit are run). Pairwise interactions need singletons and pairs.
    """
    mechanisms = list(mechanisms)
    base = scenario.to_dict()
    if permutations:
        perms = permutations_sample(mechanisms, permutations, 12345)
        needed = {frozenset(), frozenset(mechanisms)} | {frozenset([m]) for m in mechanisms}
        for perm in perms:
            for k in range(1, len(perm) + 1):
                needed.add(frozenset(perm[:k]))
    else:
        needed = {frozenset(c) for k in range(len(mechanisms) + 1) for c in itertools.combinations(mechanisms, k)}
    needed |= {frozenset(p) for p in itertools.combinations(mechanisms, 2)}
    needed |= {frozenset(mechanisms) - {m} for m in mechanisms}
    coalitions = sorted(needed, key=lambda s: (len(s), sorted(s)))
    members = [(switch_off(base, [m for m in mechanisms if m not in s]), seed) for s in coalitions for seed in seeds]
    outcomes = run_many(members, scale, jobs, progress, cache_dir)
    failures = [f"coalition {sorted(coalitions[k // len(seeds)])} seed {o.seed}: {o.error.splitlines()[0]}"
                for k, o in enumerate(outcomes) if o.tables is None]
    deaths = {}
    for k, o in enumerate(outcomes):
        if o.tables is not None:
            deaths[(coalitions[k // len(seeds)], o.seed)] = run_metrics(o.tables)["deaths_true"]
    ok = [s for s in seeds if all((c, s) in deaths for c in coalitions)]
    if not ok:
        raise RuntimeError("no seed completed every coalition: " + "; ".join(failures[:5]))
    empty, full = frozenset(), frozenset(mechanisms)
    per_seed_phi, rows = [], []
    for s in ok:
        v = lambda c, s=s: deaths[(c, s)] - deaths[(empty, s)]
        if permutations:
            contrib = shapley_sampled(v, perms)
            phi = {m: float(contrib[m].mean()) for m in mechanisms}
        else:
            phi = shapley_exact(v, mechanisms)
        per_seed_phi.append(phi)
        for c in coalitions:
            rows.append({"coalition": "+".join(sorted(c)) or "(none)", "size": len(c), "seed": s, "value": v(c)})
    table = []
    for m in mechanisms:
        vals = np.array([p[m] for p in per_seed_phi])
        alone = np.array([deaths[(frozenset([m]), s)] - deaths[(empty, s)] for s in ok])
        total_effect = np.array([deaths[(full, s)] - deaths[(full - {m}, s)] for s in ok])
        table.append((m, MECHANISMS[m][0], *_interval(vals), float(alone.mean()), float(total_effect.mean())))
    shap = pd.DataFrame(table, columns=["mechanism", "switched_off_means", "shapley", "shapley_p05", "shapley_p95",
                                        "effect_alone", "total_effect"]).sort_values("shapley", ascending=False)
    inter = []
    for a, b in itertools.combinations(mechanisms, 2):
        vals = [deaths[(frozenset([a, b]), s)] - deaths[(frozenset([a]), s)] - deaths[(frozenset([b]), s)]
                + deaths[(empty, s)] for s in ok]
        inter.append((a, b, float(np.mean(vals))))
    interactions = pd.DataFrame(inter, columns=["mechanism_a", "mechanism_b", "interaction"])
    totals = np.array([deaths[(full, s)] - deaths[(empty, s)] for s in ok])
    return Decomposition(mechanisms, ok, shap.reset_index(drop=True), interactions, pd.DataFrame(rows),
                         _interval(totals), not permutations, failures)


def write_decomposition(d: Decomposition, out_dir) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with atomic_folder(out_dir) as tmp:
        d.shapley.to_csv(tmp / "shapley.csv", index=False)
        d.interactions.to_csv(tmp / "interactions.csv", index=False)
        d.coalitions.to_csv(tmp / "coalitions.csv", index=False)
        fig, ax = plt.subplots(figsize=(9, 4.5), constrained_layout=True)
        s = d.shapley
        starts = np.concatenate([[0], np.cumsum(s.shapley.to_numpy())[:-1]]) / 1e6
        ax.barh(s.mechanism, s.shapley / 1e6, left=starts,
                xerr=[(s.shapley - s.shapley_p05) / 1e6, (s.shapley_p95 - s.shapley) / 1e6], color="firebrick")
        ax.axvline(d.total[0] / 1e6, color="black", lw=1)
        ax.invert_yaxis()
        ax.set_xlabel("excess deaths 1958-62 attributed (million; waterfall; line = total)")
        fig.savefig(tmp / "decompose.png", dpi=100)
        plt.close(fig)
        (tmp / "report.md").write_text(
            "# Attribution of excess deaths to mechanisms (Shapley values)\n\n"
            "Excess deaths: true deaths 1958-62 in the world where the listed mechanisms operate, minus "
            "those of the same world (same seeds) with all of them switched off. "
            f"{'Exact over all coalitions' if d.exact else 'Sampled permutations'}; {len(d.seeds)} seeds; "
            f"total {d.total[0] / 1e6:.2f} M (5-95%: {d.total[1] / 1e6:.2f}-{d.total[2] / 1e6:.2f}).\n\n"
            + markdown_table(d.shapley) + "\n\n## Pairwise interactions (at the all-off base)\n\n"
            + markdown_table(d.interactions) + "\n\n![chart](decompose.png)\n", encoding="utf-8")
    return Path(out_dir)
