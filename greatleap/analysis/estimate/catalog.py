"""The built-in series, under names that say what they are, each with its source and confidence.

Confidence flags as in ``greatleap/data/sources/README.md``: V verbatim in the cited source,
V* verbatim in a secondary copy of a named source, D derived by arithmetic, P figure found and
method not, R recalled. A series the literature used but whose figures were not found at their
published precision is listed as unavailable, with the reason, rather than approximated.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import pandas as pd

from greatleap import data
from greatleap.analysis.estimate.series import SeriesError, VitalSeries

CSY = "china_national_vital_rates_1949_1970_csy1999.csv"
COUNTS = "china_national_births_deaths_1949_1970_revised.csv"
BANISTER = "banister1984_estimated_vs_registered_vital_rates_1953_1980.csv"
TOMBSTONE = "tombstone_table222_provincial_sichuan_henan_1955_1966.csv"
SUPPLEMENT = "provincial_vital_rates_supplement.csv"
WPP = "wpp2022_china_annual_vitals_1950_1966.csv"


@dataclass(frozen=True)
class SeriesInfo:
    """A named built-in series: what it is, where it comes from, how sure we are."""
    name: str
    what: str
    source: str
    conf: str
    load: Callable[[], VitalSeries] | None
    unavailable: str = ""


def _numbers(frame: pd.DataFrame, name: str, cols) -> pd.DataFrame:
    for col in cols:
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


def official_1983() -> VitalSeries:
    """Year-end population and CBR/CDR (per mille) of the 1983 release, from its reprint in CSY 1999."""
    f = _numbers(data.read_sourced_csv(CSY, ("year", "pop_yearend_10k", "cbr_permille", "cdr_permille")), CSY,
                 ("pop_yearend_10k", "cbr_permille", "cdr_permille"))
    return VitalSeries.from_rates(f.year, f.pop_yearend_10k * 1e4, f.cbr_permille, f.cdr_permille, "official-1983")


def official_revised() -> VitalSeries:
    """Year-end population, births and deaths (counts) with the rates printed beside them."""
    f = _numbers(data.read_sourced_csv(COUNTS, ("year", "pop_yearend_10k", "births_10k", "deaths_10k",
                                                "cbr_permille", "cdr_permille")), COUNTS,
                 ("pop_yearend_10k", "births_10k", "deaths_10k", "cbr_permille", "cdr_permille"))
    return VitalSeries(f.year, f.pop_yearend_10k * 1e4, f.births_10k * 1e4, f.deaths_10k * 1e4, "official-revised",
                       published_cbr=f.cbr_permille, published_cdr=f.cdr_permille,
                       notes=("counts used; the printed rates only by --exposure rate-x-*",))


def banister() -> VitalSeries:
    """Banister (1984) Table 5 reconstructed CBR/CDR (one decimal, as published) on the official-1983 population."""
    b = _numbers(data.read_sourced_csv(BANISTER, ("year", "cbr_estimated", "cdr_estimated")), BANISTER,
                 ("cbr_estimated", "cdr_estimated"))
    off = official_1983()
    pop = pd.DataFrame({"year": off.years, "pop": off.pop_yearend, "mid": off.population("mid")})
    f = b.merge(pop, on="year")
    return VitalSeries.from_rates(f.year, f["pop"], f.cbr_estimated, f.cdr_estimated, "banister", pop_mid=f["mid"])


def un_wpp2022() -> VitalSeries:
    """UN WPP 2022 reconstruction: births, deaths, rates; mid-year population = births / CBR (no year-end)."""
    f = _numbers(data.read_sourced_csv(WPP, ("year", "cbr_per1000", "cdr_per1000", "births_thousands",
                                             "deaths_thousands")), WPP,
                 ("cbr_per1000", "cdr_per1000", "births_thousands", "deaths_thousands"))
    mid = f.births_thousands * 1e3 / f.cbr_per1000 * 1e3
    return VitalSeries(f.year, np.full(len(f), np.nan), f.births_thousands * 1e3, f.deaths_thousands * 1e3,
                       "un-wpp2022", pop_mid=mid, published_cbr=f.cbr_per1000, published_cdr=f.cdr_per1000,
                       notes=("no year-end population: --exposure mid only",))


def _tombstone(province: str) -> VitalSeries:
    t = data.read_sourced_csv(TOMBSTONE, ("province", "variable"))
    t = t[t.province == province].set_index("variable").drop(columns="province")
    years = [int(c) for c in t.columns]
    row = {v: pd.to_numeric(t.loc[v], errors="coerce").to_numpy(float) for v in ("pop_10k", "cbr", "cdr")}
    return VitalSeries.from_rates(years, row["pop_10k"] * 1e4, row["cbr"], row["cdr"], province.lower())


def _supplement(province: str) -> VitalSeries:
    f = data.read_sourced_csv(SUPPLEMENT, ("province", "year", "pop_yearend", "births", "deaths", "cbr", "cdr"))
    f = _numbers(f[f.province == province].copy(), SUPPLEMENT, ("pop_yearend", "births", "deaths", "cbr", "cdr"))
    if f.births.notna().all():
        return VitalSeries(f.year, f.pop_yearend, f.births, f.deaths, province.lower(), published_cbr=f.cbr,
                           published_cdr=f.cdr, notes=("counts used; the printed rates only by --exposure rate-x-*",))
    return VitalSeries.from_rates(f.year, f.pop_yearend, f.cbr, f.cdr, province.lower(),
                                  notes=("selected years only: --exposure rate-x-yearend",))


COALE_REASON = ("Coale's (1984) yearly reconstructed rates were not found at their published precision in the "
                "sources this package could reach (the NAS report's tables are page images); nothing is shipped "
                "rather than figures read off a chart or recalled")

CATALOG = {info.name: info for info in (
    SeriesInfo("official-1983", "official registered rates and year-end population as first released (SSB 1983)",
               f"{CSY}: CSY 1999 reprint (NBS); identified with the 1983 release because Banister 1984 Table 5's "
               "'registered' column (data current in 1983-84) equals it rounded, 1953-1970, all 36 rates", "V*/D",
               official_1983),
    SeriesInfo("official-revised", "official registered counts (births, deaths) and rates, a later NBS compilation",
               f"{COUNTS}: phsb.com table of NBS figures 1949-2019; its 1961-1970 rates differ from official-1983 "
               "(1963 CBR 43.6 vs 43.37) and equal figures quoted before 1983 (China Quarterly 85, 1981: 43.6 in "
               "1963, 33.59 in 1970)", "V*", official_revised),
    SeriesInfo("banister", "Banister's reconstructed CBR/CDR on the official-1983 population",
               f"{BANISTER}: Banister 1984, PDR 10(2) Table 5 p.254, one decimal as published; her own population "
               "reconstruction is not shipped", "V*", banister),
    SeriesInfo("coale", "Coale's reconstructed rates (Rapid Population Change in China, 1952-1982, NAS 1984)",
               "not shipped", "-", None, COALE_REASON),
    SeriesInfo("un-wpp2022", "UN WPP 2022 reconstruction (another candidate truth); no year-end population",
               f"{WPP}: UN WPP 2022 via PPgp/wpp2022; mid-year population derived as births / CBR", "V/D", un_wpp2022),
    SeriesInfo("sichuan", "Sichuan year-end population and CBR/CDR 1955-1966",
               f"{TOMBSTONE}: Yang Jisheng, Tombstone Table 222, from the provincial volumes of Zhongguo Renkou",
               "V*", lambda: _tombstone("Sichuan")),
    SeriesInfo("henan", "Henan year-end population and CBR/CDR 1955-1966 (1966 incomplete)",
               f"{TOMBSTONE}: Yang Jisheng, Tombstone Table 222", "V*", lambda: _tombstone("Henan")),
    SeriesInfo("anhui", "Anhui 1959-1961 year-end population, births, deaths and rates (no earlier year)",
               f"{SUPPLEMENT}: Anhui gazetteer tables 1-2-6/1-2-7 (oenc.net reprint)", "V*",
               lambda: _supplement("Anhui")),
    SeriesInfo("fujian", "Fujian selected years 1952, 1957, 1962, 1965 (population rounded to 10,000)",
               f"{SUPPLEMENT}: Fujian statistical yearbook table 3-1", "V", lambda: _supplement("Fujian")),
)}
ALIASES = {"official": "official was split: official-1983 (the 1983 release, rates) or official-revised (counts)"}


@lru_cache(maxsize=None)
def _cached(name: str) -> VitalSeries:
    return CATALOG[name].load()


def series_by_name(name: str) -> VitalSeries:
    """A built-in series by name (SeriesError for an unknown or unavailable name)."""
    if name in ALIASES:
        raise SeriesError(f"series {name!r}: {ALIASES[name]}")
    if name not in CATALOG:
        raise SeriesError(f"series {name!r}: allowed: {', '.join(CATALOG)}, a CSV file or a run folder")
    info = CATALOG[name]
    if info.load is None:
        raise SeriesError(f"series {name!r} is not available: {info.unavailable}")
    return _cached(name)


def list_series() -> pd.DataFrame:
    """Every built-in name with its years, kind, source, confidence and availability."""
    rows = []
    for info in CATALOG.values():
        years = kind = ""
        if info.load is not None:
            s = series_by_name(info.name)
            gaps = s.missing_years()
            years = f"{s.years[0]}-{s.years[-1]}" + (f" (missing {len(gaps)})" if gaps else "")
            kind = s.kind
        rows.append({"name": info.name, "years": years, "kind": kind, "what": info.what, "source": info.source,
                     "confidence": info.conf, "available": info.load is not None,
                     "note": info.unavailable or "; ".join(_cached(info.name).notes if info.load else ())})
    return pd.DataFrame(rows)
