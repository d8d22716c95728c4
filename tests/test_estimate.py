"""Excess-death estimators: exact arithmetic of every method, exposure conventions, properties, testbed."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greatleap.analysis import estimate as est

YEARS = np.arange(1955, 1965)
#                 1955 1956 1957 1958 1959 1960 1961 1962 1963 1964
DEATHS = np.array([10, 10, 10, 10, 20, 40, 15, 6, 8, 10], float)
BIRTHS = np.array([30, 30, 30, 30, 20, 10, 15, 40, 45, 30], float)


def flat(pop=1000.0):
    """Constant population: mid-year = year-end = pop, so rates per mille equal the counts for pop=1000."""
    return est.VitalSeries(YEARS, np.full(10, pop), BIRTHS * pop / 1000, DEATHS * pop / 1000, "hand-made",
                           pop_mid=np.full(10, pop))


def test_prefamine_exact_with_and_without_peng_adjustment():
    e = est.prefamine(flat(), (1956, 1957), (1958, 1961))
    assert e.terms.tolist() == pytest.approx([0, 10, 30, 5]) and e.total == pytest.approx(45)
    assert e.baseline.tolist() == pytest.approx([10] * 4) and e.measure == "excess deaths"
    births = est.prefamine(flat(), (1956, 1957), (1958, 1961), measure="births")
    assert births.total == pytest.approx(0 + 10 + 20 + 15) and births.measure == "lost births"
    adj = est.prefamine(flat(), (1956, 1957), (1958, 1961), adjust=0.10)
    assert adj.total == pytest.approx(1 + 12 + 34 + 6.5)
    with pytest.raises(est.SeriesError, match="must all come before the period"):
        est.prefamine(flat(), (1957, 1962), (1958, 1961))


def test_constant_and_average_exact():
    assert est.constant(flat(), 10, (1958, 1961)).terms.tolist() == pytest.approx([0, 10, 30, 5])
    e = est.average(flat(), (1957, 1962, 1963), (1958, 1961))
    assert e.baseline[0] == pytest.approx(8) and e.total == pytest.approx(2 + 12 + 32 + 7)
    e = est.average(flat(), (1957, 1962, 1963), (1958, 1962))
    assert e.total == pytest.approx(2 + 12 + 32 + 7 - 2)
    with pytest.raises(est.SeriesError, match="looks like a fraction"):
        est.constant(flat(), 0.011)


def test_yang_is_the_mean_of_the_two_means_not_the_pooled_mean():
    y = est.yang(flat(), pre=(1955, 1956, 1957), post=(1962, 1963), period=(1958, 1961))
    pooled = est.average(flat(), (1955, 1956, 1957, 1962, 1963), (1958, 1961))
    assert y.baseline[0] == pytest.approx((10 + 7) / 2)          # 8.5
    assert pooled.baseline[0] == pytest.approx((30 + 14) / 5)    # 8.8
    assert y.total == pytest.approx(1.5 + 11.5 + 31.5 + 6.5)
    with pytest.raises(est.SeriesError, match="must come after"):
        est.yang(flat(), pre=(1962,), post=(1957,))


def test_interpolation_exact():
    e = est.interpolation(flat(), (1957,), (1962,), (1958, 1961))
    assert e.baseline.tolist() == pytest.approx([9.2, 8.4, 7.6, 6.8])
    assert e.total == pytest.approx(0.8 + 11.6 + 32.4 + 8.2)
    b = est.interpolation(flat(), (1957,), (1962,), (1958, 1961), measure="births")
    assert b.baseline.tolist() == pytest.approx([32, 34, 36, 38])
    multi = est.interpolation(flat(), (1956, 1957), (1962, 1963), (1959, 1961))
    assert multi.baseline[0] == pytest.approx(8.75)  # 10 at 1956.5, 7 at 1962.5


def test_count_rule_uses_no_population():
    growing = est.VitalSeries(YEARS, 1000.0 * 1.1 ** np.arange(10), BIRTHS, DEATHS, "growing")
    e = est.count(growing, (1956, 1957), (1958, 1961))
    assert e.exposure is None and e.baseline_unit == "persons"
    assert e.terms.tolist() == pytest.approx([0, 10, 30, 5])
    assert est.count(growing, (1956, 1957), (1958, 1961), measure="births").total == pytest.approx(45)
    assert est.count(growing, (1956, 1957), (1958, 1961), adjust=0.1).total == pytest.approx(45 + 0.1 * 85)


def test_growth_path_population_loss_exact():
    pop = np.array([900, 950, 990, 1000, 1040, 1000, 990, 1020, 1050, 1080], float)
    s = est.VitalSeries(YEARS, pop, BIRTHS, DEATHS, "g")
    e = est.growth(s, rate=0.05, start=1958, end=1960)
    assert e.years.tolist() == [1959, 1960] and e.measure == "population loss"
    assert e.baseline.tolist() == pytest.approx([1050, 1102.5])
    assert e.terms.tolist() == pytest.approx([10, 92.5]) and e.total == pytest.approx(102.5)
    default = est.growth(s, start=1958, end=1960, years=(1957,), exposure="yearend")
    assert default.options["rate"] == pytest.approx((30 - 10) / 990)  # natural increase of 1957 on year-end pop
    with pytest.raises(est.SeriesError, match="did you mean 0.02"):
        est.growth(s, rate=20, start=1958, end=1960)
    with pytest.raises(est.SeriesError, match="--from before --to"):
        est.growth(s, rate=0.02, start=1960, end=1958)


def test_registered_totals_and_clipping():
    assert est.registered(flat(), (1958, 1961)).total == pytest.approx(85)
    assert est.registered(flat(), (1958, 1961), measure="births").total == pytest.approx(75)
    raw = est.average(flat(), (1957, 1962, 1963), (1958, 1963))   # 1962 and 1963 fall below the baseline of 8
    clipped = est.average(flat(), (1957, 1962, 1963), (1958, 1963), clip=True)
    assert raw.terms[-2:].tolist() == pytest.approx([-2, 0]) and clipped.terms[-2:].tolist() == [0, 0]
    assert clipped.total == pytest.approx(raw.total + 2) and clipped.notes and "(clipped)" in clipped.label


def rate_series():
    """Year-end 1000, 1100, 1200, 1300 (1955-58); CDR 10, 10, 10, 20 per mille as published."""
    return est.VitalSeries.from_rates([1955, 1956, 1957, 1958], [1000, 1100, 1200, 1300], [30] * 4, [10, 10, 10, 20])


@pytest.mark.parametrize("exposure, expected", [
    ("mid", 25 - 10 * 1.25),                            # counts = rate x mid (1250 in 1958, 1150 in 1957)
    ("yearend", 25 - 11.5 / 1200 * 1300),               # re-derived on year-end: 1957 rate 11.5/1200
    ("previous", 25 - 11.5 / 1100 * 1200),              # re-derived on previous year-end
    ("rate-x-yearend", (20 - 10) * 1.3),                # published rate x year-end population
    ("rate-x-previous", (20 - 10) * 1.2),               # Yao's rule: published rate x previous year-end
])
def test_exposure_conventions_on_published_rates(exposure, expected):
    e = est.prefamine(rate_series(), (1957,), (1958, 1958), exposure)
    assert e.total == pytest.approx(expected)


def test_first_year_rule_no_extrapolation():
    s = rate_series()
    assert np.isnan(s.population("mid")[0]) and np.isnan(s.population("previous")[0])
    assert np.isnan(s.deaths[0]) and s.population("yearend")[0] == 1000
    for exposure in ("mid", "previous", "rate-x-previous"):
        with pytest.raises(est.SeriesError, match="cannot be formed for 1955"):
            est.prefamine(s, (1955,), (1958, 1958), exposure)
    assert est.prefamine(s, (1955,), (1958, 1958), "rate-x-yearend").total == pytest.approx(13)


def test_gaps_make_the_following_year_unusable_for_previous():
    s = est.VitalSeries.from_rates([1952, 1957, 1958], [100, 120, 125], [30, 30, 30], [10, 10, 20])
    assert np.isnan(s.population("previous")[1]) and s.population("previous")[2] == 120
    assert s.missing_years() == [1953, 1954, 1955, 1956]
    with pytest.raises(est.SeriesError, match="1957"):
        est.prefamine(s, (1957,), (1958, 1958), "previous")


@st.composite
def constant_rate_series(draw):
    n = 12
    growth = draw(st.lists(st.floats(-0.05, 0.05), min_size=n, max_size=n))
    pop = 6e8 * np.cumprod(1 + np.array(growth))
    return est.VitalSeries.from_rates(np.arange(1953, 1953 + n), pop, np.full(n, draw(st.floats(5, 50))),
                                      np.full(n, draw(st.floats(5, 50))))


RATE_SPECS = [s for s in est.literature_set() if s.method != "count"]


@given(constant_rate_series(), st.sampled_from(["mid", "rate-x-yearend", "rate-x-previous"]))
@settings(max_examples=40, deadline=None)
def test_constant_rates_give_zero_excess_under_every_rate_method(series, exposure):
    """Constant rates: zero excess, except Peng's adjustment, which adds exactly its share of deaths."""
    for spec in RATE_SPECS:
        e = est.run_spec(series, est.MethodSpec(**{**spec.__dict__, "exposure": exposure}))
        adj = e.options.get("adjust", 0.0)
        expected = adj * float(np.sum(e.baseline / 1000 * series.population(exposure)[np.isin(series.years, e.years)]))
        assert abs(e.total - expected) < 1e-6 * series.pop_yearend.max()


