"""Unit tests of each mechanism's rules and place-level functions, with numbers.

Person-level rules are plain Python functions (``@rule``): they are called here directly, and
the same source is compiled into the backend's loops (tested through the passes below).
"""
import numpy as np
import pytest
from numba import njit
from hypothesis import given, settings
from hypothesis import strategies as st

from greatleap import load_scenario
from greatleap.calendar import harvest_calendar
from greatleap.curves import interpolate, tabulate
from greatleap.mechanisms import canteens, fertility, mortality, nutrition, procurement
from greatleap.mechanisms.classes import BLACK_ELEMENT, CADRE, ORDINARY
from greatleap.mechanisms.granaries import relief_claims
from greatleap.mechanisms.hierarchy import believed_inflation, inflation, plan_quotas
from greatleap.mechanisms.labor import FARM, FURNACE, NONE, WATERWORKS, diversion_shares, rural_activity
from greatleap.mechanisms.registration import (completeness, death_registered_probability, late_registration_probability,
                                               registered_late)
from greatleap.mechanisms.violence import violence_hazard
from greatleap.params import Params
from greatleap.streams import normal_array, uniform_array

SC = load_scenario("historical")
P = Params([SC])
col = lambda values: np.asarray(values, dtype=float)[:, None]  # noqa: E731  (members, 1)


# ------------------------------------------------------------------ random numbers
def test_counter_based_uniforms_are_uniform_deterministic_and_stream_separated():
    ids = np.arange(200_000, dtype=np.int64)
    u = uniform_array(7, 1, 3, ids)
    assert 0.0 <= u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.003 and abs(u.var() - 1 / 12) < 0.002
    assert np.array_equal(u, uniform_array(7, 1, 3, ids))
    other = uniform_array(7, 2, 3, ids)  # another stream
    assert abs(np.corrcoef(u, other)[0, 1]) < 0.01
    assert not np.array_equal(u, uniform_array(8, 1, 3, ids))
    z = normal_array(7, 5, 0, ids)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01


# ------------------------------------------------------------------ reports and quotas
def test_inflation_rises_with_pressure_campaign_and_anti_right():
    rp = P.reporting
    pressure = np.array([[0.8, 1.0, 1.5, 2.0, 3.0]])
    pi = inflation(rp, pressure, 0.5, 0.2, 0.5, 0.0, np.zeros((1, 5)))
    assert np.all(np.diff(pi) > 0)
    one = lambda campaign, peer, radical, anti: inflation(rp, np.ones((1, 1)), campaign, peer, radical, anti,  # noqa: E731
                                                          np.zeros((1, 1)))[0, 0]
    calm, leap, anti_right = one(0.1, 0.0, 0.3, 0.0), one(1.0, 0.5, 0.3, 0.0), one(1.0, 0.5, 0.3, 1.0)
    assert calm < 0.1 < leap < anti_right <= SC.reporting.inflation_max
    assert one(1.0, 0.5, 0.95, 0.0) > leap


def test_the_years_claim_answers_the_december_climate_and_sets_the_next_plan():
    """Two runs alike until December 1960 but for its climate: the Anti-Right climate kept through December
    (campaign 0.9, anti-right 1) against the retreat's (campaign 0.5 from November). October's reports are
    the same; the claim compiled in December is higher in the first, and so is the plan drawn on it for 1961."""
    from greatleap import Sim
    from greatleap.scenario import validate_scenario
    kept = validate_scenario({"extends": "historical", "name": "kept", "events": [
        {"lever": "campaign", "start": "1960-11", "end": "1960-12", "value": 0.9},
        {"lever": "anti_right", "start": "1960-11", "end": "1960-12", "value": 1.0}]})
    runs = {name: Sim(s, scale=100000.0).run(until="1961-01") for name, s in (("retreat", load_scenario("historical")),
                                                                                ("kept", kept))}
    year = {k: r.annual_national.set_index("year").loc[1960] for k, r in runs.items()}
    assert year["kept"].grain_reported_province_mt == pytest.approx(year["retreat"].grain_reported_province_mt)
    assert year["kept"].grain_claimed_mt > 1.1 * year["retreat"].grain_claimed_mt
    assert year["kept"].reported_to_actual > year["retreat"].reported_to_actual + 0.1


