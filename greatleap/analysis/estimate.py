"""Counting the dead: the demographers' excess-death methods, explicit and testable.

Every estimator takes a yearly :class:`VitalSeries` (population, births, deaths as counts of
persons) and returns an :class:`Estimate`: excess deaths and lost births per year and in total
(persons), with the baseline death and birth rates it used (per mille). Excess deaths in year t
= D_t - baseline CDR_t x P_t; lost births = baseline CBR_t x P_t - B_t, where P_t is the exposure
population chosen by ``population``:

- ``"mid"``: mid-year population as the mean of this and last year-end (the usual convention);
- ``"yearend"``: this year's year-end population;
- ``"previous"``: last year's year-end population.

Baselines (each as in the literature):

- :func:`average_baseline` - mean rate of chosen pre- and post-famine years (Chang & Halliday:
  e.g. 1957, 1962, 1963);
- :func:`prefamine_baseline` - mean rate of pre-famine years (Peng: 1956-57), optionally with an
  under-registration adjustment raising famine-year deaths (e.g. +10%);
- :func:`interpolation_baseline` - linear interpolation between a pre- and a post-famine anchor
  (single years or multi-year means), as Coale, Banister and Ashton et al.;
- :func:`cohort_deficit` - a check from a later age distribution: famine birth cohorts against
  the size expected from neighbouring cohorts (lost births plus excess child deaths).

Inputs are never modified. Figures are persons (divide by 1e6 for millions); rates per mille.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from greatleap import data
from greatleap.io import atomic_folder, markdown_table

PERIODS = {"1958-1961": (1958, 1961), "1959-1961": (1959, 1961), "1958-1962": (1958, 1962)}
POPULATION_CONVENTIONS = ("mid", "yearend", "previous")


class SeriesError(ValueError):
    """A vital series is malformed; the message names the row and column."""


@dataclass(frozen=True)
class VitalSeries:
    """Yearly series: year-end population, births and deaths (persons), with a label."""
    years: np.ndarray
    pop_yearend: np.ndarray
    births: np.ndarray
    deaths: np.ndarray
    label: str = "series"

    def __post_init__(self):
        for name in ("years", "pop_yearend", "births", "deaths"):
            arr = np.asarray(getattr(self, name), dtype=float if name != "years" else int).copy()
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        n = len(self.years)
        if not (len(self.pop_yearend) == len(self.births) == len(self.deaths) == n):
            raise SeriesError(f"{self.label}: years, population, births and deaths must have the same length")
        if n and np.any(np.diff(self.years) != 1):
            k = int(np.flatnonzero(np.diff(self.years) != 1)[0])
            raise SeriesError(f"{self.label}: missing or unordered years after {self.years[k]} "
                              f"(next is {self.years[k + 1]}); allowed: consecutive years")

    @classmethod
    def from_rates(cls, years, pop_yearend, cbr, cdr, label="series") -> "VitalSeries":
        """Build from year-end population (persons) and CBR/CDR (per mille of mid-year population)."""
        years = np.asarray(years, int)
        pop = np.asarray(pop_yearend, float)
        mid = _mid(pop)
        return cls(years, pop, np.asarray(cbr, float) / 1000 * mid, np.asarray(cdr, float) / 1000 * mid, label)

    def exposure(self, convention: str = "mid") -> np.ndarray:
        """Population exposed in each year (persons); NaN where it cannot be formed (first year)."""
        if convention == "mid":
            return _mid(self.pop_yearend)
        if convention == "yearend":
            return self.pop_yearend.copy()
        if convention == "previous":
            return np.concatenate([[np.nan], self.pop_yearend[:-1]])
        raise ValueError(f"population = {convention!r}; allowed: {', '.join(POPULATION_CONVENTIONS)}")

    def rates(self, convention: str = "mid") -> tuple[np.ndarray, np.ndarray]:
        """(CBR, CDR) per mille on the chosen exposure."""
        p = self.exposure(convention)
        return self.births / p * 1000, self.deaths / p * 1000

    def frame(self) -> pd.DataFrame:
        cbr, cdr = self.rates("mid")
        return pd.DataFrame({"year": self.years, "pop_yearend": self.pop_yearend, "births": self.births,
                             "deaths": self.deaths, "cbr": cbr, "cdr": cdr})


def _mid(pop_yearend: np.ndarray) -> np.ndarray:
    """Mid-year population as the mean of successive year-ends; the first year is extrapolated."""
    pop = np.asarray(pop_yearend, float)
    mid = np.empty_like(pop)
    mid[1:] = (pop[1:] + pop[:-1]) / 2
    if len(pop) > 1:
        mid[0] = pop[0] - (pop[1] - pop[0]) / 2
    elif len(pop):
        mid[0] = pop[0]
    return mid


@dataclass
class Estimate:
    """Result of one method: per-year excess deaths and lost births (persons) and the baseline."""
    method: str
    period: tuple[int, int]
    population: str
    years: np.ndarray
    excess_deaths: np.ndarray
    lost_births: np.ndarray
    baseline_cdr: np.ndarray
    baseline_cbr: np.ndarray
    notes: dict = field(default_factory=dict)

    @property
    def total_excess_deaths(self) -> float:
        return float(np.sum(self.excess_deaths))

    @property
    def total_lost_births(self) -> float:
        return float(np.sum(self.lost_births))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"year": self.years, "excess_deaths": self.excess_deaths,
                             "lost_births": self.lost_births, "baseline_cdr": self.baseline_cdr,
                             "baseline_cbr": self.baseline_cbr})


def _rows(series: VitalSeries, years: Iterable[int], what: str) -> np.ndarray:
    years = list(years)
    idx = []
    for y in years:
        hits = np.flatnonzero(series.years == y)
        if not len(hits):
            raise SeriesError(f"{series.label}: {what} year {y} is not in the series "
                              f"({series.years.min()}..{series.years.max()})")
        idx.append(int(hits[0]))
    return np.array(idx, int)


def _apply(series: VitalSeries, method: str, period: tuple[int, int], population: str,
           base_cdr: np.ndarray, base_cbr: np.ndarray, death_adjustment: float = 0.0, notes=None) -> Estimate:
    rows = _rows(series, range(period[0], period[1] + 1), "period")
    p = series.exposure(population)[rows]
    if np.any(~np.isfinite(p)):
        raise SeriesError(f"{series.label}: population convention {population!r} needs the year before "
                          f"{period[0]}; add it or use another convention")
    deaths = series.deaths[rows] * (1.0 + death_adjustment)
    excess = deaths - base_cdr / 1000 * p
    lost = base_cbr / 1000 * p - series.births[rows]
    return Estimate(method, period, population, series.years[rows].copy(), excess, lost,
                    np.broadcast_to(base_cdr, rows.shape).astype(float).copy(),
                    np.broadcast_to(base_cbr, rows.shape).astype(float).copy(), notes or {})


def average_baseline(series: VitalSeries, years: Sequence[int] = (1957, 1962, 1963),
                     period: tuple[int, int] = (1958, 1961), population: str = "mid") -> Estimate:
    """Baseline = mean CBR and CDR of the chosen pre- and post-famine years (Chang & Halliday style)."""
    cbr, cdr = series.rates(population)
    r = _rows(series, years, "baseline")
    return _apply(series, f"average of {','.join(map(str, years))}", period, population,
                  np.full(period[1] - period[0] + 1, np.mean(cdr[r])),
                  np.full(period[1] - period[0] + 1, np.mean(cbr[r])), notes={"baseline_years": list(years)})


def prefamine_baseline(series: VitalSeries, years: Sequence[int] = (1956, 1957),
                       period: tuple[int, int] = (1958, 1961), population: str = "mid",
                       underregistration: float = 0.0) -> Estimate:
    """Baseline = mean pre-famine rates (Peng: 1956-57); famine deaths raised by ``underregistration``."""
    cbr, cdr = series.rates(population)
    r = _rows(series, years, "baseline")
    label = f"pre-famine {','.join(map(str, years))}" + (f" +{underregistration:.0%} deaths" if underregistration else "")
    return _apply(series, label, period, population,
                  np.full(period[1] - period[0] + 1, np.mean(cdr[r])),
                  np.full(period[1] - period[0] + 1, np.mean(cbr[r])), death_adjustment=underregistration,
                  notes={"baseline_years": list(years), "underregistration": underregistration})


def interpolation_baseline(series: VitalSeries, pre: Sequence[int] = (1957,), post: Sequence[int] = (1962,),
                           period: tuple[int, int] = (1958, 1961), population: str = "mid") -> Estimate:
    """Baseline interpolated linearly between the mean rates of ``pre`` and ``post`` years (at their mean year)."""
    cbr, cdr = series.rates(population)
    rp, rq = _rows(series, pre, "pre-famine anchor"), _rows(series, post, "post-famine anchor")
    x0, x1 = float(np.mean(pre)), float(np.mean(post))
    if x1 <= x0:
        raise SeriesError(f"interpolation anchors: post {list(post)} must come after pre {list(pre)}")
    t = np.arange(period[0], period[1] + 1)
    w = (t - x0) / (x1 - x0)
    base_cdr = np.mean(cdr[rp]) + w * (np.mean(cdr[rq]) - np.mean(cdr[rp]))
    base_cbr = np.mean(cbr[rp]) + w * (np.mean(cbr[rq]) - np.mean(cbr[rp]))
    return _apply(series, f"interpolation {','.join(map(str, pre))} -> {','.join(map(str, post))}", period,
                  population, base_cdr, base_cbr, notes={"pre": list(pre), "post": list(post)})


def cohort_deficit(pop_by_age: pd.Series, census_year: int, famine_cohorts: Sequence[int] = (1958, 1959, 1960, 1961),
                   reference_cohorts: Sequence[int] = (1955, 1956, 1957, 1962, 1963)) -> pd.DataFrame:
    """Famine birth cohorts in a later age distribution against the size expected from their neighbours.

    ``pop_by_age`` maps age (completed years at ``census_year``) to persons. The expected size of
    each famine cohort is the linear trend through the reference cohorts; the deficit (expected -
    observed) measures lost births plus excess deaths of those children up to the census.
    """
    cohort = {census_year - int(age): float(v) for age, v in pop_by_age.items()}
    for y in list(famine_cohorts) + list(reference_cohorts):
        if y not in cohort:
            raise SeriesError(f"cohort {y} is not in the age distribution of {census_year}")
    ref = np.array(reference_cohorts, float)
    slope, intercept = np.polyfit(ref, [cohort[int(y)] for y in ref], 1)
    rows = [(y, cohort[y], intercept + slope * y) for y in famine_cohorts]
    out = pd.DataFrame(rows, columns=["cohort", "observed", "expected"])
    out["deficit"] = out.expected - out.observed
    return out


def all_methods(series: VitalSeries, periods: Sequence[str] = tuple(PERIODS), population: str = "mid",
                skipped: list | None = None) -> list[Estimate]:
    """Every baseline method of the literature, for each period.

    Methods whose baseline years the series lacks (a run that starts in 1957 has no 1956) are
    left out and named in ``skipped`` if a list is given.
    """
    specs = [
        (average_baseline, dict(years=(1957, 1962, 1963))),
        (average_baseline, dict(years=(1957, 1962))),
        (prefamine_baseline, dict(years=(1956, 1957))),
        (prefamine_baseline, dict(years=(1956, 1957), underregistration=0.10)),
        (prefamine_baseline, dict(years=(1957,))),
        (interpolation_baseline, dict(pre=(1957,), post=(1962,))),
        (interpolation_baseline, dict(pre=(1957,), post=(1963,))),
        (interpolation_baseline, dict(pre=(1955, 1956, 1957), post=(1962, 1963, 1964))),
    ]
    out = []
    for name in periods:
        for fn, kwargs in specs:
            try:
                out.append(fn(series, period=PERIODS[name], population=population, **kwargs))
            except SeriesError as exc:
                if skipped is not None:
                    skipped.append(f"{fn.__name__}{tuple(kwargs.values())} {name}: {exc}")
    return out


def comparison_table(estimates: Sequence[Estimate]) -> pd.DataFrame:
    """Method x period table of total excess deaths and lost births, in millions."""
    rows = [{"method": e.method, "period": f"{e.period[0]}-{e.period[1]}",
             "excess_deaths_m": e.total_excess_deaths / 1e6, "lost_births_m": e.total_lost_births / 1e6}
            for e in estimates]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ series sources
def official_series() -> VitalSeries:
    """Official registered series: year-end population, births and deaths (later NBS vintage, counts)."""
    f = data.read_sourced_csv("china_national_births_deaths_1949_1970_revised.csv",
                              ("year", "pop_yearend_10k", "births_10k", "deaths_10k"))
    f = f.dropna(subset=["births_10k", "deaths_10k"])
    return VitalSeries(f.year, f.pop_yearend_10k * 1e4, f.births_10k * 1e4, f.deaths_10k * 1e4,
                       label="official registered (NBS)")


def banister_series() -> VitalSeries:
    """Banister's (1984) reconstructed CBR/CDR applied to the official year-end population."""
    b = data.banister_rates()
    off = data.official_vital_rates()
    f = b.merge(off[["year", "pop_yearend"]], on="year")
    return VitalSeries.from_rates(f.year, f.pop_yearend * 1e6, f.cbr_estimated, f.cdr_estimated,
                                  label="Banister 1984 reconstruction (official population)")


