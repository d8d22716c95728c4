"""Targets: the record the simulation is validated and calibrated against, and the error measures.

``load_targets()`` reads ``greatleap/data/targets.toml`` (tolerances and weights) and the observed
values from the sourced CSVs it names, giving one row per target (series x year, or scalar fact)
with its acceptance interval [lower, upper]. ``evaluate()`` puts an ensemble of runs beside them.
"""
from __future__ import annotations

import math
import warnings
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from greatleap import data

TARGETS_FILE = resources.files("greatleap.data") / "targets.toml"
VINTAGES = ("official", "banister", "wpp")
HEADLINE_COLUMNS = ("excess_deaths_true_1958_1961", "famine_deaths_under_10_share_1958_1961")
UNDER_10 = ("0", "1-4", "5-9")  # age groups (greatleap.mechanisms.demography.AGE_GROUPS) below age 10
_SERIES_KEYS = {"name", "vintage", "column", "table", "province", "sector", "file", "field", "multiply", "divide_by",
                "wide_variable", "long_province", "years", "tolerance", "tolerance_by_year", "relative", "weight", "unit",
                "counted", "provinces", "min_tolerance", "long_filter"}
_SCALAR_KEYS = {"name", "column", "table", "year", "lower", "upper", "weight", "unit", "source", "counted"}


class TargetError(ValueError):
    """The targets file is malformed; the message names the entry, the key and what is allowed."""


def _data_file(name: object, where: str, own_folder: Path | None) -> tuple[str, object]:
    """(file name, folder) of a series' CSV: a plain name in the package's data/sources, or a path
    inside the targets file's own folder or a folder listed in GREATLEAP_SCENARIO_PATH."""
    from greatleap.scenario import allowed_roots
    if not isinstance(name, str) or not name.strip():
        raise TargetError(f"{where}: file = {name!r}; allowed: a CSV name in greatleap/data/sources or a path")
    if "/" not in name and "\\" not in name and name not in (".", ".."):
        return name, data.SOURCES
    path = Path(name)
    if own_folder is not None and not path.is_absolute():
        path = own_folder / path
    roots = allowed_roots(*([own_folder] if own_folder is not None else []))[1:]
    if not any(path.resolve().is_relative_to(r) for r in roots):
        raise TargetError(f"{where}: file = {name!r}: outside the folders a targets file may read; allowed: a CSV name "
                          f"in greatleap/data/sources or a path inside {', '.join(map(str, roots)) or 'no folder'} "
                          f"(add folders to $GREATLEAP_SCENARIO_PATH)")
    return path.name, path.parent


def _observed(entry: dict, where: str, own_folder: Path | None = None) -> pd.Series:
    """Observed values by year for a series entry, read from its sourced CSV."""
    name, folder = _data_file(entry["file"], where, own_folder)
    frame = data.read_sourced_csv(name, where=folder)
    if "wide_variable" not in entry and "year" not in frame.columns:
        raise TargetError(f"{where}: {entry['file']} has no 'year' column; allowed: a CSV with year and {entry.get('field')}")
    if "wide_variable" in entry:
        rows = frame[(frame.province == entry["province"]) & (frame.variable == entry["wide_variable"])]
        if rows.empty:
            raise TargetError(f"{where}: no row {entry['province']}/{entry['wide_variable']} in {entry['file']}")
        values = rows.iloc[0].drop(["province", "variable"])
        out = pd.to_numeric(values, errors="coerce")
        out.index = out.index.astype(int)
    else:
        if "long_province" in entry:
            frame = frame[frame.province == entry["long_province"]]
        for col, wanted in entry.get("long_filter", {}).items():  # e.g. indicator = "outflow_diaochu"
            if col not in frame.columns:
                raise TargetError(f"{where}: long_filter column {col!r} not in {entry['file']}")
            frame = frame[frame[col].astype(str) == str(wanted)]
        for col in [entry.get("field"), entry.get("divide_by")]:
            if col is not None and col not in frame.columns:
                raise TargetError(f"{where}: field {col!r} not in {entry['file']}; allowed: {list(frame.columns)}")
        out = pd.to_numeric(frame[entry["field"]], errors="coerce")
        if "divide_by" in entry:
            out = out / pd.to_numeric(frame[entry["divide_by"]], errors="coerce")
        out.index = frame.year.astype(int)
        out = out[out.notna()]
        out = out[~out.index.duplicated(keep="first")]  # several sources for a year: the first in the file
    return out * float(entry.get("multiply", 1.0))


