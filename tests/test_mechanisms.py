"""Unit tests of each mechanism, with numbers."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greatleap import load_scenario
from greatleap.kernels import cpu
from greatleap.mechanisms import canteens, nutrition, procurement
from greatleap.mechanisms.agriculture import months_to_next_harvest
from greatleap.mechanisms.demography import completeness
from greatleap.mechanisms.hierarchy import inflation
from greatleap.levers import LEVER_INDEX, LEVER_NAMES, LEVERS

SC = load_scenario("historical")


def levers(**values):
    row = np.array([LEVERS[n].default for n in LEVER_NAMES])
    for k, v in values.items():
        row[LEVER_INDEX[k]] = v
    return row


# ------------------------------------------------------------------ random numbers
def test_counter_based_uniforms_are_uniform_deterministic_and_stream_separated():
    ids = np.arange(200_000, dtype=np.int64)
    u = cpu.uniform_array(7, 1, 3, ids)
    assert 0.0 <= u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.003 and abs(u.var() - 1 / 12) < 0.002
    assert np.array_equal(u, cpu.uniform_array(7, 1, 3, ids))
    other = cpu.uniform_array(7, 2, 3, ids)  # another stream
    assert abs(np.corrcoef(u, other)[0, 1]) < 0.01
    assert not np.array_equal(u, cpu.uniform_array(8, 1, 3, ids))
    z = cpu.normal_array(7, 5, 0, ids)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01


# ------------------------------------------------------------------ reports and quotas
def test_inflation_rises_with_pressure_campaign_and_anti_right():
    p = SC.reporting
    noise = np.zeros(5)
    pressure = np.array([0.8, 1.0, 1.5, 2.0, 3.0])
    pi = inflation(p, pressure, 0.5, 0.2, 0.5, 0.0, noise)
    assert np.all(np.diff(pi) > 0)
    calm = inflation(p, np.ones(1), 0.1, 0.0, 0.3, 0.0, np.zeros(1))[0]
    leap = inflation(p, np.ones(1), 1.0, 0.5, 0.3, 0.0, np.zeros(1))[0]
    anti_right = inflation(p, np.ones(1), 1.0, 0.5, 0.3, 1.0, np.zeros(1))[0]
    assert calm < 0.1 < leap < anti_right <= p.inflation_max
    radical = inflation(p, np.ones(1), 1.0, 0.5, 0.95, 0.0, np.zeros(1))[0]
    assert radical > leap


def test_quotas_are_progressive_and_sum_to_the_plan():
    from greatleap.mechanisms.hierarchy import Hierarchy

    class Places:  # two provinces, four communes
        n_communes, n_provinces = 4, 2
        place_province = np.array([0, 0, 1, 1, 0, 1])
        radicalism = np.array([0.5, 0.5])

    h = Hierarchy(SC, Places())
    expected = np.array([100.0, 200.0, 300.0, 400.0]) * 1e6
    people = np.array([1.0, 1.0, 1.0, 1.0]) * 1e6
    lev = levers(procurement_rate=0.25, scepticism=0.0, ambition=0.0)
    h.plan_year(lev, expected, people)
    assert h.quota.sum() == pytest.approx(0.25 * expected.sum())
    share = h.quota / expected
    assert np.all(np.diff(share) > 0), "richer communes give a larger share (eta > 0)"


@given(st.lists(st.tuples(st.floats(0, 1e9), st.floats(0, 1e9), st.floats(1, 1e6)), min_size=1, max_size=30),
       st.floats(0, 1), st.floats(0, 1), st.integers(1, 12))
@settings(max_examples=200, deadline=None)
def test_procurement_never_takes_more_than_stock_or_quota(rows, enforcement, search, months_left):
    due, stock, people = (np.array(c) for c in zip(*rows))
    lev = levers(enforcement=enforcement, search=search)
    taken, bite = procurement.collect(SC.procurement, due, stock, people, months_left, lev, np.full(len(due), 0.8))
    assert np.all(taken >= 0) and np.all(taken <= stock + 1e-6) and np.all(taken <= due + 1e-6)
    assert np.all(bite >= 0)


def test_enforcement_lowers_the_protected_floor():
    due, stock, people = np.array([5e9]), np.array([6e9]), np.array([2e7])
    soft, _ = procurement.collect(SC.procurement, due, stock, people, 8, levers(enforcement=0.0), np.array([0.9]))
    hard, _ = procurement.collect(SC.procurement, due, stock, people, 8, levers(enforcement=0.9), np.array([0.9]))
    assert hard[0] > soft[0]
    assert soft[0] <= stock[0] - SC.procurement.min_retention_kg * people[0] * 8 / 12 + 1


def test_relief_withheld_by_the_climate_and_by_believed_inflation():
    g = procurement.StateGranary(SC)
    stock, need = np.array([0.0, 5e8]), np.array([1e8, 1e8])
    _, normal = g.month(0.0, 0.0, levers(relief=1.0, exports=0, urban_ration=0), stock, need, 4, np.zeros(2))
    g = procurement.StateGranary(SC)
    _, suppressed = g.month(0.0, 0.0, levers(relief=0.15, exports=0, urban_ration=0), stock, need, 4, np.zeros(2))
    g = procurement.StateGranary(SC)
    _, inflated = g.month(0.0, 0.0, levers(relief=1.0, exports=0, urban_ration=0), stock, need, 4, np.array([1.0, 0]))
    assert normal[0] > 0 and normal[1] == 0  # only the commune short of grain gets relief
    assert suppressed[0] == pytest.approx(0.15 * normal[0])
    assert inflated[0] == pytest.approx(0.5 * normal[0])


# ------------------------------------------------------------------ distribution
def test_free_eating_draws_stocks_down_faster():
    stock = np.full(3, 8e6)
    need = np.full(3, 1e6)
    rationed, _ = canteens.monthly_draw(SC.canteens, stock, need, 8, levers(canteen=0.9, free_eating=0.0))
    free, waste = canteens.monthly_draw(SC.canteens, stock, need, 8, levers(canteen=0.9, free_eating=1.0))
    assert np.all(free > 1.15 * rationed)
    assert np.all(waste == pytest.approx(free * SC.canteens.canteen_waste * 0.9))
    left_free, left_rationed = stock.copy(), stock.copy()
    spring_draws = []
    for m in range(8, 0, -1):  # four months of free eating, then four of rationing
        d, _ = canteens.monthly_draw(SC.canteens, left_free, need, m, levers(canteen=0.9, free_eating=1.0 if m > 4 else 0))
        left_free -= d
        if m <= 4:
            spring_draws.append(d[0])
        d, _ = canteens.monthly_draw(SC.canteens, left_rationed, need, m, levers(canteen=0.9))
        left_rationed -= d
        assert d[0] == pytest.approx(need[0])  # rationing spreads the stock: exactly the need
        if m == 4:
            assert left_free[0] < 0.9 * left_rationed[0]
    assert max(spring_draws) < 0.9 * need[0]  # after free eating, the spring is short


def test_canteen_weights_favour_cadres_and_starve_black_elements():
    w = lambda klass, share: cpu.ration_weight(klass, 30, cpu.FARM, share, 1.3, 0.8, 0.85, 0.0)
    assert w(1, 1.0) == pytest.approx(1.3) and w(2, 1.0) == pytest.approx(0.8) and w(0, 1.0) == 1.0
    assert w(1, 0.0) == w(2, 0.0) == 1.0  # household eating shares by need
    assert cpu.ration_weight(0, 70, cpu.NONE, 1.0, 1.3, 0.8, 0.85, 0.0) == pytest.approx(0.85)


def test_canteen_draw_never_exceeds_stock():
    stock = np.array([0.0, 1.0, 5e5])
    d, w = canteens.monthly_draw(SC.canteens, stock, np.full(3, 1e6), 1, levers(canteen=1, free_eating=1))
    assert np.all(d <= stock) and np.all(w <= d)


# ------------------------------------------------------------------ nutrition, mortality, fertility
def test_needs_and_capacities_by_age_and_sex():
    need = nutrition.need_table()
    assert need[0, 30] == 2400 and need[1, 30] == 1900 and need[0, 2] == 1100 and need[0, 0] < need[0, 10]
    cap = nutrition.capacity_table(SC.nutrition)
    assert cap[0, 30] == SC.nutrition.reserve_capacity_kcal
    assert cap[0, 2] < cap[0, 12] < cap[1, 30] < cap[0, 30]
    extra = nutrition.activity_extra(SC.nutrition)
    assert extra[cpu.FURNACE] > extra[cpu.FARM] > extra[cpu.NONE] == 0


def test_mortality_rises_as_reserve_falls():
    m = SC.mortality
    d = np.linspace(0, 1, 11)
    h = cpu.famine_hazard_array(0.01 / 12, m.hunger_beta_adult, m.hunger_gamma, d, m.starvation_hazard,
                                m.starvation_threshold)
    assert h[0] == 0 and np.all(np.diff(h) > 0)
    assert h[-1] > m.starvation_hazard  # full exhaustion: starvation dominates
    assert h[5] < 0.01  # half-depleted adults: higher, but not yet starving


def test_mortality_highest_at_young_and_old_ages(historical):
    """Through the kernel: excess deaths per head in 1960 are largest for children and the old."""
    d = historical.deaths_by_age_class.groupby(["year", "age_group"]).deaths.sum().unstack()
    pyr = historical.population_by_age.groupby(["year", "age"]).population.sum().unstack()
    pop = {"1-4": pyr.loc[:, 1:4].sum(axis=1), "15-59": pyr.loc[:, 15:59].sum(axis=1),
           "60+": pyr.loc[:, 60:].sum(axis=1), "5-14": pyr.loc[:, 5:14].sum(axis=1)}
    rate = {g: d[g] / pop[g] for g in pop}
    rise = {g: rate[g].loc[1960] - rate[g].loc[1957] for g in rate}
    assert rise["1-4"] > rise["15-59"] and rise["60+"] > rise["15-59"]
    assert rate["60+"].loc[1960] > rate["15-59"].loc[1960] and rate["1-4"].loc[1960] > rate["5-14"].loc[1960]


def test_births_fall_with_hunger():
    f = cpu.fertility_factor_array(np.array([0.0, 0.2, 0.4, 0.6, 0.8, 0.95]), SC.fertility.hunger_zero_depletion,
                                   SC.fertility.hunger_exponent)
    assert f[0] == 1.0 and np.all(np.diff(f) <= 0) and f[-1] == 0.0 and f[2] < 0.6


def test_person_kernel_hungry_people_die_more_and_conceive_less():
    """Two identical synthetic populations, one fed and one starving, through person_month."""
    n = 40_000
    from greatleap.state import People
    pp = People.empty(n)
    pp.alive[:] = 1
    pp.age_m[:] = 12 * 25
    pp.sex[:] = 1
    pp.uid[:] = np.arange(n)
    pp.reserve[: n // 2] = 1.0
    pp.reserve[n // 2:] = 0.1  # starving half
    pp.place[: n // 2], pp.place[n // 2:] = 0, 1
    pp.intake_ratio[:] = 1.0
    need = nutrition.need_table()
    extra = nutrition.activity_extra(SC.nutrition)
    cap = nutrition.capacity_table(SC.nutrition)
    base = np.full((2, 111), 0.01)
    conceive = np.full(111, 0.05)
    status = np.zeros(n, np.uint8)
    m, f = SC.mortality, SC.fertility
    beta = np.array([m.hunger_beta_child] * 2 + [m.hunger_beta_adult] * 2 + [m.hunger_beta_old])
    out = cpu.person_month(
        pp.alive, pp.age_m, pp.sex, pp.place, pp.hukou, pp.klass, pp.activity, pp.reserve, pp.reserve.copy(),
        pp.intake_ratio, pp.preg, pp.mother, pp.mother_uid, pp.uid, status, 1, 0, 2,
        np.array([1.0, 0.3]), np.array([0.1, 0.1]), np.zeros(2), np.zeros(2, np.uint8), np.zeros(2),
        need, extra, cap, base, conceive, 3000.0, 0.0, 0.5, 0.5, 1.3, 0.8, 0.85, 0.0, beta, m.hunger_gamma,
        m.starvation_hazard, m.starvation_threshold, 3.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
        cpu.lookup_table(lambda x: cpu.fertility_factor(x, f.hunger_zero_depletion, f.hunger_exponent)), 0.0,
        12, 0.0, 0.0, 0.0, 1)
    eaten, deaths = out[0], out[1]
    assert deaths[1] > 20 * max(deaths[0], 1)
    assert eaten[0] > 2 * eaten[1]
    conceived_fed = (pp.preg[: n // 2] == 1).sum()
    conceived_hungry = (pp.preg[n // 2:] == 1).sum()
    assert conceived_fed > 800 and conceived_hungry < 0.1 * conceived_fed


# ------------------------------------------------------------------ agriculture and registration
def test_calendar_months_to_next_harvest():
    assert months_to_next_harvest(1) == 5 and months_to_next_harvest(6) == 4 and months_to_next_harvest(10) == 8
    assert months_to_next_harvest(11, 0.05) == 11  # single-crop northeast waits for the autumn
    assert months_to_next_harvest(6, 0.05) == 4


def test_labor_diversion_cuts_the_harvest():
    from greatleap.sim import Sim
    sim = Sim(load_scenario("historical", **{"run.end": "1957-12"}), scale=50000)
    ag = sim.agriculture
    nc = sim.places.n_communes
    for month in range(1, 10):
        ag.month(month, levers(), sim.places.farm_norm.copy())
    full, _ = ag.harvest(1957, 10, np.ones(nc))
    for month in range(1, 10):
        ag.month(month, levers(), 0.6 * sim.places.farm_norm)
    short, factors = ag.harvest(1957, 10, np.full(nc, 0.6))
    assert short.sum() < 0.8 * full.sum()
    assert factors["harvest_loss"] == pytest.approx(SC.agriculture.harvest_loss_max * 0.4)


def test_registration_completeness_lookup():
    table = SC.registration.death_completeness
    assert completeness(table, 1960) == 0.57
    assert completeness(table, 1950) == table[1957] and completeness(table, 1970) == table[1966]


def test_separation_lowers_and_catch_up_raises_conception():
    from greatleap.mechanisms.demography import FertilityTiming
    ft = FertilityTiming(SC.fertility, 0.0035)
    assert ft.multiplier(0.0, 1e6) == 1.0
    assert ft.multiplier(0.3, 1e6) == pytest.approx(1 - SC.fertility.separation_effect * 0.3)
    for _ in range(24):  # two famine years with half the expected births
        ft.record(0.5 * 0.0035 * 1e6, 1e6)
    assert ft.multiplier(0.0, 1e6) > 1.1


def test_lookup_tables_and_death_probability_are_accurate():
    table = cpu.lookup_table(lambda x: x ** 0.7)
    xs = np.linspace(0, 1, 997)
    approx = np.array([cpu.interpolate(table, x) for x in xs])
    assert np.max(np.abs(approx - xs ** 0.7)) < 3e-3  # steepest near zero
    assert cpu.interpolate(table, 1.5) == 1.0 and cpu.interpolate(table, -1.0) == 0.0
    for total in (1e-6, 5e-4, 9.99e-4, 1e-3, 0.2, 3.0):
        assert cpu.death_probability(total) == pytest.approx(1 - np.exp(-total), rel=1e-9)


def test_inflated_head_counts_raise_registered_population_not_the_truth():
    from greatleap import Sim
    kw = {"run.end": "1957-12", "run.scale": 100000}
    plain = Sim(load_scenario("historical", **kw)).run().annual_national.iloc[0]
    padded = Sim(load_scenario("historical", **kw, **{"registration.population_inflation": 0.1})).run().annual_national.iloc[0]
    assert padded.population_end == plain.population_end
    assert padded.registered_population_end > 1.07 * plain.registered_population_end
    assert padded.cdr_registered < plain.cdr_registered
