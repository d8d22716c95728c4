"""Loading the shipped historical data (copies of ../shared/data with their `#` source lines).

Each loader returns tidy numbers with the units said in its docstring. A malformed data file
raises :class:`DataError` naming the file, the row or column, and what was expected.
"""
from __future__ import annotations

import io
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

SOURCES = resources.files("greatleap.data") / "sources"
PACKAGE_DATA = resources.files("greatleap.data")


class DataError(ValueError):
    """A shipped or user data file is malformed."""


def read_sourced_csv(name: str, required: tuple[str, ...] = (), where=SOURCES) -> pd.DataFrame:
    """Read a CSV whose leading `#` lines give its source; check the required columns."""
    path = where / name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"data file {name!r} not found in {where}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"data file {name!r}: not UTF-8 text (byte at position {exc.start}); "
                        f"allowed: a UTF-8 CSV") from None
    except OSError as exc:
        raise DataError(f"data file {name!r}: cannot read ({exc.strerror or exc}); allowed: a readable CSV file") from None
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    try:
        frame = pd.read_csv(io.StringIO(body))
    except Exception as exc:  # pandas raises several parser errors
        raise DataError(f"data file {name!r}: cannot parse CSV: {exc}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"data file {name!r}: missing column(s) {missing}; found {list(frame.columns)}")
    return frame


def _numeric(frame: pd.DataFrame, name: str, cols: tuple[str, ...]) -> pd.DataFrame:
    for col in cols:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"data file {name!r}: row {row + 1}, column {col!r}: "
                            f"value {frame[col].iloc[row]!r} is not a number")
        frame[col] = values
    return frame


@lru_cache(maxsize=None)
def provinces() -> pd.DataFrame:
    """The provincial units (28 of 1958, Tianjin apart): pop_start (persons, Jan 1957), urban_share, radicalism, yield_index,
    mortality_index (pre-famine registered CDR, rural-equivalent, relative to the nation)."""
    cols = ("pop_start", "urban_share", "radicalism", "yield_index", "mortality_index")
    frame = read_sourced_csv("provinces_1958.csv", ("province", "province_zh") + cols, where=PACKAGE_DATA)
    frame = _numeric(frame, "provinces_1958.csv", cols)
    for col, hi in (("urban_share", 1.0), ("radicalism", 1.0), ("yield_index", 5.0), ("mortality_index", 5.0)):
        bad = (frame[col] < 0) | (frame[col] > hi)
        if bad.any():
            raise DataError(f"provinces_1958.csv: column {col!r} row {int(np.flatnonzero(bad)[0]) + 1} outside 0..{hi:g}")
    return frame


@lru_cache(maxsize=None)
def initial_age_sex(year: float = 1957.0) -> np.ndarray:
    """Population shares by sex (rows M, F) and single year of age 0..100, interpolated for ``year``.

    UN WPP 2017 5-year groups (1 July 1955 and 1960), geometric interpolation; each group spread
    over its single years with a linear slope toward the neighbouring group; 80+ spread with a
    geometric decline to age 100. Returns shares summing to 1.
    """
    name = "wpp2017_china_pop_by_age_sex_1950_1960.csv"
    frame = _numeric(read_sourced_csv(name, ("year", "age_group", "male_thousands", "female_thousands")),
                     name, ("year", "male_thousands", "female_thousands"))
    w = (year - 1955.5) / 5.0
    out = np.zeros((2, 101))
    for s, col in enumerate(("male_thousands", "female_thousands")):
        a = frame[frame.year == 1955].set_index("age_group")[col]
        b = frame[frame.year == 1960].set_index("age_group")[col]
        groups = list(a.index)
        vals = np.array([a[g] ** (1 - w) * b[g] ** w for g in groups])
        for k, g in enumerate(groups):
            if g.endswith("+"):
                lo = int(g[:-1])
                decay = 0.8 ** np.arange(101 - lo)
                out[s, lo:] = vals[k] * decay / decay.sum()
                continue
            lo = int(g.split("-")[0])
            per_year = vals[k] / 5.0
            nxt = vals[k + 1] / 5.0 if k + 1 < len(groups) else per_year
            prv = vals[k - 1] / 5.0 if k > 0 else per_year
            slope = (nxt - prv) / 10.0
            yrs = np.arange(5) - 2.0
            dens = np.maximum(per_year + slope * yrs, 0.2 * per_year)
            out[s, lo:lo + 5] = dens * vals[k] / dens.sum()
    return out / out.sum()


