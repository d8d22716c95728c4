"""Excess-death estimators: exact arithmetic, properties, the classic figures, bad input, testbed."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from greatleap.analysis import estimate as est
from greatleap.cli import app

YEARS = np.arange(1955, 1965)
#                 1955 1956 1957 1958 1959 1960 1961 1962 1963 1964
DEATHS = np.array([10, 10, 10, 10, 20, 40, 15, 6, 8, 10], float)
BIRTHS = np.array([30, 30, 30, 30, 20, 10, 15, 40, 45, 30], float)


def flat(pop=1000.0):
    return est.VitalSeries(YEARS, np.full(10, pop), BIRTHS * pop / 1000, DEATHS * pop / 1000, "hand-made")


def test_prefamine_baseline_exact():
    e = est.prefamine_baseline(flat(), (1956, 1957), (1958, 1961))
    assert e.excess_deaths.tolist() == pytest.approx([0, 10, 30, 5])
    assert e.total_excess_deaths == pytest.approx(45)
    assert e.total_lost_births == pytest.approx(0 + 10 + 20 + 15)
    assert e.baseline_cdr.tolist() == pytest.approx([10] * 4)
    adj = est.prefamine_baseline(flat(), (1956, 1957), (1958, 1961), underregistration=0.10)
    assert adj.total_excess_deaths == pytest.approx(1 + 12 + 34 + 6.5)


def test_interpolation_baseline_exact():
    e = est.interpolation_baseline(flat(), (1957,), (1962,), (1958, 1961))
    assert e.baseline_cdr.tolist() == pytest.approx([9.2, 8.4, 7.6, 6.8])
    assert e.total_excess_deaths == pytest.approx(0.8 + 11.6 + 32.4 + 8.2)
    assert e.baseline_cbr.tolist() == pytest.approx([32, 34, 36, 38])
    multi = est.interpolation_baseline(flat(), (1956, 1957), (1962, 1963), (1959, 1961))
    # anchors: CDR 10 at 1956.5 and 7 at 1962.5: 1959 -> 10 - 3*2.5/6 = 8.75
    assert multi.baseline_cdr[0] == pytest.approx(8.75)


def test_average_baseline_exact_and_periods():
    e = est.average_baseline(flat(), (1957, 1962, 1963), (1958, 1961))
    assert e.total_excess_deaths == pytest.approx(2 + 12 + 32 + 7)
    e = est.average_baseline(flat(), (1957, 1962, 1963), (1959, 1961))
    assert e.years.tolist() == [1959, 1960, 1961] and e.total_excess_deaths == pytest.approx(12 + 32 + 7)
    e = est.average_baseline(flat(), (1957, 1962, 1963), (1958, 1962))
    assert e.total_excess_deaths == pytest.approx(2 + 12 + 32 + 7 - 2)


def test_population_conventions_exact():
    pop = 1000.0 + 100 * (YEARS - 1955)
    s = est.VitalSeries(YEARS, pop, BIRTHS, DEATHS, "growing")
    assert s.exposure("yearend")[3] == 1300 and s.exposure("previous")[3] == 1200
    assert s.exposure("mid")[3] == 1250 and np.isnan(s.exposure("previous")[0])
    for conv, p1958 in (("mid", 1250), ("yearend", 1300), ("previous", 1200)):
        e = est.prefamine_baseline(s, (1957,), (1958, 1958), conv)
        p1957 = {"mid": 1150, "yearend": 1200, "previous": 1100}[conv]
        assert e.total_excess_deaths == pytest.approx(10 - 10 / p1957 * p1958)
    with pytest.raises(ValueError, match="allowed: mid, yearend, previous"):
        s.exposure("census")


def test_rates_input_equals_counts_input():
    pop = np.full(10, 5e6)
    s = est.VitalSeries.from_rates(YEARS, pop, BIRTHS, DEATHS)
    assert est.prefamine_baseline(s, (1956, 1957)).total_excess_deaths == pytest.approx(45 * 5e3)


@st.composite
def constant_rate_series(draw):
    n = 12
    growth = draw(st.lists(st.floats(-0.05, 0.05), min_size=n, max_size=n))
    pop = 6e8 * np.cumprod(1 + np.array(growth))
    return est.VitalSeries.from_rates(np.arange(1954, 1954 + n), pop, np.full(n, draw(st.floats(5, 50))),
                                      np.full(n, draw(st.floats(5, 50))))


@given(constant_rate_series())
@settings(max_examples=60, deadline=None)
def test_constant_rates_give_zero_excess_under_every_method(series):
    for e in est.all_methods(series):
        adj = e.notes.get("underregistration", 0.0)
        # Peng's adjustment raises famine-year deaths by design: its excess is exactly that share of deaths
        expected = adj * float(np.sum(e.baseline_cdr / 1000 * series.exposure("mid")[np.isin(series.years, e.years)]))
        assert abs(e.total_excess_deaths - expected) < 1e-6 * series.pop_yearend.max()
        assert abs(e.total_lost_births) < 1e-6 * series.pop_yearend.max()


@given(st.floats(0.01, 1000.0))
@settings(max_examples=30, deadline=None)
def test_scaling_population_scales_excess(k):
    base = flat()
    scaled = est.VitalSeries(base.years, base.pop_yearend * k, base.births * k, base.deaths * k)
    for a, b in zip(est.all_methods(base), est.all_methods(scaled)):
        assert b.total_excess_deaths == pytest.approx(k * a.total_excess_deaths, rel=1e-9, abs=1e-9)


def test_estimators_never_mutate_inputs():
    pop, births, deaths = np.full(10, 1000.0), BIRTHS.copy(), DEATHS.copy()
    s = est.VitalSeries(YEARS, pop, births, deaths)
    est.all_methods(s)
    est.degrade(s, death_completeness=0.5)
    assert np.array_equal(births, BIRTHS) and np.array_equal(deaths, DEATHS) and (pop == 1000).all()
    with pytest.raises(ValueError):
        s.deaths[0] = 1.0  # series arrays are read-only


def test_official_series_implies_15_to_17_million():
    """The classic figure: registered data give roughly 15-17 M for 1958/59-1961 (within 3%)."""
    s = est.official_series()
    for period in ((1958, 1961), (1959, 1961)):
        for e in (est.average_baseline(s, (1957, 1962), period), est.interpolation_baseline(s, (1957,), (1962,), period),
                  est.average_baseline(s, (1957, 1962, 1963), period)):
            assert 15.0 * 0.97 <= e.total_excess_deaths / 1e6 <= 17.0 * 1.03, (e.method, period)


def test_thirty_million_needs_the_reconstructed_series():
    off, ban = est.official_series(), est.banister_series()
    for method in (lambda s: est.interpolation_baseline(s, (1957,), (1962,), (1958, 1961)),
                   lambda s: est.average_baseline(s, (1957, 1962), (1958, 1961))):
        assert method(off).total_excess_deaths < 18e6
        assert 27e6 < method(ban).total_excess_deaths < 34e6


def test_cohort_deficit_exact():
    census = 1964
    cohorts = np.arange(1950, 1964)
    sizes = {census - y: 100.0 + y - 1950 for y in cohorts}
    for y in (1959, 1960, 1961):
        sizes[census - y] -= 20
    out = est.cohort_deficit(pd.Series(sizes), census, (1959, 1960, 1961))
    assert out.deficit.tolist() == pytest.approx([20, 20, 20])


def test_degrade_registration_model():
    s = flat()
    d = est.degrade(s, death_completeness={1960: 0.5}, birth_completeness=0.9, population_inflation=0.1,
                    destroyed={1959: 0.25})
    assert d.deaths[5] == pytest.approx(20) and d.deaths[4] == pytest.approx(15) and d.deaths[0] == 10
    assert d.births[0] == pytest.approx(27) and d.pop_yearend[0] == pytest.approx(1100)


@pytest.mark.parametrize("body, needle", [
    ("year,population,births,deaths\n1957,100,3,1\n1959,100,3,1\n", "row 3, column 'year'"),
    ("year,population,births,deaths\n1957,100,3,1\n1958,abc,3,1\n", "row 3, column 'population': value 'abc'"),
    ("year,population,births,deaths\n1957,-100,3,1\n1958,100,3,1\n", "row 2, column 'population'"),
    ("year,population,births\n1957,100,3\n", "needs 'births' and 'deaths'"),
    ("year,population,births,deaths\n1957,100,3\n", "row 2: 3 fields"),
])
def test_bad_csv_names_row_and_column(tmp_path, body, needle):
    f = tmp_path / "s.csv"
    f.write_text(body)
    with pytest.raises(est.SeriesError, match=needle.replace("(", r"\(")):
        est.read_csv_series(f)
    result = CliRunner().invoke(app, ["estimate", str(f)])
    assert result.exit_code == 2 and ("row" in result.output or "needs" in result.output)


def test_csv_with_rates(tmp_path):
    f = tmp_path / "r.csv"
    rows = "\n".join(f"{y},1000000,{b},{d}" for y, b, d in zip(YEARS, BIRTHS, DEATHS))
    f.write_text("# a comment\nyear,population,cbr,cdr\n" + rows + "\n")
    s = est.read_csv_series(f)
    assert est.prefamine_baseline(s, (1956, 1957)).total_excess_deaths == pytest.approx(45_000)


def test_testbed_on_a_simulation(historical):
    bed = est.testbed(historical.annual_national)
    assert len(bed) >= 4
    assert np.allclose(bed.bias_m, bed.due_to_underregistration_m + bed.due_to_baseline_m)
    assert (bed.estimate_registered_m < bed.estimate_true_series_m).all()  # deaths go unregistered
    assert (bed.truth_m > 0).all()


def test_cohort_check_on_a_simulation(historical):
    pyr = historical.population_by_age
    at1964 = pyr[pyr.year == 1964].groupby("age").population.sum()
    out = est.cohort_deficit(at1964, 1964).set_index("cohort")
    assert out.deficit.loc[1960] > 0 and out.deficit.loc[1961] > 0 and out.deficit.sum() > 0


def test_estimate_cli_default_and_report(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["estimate", "--out", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    assert "official registered" in result.output and "Published estimates" in result.output
    assert "16.31" in result.output  # interpolation 1957 -> 1962, 1958-1961, millions to two decimals
    assert {p.name for p in (tmp_path / "rep").iterdir()} == {"estimates.csv", "estimates.png", "report.md"}
    assert runner.invoke(app, ["estimate", "--population", "census"]).exit_code == 2
    assert runner.invoke(app, ["estimate", "no_such_series"]).exit_code == 2


def test_destroyed_provincial_records_lower_the_registered_toll(historical):
    ap = historical.annual_province
    full = est.degrade_provinces(ap, {})
    lost = est.degrade_provinces(ap, {("Sichuan", 1960): 1.0, ("Anhui", 1960): 1.0})
    i = list(full.years).index(1960)
    sichuan_anhui = ap[(ap.sector == "total") & (ap.year == 1960) & ap.province.isin(["Sichuan", "Anhui"])]
    assert full.deaths[i] - lost.deaths[i] == pytest.approx(sichuan_anhui.deaths_registered.sum())
    assert est.interpolation_baseline(lost).total_excess_deaths < est.interpolation_baseline(full).total_excess_deaths
    nat = historical.annual_national.set_index("year")
    assert full.deaths[i] == pytest.approx(nat.loc[1960, "deaths_registered"])
