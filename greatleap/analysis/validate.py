"""Validation: an ensemble of the scenario beside every target, with error measures, plots, HTML."""
from __future__ import annotations

import html
import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from greatleap.analysis.targets import counted, evaluate, passed_count, score
from greatleap.io import atomic_folder


def validation_report(evaluated: pd.DataFrame, runs: list[dict], meta: dict, out_dir: str | Path) -> Path:
    """Write targets.csv, summary.json, one PNG per target series and index.html, atomically.

    ``passed`` and ``targets`` count the counted targets (the set the score uses); ``reported``
    lists those shown but not counted (inputs such as net grain trade). Figures are drawn on
    their own canvas: the caller's matplotlib backend is left alone."""
    passed, counted_total = passed_count(evaluated)
    with atomic_folder(out_dir) as tmp:
        evaluated.to_csv(tmp / "targets.csv", index=False)
        groups = fit_by_group(evaluated, meta.get("vintage", ""))
        groups.to_csv(tmp / "fit_by_group.csv", index=False)
        summary_groups = groups.to_dict(orient="records")
        summary = {**{k: v for k, v in meta.items() if k != "fitted_parameters"}, "score": score(evaluated),
                   "passed": passed, "targets": counted_total,
                   "reported_not_counted": sorted(set(evaluated.name) - set(counted(evaluated).name)),
                   "by_series": evaluated.groupby("name").passed.agg(["sum", "count"]).astype(int)
                   .rename(columns={"sum": "passed", "count": "targets"}).to_dict(orient="index"),
                   "by_group": summary_groups}
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        images = []
        if province_ranking_figure(evaluated, runs, tmp / "provinces_cdr_1960.png"):
            images.append("provinces_cdr_1960.png")
        national = evaluated[evaluated.province.isna()] if "province" in evaluated else evaluated
        for name, group in evaluated[~evaluated.index.isin(national.index)].groupby("name", sort=False):
            fname = f"{name}.png"
            provincial_figure(name, group).savefig(tmp / fname, dpi=80)
            images.append(fname)
        for name, group in national.groupby("name", sort=False):
            fname = f"{name}.png"
            national_figure(name, group).savefig(tmp / fname, dpi=90)
            images.append(fname)
        cols = ["name", "year", "observed", "lower", "upper", "sim_mean", "sim_p05", "sim_p95", "error", "passed"]
        rows = "\n".join(
            "<tr" + ("" if r.passed else " class='fail'") + ">" + "".join(
                f"<td>{html.escape(f'{v:.3g}' if isinstance(v, (float, np.floating)) else str(v))}</td>"
                for v in (getattr(r, c) for c in cols)) + "</tr>" for r in evaluated.itertuples())
        fitted = meta.get("fitted_parameters")
        if fitted is not None and len(fitted):
            params = "<tr><th>parameter</th><th>value</th><th>top-20 5-95%</th><th>allowed</th><th>why</th></tr>" + "".join(
                f"<tr><td>{html.escape(r.key)}</td><td>{r.best:.4g}</td><td>{r.top_k_p05:.4g} - {r.top_k_p95:.4g}</td>"
                f"<td>{r.low:g} - {r.high:g}</td><td>{html.escape(str(r.note))}</td></tr>" for r in fitted.itertuples())
            fitted.to_csv(tmp / "parameters.csv", index=False)
        else:
            params = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in meta.get("parameters", {}).items())
        page = f"""<!doctype html><html><head><meta charset='utf-8'><title>greatleap validate</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:2px 8px;border-bottom:1px solid #ddd}}
tr.fail td{{color:#b00}} img{{margin:4px}}</style></head><body>
<h1>Validation: {html.escape(str(meta.get('scenario')))}</h1>
<p>{summary['passed']} of {summary['targets']} counted targets within tolerance; score {summary['score']:.3f}
(weighted mean squared error in tolerance units; 1 = at the edge). Reported but not counted (inputs):
{html.escape(', '.join(summary['reported_not_counted']) or 'none')}. Vintage: {html.escape(meta.get('vintage', ''))};
{meta.get('seeds')} seeds at scale {meta.get('scale')}.</p>
<h2>Fit by vintage and level</h2><table><tr><th>vintage</th><th>level</th><th>passed</th><th>of</th><th>share</th></tr>
{''.join(f"<tr><td>{html.escape(str(g['vintage']))}</td><td>{g['level']}</td><td>{g['passed']}</td><td>{g['targets']}</td>"
         f"<td>{g['share']:.0%}</td></tr>" for g in summary_groups)}</table>
<h2>Parameters</h2><table>{params}</table>
<h2>Series</h2>{''.join(f"<img src='{i}'>" for i in images)}
<h2>Targets</h2><table><tr>{''.join(f'<th>{c}</th>' for c in cols)}</tr>{rows}</table></body></html>"""
        (tmp / "index.html").write_text(page, encoding="utf-8")
    return Path(out_dir)


