"""Estimates as records (JSON), long rows (CSV), a method x period table, and a report folder."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from greatleap.analysis.estimate.methods import Estimate
from greatleap.io import atomic_folder, markdown_table


def _num(v) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def _baseline(e: Estimate) -> tuple[dict, str]:
    if e.baseline is None:
        return {}, ""
    if e.baseline_unit.startswith("persons"):
        return ({str(y): _num(b / 1e6) for y, b in zip(e.years, e.baseline, strict=True)},
                "million " + e.baseline_unit)
    return {str(y): _num(b) for y, b in zip(e.years, e.baseline, strict=True)}, e.baseline_unit


def record(e: Estimate) -> dict:
    """One estimate as a JSON-ready dict: baseline by year, yearly terms and total in millions."""
    baseline, unit = _baseline(e)
    return {"method": e.method, "label": e.label, "series": e.series, "measure": e.measure,
            "period": f"{e.period[0]}-{e.period[1]}", "exposure": e.exposure, "clip": e.clip,
            "options": e.options, "baseline_unit": unit, "baseline": baseline,
            "excess": {str(y): _num(t / 1e6) for y, t in zip(e.years, e.terms, strict=True)},
            "total": _num(e.total / 1e6), "notes": list(e.notes)}


def to_json(estimates: Sequence[Estimate]) -> str:
    """One JSON object for one estimate, a list for several."""
    recs = [record(e) for e in estimates]
    return json.dumps(recs[0] if len(recs) == 1 else recs, indent=1, allow_nan=False)


def long_rows(estimates: Sequence[Estimate]) -> pd.DataFrame:
    """One row per estimate and year (millions; baseline in its unit)."""
    rows = []
    for e in estimates:
        baseline, unit = _baseline(e)
        for y, t in zip(e.years, e.terms, strict=True):
            rows.append({"method": e.method, "label": e.label, "series": e.series, "measure": e.measure,
                         "period": f"{e.period[0]}-{e.period[1]}", "exposure": e.exposure or "", "clip": e.clip,
                         "year": int(y), "baseline": baseline.get(str(y)), "baseline_unit": unit,
                         "excess_m": t / 1e6, "total_m": e.total / 1e6})
    return pd.DataFrame(rows)


def comparison_table(estimates: Sequence[Estimate]) -> pd.DataFrame:
    """Method x period table of totals (millions), one column per measure found."""
    rows = [{"label": e.label, "measure": e.measure, "period": f"{e.period[0]}-{e.period[1]}",
             "total_m": e.total / 1e6} for e in estimates]
    return pd.DataFrame(rows, columns=["label", "measure", "period", "total_m"])


def write_report(estimates: Sequence[Estimate], series_label: str, out_dir: str | Path,
                 testbed_table: pd.DataFrame | None = None, published: pd.DataFrame | None = None) -> Path:
    """Write ``estimates.csv``, ``estimates.json``, ``estimates.png`` and ``report.md`` atomically."""
    from matplotlib.figure import Figure  # a figure of our own: the user's pyplot backend is left alone

    table = comparison_table(estimates)
    with atomic_folder(out_dir) as tmp:
        long_rows(estimates).to_csv(tmp / "estimates.csv", index=False)
        (tmp / "estimates.json").write_text(to_json(estimates) + "\n", encoding="utf-8")
        fig = Figure(figsize=(10, max(4, 0.3 * len(table))), constrained_layout=True)
        ax = fig.subplots()
        piv = table.pivot_table(index="label", columns="period", values="total_m", aggfunc="first")
        piv.plot.barh(ax=ax)
        if published is not None:
            for v in pd.to_numeric(published.estimate_million, errors="coerce").dropna():
                ax.axvline(v, color="grey", alpha=0.25, lw=1)
        ax.set_xlabel("million (grey lines: published estimates)")
        ax.set_title(f"Estimates by method: {series_label}")
        fig.savefig(tmp / "estimates.png", dpi=100)
        lines = [f"# Estimates by method: {series_label}", "", "Totals in millions by method and period.", "",
                 markdown_table(table), ""]
        if testbed_table is not None:
            lines += ["## Testbed: each method on the registered series against the run's truth", "",
                      markdown_table(testbed_table), ""]
        if published is not None:
            lines += ["## Published estimates (shipped, with sources)", "", markdown_table(published), ""]
        lines += ["![chart](estimates.png)", ""]
        (tmp / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return Path(out_dir)


def fmt_m(v: float) -> str:
    """Millions to 2 decimals, or persons when below 0.1 million (a small county would show 0.00)."""
    if not np.isfinite(v):
        return "-"
    return f"{v / 1e6:.2f}" if abs(v) >= 1e5 or v == 0 else f"{v:,.0f} persons"
