"""The historical run, un-calibrated, already has the right shape (issue 2's checks)."""
from greatleap import Sim, load_scenario

SMALL_SCALE = 5000.0  # the session fixture's scale (tests/conftest.py)


def test_registered_cdr_peaks_in_1960_near_twice_1957(historical_annual):
    """The record's registered peak is 2.35x 1957 (25.4 against 10.8 per mille). The model's is short
    of it (~1.95x at scale 5,000, 8 seeds; validate counts the 1960 miss): here, on one seed at a
    small scale, the peak must be 1960's and at least 1.8x 1957."""
    cdr = historical_annual.cdr_registered
    assert cdr.idxmax() == 1960
    assert cdr.loc[1960] > 1.8 * cdr.loc[1957]


def test_baseline_matches_the_official_1957_rates(historical_annual):
    a = historical_annual
    assert abs(a.cdr_registered.loc[1957] - 10.8) < 1.0
    assert abs(a.cbr_registered.loc[1957] - 34.0) < 2.0
    assert abs(a.population_end.loc[1957] / 1e6 - 646.5) < 0.01 * 646.5


def test_births_collapse_and_rebound(historical_annual):
    """The record: 18.0 per mille in 1961, 37.0 in 1962, a boom of 43.4 in 1963 (34.0 in 1957): births put off
    by hunger are made up once food returns (41.1 in 1963 at 8 seeds). Here: births collapse, then boom in 1963."""
    cbr = historical_annual.cbr_registered
    assert cbr.loc[1960] < 25 and cbr.loc[1961] < 25
    assert cbr.loc[1963] > cbr.loc[1961] + 12 and cbr.loc[1963] > 1.1 * cbr.loc[1957]
    # the boom's year, over three seeds: one seed's 1962 and 1963 can differ by less than its noise
    # (seed 1958: 40.6 and 40.5 per mille; at validate's 8 seeds 38.0 and 41.9)
    runs = [cbr] + [Sim(load_scenario("historical", **{"run.seed": seed}), scale=SMALL_SCALE).run()
                    .annual_national.set_index("year").cbr_registered for seed in (1, 2)]
    assert sum(r.loc[1963] for r in runs) > sum(r.loc[1962] for r in runs)


def test_grain_falls_and_reports_run_ahead(historical_annual):
    a = historical_annual
    assert a.grain_harvest_mt.loc[1960] < 0.8 * a.grain_harvest_mt.loc[1957]
    assert a.grain_reported_province_mt.loc[1958] > 1.5 * a.grain_harvest_mt.loc[1958]
    assert a.grain_believed_mt.loc[1958] > 1.3 * a.grain_harvest_mt.loc[1958]
    assert abs(a.grain_harvest_mt.loc[1957] - 195.05) < 0.05 * 195.05


def test_the_years_claim_is_compiled_in_december(historical):
    """The year's claim is compiled in December, in that month's climate: 1958's amid the Leap (the record ~1.9x),
    1960's in the retreat, close to the harvest (~1.05-1.3x) although June's and October's reports of 1960 were made
    in the Anti-Right climate; the next year's plan is drawn on it."""
    m = historical.monthly_national
    claimed = m.set_index("month").grain_claimed_mt
    assert (claimed[claimed.index.month != 12] == 0).all() and (claimed[claimed.index.month == 12] > 0).all()
    a = historical.annual_national.set_index("year")
    assert a.reported_to_actual.loc[1958] > 1.5
    harvest_time_1960 = a.grain_reported_province_mt.loc[1960] / a.grain_harvest_mt.loc[1960]
    assert a.reported_to_actual.loc[1960] < 1.3 and harvest_time_1960 > a.reported_to_actual.loc[1960] + 0.15
    assert a.reported_to_actual.loc[1960] < a.reported_to_actual.loc[1959] - 0.25


def test_harvests_recover_steeply_after_the_famine(historical_annual):
    """The record: 154 Mt in 1962, 214 Mt in 1966 (+39%), the rise of fertiliser and the land back in use."""
    g = historical_annual.grain_harvest_mt
    assert g.loc[1962] < 0.9 * g.loc[1957]
    assert g.loc[1966] > 1.25 * g.loc[1962] and g.loc[1966] > g.loc[1957]


def test_procurement_share_peaks_in_1959(historical_annual):
    share = historical_annual.procurement_share
    assert share.idxmax() == 1959


def test_rural_deaths_rise_far_more_than_urban(historical_annual):
    a = historical_annual
    rural_rise = a.cdr_true_rural.loc[1960] - a.cdr_true_rural.loc[1957]
    urban_rise = a.cdr_true_urban.loc[1960] - a.cdr_true_urban.loc[1957]
    assert rural_rise > 3 * max(urban_rise, 0.1)


def test_furnaces_steel_and_exports(historical_annual):
    a = historical_annual
    assert a.labor_share_furnace_max.loc[1958] > 0.15
    assert a.steel_unusable_mt.loc[1958] > 1.0
    assert abs(a.net_exports_mt.loc[1959] - 4.155) < 0.2
    assert a.net_exports_mt.loc[1961] < 0


def test_violence_and_black_elements(historical):
    d = historical.deaths_by_age_class
    famine_years = d[d.year.between(1959, 1961)]
    assert famine_years[famine_years.cause == "violence"].deaths.sum() > 0
    by_class = famine_years.groupby("class").deaths.sum()
    assert by_class["black_element"] > 0


def test_the_registers_carry_ghosts_until_the_1964_census(historical):
    """The registers run ahead of the living through the famine (deaths not registered; the official year-end
    population is the registers' count) and are reconciled with the count in the census of July 1964."""
    m = historical.monthly_national.set_index("month")
    gap = (m.registered_population - m.population) / m.population
    month = lambda label: gap[gap.index.strftime("%Y-%m") == label].iloc[0]  # noqa: E731
    assert month("1961-12") > 0.005 and month("1961-12") > month("1958-12") + 0.005
    # the census month: everyone on the register and no ghost at the count; the month's own unregistered
    # deaths and births after it leave a gap of about a month's deaths
    assert abs(month("1964-07")) < 0.0025 and abs(month("1964-07")) < 0.4 * abs(month("1964-06"))
