"""Grain and people must balance every step; a broken balance must be caught."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greatleap import Sim, load_scenario
from greatleap.ledger import LedgerError


def test_people_balance_in_the_historical_run(historical):
    a = historical.annual_national
    # population at the start of each year + births - deaths = population at its end, exactly
    start = historical.monthly_national.groupby("year").population.first()
    assert np.array_equal((start + a.set_index("year").births - a.set_index("year").deaths).to_numpy(),
                          a.population_end.to_numpy())
    nxt = start.shift(-1).dropna()
    assert np.array_equal(a.set_index("year").population_end.loc[nxt.index].to_numpy(), nxt.to_numpy())


def test_grain_balances_nationally(historical):
    m = historical.monthly_national
    prod = m.grain_harvest_mt.sum()
    uses = (m.eaten_rural_mt + m.eaten_urban_mt + m.canteen_waste_mt + m.seed_feed_mt + m.storage_losses_mt
            + m.state_other_use_mt + m.exports_mt - m.imports_mt).sum()
    start_stock = historical.meta["scenario"]["procurement"]["initial_state_stock_mt"]
    stock_change = (m.commune_stock_mt.iloc[-1] + m.state_stock_mt.iloc[-1]) - (
        m.commune_stock_mt.iloc[0] + m.state_stock_mt.iloc[0])
    # the first month's flows happened before the first recorded stock: add them back
    first = m.iloc[0]
    first_flows = (first.grain_harvest_mt - first.eaten_rural_mt - first.eaten_urban_mt - first.canteen_waste_mt
                   - first.seed_feed_mt - first.storage_losses_mt - first.state_other_use_mt - first.exports_mt
                   + first.imports_mt)
    assert start_stock > 0
    assert prod == pytest.approx(uses + stock_change + first_flows, rel=1e-6)


def test_urban_supply_is_what_cities_eat(historical):
    m = historical.monthly_national
    assert np.allclose(m.urban_supply_mt, m.eaten_urban_mt, rtol=1e-6)


perturbation = st.fixed_dictionaries({
    "agriculture.labor_elasticity": st.floats(0.1, 0.9),
    "mortality.hunger_beta_child": st.floats(0.0, 30.0),
    "reporting.inflation_max": st.floats(0.0, 5.0),
    "procurement.min_retention_kg": st.floats(50.0, 350.0),
    "canteens.free_eating_ratio": st.floats(1.0, 2.0),
    "migration.escape_rate": st.floats(0.0, 0.3),
    "run.seed": st.integers(0, 10**6),
})


@given(perturbation)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_ledgers_hold_on_perturbed_scenarios(overrides):
    scen = load_scenario("historical", **{"run.end": "1961-06", "run.scale": 100000, **overrides})
    results = Sim(scen).run()  # any imbalance raises LedgerError inside the run
    m = results.monthly_national
    assert (m.commune_stock_mt >= -1e-9).all() and (m.state_stock_mt >= -1e-9).all()
    assert (m.population > 0).all()


def test_a_broken_ledger_is_caught(monkeypatch):
    from greatleap.mechanisms import canteens
    real = canteens.ration_ratio
    monkeypatch.setattr(canteens, "ration_ratio", lambda *a: real(*a) * 1.01)  # people eat 1% more than drawn
    sim = Sim(load_scenario("historical", **{"run.end": "1957-03", "run.scale": 100000}))
    with pytest.raises(LedgerError, match="grain ledger broken at 1957-01"):
        sim.run()


def test_a_lost_person_is_caught():
    sim = Sim(load_scenario("historical", **{"run.end": "1957-06", "run.scale": 100000}))
    sim.step()
    victim = int(np.flatnonzero(sim.world.people.alive[0])[10])
    sim.world.people.alive[0, victim] = 0  # a person vanishes outside the death process
    with pytest.raises(LedgerError, match="people ledger broken at 1957-02"):
        sim.step()