def test_quotas_are_progressive_and_sum_to_the_plan():
    believed = np.array([[100.0, 200.0, 300.0, 400.0]]) * 1e6
    people = np.full((1, 4), 1e6)
    quota = plan_quotas(believed, people, np.array([0.25]), np.array([SC.planning.progressive_eta]))
    assert quota.sum() == pytest.approx(0.25 * believed.sum())
    assert np.all(np.diff(quota / believed) > 0), "richer communes give a larger share (eta > 0)"
    flat = plan_quotas(believed, people, np.array([0.25]), np.array([0.0]))
    assert flat == pytest.approx(0.25 * believed), "eta = 0: every commune gives the national rate"
    floor = plan_quotas(believed, people, np.array([0.25]), np.array([0.0]), np.array([400e6]))
    assert floor.sum() == pytest.approx(400e6), "the commitments set the least national quota"


# ------------------------------------------------------------------ procurement and state grain
PROC = (col([SC.procurement.min_retention_kg]), col([SC.procurement.radical_enforcement_gain]),
        col([SC.procurement.concealment_max]), col([SC.procurement.commitment_floor_kg]))


@given(st.lists(st.tuples(st.floats(0, 1e9), st.floats(0, 1e9), st.floats(1, 1e6)), min_size=1, max_size=30),
       st.floats(0, 1), st.floats(0, 1), st.integers(1, 12))
@settings(max_examples=200, deadline=None)
def test_procurement_never_takes_more_than_stock_or_quota(rows, enforcement, search, months_left):
    due, stock, people = (np.array(c)[None, :] for c in zip(*rows))
    taken, bite = procurement.collect(due, stock, people, months_left, enforcement, search, 0.8, PROC)
    assert np.all(taken >= 0) and np.all(taken <= stock + 1e-6) and np.all(taken <= due + 1e-6)
    assert np.all(bite >= 0)


def test_enforcement_lowers_the_protected_floor():
    due, stock, people = np.array([[5e9]]), np.array([[6e9]]), np.array([[2e7]])
    soft, _ = procurement.collect(due, stock, people, 8, 0.0, 0.2, 0.9, PROC)
    hard, _ = procurement.collect(due, stock, people, 8, 0.9, 0.2, 0.9, PROC)
    assert hard[0, 0] > soft[0, 0]
    assert soft[0, 0] <= stock[0, 0] - SC.procurement.min_retention_kg * people[0, 0] * 8 / 12 + 1


def test_the_committed_part_of_the_quota_is_collected_down_to_the_commitment_floor():
    """With no enforcement the quota stops at the retention standard, except the share that pays the
    cities, army and exports: that is taken down to ``commitment_floor_kg`` (kg/person/year)."""
    people, months_left = np.array([[1e6]]), 12
    stock = np.array([[200e6]])  # 200 kg a person to the next harvest
    params = (col([190.0]), col([0.0]), col([0.0]), col([150.0]))
    due = np.array([[60e6]])
    none, _ = procurement.collect(due, stock, people, months_left, 0.0, 1.0, 0.5, params)
    half, _ = procurement.collect(due, stock, people, months_left, 0.0, 1.0, 0.5, params, col([0.5]))
    full, _ = procurement.collect(due, stock, people, months_left, 0.0, 1.0, 0.5, params, col([1.0]))
    assert none[0, 0] == pytest.approx(10e6)   # above the 190 kg standard only
    assert half[0, 0] == pytest.approx(30e6)   # the committed 30 Mt down to 150 kg, nothing more above 190
    assert full[0, 0] == pytest.approx(50e6)   # all of it down to 150 kg
    # enforcement that lowers the standard below the commitment floor rules both parts
    hard, _ = procurement.collect(due, stock, people, months_left, 0.5, 1.0, 0.5, params, col([0.5]))
    assert hard[0, 0] == pytest.approx(min(60e6, 200e6 - 95e6))


def test_relief_withheld_by_the_climate_and_by_believed_inflation():
    stock, need = np.array([[0.0, 5e8]]), np.array([[1e8, 1e8]])
    normal = relief_claims(need, 4, stock, 1.0, np.zeros((1, 2)))
    suppressed = relief_claims(need, 4, stock, 0.15, np.zeros((1, 2)))
    inflated = relief_claims(need, 4, stock, 1.0, np.array([[2e8, 0.0]]))  # 2e8 kg claimed beyond the truth
    assert normal[0, 0] == pytest.approx(1e8) and normal[0, 1] == 0  # only the commune short of grain
    assert suppressed[0, 0] == pytest.approx(0.15 * normal[0, 0])
    assert inflated[0, 0] == pytest.approx(0.5 * normal[0, 0])