@given(st.floats(0.01, 1000.0))
@settings(max_examples=25, deadline=None)
def test_scaling_population_and_counts_scales_every_method(k):
    base = flat()
    scaled = est.VitalSeries(base.years, base.pop_yearend * k, base.births * k, base.deaths * k,
                             pop_mid=base.pop_mid * k)
    specs = [s for s in est.literature_set()] + [est.MethodSpec("growth", rate=0.02), est.MethodSpec("registered")]
    for spec in specs:
        a, b = est.run_spec(base, spec), est.run_spec(scaled, spec)
        assert b.total == pytest.approx(k * a.total, rel=1e-9, abs=1e-9)


def test_estimators_never_mutate_inputs():
    pop, births, deaths = np.full(10, 1000.0), BIRTHS.copy(), DEATHS.copy()
    s = est.VitalSeries(YEARS, pop, births, deaths)
    est.run_many(s, est.literature_set(), [])
    est.degrade(s, death_completeness=0.5)
    assert np.array_equal(births, BIRTHS) and np.array_equal(deaths, DEATHS) and (pop == 1000).all()
    with pytest.raises(ValueError):
        s.deaths[0] = 1.0  # series arrays are read-only


def test_cohort_deficit_exact():
    census = 1964
    sizes = {census - y: 100.0 + y - 1950 for y in range(1950, 1964)}
    for y in (1959, 1960, 1961):
        sizes[census - y] -= 20
    out = est.cohort_deficit(pd.Series(sizes), census, (1959, 1960, 1961))
    assert out.deficit.tolist() == pytest.approx([20, 20, 20])


