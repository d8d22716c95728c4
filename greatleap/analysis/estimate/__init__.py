"""Counting the dead: the demographers' excess-death methods, explicit, checkable, from any series.

Modules: :mod:`.series` (the yearly series, exposure conventions, plausibility), :mod:`.readers`
(CSV files and run folders), :mod:`.catalog` (the built-in series with sources), :mod:`.methods`
(the estimators), :mod:`.spec` (a method request as the command line makes it), :mod:`.testbed`
(every method against a simulation's known truth), :mod:`.published` (the published estimates
and which ones the shipped series reproduce), :mod:`.report` (JSON, CSV, tables, a report folder).
"""
from greatleap.analysis.estimate.catalog import CATALOG, list_series, series_by_name
from greatleap.analysis.estimate.cohort import cohort_deficit
from greatleap.analysis.estimate.methods import (Estimate, average, constant, count, growth, interpolation,
                                                 natural_increase, prefamine, registered, yang)
from greatleap.analysis.estimate.published import CHECKS, NOT_REPRODUCIBLE, published_estimates
from greatleap.analysis.estimate.readers import read_csv_series, read_run_annual, results_series, run_series
from greatleap.analysis.estimate.report import comparison_table, fmt_m, long_rows, record, to_json, write_report
from greatleap.analysis.estimate.series import EXPOSURES, UNITS, SeriesError, VitalSeries, check_plausible
from greatleap.analysis.estimate.spec import (METHODS, PERIODS, MethodSpec, check_spec, literature_set,
                                              parse_anchors, parse_period, parse_years, run_many, run_spec)
from greatleap.analysis.estimate.testbed import degrade, degrade_provinces, testbed, testbed_specs

__all__ = [
    "CATALOG", "CHECKS", "EXPOSURES", "Estimate", "METHODS", "MethodSpec", "NOT_REPRODUCIBLE", "PERIODS",
    "SeriesError", "UNITS", "VitalSeries", "average", "check_plausible", "check_spec", "cohort_deficit",
    "comparison_table", "constant", "count", "degrade", "degrade_provinces", "fmt_m", "growth", "interpolation",
    "list_series", "literature_set", "long_rows", "natural_increase", "parse_anchors", "parse_period",
    "parse_years", "prefamine", "published_estimates", "read_csv_series", "read_run_annual", "record",
    "registered", "results_series", "run_many", "run_series", "run_spec", "series_by_name", "testbed",
    "testbed_specs", "to_json", "write_report", "yang",
]