def target_level(evaluated: pd.DataFrame) -> pd.Series:
    """national (yearly national series), provincial (a province's series) or scalar (one-off figures)."""
    prov = evaluated.province.notna() if "province" in evaluated else pd.Series(False, index=evaluated.index)
    scalar = evaluated.table.eq("headline") | evaluated.name.str.contains(r"_\d{4}(?:_\d{4})?$", regex=True)
    return pd.Series(np.where(prov, "provincial", np.where(scalar & ~prov, "scalar", "national")), index=evaluated.index)


def fit_by_group(evaluated: pd.DataFrame, vintage: str = "") -> pd.DataFrame:
    """Counted targets passed per (vintage, level): the national and provincial fit of each book."""
    e = counted(evaluated)
    vint = e["vintage"] if "vintage" in e else pd.Series(vintage, index=e.index)
    g = e.assign(vintage=vint, level=target_level(e)).groupby(["vintage", "level"], sort=True).passed
    out = g.agg(["sum", "count"]).astype(int).rename(columns={"sum": "passed", "count": "targets"}).reset_index()
    return out.assign(share=out.passed / out.targets.clip(lower=1))


def _title(name: str, group: pd.DataFrame) -> str:
    """'name (unit): k/n pass', wrapped to the figure's width (long units of one-off targets were cut off)."""
    text = f"{name} ({group.unit.iloc[0]}): {int(group.passed.sum())}/{len(group)} pass"
    return "\n".join(textwrap.wrap(text, 70, break_on_hyphens=False))


def national_figure(name: str, group: pd.DataFrame):
    """A national series by year (simulated 5-95% band and mean against the record); a one-off target
    (one year) as two intervals side by side, the record's tolerance and the simulated 5-95%, on the
    target's own scale rather than at one point of a century-wide year axis."""
    from matplotlib.figure import Figure
    g = group.sort_values("year")
    fig = Figure(figsize=(6, 3.4 if len(g) > 1 else 2.2), constrained_layout=True)
    ax = fig.subplots()
    if len(g) > 1:
        ax.fill_between(g.year, g.sim_p05, g.sim_p95, alpha=0.3, label="simulated 5-95%")
        ax.plot(g.year, g.sim_mean, "-o", ms=3, label="simulated mean")
        ax.errorbar(g.year, g.observed, yerr=[g.observed - g.lower, g.upper - g.observed], fmt="kx",
                    capsize=3, label="observed ± tolerance")
        ax.legend(fontsize=7)
    else:
        r = g.iloc[0]
        ax.errorbar([r.observed], [1], xerr=[[r.observed - r.lower], [r.upper - r.observed]], fmt="kx", capsize=4,
                    label="observed ± tolerance")
        ax.errorbar([r.sim_mean], [0], xerr=[[r.sim_mean - r.sim_p05], [r.sim_p95 - r.sim_mean]], fmt="o",
                    color="C0" if r.passed else "C3", capsize=4, label="simulated mean, 5-95%")
        ax.set_yticks([0, 1], ["simulated", f"record ({int(r.year)})"], fontsize=8)
        ax.set_ylim(-0.6, 1.6)
        ax.tick_params(axis="x", labelsize=8)
    ax.set_title(_title(name, g), fontsize=9)
    return fig


