"""Attribution of excess deaths to mechanisms: Shapley values over on/off combinations.

v(S) = true deaths 1958-62 in the world where only the mechanisms in S operate, minus those of
the world with all chosen mechanisms switched off (same seeds, common random numbers). Shapley
values split v(all) among the mechanisms: exact over all 2^n coalitions, or over sampled
permutations.
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

from greatleap.analysis.compare import _interval, ending_with, run_metrics
from greatleap.analysis.ensemble import run_many
from greatleap.io import atomic_folder, markdown_table


# ------------------------------------------------------------------ mechanisms and Shapley values
def _off_events(*pairs: tuple[str, float], start: str = "1957-01") -> list[dict]:
    return [{"lever": lever, "start": start, "value": value, "note": "mechanism switched off",
             "source": "decompose"} for lever, value in pairs]


# Exports are switched off as in the ``no_exports`` scenario: from January 1959, so that the
# decomposition and ``compare ... no_exports`` answer the same question, and 1957's routine
# pre-Leap trade (the lever's default) is not counted as a mechanism of the famine.
EXPORTS_OFF_FROM = "1959-01"


# name -> (what switching it off means, events appended, parameter overrides)
MECHANISMS: dict[str, tuple[str, list[dict], dict[str, object]]] = {
    "reporting_inflation": ("cadres report the true harvest", [],
                            {"reporting.inflation_max": 0.0, "reporting.province_inflation_max": 0.0}),
    "procurement_rule": ("quotas follow the true harvest (flexible procurement)", [], {"planning.flexible_quotas": True}),
    "exports": ("no grain exports from 1959 (as the no_exports scenario)",
                _off_events(("exports", 0.0), start=EXPORTS_OFF_FROM), {}),
    "labor_diversion": ("no furnaces, water works or recruitment boom",
                        _off_events(("furnace_labor", 0.0), ("waterworks_labor", 0.0), ("recruitment", 0.0015)), {}),
    "techniques": ("no close cropping, deep plowing or fallowing",
                   _off_events(("close_cropping", 0.0), ("deep_plowing", 0.0), ("fallow", 0.0)), {}),
    "pests": ("no sparrow campaign", _off_events(("sparrow_campaign", 0.0)), {}),
    "canteens": ("no canteens or free eating", _off_events(("canteen", 0.0), ("free_eating", 0.0)), {}),
    "weather": ("normal weather every year", [], {"agriculture.weather": {}, "agriculture.summer_weather": {},
                                                "agriculture.severe_hit_yield_loss": 0.0}),
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


def coalition_runs(scenario, mechanisms: Sequence[str], seeds: Sequence[int], permutations: int = 0):
    """The coalitions a decomposition needs (exact: all 2^n; else those the sampled permutations
    visit, with singletons, pairs and leave-one-outs), the permutations, and the (scenario dict,
    seed) runs: every coalition x seed, each run only to the end of the counted period."""
    mechanisms = list(mechanisms)
    perms = permutations_sample(mechanisms, permutations, 12345) if permutations else []
    if permutations:
        needed = {frozenset(), frozenset(mechanisms)} | {frozenset([m]) for m in mechanisms}
        for perm in perms:
            for k in range(1, len(perm) + 1):
                needed.add(frozenset(perm[:k]))
    else:
        needed = {frozenset(c) for k in range(len(mechanisms) + 1) for c in itertools.combinations(mechanisms, k)}
    needed |= {frozenset(p) for p in itertools.combinations(mechanisms, 2)}
    needed |= {frozenset(mechanisms) - {m} for m in mechanisms}
    coalitions = sorted(needed, key=lambda s: (len(s), sorted(s)))
    base = ending_with(scenario.to_dict())  # v(S) counts deaths to the end of the period: later months cannot change it
    members = [(switch_off(base, [m for m in mechanisms if m not in s]), seed) for s in coalitions for seed in seeds]
    return coalitions, perms, members


def decompose(scenario, mechanisms: Sequence[str] = DEFAULT_MECHANISMS, seeds: Sequence[int] = (1, 2),
              scale: float | None = None, jobs: int = 1, permutations: int = 0, cache_dir=None,
              progress: Callable[[int, int], None] | None = None) -> Decomposition:
    """Attribute excess deaths to mechanisms by switching them off in combination.

    Exact over all 2^n coalitions when ``permutations`` is 0; otherwise sampled permutations
    (the coalitions they visit are run). Pairwise interactions need singletons and pairs.
    """
    mechanisms = list(mechanisms)
    coalitions, perms, members = coalition_runs(scenario, mechanisms, seeds, permutations)
    outcomes = run_many(members, scale, jobs, progress, cache_dir, share_prefix=True)
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
    from matplotlib.figure import Figure  # its own canvas: the caller's backend is left alone

    with atomic_folder(out_dir) as tmp:
        d.shapley.to_csv(tmp / "shapley.csv", index=False)
        d.interactions.to_csv(tmp / "interactions.csv", index=False)
        d.coalitions.to_csv(tmp / "coalitions.csv", index=False)
        fig = Figure(figsize=(9, 4.5), constrained_layout=True)
        ax = fig.subplots()
        s = d.shapley
        starts = np.concatenate([[0], np.cumsum(s.shapley.to_numpy())[:-1]]) / 1e6
        ax.barh(s.mechanism, s.shapley / 1e6, left=starts,
                xerr=[(s.shapley - s.shapley_p05) / 1e6, (s.shapley_p95 - s.shapley) / 1e6], color="firebrick")
        ax.axvline(d.total[0] / 1e6, color="black", lw=1)
        ax.invert_yaxis()
        ax.set_xlabel("excess deaths 1958-62 attributed (million; waterfall; line = total)")
        fig.savefig(tmp / "decompose.png", dpi=100)
        (tmp / "report.md").write_text(
            "# Attribution of excess deaths to mechanisms (Shapley values)\n\n"
            "Excess deaths: true deaths 1958-62 in the world where the listed mechanisms operate, minus "
            "those of the same world (same seeds) with all of them switched off. "
            f"{'Exact over all coalitions' if d.exact else 'Sampled permutations'}; {len(d.seeds)} seeds; "
            f"total {d.total[0] / 1e6:.2f} M (5-95%: {d.total[1] / 1e6:.2f}-{d.total[2] / 1e6:.2f}).\n\n"
            + markdown_table(d.shapley) + "\n\n## Pairwise interactions (at the all-off base)\n\n"
            + markdown_table(d.interactions) + "\n\n![chart](decompose.png)\n", encoding="utf-8")
    return Path(out_dir)
