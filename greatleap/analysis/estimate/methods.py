"""The excess-death estimators of the literature, each one explicit arithmetic on a :class:`VitalSeries`.

Rate baselines (per mille; P_t the exposure population, r_t the observed rate on it):

- :func:`constant` - a constant or user-given rate;
- :func:`average` - pooled mean of chosen years' rates (Chang & Halliday: 1957, 1962, 1963);
- :func:`prefamine` - mean of pre-famine years' rates (Peng: 1956-57), famine deaths optionally
  raised by an under-registration share (Peng: +10%);
- :func:`yang` - mean of the pre-famine mean and the post-famine mean (not the pooled mean,
  which differs when the spans have different lengths);
- :func:`interpolation` - linear between a pre- and a post-famine anchor (single years or spans,
  placed at their mean year), as Coale, Banister and Ashton et al.

excess deaths_t = ((1 + adjust) r_t - b_t) P_t / 1000; lost births_t = (b_t - r_t) P_t / 1000.

Rules without rates: :func:`count` (deaths in the famine years minus the mean deaths of "normal"
years, no population; Xia), :func:`growth` (population at year-end A grown at g to year-end B,
minus the population observed at B: deaths plus lost births), :func:`registered` (plain totals).
``clip=True`` sets negative yearly terms to zero before summing (some authors do, some don't).
Inputs are never modified; figures are persons.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from greatleap.analysis.estimate.series import EXPOSURES, SeriesError, VitalSeries, need

MEASURES = {"deaths": "excess deaths", "births": "lost births"}
MAX_GROWTH = 0.1  # per year: a larger population growth rate is refused as a likely per-mille value


@dataclass
class Estimate:
    """One method's yearly terms (persons), its baseline and what it measured."""
    method: str
    label: str
    series: str
    measure: str
    period: tuple[int, int]
    exposure: str | None
    years: np.ndarray
    terms: np.ndarray
    baseline: np.ndarray | None
    baseline_unit: str
    unclipped: np.ndarray
    clip: bool = False
    options: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def total(self) -> float:
        """Sum of the yearly terms (persons)."""
        return float(np.sum(self.terms))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"year": self.years, "baseline": self.baseline if self.baseline is not None else np.nan,
                             "term": self.terms, "unclipped": self.unclipped})


def years_text(years: Sequence[int]) -> str:
    """1955,1956,1957 -> '1955-1957'; 1957,1962,1963 -> '1957,1962,1963'."""
    ys, out, k = sorted(int(y) for y in years), [], 0
    while k < len(ys):
        j = k
        while j + 1 < len(ys) and ys[j + 1] == ys[j] + 1:
            j += 1
        out.append(f"{ys[k]}-{ys[j]}" if j - k >= 2 else ",".join(map(str, ys[k:j + 1])))
        k = j + 1
    return ",".join(out)


def check_period(period: Sequence[int]) -> tuple[int, int]:
    """(first, last) with first <= last, or SeriesError."""
    a, b = int(period[0]), int(period[-1])
    if a > b:
        raise SeriesError(f"period {a}-{b}: the first year comes after the last; "
                          f"allowed: FIRST-LAST with FIRST <= LAST (e.g. 1958-1961)")
    return a, b


def rows(series: VitalSeries, years: Sequence[int], what: str) -> np.ndarray:
    """Row index of each year, or SeriesError naming the years the series lacks."""
    years = [int(y) for y in years]
    if not years:
        raise SeriesError(f"{what}: no years given")
    pos = {int(y): i for i, y in enumerate(series.years)}
    missing = [y for y in years if y not in pos]
    if missing:
        have = years_text(series.years) if len(series.years) else "no years"
        raise SeriesError(f"{series.label}: {what} year(s) {years_text(missing)} not in the series "
                          f"(it has {have})")
    return np.array([pos[y] for y in years], int)