AGE_GROUP_STARTS = np.array([0, 1] + list(range(5, 101, 5)))


@lru_cache(maxsize=None)
def mortality_rates(period: str = "1955-1960") -> np.ndarray:
    """Central death rates m(x) per person-year by sex (rows M, F) and single year of age 0..110 (UN WPP 2022)."""
    name = "wpp2022_china_abridged_life_tables_1950_1965.csv"
    frame = read_sourced_csv(name, ("period", "sex", "age", "mx"))
    frame = _numeric(frame, name, ("mx",))
    out = np.zeros((2, 111))
    for s, sex in enumerate(("M", "F")):
        sub = frame[(frame.period == period) & (frame.sex == sex)]
        if len(sub) != 22:
            raise DataError(f"{name}: expected 22 age rows for {period} {sex}, found {len(sub)}")
        mx = sub.mx.to_numpy()
        ages = np.arange(111)
        idx = np.searchsorted(AGE_GROUP_STARTS, ages, side="right") - 1
        out[s] = mx[np.minimum(idx, 21)]
    return out


@lru_cache(maxsize=None)
def fertility_rates(period: str = "1955-1960") -> np.ndarray:
    """Age-specific fertility (births per woman-year) by single year of age 0..110 (UN WPP 2022)."""
    name = "wpp2022_china_asfr_1950_1965.csv"
    frame = _numeric(read_sourced_csv(name, ("period", "age_group", "asfr_per_woman_year")),
                     name, ("asfr_per_woman_year",))
    out = np.zeros(111)
    for _, row in frame[frame.period == period].iterrows():
        lo, hi = (int(x) for x in row.age_group.split("-"))
        out[lo:hi + 1] = row.asfr_per_woman_year
    return out


@lru_cache(maxsize=None)
def official_vital_rates() -> pd.DataFrame:
    """Official registered series (CSY 1999): year, pop_yearend (million), cbr, cdr (per mille)."""
    name = "china_national_vital_rates_1949_1970_csy1999.csv"
    frame = _numeric(read_sourced_csv(name, ("year", "pop_yearend_10k", "cbr_permille", "cdr_permille")),
                     name, ("year", "pop_yearend_10k", "cbr_permille", "cdr_permille"))
    return pd.DataFrame({"year": frame.year.astype(int), "pop_yearend": frame.pop_yearend_10k / 100.0,
                         "cbr": frame.cbr_permille, "cdr": frame.cdr_permille})


@lru_cache(maxsize=None)
def banister_rates() -> pd.DataFrame:
    """Banister (1984) reconstructed and registered CBR/CDR (per mille) by year."""
    name = "banister1984_estimated_vs_registered_vital_rates_1953_1980.csv"
    return read_sourced_csv(name, ("year", "cbr_estimated", "cdr_estimated"))


@lru_cache(maxsize=None)
def grain_series() -> pd.DataFrame:
    """Grain (Mt): revised NBS output; older official output, procurement and rural retention (kg/person)."""
    rev = read_sourced_csv("china_grain_output_1949_1967_revised_nbs.csv", ("year", "grain_output_10kt"))
    old = read_sourced_csv("china_grain_procurement_retention_1952_1966.csv",
                           ("year", "grain_output_10kt", "procurement_10kt", "rural_retention_pc_kg"))
    out = pd.DataFrame({"year": rev.year, "output_revised": rev.grain_output_10kt / 100.0})
    old = pd.DataFrame({"year": old.year, "output_old": old.grain_output_10kt / 100.0,
                        "procurement": old.procurement_10kt / 100.0,
                        "procurement_share": old.procurement_10kt / old.grain_output_10kt,
                        "rural_retention_kg": old.rural_retention_pc_kg,
                        "urban_pop": old.pop_urban_10k / 100.0, "rural_pop": old.pop_rural_10k / 100.0})
    return out.merge(old, on="year", how="outer").sort_values("year").reset_index(drop=True)