def read_csv_series(path: str | Path) -> VitalSeries:
    """A user CSV: ``year``, ``population`` (year-end, persons), and ``births`` and ``deaths`` (persons)
    or ``cbr`` and ``cdr`` (per mille). Rows starting with ``#`` are comments."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeriesError(f"{path}: cannot read: {exc.strerror}") from None
    body = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not body:
        raise SeriesError(f"{path}: no rows")
    import csv
    reader = list(csv.reader(body))
    header = [h.strip() for h in reader[0]]
    if "year" not in header or "population" not in header:
        raise SeriesError(f"{path}: header {header}: needs columns 'year' and 'population' and either "
                          f"'births','deaths' or 'cbr','cdr'")
    counts = {"births", "deaths"} <= set(header)
    rates = {"cbr", "cdr"} <= set(header)
    if not counts and not rates:
        raise SeriesError(f"{path}: header {header}: needs 'births' and 'deaths' (persons) or 'cbr' and 'cdr' (per mille)")
    cols = ["year", "population"] + (["births", "deaths"] if counts else ["cbr", "cdr"])
    values = {c: [] for c in cols}
    for r, row in enumerate(reader[1:], start=2):
        if len(row) != len(header):
            raise SeriesError(f"{path}: row {r}: {len(row)} fields, header has {len(header)}")
        for c in cols:
            cell = row[header.index(c)].strip()
            try:
                v = float(cell)
            except ValueError:
                raise SeriesError(f"{path}: row {r}, column {c!r}: value {cell!r} is not a number") from None
            if not np.isfinite(v) or v < 0 or (c == "population" and v == 0):
                raise SeriesError(f"{path}: row {r}, column {c!r}: value {cell!r} must be a positive number")
            if c == "year" and v != int(v):
                raise SeriesError(f"{path}: row {r}, column 'year': value {cell!r} is not a whole year")
            values[c].append(v)
    years = np.array(values["year"], int)
    gaps = np.flatnonzero(np.diff(years) != 1)
    if len(gaps):
        k = int(gaps[0])
        raise SeriesError(f"{path}: row {k + 3}, column 'year': {years[k + 1]} follows {years[k]}; "
                          f"years must be consecutive with none missing")
    if counts:
        return VitalSeries(years, values["population"], values["births"], values["deaths"], label=str(path))
    return VitalSeries.from_rates(years, values["population"], values["cbr"], values["cdr"], label=str(path))


def run_series(run_dir: str | Path, book: str = "registered") -> VitalSeries:
    """A simulation run's true or registered yearly series (from its ``annual_national.parquet``)."""
    a = pd.read_parquet(Path(run_dir) / "annual_national.parquet")
    return results_series(a, book, label=f"{run_dir} ({book})")


