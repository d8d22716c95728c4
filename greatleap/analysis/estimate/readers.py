"""Reading a series from a user's CSV file or from a simulation run folder, refusing bad input clearly.

Every refusal is a :class:`SeriesError` naming the file, the line (counted in the file as it is,
comment lines included), the column, the value and what is allowed.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from greatleap.analysis.estimate.series import UNITS, SeriesError, VitalSeries, check_plausible

CSV_HELP = ("columns: year, population (year-end) and births,deaths (counts) and/or cbr,cdr (per mille); "
            "optional population_mean; '#' lines are comments")
RATE_TOLERANCE = (0.5, 0.02)  # per mille, share: published rates and counts/mid-year population may differ this much


def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SeriesError(f"{path}: cannot read: {exc.strerror}") from None
    if b"\x00" in raw[:65536]:
        raise SeriesError(f"{path}: binary data (NUL bytes), not a CSV text file; allowed: a UTF-8 CSV ({CSV_HELP})")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise SeriesError(f"{path}: line {line}: byte 0x{raw[exc.start]:02x} is not UTF-8; allowed: UTF-8 text "
                          f"(a byte-order mark is accepted); save the file as UTF-8") from None


def _cell(path: Path, line: int, col: str, cell: str, optional: bool) -> float:
    cell = cell.strip()
    if cell in ("", "NA", "NaN", "nan") and optional:
        return np.nan
    try:
        v = float(cell)
    except ValueError:
        raise SeriesError(f"{path}: line {line}, column {col!r}: value {cell!r} is not a number"
                          + ("; allowed: a number, or empty for missing" if optional else "")) from None
    if not np.isfinite(v) or v < 0 or (col.startswith("population") and v == 0):
        raise SeriesError(f"{path}: line {line}, column {col!r}: value {cell!r}; allowed: a positive number")
    if col == "year" and v != int(v):
        raise SeriesError(f"{path}: line {line}, column 'year': value {cell!r} is not a whole year")
    return v


def read_csv_series(path: str | Path, units: str = "persons", allow_extreme: bool = False) -> VitalSeries:
    """A user CSV as a series; population and counts in ``units`` (persons, 10k or million).

    With both counts and rates, the counts are used (for every exposure but ``rate-x-*``, which
    uses the rates as printed); the two must agree within 0.5 per mille or 2%.
    """
    path = Path(path)
    if units not in UNITS:
        raise SeriesError(f"--units = {units!r}; allowed: {', '.join(UNITS)}")
    lines = [(n, s) for n, s in enumerate(_text(path).splitlines(), start=1)
             if s.strip() and not s.lstrip().startswith("#")]
    if not lines:
        raise SeriesError(f"{path}: no header and no rows; allowed: a CSV with {CSV_HELP}")
    header = [h.strip().lower() for h in next(csv.reader([lines[0][1]]))]
    if len(lines) == 1:
        raise SeriesError(f"{path}: line {lines[0][0]}: a header and no data rows; allowed: at least one row")
    counts, rates = {"births", "deaths"} <= set(header), {"cbr", "cdr"} <= set(header)
    if "year" not in header or "population" not in header or not (counts or rates):
        raise SeriesError(f"{path}: line {lines[0][0]}: header {header}; allowed: {CSV_HELP}")
    cols = ["year", "population"] + (["population_mean"] if "population_mean" in header else []) \
        + (["births", "deaths"] if counts else []) + (["cbr", "cdr"] if rates else [])
    values = {c: [] for c in cols}
    where = []
    for n, row in ((n, r) for n, s in lines[1:] for r in csv.reader([s])):
        if len(row) != len(header):
            raise SeriesError(f"{path}: line {n}: {len(row)} fields, the header has {len(header)}")
        for c in cols:
            values[c].append(_cell(path, n, c, row[header.index(c)], optional=c not in ("year",)))
        where.append(n)
    scale = UNITS[units]
    arr = {c: np.array(v, float) * (scale if c in ("population", "population_mean", "births", "deaths") else 1)
           for c, v in values.items()}
    kw = dict(label=str(path), origin=str(path), lines=tuple(where),
              pop_mid=arr.get("population_mean"))
    years = arr["year"].astype(int)
    if not counts:
        series = VitalSeries.from_rates(years, arr["population"], arr["cbr"], arr["cdr"], **kw)
    else:
        note = ()
        if rates:
            note = ("both counts and rates given: counts used; the rates as printed are used only by "
                    "--exposure rate-x-yearend and rate-x-previous",)
        series = VitalSeries(years, arr["population"], arr["births"], arr["deaths"], notes=note,
                             published_cbr=arr.get("cbr"), published_cdr=arr.get("cdr"), **kw)
        if rates:
            _check_agreement(series)
    check_plausible(series, allow_extreme)
    return series


def _check_agreement(series: VitalSeries) -> None:
    cbr, cdr = series.rates("mid")
    for col, derived, printed in (("cbr", cbr, series.published_cbr), ("cdr", cdr, series.published_cdr)):
        gap = np.abs(derived - printed)
        bad = np.isfinite(gap) & (gap > np.maximum(RATE_TOLERANCE[0], RATE_TOLERANCE[1] * printed))
        for i in np.flatnonzero(bad):
            counted = "births" if col == "cbr" else "deaths"
            raise SeriesError(f"{series.where(i, col)}: value {printed[i]:g} per mille, but {counted} / mid-year "
                              f"population = {derived[i]:.2f} per mille: counts and rates disagree; allowed: "
                              f"within {RATE_TOLERANCE[0]:g} per mille or {RATE_TOLERANCE[1]:.0%} "
                              f"(check --units, or keep one)")


RUN_COLUMNS = {"true": ("population_end", "population_mean", "births", "deaths"),
               "registered": ("registered_population_end", "registered_population_mean", "births_registered",
                              "deaths_registered")}


def read_run_annual(run_dir: str | Path) -> pd.DataFrame:
    """A run folder's ``annual_national.parquet`` (SeriesError if absent or unreadable)."""
    path = Path(run_dir) / "annual_national.parquet"
    if not path.is_file():
        raise SeriesError(f"{run_dir}: not a run folder (no annual_national.parquet)")
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several error types for a damaged file
        raise SeriesError(f"{path}: cannot read: {str(exc).splitlines()[0]}") from None


def results_series(annual: pd.DataFrame, book: str = "registered", label: str = "simulation",
                   allow_extreme: bool = False) -> VitalSeries:
    """A run's true or registered yearly series; the mean population is the run's own."""
    if book not in RUN_COLUMNS:
        raise SeriesError(f"book = {book!r}; allowed: {', '.join(RUN_COLUMNS)}")
    cols = RUN_COLUMNS[book]
    missing = [c for c in ("year",) + cols if c not in annual.columns]
    if missing:
        raise SeriesError(f"{label}: annual table lacks column(s) {missing}")
    series = VitalSeries(annual.year.to_numpy(), annual[cols[0]].to_numpy(float), annual[cols[2]].to_numpy(float),
                         annual[cols[3]].to_numpy(float), f"{label} ({book})",
                         pop_mid=annual[cols[1]].to_numpy(float))
    check_plausible(series, allow_extreme)
    return series


def run_series(run_dir: str | Path, book: str = "registered", allow_extreme: bool = False) -> VitalSeries:
    """A simulation run folder's true or registered series (from ``annual_national.parquet``)."""
    return results_series(read_run_annual(run_dir), book, str(run_dir), allow_extreme)