def _why(exposure: str | None):
    def why(year: int) -> str:
        if exposure in ("previous", "rate-x-previous", "mid"):
            return (f"{year} has no previous year-end population in the series (the first year, or a year after "
                    f"a gap), or its population or counts are missing; use later years or --exposure yearend")
        return f"the population, counts or rates of {year} are missing"
    return why


def _check_measure(measure: str, adjust: float) -> str:
    if measure not in MEASURES:
        raise SeriesError(f"measure = {measure!r}; allowed: {', '.join(MEASURES)}")
    if not np.isfinite(adjust) or not -0.5 < adjust <= 2.0:
        raise SeriesError(f"adjust = {adjust!r}: allowed -0.5 < adjust <= 2 (a share: 0.10 = +10% deaths)")
    if adjust and measure != "deaths":
        raise SeriesError("adjust raises famine-year deaths; it does not apply to lost births")
    return MEASURES[measure]


def _observed(series: VitalSeries, idx: np.ndarray, exposure: str, measure: str, what: str):
    if exposure not in EXPOSURES:
        raise SeriesError(f"exposure = {exposure!r}; allowed: {', '.join(EXPOSURES)}")
    cbr, cdr = series.rates(exposure)
    r = (cdr if measure == "deaths" else cbr)[idx]
    p = series.population(exposure)[idx]
    need(series, idx, r * p, f"{what} on exposure {exposure!r}", _why(exposure))
    return r, p


def _mean_rate(series: VitalSeries, years: Sequence[int], exposure: str, measure: str, what: str) -> float:
    idx = rows(series, years, what)
    r, _ = _observed(series, idx, exposure, measure, f"the {what} rate")
    return float(np.mean(r))


def _finish(series, method, label, measure_name, period, exposure, years, unclipped, baseline, unit, clip,
            options) -> Estimate:
    terms = np.maximum(unclipped, 0.0) if clip else unclipped.copy()
    notes = []
    if clip and np.any(unclipped < 0):
        notes.append(f"clipped {int(np.sum(unclipped < 0))} negative yearly term(s): "
                     f"{(terms.sum() - unclipped.sum()) / 1e6:+.3f} million")
    return Estimate(method, label + (" (clipped)" if clip else ""), series.label, measure_name, period, exposure,
                    np.asarray(years, int).copy(), terms, baseline, unit, unclipped.copy(), clip, options, notes)


def _rate_method(series, method, label, period, exposure, measure, adjust, clip, options, baseline_at):
    """Shared arithmetic of the rate baselines; ``baseline_at(t)`` gives the baseline rate by year."""
    name = _check_measure(measure, adjust)
    period = check_period(period)
    years = np.arange(period[0], period[1] + 1)
    idx = rows(series, years, "period")
    r, p = _observed(series, idx, exposure, measure, f"the observed {measure} rate")
    base = np.asarray(baseline_at(years), float) * np.ones(len(years))
    terms = ((1 + adjust) * r - base) * p / 1000 if measure == "deaths" else (base - r) * p / 1000
    if adjust:
        label += f" {adjust:+.0%} deaths"
    return _finish(series, method, label, name, period, exposure, years, terms, base, "per mille", clip,
                   dict(options, adjust=adjust))


def constant(series: VitalSeries, rate: float, period=(1958, 1961), exposure: str = "mid", measure: str = "deaths",
             adjust: float = 0.0, clip: bool = False) -> Estimate:
    """Baseline = a constant rate (per mille) given by the user."""
    if not np.isfinite(rate) or not 1.0 <= rate < 1000:
        hint = f"; {rate!r} looks like a fraction" if 0 < rate < 1 else ""
        raise SeriesError(f"rate = {rate!r}: a baseline rate is per mille, allowed 1 <= rate < 1000 "
                          f"(e.g. 11 for 11 per mille{hint})")
    return _rate_method(series, "constant", f"constant {rate:g} per mille", period, exposure, measure, adjust, clip,
                        {"rate": rate}, lambda t: rate)