def results_series(annual: pd.DataFrame, book: str = "registered", label: str = "simulation") -> VitalSeries:
    if book == "true":
        return VitalSeries(annual.year, annual.population_end, annual.births, annual.deaths, f"{label}")
    if book == "registered":
        return VitalSeries(annual.year, annual.registered_population_end, annual.births_registered,
                           annual.deaths_registered, f"{label}")
    raise ValueError(f"book = {book!r}; allowed: true, registered")


def published_estimates() -> pd.DataFrame:
    """The published excess-death estimates (shipped with sources and confidence flags)."""
    return data.read_sourced_csv("china_famine_excess_death_estimates.csv",
                                 ("estimate_million", "author", "period", "confidence"))


# ------------------------------------------------------------------ registration degradation
def degrade(series: VitalSeries, death_completeness: dict[int, float] | float = 1.0,
            birth_completeness: dict[int, float] | float = 1.0, population_inflation: dict[int, float] | float = 0.0,
            destroyed: dict[int, float] | None = None, label: str | None = None) -> VitalSeries:
    """Apply a registration model to any series (returns a new one; the input is untouched).

    Deaths are kept with ``death_completeness`` (by year or one value), births with
    ``birth_completeness``; year-end counts are inflated by ``population_inflation``; in the years of
    ``destroyed`` that share of the death and birth records is lost (e.g. provinces whose records
    were destroyed).
    """
    def by_year(v, default):
        if isinstance(v, dict):
            return np.array([v.get(int(y), default) for y in series.years], float)
        return np.full(len(series.years), float(v))

    lost = by_year(destroyed or {}, 0.0)
    return VitalSeries(series.years, series.pop_yearend * (1 + by_year(population_inflation, 0.0)),
                       series.births * by_year(birth_completeness, 1.0) * (1 - lost),
                       series.deaths * by_year(death_completeness, 1.0) * (1 - lost),
                       label or f"{series.label} (degraded)")