def test_the_centre_rereads_its_belief_in_the_reports_when_it_turns_sceptical():
    reported = np.array([[0.5, 1.0, 0.0]])  # reports 1.5x, 2x and 1x the truth
    lushan = believed_inflation(reported, np.array([0.1]))
    retreat = believed_inflation(reported, np.array([0.45]))
    assert lushan[0] == pytest.approx([0.35, 0.8, 0.0])  # (1 + 0.5) x 0.9 - 1, (1 + 1) x 0.9 - 1; never below 0
    assert retreat[0] == pytest.approx([0.0, 0.1, 0.0])  # the same reports, doubted: 1.5 x 0.55 < 1
    # the phantom grain that hides a commune's hunger from relief shrinks with the belief, between harvests
    stock, need, harvest = np.array([[1e8]]), np.array([[1e8]]), 4e8
    hidden = relief_claims(need, 5, stock, 1.0, lushan[:, :1] * harvest)
    seen = relief_claims(need, 5, stock, 1.0, retreat[:, :1] * harvest)
    assert hidden[0, 0] == pytest.approx((5e8 - 1e8 - 1.4e8) / 5)
    assert seen[0, 0] == pytest.approx((5e8 - 1e8) / 5)


# ------------------------------------------------------------------ distribution
def _draw(stock, need, months_left, canteen, free):
    cp = SC.canteens
    return canteens.monthly_draw(stock, need, months_left, canteen, free, col([cp.household_max_ratio]),
                                 col([cp.free_eating_ratio]), col([cp.canteen_waste]))


def test_free_eating_draws_stocks_down_faster():
    stock, need = np.full((1, 3), 8e6), np.full((1, 3), 1e6)
    rationed, _ = _draw(stock, need, 8, 0.9, 0.0)
    free, waste = _draw(stock, need, 8, 0.9, 1.0)
    assert np.all(free > 1.15 * rationed)
    assert np.all(waste == pytest.approx(free * SC.canteens.canteen_waste * 0.9))
    left_free, left_rationed, spring = stock.copy(), stock.copy(), []
    for m in range(8, 0, -1):  # four months of free eating, then four of rationing
        d, _ = _draw(left_free, need, m, 0.9, 1.0 if m > 4 else 0.0)
        left_free -= d
        if m <= 4:
            spring.append(d[0, 0])
        d, _ = _draw(left_rationed, need, m, 0.9, 0.0)
        left_rationed -= d
        assert d[0, 0] == pytest.approx(need[0, 0])  # rationing spreads the stock: exactly the need
    assert max(spring) < 0.9 * need[0, 0]  # after free eating, the spring is short


def test_canteen_draw_never_exceeds_stock():
    stock = np.array([[0.0, 1.0, 5e5]])
    d, w = _draw(stock, np.full((1, 3), 1e6), 1, 1.0, 1.0)
    assert np.all(d <= stock) and np.all(w <= d)


def test_canteen_weights_favour_cadres_and_starve_black_elements():
    w = lambda klass, share: canteens.ration_weight(klass, 30, FARM, share, 1.3, 0.8, 0.85, 0.0)  # noqa: E731
    assert w(CADRE, 1.0) == pytest.approx(1.3) and w(BLACK_ELEMENT, 1.0) == pytest.approx(0.8)
    assert w(ORDINARY, 1.0) == 1.0
    assert w(CADRE, 0.0) == w(BLACK_ELEMENT, 0.0) == 1.0  # household eating shares by need
    assert canteens.ration_weight(ORDINARY, 70, NONE, 1.0, 1.3, 0.8, 0.85, 0.0) == pytest.approx(0.85)
    assert canteens.ration_weight(CADRE, 30, FARM, 0.0, 1.3, 0.8, 0.85, 0.5) == pytest.approx(1.15)


# ------------------------------------------------------------------ labor
def test_diversion_shares_are_capped_together_and_activities_follow_the_draw():
    f, w = diversion_shares(np.array([[0.6, 0.2]]), np.array([[0.6, 0.1]]))
    assert f[0, 0] + w[0, 0] == pytest.approx(0.9) and f[0, 0] == pytest.approx(0.45)
    assert f[0, 1] == 0.2 and w[0, 1] == 0.1  # below the cap: untouched
    assert rural_activity(0.1, 0.2, 0.1) == FURNACE and rural_activity(0.25, 0.2, 0.1) == WATERWORKS
    assert rural_activity(0.9, 0.2, 0.1) == FARM