def load_targets(path: str | Path | None = None, vintage: str = "official") -> pd.DataFrame:
    """One row per target: name, table, column, province, sector, year, observed, lower, upper, weight, unit, source."""
    if vintage not in VINTAGES:
        raise TargetError(f"vintage = {vintage!r}; allowed: {', '.join(VINTAGES)}")
    from greatleap.scenario import ScenarioError, parse_toml, read_text
    label = str(path or "greatleap/data/targets.toml")
    own_folder = Path(path).resolve().parent if path else None
    try:
        text = read_text(Path(path), f"targets file {label}", TargetError) if path else \
            TARGETS_FILE.read_text(encoding="utf-8")
        spec = parse_toml(text, f"targets file {label}", TargetError)
    except ScenarioError as exc:  # pragma: no cover - parse_toml raises TargetError here
        raise TargetError(str(exc)) from None
    unknown = set(spec) - {"series", "scalar"}
    if unknown:
        raise TargetError(f"targets file {label}: unknown table(s) {sorted(unknown)}; allowed: series, scalar")
    for table in ("series", "scalar"):
        entries = spec.get(table, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise TargetError(f"targets file {label}: {table} = {str(entries)[:60]!r}; allowed: [[{table}]] tables")
    rows = []
    chosen = {}
    expanded = []
    for entry in spec.get("series", []):  # a list of provinces is one entry per province
        provinces = entry.get("provinces") if isinstance(entry, dict) else None
        if provinces is None:
            expanded.append(entry)
            continue
        if not (isinstance(provinces, list) and provinces and all(isinstance(p, str) for p in provinces)):
            raise TargetError(f"targets file {label}: series {entry.get('name', '?')}: provinces = {provinces!r}; "
                              f"allowed: a list of province names")
        for prov in provinces:
            one = {k: v for k, v in entry.items() if k != "provinces"}
            one.update({"province": prov, "long_province": prov})
            expanded.append(one)
    for i, entry in enumerate(expanded):
        where = f"targets file {label}: series.{i} ({entry.get('name', '?')})"
        bad = set(entry) - _SERIES_KEYS
        if bad:
            raise TargetError(f"{where}: unknown key(s) {sorted(bad)}; allowed: {sorted(_SERIES_KEYS)}")
        for key in ("name", "column", "file", "years", "tolerance", "weight"):
            if key not in entry:
                raise TargetError(f"{where}: missing key {key!r}")
        v = entry.get("vintage")
        if v is not None and v not in VINTAGES:
            raise TargetError(f"{where}: vintage = {v!r}; allowed: {', '.join(VINTAGES)}")
        if v is not None and v != vintage:
            continue
        for key in ("tolerance", "weight", "multiply"):
            if key in entry and not _finite(entry[key], 0.0 if key != "multiply" else -math.inf):
                raise TargetError(f"{where}: {key} = {entry[key]!r}; allowed: a finite number"
                                  + (" >= 0" if key != "multiply" else ""))
        for key in ("name", "column", "table", "province", "sector", "field", "divide_by", "wide_variable",
                    "long_province", "unit"):
            if key in entry and not isinstance(entry[key], str):
                raise TargetError(f"{where}: {key} = {entry[key]!r}; allowed: a quoted string")
        for key in ("relative", "counted"):
            if key in entry and not isinstance(entry[key], bool):
                raise TargetError(f"{where}: {key} = {entry[key]!r}; allowed: true or false")
        years = entry["years"]
        if not (isinstance(years, list) and len(years) == 2 and all(_is_int(y) for y in years)
                and years[0] <= years[1]):
            raise TargetError(f"{where}: years = {years!r}; allowed: [first, last], integers with first <= last")
        by_year = entry.get("tolerance_by_year", {})
        if not isinstance(by_year, dict) or not all(_finite(v, 0.0) for v in by_year.values()):
            raise TargetError(f"{where}: tolerance_by_year = {by_year!r}; allowed: a table of year = number >= 0")
        if "field" not in entry and "wide_variable" not in entry:
            raise TargetError(f"{where}: neither 'field' nor 'wide_variable'; allowed: one of them naming the CSV column")
        try:
            observed = _observed(entry, where, own_folder)
        except data.DataError as exc:
            raise TargetError(f"{where}: {exc}") from None
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise TargetError(f"{where}: cannot read the observed values from {entry['file']} "
                              f"({type(exc).__name__}: {exc}); allowed: a sourced CSV with year and the field") from None
        chosen[entry["name"]] = entry
        for year in range(years[0], years[1] + 1):
            if year not in observed.index or not np.isfinite(observed.loc[year]):
                continue
            obs = float(observed.loc[year])
            tol = float(entry.get("tolerance_by_year", {}).get(str(year), entry["tolerance"]))
            half = tol * abs(obs) if entry.get("relative", False) else tol
            half = max(half, float(entry.get("min_tolerance", 0.0)))
            rows.append({"name": entry["name"], "table": entry.get("table", "annual_national"),
                         "column": entry["column"], "province": entry.get("province"), "sector": entry.get("sector"),
                         "year": year, "observed": obs, "lower": obs - half, "upper": obs + half,
                         "weight": float(entry["weight"]), "unit": entry.get("unit", ""),
                         "source": f"{entry['file']}:{entry.get('field', entry.get('wide_variable'))}",
                         "counted": entry.get("counted", True)})
    for i, entry in enumerate(spec.get("scalar", [])):
        where = f"targets file {label}: scalar.{i} ({entry.get('name', '?')})"
        bad = set(entry) - _SCALAR_KEYS
        if bad:
            raise TargetError(f"{where}: unknown key(s) {sorted(bad)}; allowed: {sorted(_SCALAR_KEYS)}")
        for key in ("name", "column", "year", "lower", "upper", "weight", "source"):
            if key not in entry:
                raise TargetError(f"{where}: missing key {key!r}")
        for key in ("lower", "upper", "weight"):
            if not _finite(entry[key], 0.0 if key == "weight" else -math.inf):
                raise TargetError(f"{where}: {key} = {entry[key]!r}; allowed: a finite number"
                                  + (" >= 0" if key == "weight" else ""))
        if not _is_int(entry["year"]):
            raise TargetError(f"{where}: year = {entry['year']!r}; allowed: an integer year")
        if "counted" in entry and not isinstance(entry["counted"], bool):
            raise TargetError(f"{where}: counted = {entry['counted']!r}; allowed: true or false")
        if entry["lower"] > entry["upper"]:
            raise TargetError(f"{where}: lower {entry['lower']} > upper {entry['upper']}; allowed: lower <= upper")
        rows.append({"name": entry["name"], "table": entry.get("table", "annual_national"), "column": entry["column"],
                     "province": None, "sector": None, "year": int(entry["year"]),
                     "observed": (entry["lower"] + entry["upper"]) / 2, "lower": float(entry["lower"]),
                     "upper": float(entry["upper"]), "weight": float(entry["weight"]), "unit": entry.get("unit", ""),
                     "source": entry["source"], "counted": entry.get("counted", True)})
    if not rows:
        raise TargetError(f"targets file {label}: no targets for vintage {vintage!r}; allowed: at least one "
                          f"[[series]] or [[scalar]] table that applies to it")
    return pd.DataFrame(rows)


def simulated_values(targets: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> np.ndarray:
    """The simulated value of every target from one run's tables (NaN where the run lacks the year)."""
    out = np.full(len(targets), np.nan)
    nat = tables["annual_national"].set_index("year")
    prov = tables.get("annual_province")
    prov_idx = prov.set_index(["province", "sector", "year"]) if prov is not None else None
    heads = headline_values(tables) if (targets.table == "headline").any() else {}
    for k, row in enumerate(targets.itertuples(index=False)):
        if row.table == "headline":
            out[k] = heads.get(row.column, np.nan)
        elif row.table == "annual_national":
            if row.year in nat.index:
                out[k] = nat.at[row.year, row.column]
        elif prov_idx is not None and (row.province, row.sector, row.year) in prov_idx.index:
            out[k] = prov_idx.at[(row.province, row.sector, row.year), row.column]
    return out


def headline_values(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Scalar outcomes of a run that targets may name (table = "headline"): true excess deaths
    1958-61 in millions against the run's 1957 death rate (the demographic reconstructions' period),
    and the share of the famine's dead (deaths from hunger and violence, 1958-61) under age 10."""
    out = {}
    a = tables["annual_national"].set_index("year")
    if {1957, 1958, 1961} <= set(a.index) and {"deaths", "cdr_true", "population_mean"} <= set(a.columns):
        sel = a.loc[1958:1961]
        excess = sel.deaths.sum() - a.at[1957, "cdr_true"] / 1000 * sel.population_mean.sum()
        out["excess_deaths_true_1958_1961"] = float(excess) / 1e6
    share = famine_deaths_under_10_share(tables.get("deaths_by_age_class"))
    if share is not None:
        out["famine_deaths_under_10_share_1958_1961"] = share
    return out


def famine_deaths_under_10_share(deaths: pd.DataFrame | None) -> float | None:
    """Share of the deaths from hunger and violence in 1958-61 that were of children under 10 (None without
    such deaths or the table): the model's counterpart of the age split of the demographic reconstructions'
    excess deaths (Ashton et al. 1984: 12.2 M of 29.5 M under age 10)."""
    if deaths is None or not {"year", "age_group", "cause", "deaths"} <= set(deaths.columns):
        return None
    famine = deaths[deaths.cause.isin(("famine", "violence")) & deaths.year.between(1958, 1961)]
    total = float(famine.deaths.sum())
    if total <= 0:
        return None
    return float(famine.deaths[famine.age_group.isin(UNDER_10)].sum()) / total


def evaluate(targets: pd.DataFrame, runs: Sequence[dict[str, pd.DataFrame]]) -> pd.DataFrame:
    """Targets beside an ensemble: simulated mean and 5-95% interval, error, normalised error, pass."""
    sims = np.vstack([simulated_values(targets, r) for r in runs])
    out = targets.copy()
    with warnings.catch_warnings():  # a target outside the run's years stays NaN, silently
        warnings.simplefilter("ignore", RuntimeWarning)
        out["sim_mean"] = np.nanmean(sims, axis=0)
        out["sim_p05"] = np.nanpercentile(sims, 5, axis=0)
        out["sim_p95"] = np.nanpercentile(sims, 95, axis=0)
    out["error"] = out.sim_mean - out.observed
    half = np.maximum((out.upper - out.lower) / 2, 1e-12)
    centre = (out.upper + out.lower) / 2
    out["normalised_error"] = (out.sim_mean - centre) / half
    out["passed"] = (out.sim_mean >= out.lower) & (out.sim_mean <= out.upper)
    return out


def counted(evaluated: pd.DataFrame) -> pd.DataFrame:
    """The targets that count (pass count and score); those marked ``counted = false`` are only reported."""
    if "counted" not in evaluated.columns:
        return evaluated
    return evaluated[evaluated["counted"].astype(bool)]


def passed_count(evaluated: pd.DataFrame) -> tuple[int, int]:
    """(targets passed, targets counted): the same set as :func:`score` uses."""
    c = counted(evaluated)
    return int(c.passed.sum()), int(len(c))


def score(evaluated: pd.DataFrame) -> float:
    """Weighted mean of squared normalised errors over the counted targets (0 = every target at its
    centre; 1 = at its edge)."""
    e = counted(evaluated).dropna(subset=["normalised_error"])
    return float((e.weight * e.normalised_error ** 2).sum() / max(e.weight.sum(), 1e-12))


def objective(evaluated: pd.DataFrame) -> float:
    """What calibration minimises, so that its optimum is the best pass count: the weighted share of
    counted targets missed, plus a small pull toward the centres (a tenth of :func:`score`, capped) that
    breaks ties and guides the search while nothing changes the count."""
    e = counted(evaluated).dropna(subset=["normalised_error"])
    w = e.weight.to_numpy()
    missed = float((w * ~e.passed.to_numpy()).sum() / max(w.sum(), 1e-12))
    pull = float((w * np.minimum(e.normalised_error.to_numpy() ** 2, 25.0)).sum() / max(w.sum(), 1e-12))
    return missed + 0.01 * pull


def _finite(value: object, low: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= low


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
