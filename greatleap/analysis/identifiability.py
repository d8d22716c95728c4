"""What the record pins down: prior vs posterior width per parameter, and what the headlines depend on.

For each parameter the width ratio is the posterior's weighted 90% interval over the prior's 90%
interval, both in the prior's working scale (log where the prior is log-uniform): near 1 the
record says nothing about the parameter, near 0 it fixes it. Verdicts: <= 0.5 "pinned down",
<= 0.8 "partly constrained", above "not identified". The headlines' dependence on a parameter is
the weighted rank correlation across the posterior particles (or, when a sensitivity table is
given, the Sobol' total-order index). Figures are matplotlib ``Figure`` objects (no pyplot state).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from greatleap.analysis.abc import weighted_quantile
from greatleap.analysis.posterior import HEADLINES, Posterior

PINNED, PARTLY = 0.5, 0.8
DEPENDS = 0.3  # |rank correlation| from which a headline is said to depend on a parameter
DEPENDS_ST = 0.05  # or total-order index
MIN_ESS = 50  # below this effective sample size the report says its widths are not to be trusted


def verdict(ratio: float) -> str:
    return "pinned down" if ratio <= PINNED else "partly constrained" if ratio <= PARTLY else "not identified"


def width_table(post: Posterior) -> pd.DataFrame:
    """parameter, prior bounds, posterior mean and 5-95% (natural units), width ratio, verdict."""
    prior, w = post.prior(), post.weights
    z = prior.to_z(post.values[list(prior.keys)].to_numpy(float))
    rows = []
    for k, key in enumerate(prior.keys):
        zq = [weighted_quantile(z[:, k], w, q) for q in (0.05, 0.95)]
        ratio = (zq[1] - zq[0]) / (0.9 * (prior.z_high[k] - prior.z_low[k]))
        x05, x95 = np.exp(zq) if prior.log[k] else zq
        rows.append({"parameter": key, "log": bool(prior.log[k]), "prior_low": prior.low[k], "prior_high": prior.high[k],
                     "posterior_mean": float(w @ post.values[key].to_numpy(float)), "posterior_p05": float(x05),
                     "posterior_p95": float(x95), "width_ratio": ratio, "verdict": verdict(ratio)})
    return pd.DataFrame(rows)


def _weighted_corr(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    da, db = a - w @ a, b - w @ b
    den = np.sqrt((w @ da**2) * (w @ db**2))
    return float(w @ (da * db) / den) if den > 0 else 0.0


def rank_correlations(post: Posterior, columns: pd.DataFrame) -> pd.DataFrame:
    """Weighted Spearman correlation of every column of ``columns`` with every parameter."""
    ranks = post.values.rank().to_numpy(float)
    out = []
    for name in columns.columns:
        r = columns[name].rank().to_numpy(float)
        out += [(name, key, _weighted_corr(r, ranks[:, k], post.weights)) for k, key in enumerate(post.keys)]
    return pd.DataFrame(out, columns=["headline", "parameter", "rank_correlation"])


def dependence_table(post: Posterior, widths: pd.DataFrame, sensitivity: pd.DataFrame | None = None) -> pd.DataFrame:
    """headline, parameter, rank correlation across the posterior, Sobol' ST if given, the parameter's verdict."""
    heads = post.headlines.dropna(axis=1, how="all")
    out = rank_correlations(post, heads) if len(heads.columns) else pd.DataFrame(
        columns=["headline", "parameter", "rank_correlation"])
    if sensitivity is not None and len(sensitivity):
        st = sensitivity[sensitivity["index"] == "ST"].rename(columns={"output": "headline", "value": "total_order"})
        out = out.merge(st[["headline", "parameter", "total_order"]], on=["headline", "parameter"], how="outer")
    return out.merge(widths[["parameter", "verdict"]], on="parameter", how="left")


def plain_language(widths: pd.DataFrame, dependence: pd.DataFrame, ess: float) -> tuple[pd.DataFrame, list[str]]:
    """One row per parameter (what the record says, which headlines move with it) and summary sentences."""
    def moves(key: str) -> str:
        d = dependence[dependence.parameter == key]
        hits = []
        for r in d.itertuples():
            st = getattr(r, "total_order", np.nan)
            if np.isfinite(st) and st >= DEPENDS_ST:
                hits.append(f"{r.headline} (ST {st:.2f})")
            elif np.isfinite(r.rank_correlation) and abs(r.rank_correlation) >= DEPENDS:
                hits.append(f"{r.headline} (rho {r.rank_correlation:+.2f})")
        return ", ".join(hits) or "none of the headlines"

    table = pd.DataFrame({
        "parameter": widths.parameter,
        "the record": widths.verdict,
        "posterior 90%": [f"{a:.3g} - {b:.3g}" for a, b in zip(widths.posterior_p05, widths.posterior_p95)],
        "prior": [f"{a:.3g} - {b:.3g}{' (log)' if lg else ''}" for a, b, lg in
                  zip(widths.prior_low, widths.prior_high, widths.log)],
        "width ratio": widths.width_ratio.round(2),
        "headlines that move with it": [moves(k) for k in widths.parameter]})
    said = [] if ess >= MIN_ESS else [f"Caution: the effective sample size is {ess:.0f} (< {MIN_ESS}); widths and "
                                        f"correlations this small a sample gives are not to be trusted."]
    verbs = {"pinned down": "pins down", "partly constrained": "only partly constrains",
             "not identified": "does not identify"}
    for label, verb in verbs.items():
        keys = list(widths.parameter[widths.verdict == label])
        said.append(f"The record {verb} {len(keys)} of {len(widths)} parameters" + (f": {', '.join(keys)}." if keys else "."))
    for head in HEADLINES:
        open_keys = [k for k in widths.parameter[widths.verdict == "not identified"] if head in moves(k)]
        if open_keys:
            said.append(f"{HEADLINES[head][0].capitalize()} depends on parameters the record does not identify: "
                        f"{', '.join(open_keys)}.")
    return table, said


# ------------------------------------------------------------------ figures
def _bins(prior, k: int, n: int = 15) -> np.ndarray:
    return np.linspace(prior.z_low[k], prior.z_high[k], n + 1)


def marginals_figure(post: Posterior):
    """Posterior mass per bin (equal bins on the prior's working scale) against the prior's (dashed)."""
    from matplotlib.figure import Figure
    prior = post.prior()
    z = prior.to_z(post.values[list(prior.keys)].to_numpy(float))
    cols = 4
    rows = int(np.ceil(len(prior.keys) / cols))
    fig = Figure(figsize=(3.2 * cols, 2.2 * rows), constrained_layout=True)
    for k, key in enumerate(prior.keys):
        ax = fig.add_subplot(rows, cols, k + 1)
        edges = _bins(prior, k)
        mass, _ = np.histogram(z[:, k], bins=edges, weights=post.weights)
        x = prior.to_x(edges[:, None] * np.ones((1, len(prior.keys))))[:, k] if prior.log[k] else edges
        ax.stairs(mass, x, fill=True, alpha=0.6)
        ax.axhline(1 / (len(edges) - 1), color="black", ls="--", lw=0.8)
        if prior.log[k]:
            ax.set_xscale("log")
        ax.set_title(key, fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle("posterior mass per bin (bars) vs prior (dashed)", fontsize=9)
    return fig


def correlation_matrix(post: Posterior) -> pd.DataFrame:
    prior = post.prior()
    z = prior.to_z(post.values[list(prior.keys)].to_numpy(float))
    m = np.array([[_weighted_corr(z[:, i], z[:, j], post.weights) for j in range(z.shape[1])]
                  for i in range(z.shape[1])])
    return pd.DataFrame(m, index=list(prior.keys), columns=list(prior.keys))


def correlation_figure(post: Posterior):
    from matplotlib.figure import Figure
    corr = correlation_matrix(post)
    n = len(corr)
    fig = Figure(figsize=(2 + 0.32 * n, 1.5 + 0.3 * n), constrained_layout=True)
    ax = fig.add_subplot()
    im = ax.imshow(corr.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(n), corr.columns, rotation=90, fontsize=6)
    ax.set_yticks(range(n), corr.index, fontsize=6)
    fig.colorbar(im, ax=ax, shrink=0.6, label="posterior correlation (working scale)")
    return fig


def strongest_pairs(post: Posterior, k: int = 6) -> list[str]:
    """Up to ``k`` parameters involved in the strongest posterior correlations (trade-offs)."""
    c = correlation_matrix(post).abs().to_numpy(copy=True)
    np.fill_diagonal(c, 0)
    keys, chosen = post.prior().keys, []
    for flat in np.argsort(-c, axis=None):
        for i in np.unravel_index(flat, c.shape):
            if keys[i] not in chosen and len(chosen) < k:
                chosen.append(keys[i])
        if len(chosen) >= k:
            break
    return chosen


def pairs_figure(post: Posterior, keys: list[str]):
    """Pairwise scatter of the particles (dot area by weight) with marginal histograms on the diagonal."""
    from matplotlib.figure import Figure
    n = len(keys)
    fig = Figure(figsize=(1.9 * n + 1, 1.9 * n + 1), constrained_layout=True)
    size = 3 + 30 * post.weights / post.weights.max()
    for i, a in enumerate(keys):
        for j, b in enumerate(keys[:i + 1]):
            ax = fig.add_subplot(n, n, i * n + j + 1)
            if i == j:
                ax.hist(post.values[a], bins=15, weights=post.weights)
            else:
                ax.scatter(post.values[b], post.values[a], s=size, alpha=0.4, lw=0)
            ax.tick_params(labelsize=5)
            if i == n - 1:
                ax.set_xlabel(b, fontsize=6)
            if j == 0:
                ax.set_ylabel(a, fontsize=6)
    return fig


def write_report(post: Posterior, out: str | Path, sensitivity: pd.DataFrame | None = None) -> Path:
    """identifiability.csv, headline_dependence.csv, correlations.csv, PNG figures and identifiability.md
    into the existing folder ``out`` (callers write into an atomic folder)."""
    from greatleap.io import markdown_table
    out = Path(out)
    widths = width_table(post)
    dep = dependence_table(post, widths, sensitivity)
    table, said = plain_language(widths, dep, post.effective())
    widths.to_csv(out / "identifiability.csv", index=False)
    dep.to_csv(out / "headline_dependence.csv", index=False)
    correlation_matrix(post).to_csv(out / "correlations.csv")
    for name, fig in (("marginals", marginals_figure(post)), ("correlations", correlation_figure(post)),
                      ("pairs", pairs_figure(post, strongest_pairs(post)))):
        fig.savefig(out / f"{name}.png", dpi=90)
    n = len(post.values)
    (out / "identifiability.md").write_text(
        f"# What the record pins down: {post.label()}\n\n"
        f"{n} particles, effective sample size {post.effective():.0f}. Width ratio = posterior 90% "
        f"interval / prior 90% interval (log scale for log-uniform priors): <= {PINNED} pinned down, <= {PARTLY} "
        f"partly constrained, above: not identified. A headline moves with a parameter when their weighted rank "
        f"correlation across the posterior is at least {DEPENDS} in size"
        f"{f' or its Sobol total-order index is at least {DEPENDS_ST}' if sensitivity is not None else ''}.\n\n"
        + "\n".join(f"- {s}" for s in said) + "\n\n" + markdown_table(table)
        + "\n\n![marginals](marginals.png)\n\n![pairs](pairs.png)\n\n![correlations](correlations.png)\n",
        encoding="utf-8")
    return out