def average(series: VitalSeries, years: Sequence[int] = (1957, 1962, 1963), period=(1958, 1961),
            exposure: str = "mid", measure: str = "deaths", adjust: float = 0.0, clip: bool = False) -> Estimate:
    """Baseline = pooled mean rate of ``years`` (Chang & Halliday: 1957, 1962, 1963)."""
    b = _mean_rate(series, years, exposure, measure, "baseline")
    return _rate_method(series, "average", f"average of {years_text(years)}", period, exposure, measure, adjust,
                        clip, {"baseline_years": [int(y) for y in years]}, lambda t: b)


def prefamine(series: VitalSeries, years: Sequence[int] = (1956, 1957), period=(1958, 1961), exposure: str = "mid",
              measure: str = "deaths", adjust: float = 0.0, clip: bool = False) -> Estimate:
    """Baseline = mean rate of pre-famine ``years`` (Peng: 1956-57, with ``adjust`` = 0.10)."""
    period = check_period(period)
    if max(years) >= period[0]:
        raise SeriesError(f"pre-famine years {years_text(years)} must all come before the period "
                          f"{period[0]}-{period[1]}; use --method average for other years")
    b = _mean_rate(series, years, exposure, measure, "pre-famine")
    return _rate_method(series, "pre-famine", f"pre-famine {years_text(years)}", period, exposure, measure,
                        adjust, clip, {"baseline_years": [int(y) for y in years]}, lambda t: b)


def _spans(pre: Sequence[int], post: Sequence[int], what: str):
    if not len(pre) or not len(post):
        raise SeriesError(f"{what}: both a pre-famine and a post-famine year or span are needed")
    if max(pre) >= min(post):
        raise SeriesError(f"{what}: post-famine {years_text(post)} must come after pre-famine {years_text(pre)}")


def yang(series: VitalSeries, pre: Sequence[int] = (1955, 1956, 1957), post: Sequence[int] = (1962, 1963, 1964),
         period=(1958, 1961), exposure: str = "mid", measure: str = "deaths", adjust: float = 0.0,
         clip: bool = False) -> Estimate:
    """Baseline = (mean rate of ``pre`` + mean rate of ``post``) / 2, a constant (Yang's rule)."""
    _spans(pre, post, "yang")
    b = (_mean_rate(series, pre, exposure, measure, "pre-famine") +
         _mean_rate(series, post, exposure, measure, "post-famine")) / 2
    return _rate_method(series, "yang", f"Yang: mean of {years_text(pre)} and {years_text(post)} means", period,
                        exposure, measure, adjust, clip,
                        {"pre": [int(y) for y in pre], "post": [int(y) for y in post]}, lambda t: b)


def interpolation(series: VitalSeries, pre: Sequence[int] = (1957,), post: Sequence[int] = (1962,),
                  period=(1958, 1961), exposure: str = "mid", measure: str = "deaths", adjust: float = 0.0,
                  clip: bool = False) -> Estimate:
    """Baseline linear between the mean rates of ``pre`` and ``post`` (each placed at its mean year)."""
    _spans(pre, post, "interpolation")
    b0 = _mean_rate(series, pre, exposure, measure, "pre-famine anchor")
    b1 = _mean_rate(series, post, exposure, measure, "post-famine anchor")
    x0, x1 = float(np.mean(pre)), float(np.mean(post))
    return _rate_method(series, "interpolation", f"interpolation {years_text(pre)} -> {years_text(post)}", period,
                        exposure, measure, adjust, clip, {"pre": [int(y) for y in pre], "post": [int(y) for y in post]},
                        lambda t: b0 + (t - x0) / (x1 - x0) * (b1 - b0))