def provincial_figure(name: str, group: pd.DataFrame):
    """Small multiples: one panel per province, simulated 5-95% and mean against the record."""
    from matplotlib.figure import Figure
    provinces = list(dict.fromkeys(group.province))
    cols = 4
    rows = -(-len(provinces) // cols)
    fig = Figure(figsize=(10, 1.9 * rows + 0.5), constrained_layout=True)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, prov in zip(axes, provinces):
        g = group[group.province == prov].sort_values("year")
        if len(g) > 1:
            ax.fill_between(g.year, g.sim_p05, g.sim_p95, alpha=0.3)
        ax.plot(g.year, g.sim_mean, "-o", ms=3)
        ax.errorbar(g.year, g.observed, yerr=[g.observed - g.lower, g.upper - g.observed], fmt="kx", capsize=2)
        ax.set_title(f"{prov}: {int(g.passed.sum())}/{len(g)}", fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in axes[len(provinces):]:
        ax.set_visible(False)
    fig.suptitle(_title(name, group), fontsize=9)
    return fig


def province_ranking_figure(evaluated: pd.DataFrame, runs: list[dict], path: Path, year: int = 1960) -> bool:
    """Ranked bars of every province's simulated registered (and true) death rate in ``year``, with the
    registered rate on record where the targets have it. False (nothing drawn) without provincial tables."""
    from matplotlib.figure import Figure
    frames = [r["annual_province"] for r in runs if "annual_province" in r]
    if not frames:
        return False
    sel = [f[(f.year == year) & (f.sector == "total")].set_index("province") for f in frames]
    if not len(sel[0]):
        return False
    reg = pd.concat([f.cdr_registered for f in sel], axis=1)
    true = pd.concat([f.cdr_true for f in sel], axis=1).mean(axis=1)
    order = reg.mean(axis=1).sort_values().index
    rec = evaluated[(evaluated.name == "provincial_cdr") & (evaluated.year == year)].set_index("province").observed \
        if "province" in evaluated else pd.Series(dtype=float)
    fig = Figure(figsize=(7, 0.22 * len(order) + 1.2), constrained_layout=True)
    ax = fig.subplots()
    y = np.arange(len(order))
    ax.barh(y, true.reindex(order), color="#ddd", label="simulated true")
    m = reg.reindex(order)
    ax.barh(y, m.mean(axis=1), height=0.5, color="#c44",
            xerr=[m.mean(axis=1) - m.quantile(0.05, axis=1), m.quantile(0.95, axis=1) - m.mean(axis=1)],
            label="simulated registered (5-95%)")
    known = [i for i, p in enumerate(order) if p in rec.index]
    ax.plot(rec.reindex(order).iloc[known], y[known], "kD", ms=4, label="registered on record")
    ax.set_yticks(y, list(order), fontsize=7)
    ax.set_xlabel(f"death rate {year} (per mille)")
    ax.legend(fontsize=7, loc="lower right")
    fig.savefig(path, dpi=90)
    return True


def validate(scenario, targets: pd.DataFrame, seeds, scale, jobs=1, progress=None, cache_dir=None):
    """Run the ensemble (finished runs reused from ``cache_dir``) and evaluate it.
    Returns (evaluated table, successful runs, failures)."""
    from greatleap.analysis.ensemble import run_ensemble
    outcomes = run_ensemble(scenario, seeds, scale, jobs, progress, cache_dir)
    runs = [o.tables for o in outcomes if o.tables is not None]
    failures = [o for o in outcomes if o.tables is None]
    if not runs:
        raise RuntimeError("every run failed: " + "; ".join(f.error.splitlines()[0] for f in failures))
    return evaluate(targets, runs), runs, failures