# ------------------------------------------------------------------ nutrition, mortality, fertility, violence
def test_needs_intake_and_reserve():
    need = nutrition.need_table()
    assert need[0, 30] == 2400 and need[1, 30] == 1900 and need[0, 2] == 1100 and need[0, 0] < need[0, 10]
    cap = nutrition.capacity_table(SC.nutrition.reserve_capacity_kcal)
    assert cap[0, 30] == SC.nutrition.reserve_capacity_kcal and cap[0, 2] < cap[0, 12] < cap[1, 30] < cap[0, 30]
    extra = nutrition.activity_extra(300.0, 500.0)
    assert extra[FURNACE] > extra[FARM] > extra[NONE] == 0
    assert nutrition.need(0, 30, need, 300.0) == 2700
    assert nutrition.intake(2000.0, 0.2, 1000.0, 120.0, 0.5, 0) == pytest.approx(1460.0)
    assert nutrition.intake(2000.0, 0.2, 1000.0, 120.0, 0.5, 1) == pytest.approx(1400.0)  # no bark in town
    # 30 days x 600 kcal short against 120,000 kcal of capacity: the reserve falls by 0.15
    assert nutrition.reserve_after(1.0, 1400.0, 2000.0, 120000.0, 0.5, 0.5) == pytest.approx(0.85)
    # a surplus is stored at the recovery efficiency, the reserve is capped at 1
    assert nutrition.reserve_after(0.5, 2400.0, 2000.0, 120000.0, 0.0, 0.5) == pytest.approx(0.55)
    assert nutrition.reserve_after(0.99, 3000.0, 2000.0, 120000.0, 0.0, 1.0) == 1.0


def test_mortality_rises_as_reserve_falls():
    m = SC.mortality
    h = np.array([mortality.famine_hazard(0.01 / 12, m.hunger_beta_adult, m.hunger_gamma, d, m.starvation_hazard,
                                          m.starvation_threshold) for d in np.linspace(0, 1, 11)])
    assert h[0] == 0 and np.all(np.diff(h) > 0)
    assert h[-1] > m.starvation_hazard  # full exhaustion: starvation dominates
    assert h[5] < 0.01  # half-depleted adults: higher, but not yet starving
    for total in (1e-6, 5e-4, 9.99e-4, 1e-3, 0.2, 3.0):
        assert mortality.death_probability(total) == pytest.approx(1 - np.exp(-total), rel=1e-9)
    # the person pass skips the exact probability when the draw is at or above the hazard: exact only
    # because the probability never exceeds the hazard, in floating point too (both branches, the switch)
    edge = np.nextafter(1e-3, [0.0, 1.0])
    hazards = np.concatenate([[0.0, 5e-324, 1e-300], np.geomspace(1e-12, 50.0, 20001), edge])
    for total in hazards:
        assert mortality.death_probability(float(total)) <= total

    @njit
    def compiled(h):  # as the kernels compile it
        return np.array([mortality.death_probability(x) for x in h])
    assert (compiled(hazards) <= hazards).all()
    assert mortality.cause_of_death(0.5, 1.0, 2.0) == mortality.NATURAL
    assert mortality.cause_of_death(2.5, 1.0, 2.0) == mortality.FAMINE
    assert mortality.cause_of_death(3.5, 1.0, 2.0) == mortality.VIOLENCE


def test_age_groups_split_at_ten_and_take_their_hunger_multiplier():
    from greatleap import Sim
    from greatleap.mechanisms.demography import AGE_GROUPS, age_group
    assert AGE_GROUPS == ("0", "1-4", "5-9", "10-14", "15-59", "60+")
    assert [age_group(a) for a in (0, 1, 4, 5, 9, 10, 14, 15, 59, 60, 110)] == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    sim = Sim(load_scenario("historical", **{"run.end": "1957-01", "run.scale": 100000,
                                               "mortality.hunger_beta_child": 9.0, "mortality.hunger_beta_adult": 4.0,
                                               "mortality.hunger_beta_old": 13.0}))
    assert sim.tables.hunger_beta.tolist() == [[9.0, 9.0, 4.0, 4.0, 4.0, 13.0]]  # what the person pass reads by group