@lru_cache(maxsize=None)
def sown_area() -> pd.Series:
    """Grain sown area by year, share of 1957 (NBS series, recalled: see the file's header)."""
    name = "grain_sown_area_1952_1966.csv"
    frame = _numeric(read_sourced_csv(name, ("year", "grain_sown_area_kha")), name, ("year", "grain_sown_area_kha"))
    area = frame.set_index(frame.year.astype(int)).grain_sown_area_kha
    return area / float(area.loc[1957])


@lru_cache(maxsize=None)
def chemical_fertiliser() -> pd.Series:
    """Chemical fertiliser consumed by year, Mt of nutrients (FAO per hectare of arable land x arable land; 1961-66)."""
    name = "chemical_fertiliser_1961_1966.csv"
    cols = ("year", "kg_per_ha_arable", "arable_ha")
    frame = _numeric(read_sourced_csv(name, cols), name, cols)
    return pd.Series((frame.kg_per_ha_arable * frame.arable_ha / 1e9).to_numpy(), index=frame.year.astype(int).to_numpy(),
                     name="chemical_fertiliser_mt")


@lru_cache(maxsize=None)
def severely_hit_share() -> pd.Series:
    """Share of the crop sown area severely hit by natural disasters (harvest down by 30% or more) by year, 1958-1961
    (NBS yearbook and the 1995 disaster report)."""
    name = "crop_disaster_area_1958_1961.csv"
    cols = ("year", "severely_hit_kha", "sown_kha")
    frame = _numeric(read_sourced_csv(name, cols), name, cols)
    bad = ((frame.severely_hit_kha < 0) | (frame.severely_hit_kha > frame.sown_kha)).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"data file {name!r}: row {row + 1}, column 'severely_hit_kha': value {frame.severely_hit_kha.iloc[row]!r}; "
                        "allowed: 0 to the row's sown_kha")
    return pd.Series((frame.severely_hit_kha / frame.sown_kha).to_numpy(), index=frame.year.astype(int).to_numpy(),
                     name="severely_hit_share")


DISASTER_SEASONS = {"summer": "S", "autumn": "A"}  # the harvest a flag names: S summer, A autumn, 1 or SA both


@lru_cache(maxsize=None)
def provincial_disasters(season: str | None = None) -> pd.DataFrame:
    """Flags (1 = named as severely hit by drought or flood) by province (rows, in the order of
    :func:`provinces`) and harvest year (columns 1958-1961); 0 where not named.

    A cell names the harvest the disaster hit: ``S`` the summer harvest (winter wheat, early rice),
    ``A`` the autumn one, ``1`` or ``SA`` both. ``season`` ("summer" or "autumn") keeps the flags of
    that harvest; None keeps every flag.
    """
    name = "provincial_disasters_1958_1961.csv"
    if season is not None and season not in DISASTER_SEASONS:
        raise ValueError(f"season {season!r}; allowed: {', '.join(DISASTER_SEASONS)}")
    frame = read_sourced_csv(name, ("province",))
    years = [c for c in frame.columns if c != "province"]
    unknown = set(frame.province) - set(provinces().province)
    if unknown:
        raise DataError(f"{name}: province(s) {sorted(unknown)} are not provincial units")
    for col in years:
        codes = frame[col].fillna("").astype(str).str.strip().str.upper().replace({"1": "SA", "1.0": "SA", "0": "", "0.0": ""})
        bad = ~codes.isin(("", "S", "A", "SA"))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"data file {name!r}: row {row + 1}, column {col!r}: value {frame[col].iloc[row]!r}; "
                            "allowed: blank, 1, S (summer harvest), A (autumn harvest) or SA")
        wanted = DISASTER_SEASONS.values() if season is None else (DISASTER_SEASONS[season],)
        frame[col] = [float(any(c in code for c in wanted)) for code in codes]
    out = frame.set_index("province").reindex(provinces().province).fillna(0.0)
    out.columns = [int(y) for y in years]
    return out
