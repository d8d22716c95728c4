"""A yearly vital series (population, births, deaths), its exposure conventions and plausibility.

Counts are persons; rates are per mille. A series may carry the rates its source published
(``published_cbr``/``published_cdr``) beside the counts; which one an estimate uses is set by the
exposure convention (:data:`EXPOSURES`), never silently.

Exposure conventions (the population P_t a yearly rate refers to):

- ``mid``: mid-year population, the series' own mean population where it has one (a simulation
  run), else the mean of this and the previous year-end. A published CBR/CDR is read as events
  per mid-year person (how statistical offices define it), so a rate series becomes counts as
  rate x mid-year population.
- ``yearend`` / ``previous``: counts (given, or formed as above) are divided by this year's /
  the previous year's year-end population: the rates are *re-derived* on that population.
- ``rate-x-yearend`` / ``rate-x-previous``: the *published* rates are used as printed and
  multiplied by the year-end / previous year-end population (Yao 1999: excess deaths =
  POP_{t-1} x (actual - expected death rate)). A series without published rates uses
  counts / mid-year population, the rate an office would publish.

One rule for the first year (and for a year after a gap): it has no previous year-end, so
``mid`` (without a mean population), ``previous`` and ``rate-x-previous`` cannot be formed
there. They are NaN, and every estimator that needs them refuses with a message naming the year.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

EXPOSURES = ("mid", "yearend", "previous", "rate-x-yearend", "rate-x-previous")
UNITS = {"persons": 1.0, "10k": 1e4, "million": 1e6}

MAX_RATE = 100.0            # per mille: above this, refused unless allow_extreme (a county in 1960 may pass it)
MAX_NATIONAL_CDR = 80.0     # per mille above NATIONAL_SIZE (national 1960 peaks: 25-45; a model run may reach 60)
NATIONAL_SIZE = 100e6       # persons
MIN_CDR = 1.0               # per mille: every year below this looks like mixed units


class SeriesError(ValueError):
    """A vital series or an estimate request is malformed; the message names what and where."""


def _frozen(values, name: str, n: int | None, dtype=float) -> np.ndarray:
    arr = np.array(values, dtype=dtype, copy=True)
    if arr.ndim != 1 or (n is not None and len(arr) != n):
        raise SeriesError(f"{name}: {arr.size} value(s) for {n} year(s); allowed: one value per year")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class VitalSeries:
    """Yearly series: year-end population, births and deaths (persons; NaN = missing)."""
    years: np.ndarray
    pop_yearend: np.ndarray
    births: np.ndarray
    deaths: np.ndarray
    label: str = "series"
    pop_mid: np.ndarray | None = None         # mean population of the year (persons), if the source has it
    published_cbr: np.ndarray | None = None   # rates as the source printed them (per mille)
    published_cdr: np.ndarray | None = None
    origin: str | None = None                 # file the series was read from, for messages
    lines: tuple[int, ...] | None = None      # that file's line of each year's row
    notes: tuple[str, ...] = ()
    basis: str = "counts"                     # what births and deaths came from: "counts", or "rates" x mid-year

    def __post_init__(self):
        years = _frozen(self.years, f"{self.label}: years", None, int)
        object.__setattr__(self, "years", years)
        n = len(years)
        for name in ("pop_yearend", "births", "deaths", "pop_mid", "published_cbr", "published_cdr"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _frozen(getattr(self, name), f"{self.label}: {name}", n))
        bad = np.flatnonzero(np.diff(years) <= 0)
        if len(bad):
            k = int(bad[0])
            raise SeriesError(f"{self.label}: year {years[k + 1]} follows {years[k]}{self._at(k + 1)}; "
                              f"allowed: years in increasing order, each once")

    def _at(self, i: int) -> str:
        return f" (line {self.lines[i]})" if self.lines else ""

    def where(self, i: int, column: str) -> str:
        """'file: line N, column C' (or 'label: year Y, column C') for messages."""
        if self.origin and self.lines:
            return f"{self.origin}: line {self.lines[i]}, column {column!r}"
        return f"{self.label}: year {self.years[i]}, column {column!r}"

    @classmethod
    def from_rates(cls, years, pop_yearend, cbr, cdr, label: str = "series", pop_mid=None, **kw) -> "VitalSeries":
        """From year-end population (persons) and CBR/CDR (per mille of mid-year population, kept as published)."""
        years = _frozen(years, f"{label}: years", None, int)
        n = len(years)
        pop = _frozen(pop_yearend, f"{label}: population", n)
        cbr, cdr = _frozen(cbr, f"{label}: cbr", n), _frozen(cdr, f"{label}: cdr", n)
        probe = cls(years, pop, np.full(n, np.nan), np.full(n, np.nan), label,
                    pop_mid=None if pop_mid is None else _frozen(pop_mid, f"{label}: pop_mid", n))
        mid = probe.population("mid")
        return cls(years, pop, cbr / 1000 * mid, cdr / 1000 * mid, label, pop_mid=probe.pop_mid,
                   published_cbr=cbr, published_cdr=cdr, basis="rates", **kw)

    @property
    def kind(self) -> str:
        """'counts', 'rates' or 'counts+rates' (counts with the rates printed beside them)."""
        return self.basis if self.published_cdr is None or self.basis == "rates" else "counts+rates"

    def previous_yearend(self) -> np.ndarray:
        """Year-end population of the year before (NaN for the first year and after a gap)."""
        prev = np.full(len(self.years), np.nan)
        follows = np.concatenate([[False], np.diff(self.years) == 1])
        prev[follows] = self.pop_yearend[np.flatnonzero(follows) - 1]
        return prev

    def population(self, exposure: str = "mid") -> np.ndarray:
        """The population P_t of each year under ``exposure`` (persons; NaN where it cannot be formed)."""
        if exposure not in EXPOSURES:
            raise SeriesError(f"exposure = {exposure!r}; allowed: {', '.join(EXPOSURES)}")
        if exposure == "mid":
            if self.pop_mid is not None:
                return self.pop_mid.copy()
            return (self.previous_yearend() + self.pop_yearend) / 2
        if exposure.endswith("previous"):
            return self.previous_yearend()
        return self.pop_yearend.copy()

    def rates(self, exposure: str = "mid") -> tuple[np.ndarray, np.ndarray]:
        """(CBR, CDR) per mille under ``exposure``: re-derived from counts, or as published for rate-x-*."""
        if exposure.startswith("rate-x-"):
            mid = self.population("mid")
            cbr = self.published_cbr if self.published_cbr is not None else self.births / mid * 1000
            cdr = self.published_cdr if self.published_cdr is not None else self.deaths / mid * 1000
            return np.array(cbr, float), np.array(cdr, float)
        p = self.population(exposure)
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.births / p * 1000, self.deaths / p * 1000

    def missing_years(self) -> list[int]:
        """Years absent between the first and the last (a gap)."""
        return sorted(set(range(int(self.years[0]), int(self.years[-1]) + 1)) - set(self.years.tolist())) \
            if len(self.years) else []

    def frame(self):
        import pandas as pd
        cbr, cdr = self.rates("mid")
        return pd.DataFrame({"year": self.years, "pop_yearend": self.pop_yearend, "pop_mid": self.population("mid"),
                             "births": self.births, "deaths": self.deaths, "cbr": cbr, "cdr": cdr})


# ------------------------------------------------------------------ plausibility
def check_plausible(series: VitalSeries, allow_extreme: bool = False,
                    hint: str = "pass --allow-extreme to accept a real extreme") -> None:
    """Refuse impossible data always and implausible data unless ``allow_extreme`` (SeriesError).

    Impossible: deaths or births above the population; a rate of 1000 per mille or more.
    Implausible: a rate above 100 per mille; a CDR above 80 per mille in a population above
    100 million (a national series); rates that all look like fractions (at most 1); a CDR below
    1 per mille in every year (counts and population in different units).
    """
    pop = series.population("mid")
    pop = np.where(np.isfinite(pop), pop, series.pop_yearend)
    for col, counts, published in (("deaths", series.deaths, series.published_cdr),
                                   ("births", series.births, series.published_cbr)):
        rate_col = "cdr" if col == "deaths" else "cbr"
        with np.errstate(divide="ignore", invalid="ignore"):
            derived = counts / pop * 1000
        rates = published if published is not None else derived
        shown = rate_col if published is not None else col
        for i in np.flatnonzero(np.nan_to_num(published if published is not None else 0 * derived) >= 1000):
            raise SeriesError(f"{series.where(i, shown)}: {rate_col} {rates[i]:g} per mille is impossible; "
                              f"allowed: below 1000 per mille")
        for i in np.flatnonzero(np.nan_to_num(counts) > np.nan_to_num(pop, nan=np.inf)):
            raise SeriesError(f"{series.where(i, col)}: {counts[i]:,.0f} {col} in a population of {pop[i]:,.0f} "
                              f"({derived[i]:,.0f} per mille) is impossible; allowed: {col} below the population")
        if allow_extreme:
            continue
        for i in np.flatnonzero(np.nan_to_num(rates) > MAX_RATE):
            raise SeriesError(f"{series.where(i, shown)}: {rate_col} {rates[i]:.1f} per mille is implausible; "
                              f"allowed: at most {MAX_RATE:g} per mille ({hint})")
        if col == "deaths":
            big = (np.nan_to_num(pop) >= NATIONAL_SIZE) & (np.nan_to_num(rates) > MAX_NATIONAL_CDR)
            for i in np.flatnonzero(big):
                raise SeriesError(f"{series.where(i, shown)}: cdr {rates[i]:.1f} per mille in a population of "
                                  f"{pop[i] / 1e6:,.0f} million is implausible for a national series; allowed: at most "
                                  f"{MAX_NATIONAL_CDR:g} per mille above {NATIONAL_SIZE / 1e6:g} million ({hint})")
        finite = rates[np.isfinite(rates) & (rates > 0)]
        if published is not None and len(finite) and finite.max() <= 1.0:
            raise SeriesError(f"{series.where(int(np.flatnonzero(np.isfinite(rates))[0]), shown)}: every {rate_col} "
                              f"is at most 1 (e.g. {finite[0]:g}): the rates look like fractions; allowed: per mille "
                              f"(e.g. {finite[0] * 1000:g}) ({hint})")
        if col == "deaths" and published is None and len(finite) and finite.max() < MIN_CDR:
            raise SeriesError(f"{series.where(int(np.flatnonzero(np.isfinite(rates))[0]), col)}: deaths are below "
                              f"{MIN_CDR:g} per mille of the population in every year (at most {finite.max():.3g}): "
                              f"counts and population look like different units; allowed: both in the unit "
                              f"declared with --units ({hint})")


def need(series: VitalSeries, idx: np.ndarray, values: np.ndarray, what: str, why: Callable[[int], str]) -> None:
    """Refuse when any of ``values`` (at rows ``idx``) is missing, naming the years and the reason."""
    bad = [int(series.years[i]) for i, v in zip(idx, values, strict=True) if not np.isfinite(v)]
    if bad:
        raise SeriesError(f"{series.label}: {what} cannot be formed for {', '.join(map(str, bad))} ({why(bad[0])})")