def test_famine_deaths_under_10_share_counts_hunger_and_violence_1958_61():
    import pandas as pd
    from greatleap.analysis.targets import famine_deaths_under_10_share, headline_values
    rows = [(1960, "0", "famine", 30.0), (1960, "1-4", "famine", 20.0), (1960, "5-9", "violence", 10.0),
            (1960, "10-14", "famine", 15.0), (1961, "60+", "famine", 25.0),
            (1960, "0", "natural", 500.0),   # not the famine's
            (1962, "0", "famine", 400.0)]    # outside 1958-61
    d = pd.DataFrame(rows, columns=["year", "age_group", "cause", "deaths"])
    assert famine_deaths_under_10_share(d) == pytest.approx(60.0 / 100.0)
    assert famine_deaths_under_10_share(d[d.cause == "natural"]) is None  # no famine deaths: undefined
    assert famine_deaths_under_10_share(None) is None
    annual = pd.DataFrame({"year": [1957, 1958, 1959, 1960, 1961], "deaths": [10.0] * 5,
                           "cdr_true": [10.0] * 5, "population_mean": [1000.0] * 5})
    heads = headline_values({"annual_national": annual, "deaths_by_age_class": d})
    assert heads["famine_deaths_under_10_share_1958_1961"] == pytest.approx(0.6)
    assert heads["excess_deaths_true_1958_1961"] == pytest.approx(0.0)


def test_violence_strikes_rural_working_age_and_black_elements_most():
    assert violence_hazard(0, 30, ORDINARY, 0.5, 0.001, 3.0) == pytest.approx(0.0005)
    assert violence_hazard(0, 30, BLACK_ELEMENT, 0.5, 0.001, 3.0) == pytest.approx(0.0015)
    assert violence_hazard(1, 30, ORDINARY, 0.5, 0.001, 3.0) == 0.0  # town
    assert violence_hazard(0, 70, ORDINARY, 0.5, 0.001, 3.0) == 0.0  # the old


def test_births_fall_with_hunger():
    f = SC.fertility
    curve = tabulate(lambda d: fertility.amenorrhoea(d, f.hunger_zero_depletion, f.hunger_exponent))[None, :]
    p = [fertility.conception_probability(0.05, 1.0, 0, 1.0, d, 0.0, 1.0, curve, 0) for d in (0.0, 0.2, 0.4, 0.6, 0.95)]
    assert p[0] == pytest.approx(0.05) and np.all(np.diff(p) <= 0) and p[-1] == 0.0
    # the current energy deficit counts when the fertility intake weight is on
    assert fertility.conception_probability(0.05, 1.0, 0, 1.0, 0.0, 1.0, 0.5, curve, 0) < p[1]
    assert fertility.conception_probability(0.0, 1.0, 0, 1.0, 0.0, 0.0, 1.0, curve, 0) == 0.0
    assert fertility.fetal_loss_probability(0.05, 0.5) == pytest.approx(0.0125)


def test_famine_amenorrhoea_is_a_threshold_above_exponent_one():
    # exponent 1: linear to none at the zero point; exponent 3: a 10% loss barely touches conception (Frisch)
    assert fertility.amenorrhoea(0.25, 0.5, 1.0) == pytest.approx(0.5)
    assert fertility.amenorrhoea(0.1, 0.5, 3.0) == pytest.approx(1 - 0.2 ** 3)
    assert fertility.amenorrhoea(0.4, 0.5, 3.0) == pytest.approx(1 - 0.8 ** 3)
    assert fertility.amenorrhoea(0.5, 0.5, 3.0) == 0.0 and fertility.amenorrhoea(0.9, 0.5, 0.5) == 0.0


