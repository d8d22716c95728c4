"""Estimate's input: CSV files, units, plausibility, and the eight bugs of issue 12 (one test each)."""
import numpy as np
import pytest
from typer.testing import CliRunner

from greatleap.analysis import estimate as est
from greatleap.cli import app

YEARS = list(range(1955, 1965))
DEATHS = [10, 10, 10, 10, 20, 40, 15, 6, 8, 10]
BIRTHS = [30, 30, 30, 30, 20, 10, 15, 40, 45, 30]


def counts_csv(tmp_path, scale=1.0, pop=1_000_000, name="s.csv", header="year,population,births,deaths", extra=""):
    rows = "\n".join(f"{y},{pop * scale:g},{b * pop / 1000 * scale:g},{d * pop / 1000 * scale:g}"
                     for y, b, d in zip(YEARS, BIRTHS, DEATHS))
    f = tmp_path / name
    f.write_text(extra + header + "\n" + rows + "\n", encoding="utf-8")
    return f


def cli(*args):
    return CliRunner().invoke(app, ["estimate", *map(str, args)])


# ------------------------------------------------------------------ the eight bugs
def test_bug_previous_exposure_with_first_year_baseline_refuses_instead_of_nan(tmp_path):
    f = counts_csv(tmp_path)
    with pytest.raises(est.SeriesError, match="cannot be formed for 1955"):
        est.average(est.read_csv_series(f), (1955, 1962), exposure="previous")
    r = cli("--series", f, "--method", "average", "--baseline-years", "1955,1962", "--exposure", "previous")
    assert r.exit_code == 2 and "1955" in r.stderr and "nan" not in r.stdout


def test_bug_header_only_csv_is_a_clear_error_not_a_traceback(tmp_path):
    f = tmp_path / "h.csv"
    f.write_text("# source: nowhere\nyear,population,births,deaths\n")
    with pytest.raises(est.SeriesError, match="line 2: a header and no data rows"):
        est.read_csv_series(f)
    r = cli(f)
    assert r.exit_code == 2 and "no data rows" in r.stderr and "Traceback" not in r.output