# ------------------------------------------------------------------ testbed
def testbed(annual: pd.DataFrame, period: str = "1958-1961", population: str = "mid") -> pd.DataFrame:
    """Each method on a simulation's registered series against its known truth.

    Truth = deaths the engine attributes to the famine (hunger and violence) in the period.
    bias = estimate(registered) - truth, split into the part due to under-registration
    (estimate(registered) - estimate(true series)) and the part due to the baseline choice
    (estimate(true series) - truth).
    """
    p = PERIODS[period]
    sel = annual[(annual.year >= p[0]) & (annual.year <= p[1])]
    truth = float((sel.deaths_famine + sel.deaths_violence).sum())
    reg = all_methods(results_series(annual, "registered"), [period], population)
    tru = all_methods(results_series(annual, "true"), [period], population)
    rows = []
    for er, et in zip(reg, tru, strict=True):
        rows.append({"method": er.method, "period": period, "truth_m": truth / 1e6,
                     "estimate_registered_m": er.total_excess_deaths / 1e6,
                     "estimate_true_series_m": et.total_excess_deaths / 1e6,
                     "bias_m": (er.total_excess_deaths - truth) / 1e6,
                     "due_to_underregistration_m": (er.total_excess_deaths - et.total_excess_deaths) / 1e6,
                     "due_to_baseline_m": (et.total_excess_deaths - truth) / 1e6})
    out = pd.DataFrame(rows)
    bias = out.bias_m.where(out.bias_m.abs() > 1e-9)
    out["share_underregistration"] = out.due_to_underregistration_m / bias
    out["share_baseline"] = out.due_to_baseline_m / bias
    return out