def test_separation_and_mobilisation_lower_conception_and_postponed_births_wait_for_food():
    base, pop, sep, mob, f = 0.0035, 1e6, 0.5, 0.3, 0.2  # births per person-month; illustrative values
    strength, decay = 0.5, 0.1
    assert fertility.timing_multiplier(sep, 0.0, mob, 0.0, 0.0, f, base, pop) == 1.0
    assert fertility.timing_multiplier(sep, 0.3, mob, 0.0, 0.0, f, base, pop) == pytest.approx(1 - sep * 0.3)
    # the Leap's mobilisation at full pressure (0.9 above 1957): a further 0.3 x 0.9 = 27% of conceptions lost
    assert fertility.timing_multiplier(sep, 0.0, mob, 0.9, 0.0, f, base, pop) == pytest.approx(0.73)
    assert fertility.timing_multiplier(sep, 0.3, mob, 0.9, 0.0, f, base, pop) == pytest.approx(1 - 0.15 - 0.27)
    assert fertility.timing_multiplier(0.8, 0.9, 0.6, 0.9, 0.0, f, base, pop) == 0.0  # never below none
    # release: 1 with no depletion, 0 where conception stops
    assert fertility.catchup_release(np.array([0.0, 0.25, 0.5, 0.8]), 0.5).tolist() == [1.0, 0.5, 0.0, 0.0]
    postponed = trying = 0.0
    for _ in range(24):  # two famine years, conception stopped, half the expected births
        postponed, trying = fertility.postponed_after(decay, strength, f, postponed, trying, base, pop, 0.5 * base * pop, 0.0)
    assert postponed == pytest.approx(24 * 0.5 * base * pop) and trying == 0.0  # nothing settles in the famine
    assert fertility.timing_multiplier(sep, 0.0, mob, 0.0, trying, f, base, pop) == 1.0  # no catch-up while starving
    # food returns: a tenth of the stock settles, half of that tries, the rest is given up
    after, trying = fertility.postponed_after(decay, strength, f, postponed, 0.0, base, pop, base * pop, 1.0)
    assert after == pytest.approx(0.9 * postponed) and trying == pytest.approx(0.05 * postponed)
    assert fertility.timing_multiplier(sep, 0.0, mob, 0.0, trying, f, base, pop) == pytest.approx(1 + f * trying / (base * pop))
    # births below the baseline with food (spouses apart, not hunger) are not postponed
    assert fertility.postponed_after(decay, strength, f, 0.0, 0.0, base, pop, 0.5 * base * pop, 1.0) == (0.0, 0.0)
    # the couples trying leave as they conceive
    assert fertility.postponed_after(decay, strength, f, 0.0, trying, base, pop, base * pop, 1.0)[1] == pytest.approx(0.8 * trying)
    # per place: arrays broadcast, each place keeps its own timing
    both = fertility.timing_multiplier(sep, np.array([0.0, 0.3]), mob, 0.0, np.array([0.0, trying]), f, base, np.array([pop, pop]))
    assert both[0] == 1.0 and both[1] == pytest.approx(fertility.timing_multiplier(sep, 0.3, mob, 0.0, trying, f, base, pop))


def test_lookup_tables_are_accurate():
    table = tabulate(lambda x: x ** 0.7)[None, :]
    xs = np.linspace(0, 1, 997)
    approx = np.array([interpolate(table, 0, x) for x in xs])
    assert np.max(np.abs(approx - xs ** 0.7)) < 3e-3  # steepest near zero
    assert interpolate(table, 0, 1.5) == 1.0 and interpolate(table, 0, -1.0) == 0.0


# ------------------------------------------------------------------ calendar and registration
def test_calendar_months_to_next_harvest():
    cal = harvest_calendar()
    hebei, heilongjiang = cal.provinces.index("Hebei"), cal.provinces.index("Heilongjiang")
    assert [cal.months_to_next_harvest(m)[hebei] for m in (1, 6, 10)] == [5, 4, 8]
    assert cal.months_to_next_harvest(11)[heilongjiang] == 11  # single-crop northeast waits for the autumn
    assert cal.months_to_next_harvest(6)[heilongjiang] == 4
    assert cal.harvesting(6).all() and not cal.harvesting(7).any()
    assert cal.harvest_share(6)[hebei] + cal.harvest_share(10)[hebei] == pytest.approx(1.0)
    assert cal.planting_lag(6)[hebei] == 8 and cal.planting_lag(10)[hebei] == 6


def test_registration_completeness_lookup_and_the_famine_penalty():
    table = SC.registration.death_completeness
    assert completeness(table, 1960) == 0.57
    assert completeness(table, 1950) == table[1957] and completeness(table, 1970) == table[1966]
    assert death_registered_probability(0.6, 0.25, 0.8) == pytest.approx(0.48)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the hash wraps by design, as compiled
def test_late_registration_spreads_the_yearly_rate_and_a_census_registers_everyone():
    p = late_registration_probability(np.array([0.5, 0.5, 0.0]), np.array([False, True, False]))
    assert (1.0 - p[0]) ** 12 == pytest.approx(0.5)  # half the missing are on the register after a year
    assert p[1] == 1.0 and p[2] == 0.0
    assert registered_late(0, 1.0, 7, 3, 11) and not registered_late(1, 1.0, 7, 3, 11)  # census: all the missing
    assert not registered_late(0, 0.0, 7, 3, 11)
    draws = [registered_late(0, 0.2, 7, 3, uid) for uid in range(20_000)]
    assert abs(np.mean(draws) - 0.2) < 0.01