def test_bug_line_numbers_count_comment_lines(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("# a source line\n# another\nyear,population,births,deaths\n1957,100,3,1\n1958,abc,3,1\n")
    with pytest.raises(est.SeriesError, match=r"line 5, column 'population': value 'abc'"):
        est.read_csv_series(f)


def test_bug_from_rates_refuses_a_rate_array_of_the_wrong_length():
    with pytest.raises(est.SeriesError, match="1 value"):
        est.VitalSeries.from_rates([1957, 1958, 1959], [100, 101, 102], [30], [10, 11, 12])


def test_bug_reversed_period_is_refused_by_every_method():
    s = est.VitalSeries(YEARS, np.full(10, 1000.0), BIRTHS, DEATHS, "s", pop_mid=np.full(10, 1000.0))
    for fn in (est.average, est.prefamine, est.interpolation, est.yang, est.count, est.registered):
        with pytest.raises(est.SeriesError, match="first year comes after the last"):
            fn(s, period=(1961, 1958))
    assert cli("--method", "interpolation", "--period", "1961-1958").exit_code == 2


def test_bug_utf8_byte_order_mark_is_accepted(tmp_path):
    f = counts_csv(tmp_path, extra="\ufeff")
    assert f.read_bytes().startswith(b"\xef\xbb\xbf")
    assert est.prefamine(est.read_csv_series(f), (1956, 1957), exposure="yearend").total == pytest.approx(45_000)


def test_bug_first_year_exposure_is_one_documented_rule():
    s = est.VitalSeries(YEARS, 1000.0 + 100 * np.arange(10), BIRTHS, DEATHS, "g")
    assert np.isnan(s.population("mid")[0]) and np.isnan(s.population("previous")[0])  # no extrapolation
    for exposure in ("mid", "previous"):
        with pytest.raises(est.SeriesError, match="1955 has no previous year-end"):
            est.average(s, (1955, 1962), exposure=exposure)


def test_bug_counts_and_rates_in_one_file_say_which_is_used(tmp_path):
    f = tmp_path / "both.csv"
    pop = 1_000_000
    rows = "\n".join(f"{y},{pop},{b * 1000},{d * 1000},{b},{d + (0.4 if y == 1958 else 0):g}"
                     for y, b, d in zip(YEARS, BIRTHS, DEATHS))
    f.write_text("year,population,births,deaths,cbr,cdr\n" + rows + "\n")
    s = est.read_csv_series(f)
    assert s.kind == "counts+rates" and "counts used" in s.notes[0]
    assert est.prefamine(s, (1956, 1957)).total == pytest.approx(45_000)              # counts
    assert est.prefamine(s, (1956, 1957), exposure="rate-x-yearend").total == pytest.approx(45_400)  # printed rates
    r = cli(f, "--method", "pre-famine", "--format", "json")
    assert r.exit_code == 0 and "counts used" in r.stderr
    f.write_text("year,population,births,deaths,cbr,cdr\n" + rows.replace(",10,", ",25,", 1) + "\n")
    with pytest.raises(est.SeriesError, match="counts and rates disagree"):
        est.read_csv_series(f)


# ------------------------------------------------------------------ files, encodings, units
@pytest.mark.parametrize("body, needle", [
    ("year,population,births,deaths\n1957,100,3,1\n1957,100,3,1\n", "year 1957 follows 1957 (line 3)"),
    ("year,population,births,deaths\n1957,-100,3,1\n", "line 2, column 'population'"),
    ("year,population,births\n1957,100,3\n", "line 1: header"),
    ("year,population,births,deaths\n1957,100,3\n", "line 2: 3 fields"),
    ("year,population,births,deaths\n1957.5,100,3,1\n", "not a whole year"),
    ("", "no header and no rows"),
])
def test_bad_csv_names_line_and_column(tmp_path, body, needle):
    f = tmp_path / "s.csv"
    f.write_text(body)
    with pytest.raises(est.SeriesError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        est.read_csv_series(f)
    r = cli(f)
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_non_utf8_and_binary_files_are_refused(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"year,population,births,deaths\n# caf\xe9\n1957,100,3,1\n")
    with pytest.raises(est.SeriesError, match="line 2: byte 0xe9 is not UTF-8"):
        est.read_csv_series(latin)
    binary = tmp_path / "data.csv"
    binary.write_bytes(b"PAR1\x00\x01\x02")
    r = cli(binary)
    assert r.exit_code == 2 and "binary data" in r.stderr


def test_missing_values_are_allowed_until_used(tmp_path):
    f = tmp_path / "gap.csv"
    f.write_text("year,population,births,deaths\n1956,1000,30,10\n1957,1000,30,10\n1958,1000,,\n1959,1000,20,20\n")
    s = est.read_csv_series(f)
    assert est.prefamine(s, (1957,), (1959, 1959), exposure="yearend").total == pytest.approx(10)
    with pytest.raises(est.SeriesError, match="cannot be formed for 1958"):
        est.prefamine(s, (1957,), (1958, 1959), exposure="yearend")


@pytest.mark.parametrize("units, scale", [("10k", 1e-4), ("million", 1e-6)])
def test_declared_units(tmp_path, units, scale):
    f = counts_csv(tmp_path, scale=scale)
    s = est.read_csv_series(f, units=units)
    assert s.pop_yearend[0] == pytest.approx(1_000_000)
    assert est.prefamine(s, (1956, 1957), exposure="yearend").total == pytest.approx(45_000)
    r = cli(f, "--units", units, "--method", "pre-famine", "--exposure", "yearend", "--format", "json")
    assert r.exit_code == 0 and '"total": 0.045' in r.stdout


def test_small_population_shows_persons_not_zero_millions(tmp_path):
    f = counts_csv(tmp_path, pop=50_000)
    r = cli(f, "--method", "pre-famine", "--exposure", "yearend")
    assert r.exit_code == 0 and "2,250 persons" in r.stdout
    assert cli(f, "--units", "lakh").exit_code == 2


# ------------------------------------------------------------------ plausibility (issue 13 too)
def rates_csv(tmp_path, pop, cdr_1960, name="r.csv"):
    cdr = [10, 10, 10, 12, 15, cdr_1960, 14, 10, 10, 11]
    rows = "\n".join(f"{y},{pop},30,{d}" for y, d in zip(YEARS, cdr))
    f = tmp_path / name
    f.write_text("# a county or a nation\nyear,population,cbr,cdr\n" + rows + "\n")
    return f


def test_implausible_national_cdr_is_refused_with_an_override(tmp_path):
    f = rates_csv(tmp_path, 650_000_000, 254)
    with pytest.raises(est.SeriesError, match=r"line 8, column 'cdr': cdr 254.0 per mille is implausible"):
        est.read_csv_series(f)
    r = cli(f)
    assert r.exit_code == 2 and "--allow-extreme" in r.stderr and "line 8" in r.stderr
    assert cli(f, "--allow-extreme", "--method", "registered").exit_code == 0
    g = rates_csv(tmp_path, 650_000_000, 90, "n.csv")
    with pytest.raises(est.SeriesError, match="national series"):
        est.read_csv_series(g)


def test_a_county_in_1960_passes_with_the_override(tmp_path):
    f = rates_csv(tmp_path, 300_000, 254)
    with pytest.raises(est.SeriesError, match="implausible"):
        est.read_csv_series(f)
    s = est.read_csv_series(f, allow_extreme=True)
    assert est.prefamine(s, (1957,), (1960, 1960), exposure="rate-x-yearend").total == pytest.approx(244 * 300)


def test_impossible_data_is_refused_even_with_the_override(tmp_path):
    f = rates_csv(tmp_path, 300_000, 2000)
    r = cli(f, "--allow-extreme")
    assert r.exit_code == 2 and "cdr 2000 per mille is impossible" in r.stderr and "line 8" in r.stderr
    g = tmp_path / "d.csv"
    g.write_text("year,population,births,deaths\n1957,1000,30,10\n1958,1000,30,1200\n")
    with pytest.raises(est.SeriesError, match="line 3, column 'deaths': 1,200 deaths in a population of 1,000"):
        est.read_csv_series(g, allow_extreme=True)


def test_rates_that_look_like_fractions_or_mixed_units_are_refused(tmp_path):
    f = tmp_path / "frac.csv"
    f.write_text("year,population,cbr,cdr\n" + "\n".join(f"{y},1000000,0.034,0.0108" for y in YEARS) + "\n")
    with pytest.raises(est.SeriesError, match="look like fractions"):
        est.read_csv_series(f)
    mixed = tmp_path / "mixed.csv"  # counts in 10,000 persons, population in persons
    text = "year,population,births,deaths\n" + "\n".join(f"{y},659940000,{b},{d}" for y, b, d in
                                                         zip(YEARS, BIRTHS, DEATHS)) + "\n"
    mixed.write_text(text)
    with pytest.raises(est.SeriesError, match="different units"):
        est.read_csv_series(mixed)


def test_every_shipped_series_is_plausible():
    for name, info in est.CATALOG.items():
        if info.load is not None:
            est.check_plausible(est.series_by_name(name))


def test_run_folder_input(tmp_path, historical):
    run = historical.save(tmp_path / "run", plot=False)
    r = cli(run, "--method", "interpolation", "--anchors", "1957,1962", "--format", "json")
    assert r.exit_code == 0 and '"series": "' in r.stdout
    assert cli(run, "--book", "wrong").exit_code == 2
    assert cli(tmp_path, "--method", "registered").exit_code == 2   # a folder without a run
    assert cli("official-1983", "--book", "true").exit_code == 2
