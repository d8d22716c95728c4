"""Procurement is collected over the months after a harvest: a share of what is still outstanding each month."""
import numpy as np
import pandas as pd
import pytest

from greatleap import Sim, load_scenario
from greatleap.calendar import harvest_calendar
from greatleap.mechanisms import procurement

NO_FLOOR = (np.array([[0.0]]), np.array([[0.0]]), np.array([[0.0]]), np.array([[0.0]]))


def test_what_is_outstanding_sets_the_pressure_and_the_bite_not_this_months_share():
    due, stock, people = np.array([[1e8]]), np.array([[1e9]]), np.array([[1e6]])
    taken, bite = procurement.collect(due, stock, people, 6, 1.0, 1.0, 0.5, NO_FLOOR)
    taken2, bite2 = procurement.collect(due, stock, people, 6, 1.0, 1.0, 0.5, NO_FLOOR, outstanding=2 * due)
    assert taken2 == pytest.approx(taken) and taken[0, 0] == pytest.approx(1e8)
    assert bite2[0, 0] == pytest.approx(2 * bite[0, 0])


def _monthly_procured(share: float) -> pd.Series:
    scen = load_scenario("historical", **{"run.end": "1958-05", "run.scale": 50000,
                                          "procurement.collection_share_per_month": share})
    return Sim(scen, seed=4).run().monthly_national.set_index("month")["procurement_mt"]


def test_a_normal_autumn_quota_comes_in_over_the_winter_at_the_monthly_share():
    cal = harvest_calendar()
    assert set(cal.harvest_month.ravel()) == {6, 10}  # summer and autumn harvests, every province
    half, whole = _monthly_procured(0.5), _monthly_procured(1.0)
    oct_, nov, dec = (pd.Timestamp(f"1957-{m}-01") for m in (10, 11, 12))
    # half in October, half the rest in November, ...: 1957's floors do not bind
    assert half[nov] / half[oct_] == pytest.approx(0.5, rel=0.05)
    assert half[dec] / half[nov] == pytest.approx(0.5, rel=0.05)
    # the season's quota is the same; only its timing moves (no levies for the cities in 1957)
    season = slice(oct_, pd.Timestamp("1958-05-01"))
    assert half[season].sum() == pytest.approx(whole[season].sum(), rel=0.02)
    assert whole[nov] < 0.05 * whole[oct_]


def test_a_run_starting_in_january_still_owes_the_last_autumns_quota():
    scen = load_scenario("historical", **{"run.end": "1957-01", "run.scale": 100000,
                                          "procurement.collection_share_per_month": 0.5})
    sim = Sim(scen, seed=1)
    sim.run()
    pl, nc = sim.world.places, sim.geo.n_communes
    cal = harvest_calendar()
    autumn = cal.season_share("autumn")[sim.geo.commune_province]
    # October's share of this year's quota, collected at half a month in October-December, half the rest in January
    owed = (pl.quota[0, :nc] * autumn * 0.5 ** 3).sum()
    assert pl.procured[0, :nc].sum() == pytest.approx(0.5 * owed, rel=0.02)
    assert pl.outstanding[0, :nc].sum() == pytest.approx(0.5 * owed, rel=0.02)