def test_degrade_registration_model():
    d = est.degrade(flat(), death_completeness={1960: 0.5}, birth_completeness=0.9, population_inflation=0.1,
                    destroyed={1959: 0.25})
    assert d.deaths[5] == pytest.approx(20) and d.deaths[4] == pytest.approx(15) and d.deaths[0] == 10
    assert d.births[0] == pytest.approx(27) and d.pop_yearend[0] == pytest.approx(1100)
    assert d.pop_mid[0] == pytest.approx(1100)


def test_testbed_runs_every_method_on_a_simulation(historical):
    bed = est.testbed(historical.annual_national)
    assert set(bed.method) == set(est.METHODS)
    assert np.allclose(bed.bias_m, bed.due_to_underregistration_m + bed.due_to_method_m, equal_nan=True)
    deaths = bed[bed.measure == "excess deaths"]
    assert (deaths.truth_m > 0).all() and (deaths.estimate_registered_m < deaths.estimate_true_series_m).all()
    reg = bed[bed.method == "registered"].iloc[0]
    assert reg.due_to_method_m == pytest.approx(0) and reg.estimate_registered_m < reg.truth_m
    assert bed[bed.measure.isin(["lost births", "population loss"])].bias_m.isna().all()


def test_cohort_check_on_a_simulation(historical):
    pyr = historical.population_by_age
    at1964 = pyr[pyr.year == 1964].groupby("age").population.sum()
    out = est.cohort_deficit(at1964, 1964).set_index("cohort")
    assert out.deficit.loc[1960] > 0 and out.deficit.loc[1961] > 0 and out.deficit.sum() > 0


def test_destroyed_provincial_records_lower_the_registered_toll(historical):
    ap = historical.annual_province
    full = est.degrade_provinces(ap, {})
    lost = est.degrade_provinces(ap, {("Sichuan", 1960): 1.0, ("Anhui", 1960): 1.0})
    i = list(full.years).index(1960)
    hit = ap[(ap.sector == "total") & (ap.year == 1960) & ap.province.isin(["Sichuan", "Anhui"])]
    assert full.deaths[i] - lost.deaths[i] == pytest.approx(hit.deaths_registered.sum())
    assert est.interpolation(lost).total < est.interpolation(full).total
    nat = historical.annual_national.set_index("year")
    assert full.deaths[i] == pytest.approx(nat.loc[1960, "deaths_registered"])
