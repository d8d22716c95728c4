"""Validation: an ensemble of the scenario beside every target, with error measures, plots, HTML."""
from __future__ import annotations

import html
import json
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
    from matplotlib.figure import Figure

    passed, counted_total = passed_count(evaluated)
    with atomic_folder(out_dir) as tmp:
        evaluated.to_csv(tmp / "targets.csv", index=False)
        summary = {**{k: v for k, v in meta.items() if k != "fitted_parameters"}, "score": score(evaluated),
                   "passed": passed, "targets": counted_total,
                   "reported_not_counted": sorted(set(evaluated.name) - set(counted(evaluated).name)),
                   "by_series": evaluated.groupby("name").passed.agg(["sum", "count"]).astype(int)
                   .rename(columns={"sum": "passed", "count": "targets"}).to_dict(orient="index")}
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        images = []
        for name, group in evaluated.groupby("name", sort=False):
            fig = Figure(figsize=(6, 3.4), constrained_layout=True)
            ax = fig.subplots()
            g = group.sort_values("year")
            ax.fill_between(g.year, g.sim_p05, g.sim_p95, alpha=0.3, label="simulated 5-95%")
            ax.plot(g.year, g.sim_mean, "-o", ms=3, label="simulated mean")
            ax.errorbar(g.year, g.observed, yerr=[g.observed - g.lower, g.upper - g.observed], fmt="kx",
                        capsize=3, label="observed ± tolerance")
            ax.set_title(f"{name} ({g.unit.iloc[0]}): {int(g.passed.sum())}/{len(g)} pass", fontsize=9)
            ax.legend(fontsize=7)
            fname = f"{name}.png"
            fig.savefig(tmp / fname, dpi=90)
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
<h2>Parameters</h2><table>{params}</table>
<h2>Series</h2>{''.join(f"<img src='{i}'>" for i in images)}
<h2>Targets</h2><table><tr>{''.join(f'<th>{c}</th>' for c in cols)}</tr>{rows}</table></body></html>"""
        (tmp / "index.html").write_text(page, encoding="utf-8")
    return Path(out_dir)


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
