"""The testbed: every method on a simulation's registered records, against the truth the run knows.

Truth, by what a method measures: excess deaths -> the deaths the engine attributes to the famine
(hunger and violence) in the method's years; registered deaths -> all true deaths in those years;
lost births and population loss have no truth in a single run (it would need the run without
the famine), so their bias is left empty. bias = estimate(registered) - truth, split into the
part due to under-registration (estimate(registered) - estimate(true series)) and the part due
to the method itself (estimate(true series) - truth).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from greatleap.analysis.estimate.readers import results_series
from greatleap.analysis.estimate.series import VitalSeries
from greatleap.analysis.estimate.spec import MethodSpec, run_spec


def testbed_specs(annual: pd.DataFrame, period=(1958, 1961), exposure: str = "mid",
                  clip: bool = False) -> list[MethodSpec]:
    """Every method, with baselines a run that starts in 1957 can serve."""
    first = int(annual.year.min())
    true_rate = float(results_series(annual, "true").rates(exposure)[1][0])
    common = dict(period=tuple(period), exposure=exposure, clip=clip)
    return [
        MethodSpec("constant", rate=round(true_rate, 2), **common),
        MethodSpec("average", baseline_years=(first, 1962, 1963), **common),
        MethodSpec("average", baseline_years=(first, 1962), **common),
        MethodSpec("pre-famine", baseline_years=(first,), **common),
        MethodSpec("pre-famine", baseline_years=(first,), adjust=0.10, **common),
        MethodSpec("yang", pre=(first,), post=(1962, 1963, 1964), **common),
        MethodSpec("interpolation", anchors=(first, 1962), **common),
        MethodSpec("interpolation", anchors=(first, 1963), **common),
        MethodSpec("count", baseline_years=(first, 1962, 1963), **common),
        MethodSpec("registered", **common),
        MethodSpec("growth", baseline_years=(first,), **common),
        MethodSpec("lost-births", baseline_years=(first, 1962, 1963), **common),
    ]


def _truth(annual: pd.DataFrame, years: np.ndarray, measure: str) -> float:
    sel = annual[annual.year.isin(years)]
    if measure == "excess deaths":
        return float((sel.deaths_famine + sel.deaths_violence).sum())
    if measure == "registered deaths":
        return float(sel.deaths.sum())
    return np.nan


def testbed(annual: pd.DataFrame, period=(1958, 1961), exposure: str = "mid", specs=None,
            clip: bool = False) -> pd.DataFrame:
    """One row per method: truth, estimates on the registered and the true series, bias and its parts (millions)."""
    if isinstance(period, str):
        period = tuple(int(y) for y in period.split("-"))
    specs = specs if specs is not None else testbed_specs(annual, period, exposure, clip)
    reg, tru = results_series(annual, "registered"), results_series(annual, "true")
    rows = []
    for spec in specs:
        er, et = run_spec(reg, spec), run_spec(tru, spec)
        truth = _truth(annual, er.years, er.measure)
        rows.append({"method": spec.method, "label": er.label, "measure": er.measure,
                     "period": f"{er.period[0]}-{er.period[1]}", "truth_m": truth / 1e6,
                     "estimate_registered_m": er.total / 1e6, "estimate_true_series_m": et.total / 1e6,
                     "bias_m": (er.total - truth) / 1e6,
                     "due_to_underregistration_m": (er.total - et.total) / 1e6,
                     "due_to_method_m": (et.total - truth) / 1e6})
    out = pd.DataFrame(rows)
    out["bias_pct"] = 100 * out.bias_m / out.truth_m
    return out


def degrade(series: VitalSeries, death_completeness: dict[int, float] | float = 1.0,
            birth_completeness: dict[int, float] | float = 1.0, population_inflation: dict[int, float] | float = 0.0,
            destroyed: dict[int, float] | None = None, label: str | None = None) -> VitalSeries:
    """Apply a registration model to any series (returns a new one; the input is untouched).

    Deaths are kept with ``death_completeness`` (by year or one value), births with
    ``birth_completeness``; population counts are inflated by ``population_inflation``; in the
    years of ``destroyed`` that share of the death and birth records is lost.
    """
    def by_year(v, default):
        if isinstance(v, dict):
            return np.array([v.get(int(y), default) for y in series.years], float)
        return np.full(len(series.years), float(v))

    lost = by_year(destroyed or {}, 0.0)
    inflate = 1 + by_year(population_inflation, 0.0)
    return VitalSeries(series.years, series.pop_yearend * inflate,
                       series.births * by_year(birth_completeness, 1.0) * (1 - lost),
                       series.deaths * by_year(death_completeness, 1.0) * (1 - lost),
                       label or f"{series.label} (degraded)",
                       pop_mid=None if series.pop_mid is None else series.pop_mid * inflate)


def degrade_provinces(annual_province: pd.DataFrame, destroyed: dict[tuple[str, int], float],
                      book: str = "registered", label: str = "simulation (records destroyed)") -> VitalSeries:
    """A national series from a run's provincial table after some provinces' records were lost.

    ``destroyed`` maps (province, year) to the share of that year's death and birth records lost
    (1.0 = the whole record); the population counts are kept.
    """
    t = annual_province[annual_province.sector == "total"].copy()
    births, deaths = ("births_registered", "deaths_registered") if book == "registered" else ("births", "deaths")
    pop, mean = (("registered_population_end", "registered_population_mean") if book == "registered"
                 else ("population_end", "population_mean"))
    keep = np.array([1.0 - destroyed.get((p, int(y)), 0.0) for p, y in zip(t.province, t.year, strict=True)])
    t["b"], t["d"] = t[births] * keep, t[deaths] * keep
    g = t.groupby("year")[[pop, mean, "b", "d"]].sum().reset_index()
    return VitalSeries(g.year, g[pop], g.b, g.d, label, pop_mid=g[mean])