def count(series: VitalSeries, years: Sequence[int] = (1957, 1962, 1963), period=(1958, 1961),
          measure: str = "deaths", adjust: float = 0.0, clip: bool = False) -> Estimate:
    """Deaths (births) of each period year against the mean count of ``years``: no population (Xia)."""
    name = _check_measure(measure, adjust)
    period = check_period(period)
    counts = series.deaths if measure == "deaths" else series.births
    b_idx = rows(series, years, "baseline")
    need(series, b_idx, counts[b_idx], f"the baseline {measure}", _why(None))
    base = float(np.mean(counts[b_idx]))
    t = np.arange(period[0], period[1] + 1)
    idx = rows(series, t, "period")
    need(series, idx, counts[idx], f"the {measure}", _why(None))
    terms = (1 + adjust) * counts[idx] - base if measure == "deaths" else base - counts[idx]
    label = f"count: {measure} minus the mean of {years_text(years)}" + (f" {adjust:+.0%} deaths" if adjust else "")
    return _finish(series, "count", label, name, period, None, t, terms, np.full(len(t), base), "persons", clip,
                   {"baseline_years": [int(y) for y in years], "adjust": adjust})


def natural_increase(series: VitalSeries, years: Sequence[int], exposure: str = "mid") -> float:
    """Mean rate of natural increase (CBR - CDR) of ``years``, per year (a fraction)."""
    idx = rows(series, years, "growth-rate")
    b, _ = _observed(series, idx, exposure, "births", "the growth-rate birth rate")
    d, _ = _observed(series, idx, exposure, "deaths", "the growth-rate death rate")
    return float(np.mean(b - d)) / 1000


def growth(series: VitalSeries, rate: float | None = None, start: int = 1958, end: int = 1961,
           years: Sequence[int] = (1956, 1957), exposure: str = "mid", clip: bool = False) -> Estimate:
    """Population loss: year-end ``start`` population grown at ``rate`` to year-end ``end``, minus the observed.

    ``rate`` is a fraction per year (0.02 = 2%); without it, the mean natural increase of ``years``.
    Yearly terms are the growth of the shortfall, so they sum to the loss at ``end``.
    """
    if rate is None:
        rate = natural_increase(series, years, exposure)
        source = f"natural increase of {years_text(years)}"
    else:
        source = "given"
    if not np.isfinite(rate) or abs(rate) >= MAX_GROWTH:
        raise SeriesError(f"growth rate = {rate!r}: a fraction per year, allowed {-MAX_GROWTH:g} < rate < "
                          f"{MAX_GROWTH:g}" + (f" (did you mean {rate / 1000:g}, i.e. {rate:g} per mille?)"
                                               if np.isfinite(rate) and abs(rate) < 1000 else ""))
    start, end = int(start), int(end)
    if start >= end:
        raise SeriesError(f"growth from {start} to {end}: allowed: --from before --to (year-ends)")
    t = np.arange(start, end + 1)
    idx = rows(series, t, "growth")
    pop = series.pop_yearend[idx]
    need(series, idx, pop, "the year-end population", _why("yearend"))
    expected = pop[0] * (1 + rate) ** (t - start)
    shortfall = expected - pop
    terms = np.diff(shortfall)
    return _finish(series, "growth", f"growth {rate:.2%}/yr ({source}) from {start} to {end}", "population loss",
                   (start + 1, end), None, t[1:], terms, expected[1:], "persons (expected year-end population)",
                   clip, {"rate": rate, "from": start, "to": end, "rate_source": source})


def registered(series: VitalSeries, period=(1958, 1961), measure: str = "deaths") -> Estimate:
    """Plain totals of the registered deaths (births) over the period, no baseline."""
    _check_measure(measure, 0.0)
    period = check_period(period)
    t = np.arange(period[0], period[1] + 1)
    idx = rows(series, t, "period")
    counts = (series.deaths if measure == "deaths" else series.births)[idx]
    need(series, idx, counts, f"the {measure}", _why(None))
    return _finish(series, "registered", f"registered {measure} {period[0]}-{period[1]}", f"registered {measure}",
                   period, None, t, counts.astype(float), None, "", False, {})
