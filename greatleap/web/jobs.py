"""What a run worker does: one run (summarised for the page, tables kept in the cache) or one
Shapley breakdown. Runs in the worker processes of :mod:`greatleap.web.pool`; no web imports.

Units in the payload: persons; rates per mille per year; grain in Mt; retention kg/person/year.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

PERIOD = (1958, 1962)
# tables kept for downloads (CSV or Parquet); small at the page's scales
TABLES = ("annual_national", "annual_province", "deaths_by_age_class", "monthly_national")
ANNUAL = ("year", "cdr_true", "cdr_registered", "cbr_true", "cbr_registered", "grain_harvest_mt",
          "grain_reported_province_mt", "grain_believed_mt", "procurement_mt", "procurement_share",
          "rural_retention_kg", "population_end", "deaths", "births", "deaths_famine", "deaths_violence",
          "exports_mt", "imports_mt")


def warm() -> None:
    """Compile (or load from Numba's cache) the kernels with a tiny run, one thread per worker."""
    import numba

    numba.set_num_threads(1)
    from greatleap import Sim, load_scenario
    Sim(load_scenario("historical", **{"run.end": "1957-03"}), scale=1e5, seed=1).run()


def _clean(values) -> list:
    """A column as JSON numbers (NaN -> None)."""
    out = []
    for v in values:
        v = v.item() if isinstance(v, np.generic) else v
        out.append(None if isinstance(v, float) and not math.isfinite(v) else v)
    return out


def _province_excess(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Deaths 1958-62 by province above the national 1957 rural and urban death rates (persons).

    National rates, not each province's own 1957 rate: at the page's scales a province has a few
    hundred agents and its own one-year rate is mostly noise; the model's baseline mortality
    differs between provinces only through their urban share, which the sector rates keep.
    """
    a = tables["annual_national"].set_index("year")
    first = a.index.min()
    p = tables["annual_province"]
    sel = p[(p.year >= PERIOD[0]) & (p.year <= PERIOD[1])]
    out = sel[sel.sector == "total"].groupby("province", sort=False)["deaths"].sum().to_frame()
    expected = 0.0
    for sector in ("rural", "urban"):
        years = sel[sel.sector == sector].groupby("province", sort=False)["population_mean"].sum()
        expected = expected + a.loc[first, f"cdr_true_{sector}"] / 1000 * years.reindex(out.index).fillna(0.0)
    out["excess_deaths"] = out.deaths - expected
    start = p[(p.year == first) & (p.sector == "total")].set_index("province").population_mean
    out["population_start"] = start.reindex(out.index)
    return out.reset_index()[["province", "excess_deaths", "deaths", "population_start"]]


def summarize(tables: dict[str, pd.DataFrame]) -> dict:
    """What the page draws: annual national series, headline metrics, provinces, age and class."""
    from greatleap.analysis.compare import run_metrics

    a = tables["annual_national"]
    annual = {col: _clean(a[col].to_numpy()) for col in ANNUAL if col in a}
    metrics = {k: float(v) for k, v in run_metrics(tables, PERIOD).items()}
    provinces = _province_excess(tables)
    provinces["excess_per_1000"] = provinces.excess_deaths / provinces.population_start * 1000
    provinces = provinces.sort_values("excess_deaths", ascending=False)
    d = tables["deaths_by_age_class"]
    d = d[(d.year >= PERIOD[0]) & (d.year <= PERIOD[1]) & (d.cause != "natural")]
    by_age_class = d.groupby(["age_group", "class"], sort=False)["deaths"].sum().reset_index()
    return {"annual": annual, "metrics": metrics,
            "provinces": {col: _clean(provinces[col].to_numpy()) for col in provinces},
            "age_class": {col: _clean(by_age_class[col].to_numpy()) for col in by_age_class}}


def run_job(data: dict, seed: int, scale: float, folder: str | None,
            progress: Callable[[int, int], None] | None = None) -> dict:
    """Run one scenario; write its tables and payload into ``folder`` (atomically); return the payload."""
    from greatleap import Sim
    from greatleap.io import atomic_folder
    from greatleap.scenario import validate_scenario

    t0 = time.perf_counter()
    results = Sim(validate_scenario(data, data.get("name", "scenario")), scale=scale, seed=seed).run()
    tables = {name: getattr(results, name) for name in TABLES}
    payload = summarize(tables)
    payload["run_seconds"] = round(time.perf_counter() - t0, 3)
    if folder is not None and not Path(folder).exists():
        try:
            with atomic_folder(folder) as tmp:
                for name, frame in tables.items():
                    frame.to_parquet(tmp / f"{name}.parquet", index=False)
                (tmp / "payload.json").write_text(json.dumps(payload), encoding="utf-8")
        except OSError:  # the same run finished in another worker first
            if not Path(folder).is_dir():
                raise
    return payload


def why_job(data: dict, scale: float, seeds: tuple[int, ...], permutations: int, runs_cache: str | None,
            progress: Callable[[int, int], None] | None = None) -> dict:
    """Shapley breakdown of the scenario's excess deaths by mechanism (exact when ``permutations`` is 0)."""
    from greatleap.analysis.decompose import decompose
    from greatleap.scenario import validate_scenario

    t0 = time.perf_counter()
    d = decompose(validate_scenario(data, data.get("name", "scenario")), seeds=seeds, scale=scale, jobs=1,
                  permutations=permutations, cache_dir=runs_cache, progress=progress)
    s = d.shapley
    return {"mechanisms": {col: _clean(s[col].to_numpy()) for col in s}, "total": list(d.total),
            "exact": d.exact, "seeds": list(d.seeds), "scale": scale, "permutations": permutations,
            "failures": d.failures, "seconds": round(time.perf_counter() - t0, 1)}


HANDLERS = {"run": run_job, "why": why_job}
