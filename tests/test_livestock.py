"""Livestock: draught animals and pigs lost in hunger and rebuilt after it; the pigs' manure at planting time."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from greatleap import Sim, load_scenario
from greatleap.analysis.targets import load_targets
from greatleap.mechanisms.livestock import HUNGER_THRESHOLD, MAX_MONTHLY_LOSS, herd_loss, pig_increase

QUIET = {"livestock.pig_hunger_loss": 0.0, "livestock.draught_hunger_loss": 0.0, "livestock.pig_growth_per_year": 0.0,
         "livestock.draught_recovery_per_year": 0.0}


def test_herds_are_spared_the_usual_spring_gap_and_lose_at_most_half_a_month():
    """No loss up to a ration shortfall of a quarter (the poorest provinces' leanest month of 1957 ate ~0.75-0.8
    of need); beyond it the loss grows with the shortfall, at most half the herd in a month."""
    rate = np.array([0.4, 3.0])
    shortfall = np.array([[0.0, 0.25, 0.35, 0.75]] * 2)
    loss = herd_loss(rate, shortfall)
    assert HUNGER_THRESHOLD == 0.25 and MAX_MONTHLY_LOSS == 0.5
    assert loss[0].tolist() == pytest.approx([0.0, 0.0, 0.04, 0.2])
    assert loss[1].tolist() == pytest.approx([0.0, 0.0, 0.3, 0.5])  # 3.0 x 0.5 capped at half


def test_pigs_breed_back_logistically_toward_their_capacity():
    """The herd's increase is logistic: fastest from half the capacity, nothing at it, negative above it;
    1.0 a year from 0.5 of a capacity of 1.2 adds 1.0 / 12 x 0.5 x (1 - 0.5 / 1.2) = 0.0243 a month."""
    pigs = np.array([[0.5, 1.2, 1.3]])
    inc = pig_increase(pigs, np.array([1.0]), np.array([1.2]))
    assert inc[0, 0] == pytest.approx(0.0243, abs=1e-4)
    assert inc[0, 1] == 0.0 and inc[0, 2] < 0.0


def _herds(**kw) -> pd.DataFrame:
    return Sim(load_scenario("historical", **{"run.scale": 100000, "run.end": "1960-03", **kw})).run().monthly_national


def test_the_communes_cull_the_pigs_once_when_they_take_them_in():
    """With hunger and breeding switched off, the herd changes only when the commune lever first rises: in
    September 1958 it rises from 0 to 1 and cull x 1 is slaughtered; its return to 0.9 in January 1960 (below
    the 1.0 already reached) culls nothing. The draught animals stay whole. A run that starts under the
    communes culls nothing in its first month."""
    m = _herds(**QUIET, **{"livestock.pig_commune_cull": 0.2}).set_index("month")
    pigs = m.pigs
    assert np.allclose(pigs[:"1958-08-01"], 1.0, rtol=0, atol=1e-12)  # (a weighted mean of ones)
    assert pigs["1958-09-01"] == pytest.approx(0.8, abs=1e-12)
    assert (pigs["1958-09-01":] == pigs["1958-09-01"]).all()
    assert np.allclose(m.draught_animals, 1.0, rtol=0, atol=1e-12)
    late = _herds(**QUIET, **{"livestock.pig_commune_cull": 0.2, "run.start": "1959-01"})
    assert np.allclose(late.pigs, 1.0, rtol=0, atol=1e-12)


def test_hunger_takes_the_herds_and_fewer_pigs_manure_the_fields_less():
    """In the famine both herds fall well below 1957's; the harvests after the pigs fell carry the manure
    factor (pigs at planting)^elasticity (1 with elasticity 0), and less manure means less grain."""
    kw = {"livestock.pig_hunger_loss": 1.0, "livestock.draught_hunger_loss": 0.3, "livestock.pig_commune_cull": 0.0}
    with_manure = Sim(load_scenario("historical", **{"run.scale": 100000, "run.end": "1960-12",
                                                     "livestock.manure_elasticity": 0.2, **kw})).run()
    without = Sim(load_scenario("historical", **{"run.scale": 100000, "run.end": "1960-12",
                                                 "livestock.manure_elasticity": 0.0, **kw})).run()
    m = with_manure.monthly_national.set_index("month")
    assert m.pigs["1960-12-01"] < 0.8 and m.draught_animals["1960-12-01"] < 0.95
    f, f0 = with_manure.harvest_factors.set_index("month"), without.harvest_factors.set_index("month")
    assert (f0.manure == 1.0).all()
    assert f.manure["1957-06-01"] == 1.0 and f.manure["1960-10-01"] < 0.97
    a, a0 = with_manure.annual_national.set_index("year"), without.annual_national.set_index("year")
    assert a.grain_harvest_mt[1960] < 0.99 * a0.grain_harvest_mt[1960]
    assert a.grain_harvest_mt[1957] == a0.grain_harvest_mt[1957]


def test_the_manure_is_the_herd_at_planting_time():
    """The pigs culled in September 1958 (hunger and breeding off) are missing from the manure of the crops
    planted after it: the autumn harvest of 1958 (planted in spring) keeps a factor of 1, the summer harvest of
    1959 (winter wheat, planted in October 1958) gets 0.8^elasticity."""
    result = Sim(load_scenario("historical", **{"run.scale": 100000, "run.end": "1959-12", **QUIET,
                                                "livestock.pig_commune_cull": 0.2, "livestock.manure_elasticity": 0.15})).run()
    f = result.harvest_factors.set_index("month")
    assert f.manure["1958-10-01"] == pytest.approx(1.0, abs=1e-12)
    assert f.manure["1959-06-01"] == pytest.approx(0.8 ** 0.15, abs=1e-9)


def test_the_herds_are_targets_read_from_the_record(historical):
    """Year-end herds as shares of 1957's (NBS via a textbook excerpt; 1959's pigs from the 62.7% of
    《当代中国的畜牧业》): the historical run reports them by December and they are counted targets."""
    t = load_targets()
    pigs = t[t.name == "pigs"].set_index("year")
    draught = t[t.name == "draught_animals"].set_index("year")
    assert pigs.observed.to_dict() == pytest.approx({1959: 12045 / 14590, 1961: 7552 / 14590, 1962: 9997 / 14590,
                                                     1965: 16693 / 14590}, abs=1e-4)
    assert draught.observed.to_dict() == pytest.approx({1961: 6949 / 8382, 1962: 7020 / 8382, 1965: 8421 / 8382},
                                                       abs=1e-4)
    assert pigs.counted.all() and draught.counted.all()
    a = historical.annual_national.set_index("year")
    m = historical.monthly_national
    december = m[pd.DatetimeIndex(m.month).month == 12].set_index("year")
    assert (a.pigs_end == december.pigs).all() and (a.draught_animals_end == december.draught_animals).all()
    assert a.pigs_end[1957] == pytest.approx(1.0, abs=0.02) and a.pigs_end[1961] < 0.9
    assert a.pigs_end[1965] > a.pigs_end[1961] and a.draught_animals_end[1965] > a.draught_animals_end[1961]