def degrade_provinces(annual_province: pd.DataFrame, destroyed: dict[tuple[str, int], float],
                      book: str = "registered", label: str = "simulation (records destroyed)") -> VitalSeries:
    """A national series from a run's provincial table after some provinces' records were lost.

    ``destroyed`` maps (province, year) to the share of that year's death and birth records lost
    (1.0 = the whole record); the population counts are kept.
    """
    t = annual_province[annual_province.sector == "total"].copy()
    births, deaths = ("births_registered", "deaths_registered") if book == "registered" else ("births", "deaths")
    pop = "registered_population_end" if book == "registered" else "population_end"
    keep = np.array([1.0 - destroyed.get((p, int(y)), 0.0) for p, y in zip(t.province, t.year, strict=True)])
    t["b"], t["d"] = t[births] * keep, t[deaths] * keep
    g = t.groupby("year")[[pop, "b", "d"]].sum().reset_index()
    return VitalSeries(g.year, g[pop], g.b, g.d, label)


def write_report(table: pd.DataFrame, series: VitalSeries, out_dir: str | Path,
                 testbed_table: pd.DataFrame | None = None) -> Path:
    """Write ``estimates.csv``, ``estimates.png`` and ``report.md`` (a person-readable report) atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with atomic_folder(out_dir) as tmp:
        table.to_csv(tmp / "estimates.csv", index=False)
        fig, ax = plt.subplots(figsize=(10, 5), constrained_layout=True)
        piv = table.pivot(index="method", columns="period", values="excess_deaths_m")
        piv.plot.barh(ax=ax)
        pub = published_estimates()
        for v in pd.to_numeric(pub.estimate_million, errors="coerce").dropna():
            ax.axvline(v, color="grey", alpha=0.25, lw=1)
        ax.set_xlabel("excess deaths, million (grey lines: published estimates)")
        ax.set_title(f"Excess deaths by method: {series.label}")
        fig.savefig(tmp / "estimates.png", dpi=100)
        plt.close(fig)
        lines = [f"# Excess deaths by method: {series.label}", "",
                 "Excess deaths and lost births (millions) by baseline method and period.", "",
                 markdown_table(table), ""]
        if testbed_table is not None:
            lines += ["## Testbed: methods on the registered series against the simulation's truth", "",
                      markdown_table(testbed_table), ""]
        lines += ["## Published estimates (shipped, with sources)", "",
                  markdown_table(published_estimates()[["estimate_million", "author", "year_published", "period",
                                                    "confidence"]]), "", "![chart](estimates.png)", ""]
        (tmp / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return Path(out_dir)
