"""Chemical fertiliser: the record's nutrients applied raise yields by a response per kg (agriculture)."""
import pytest

from greatleap import Sim, data, load_scenario
from greatleap.mechanisms.agriculture import MIN_FERTILISER_FACTOR, fertiliser_by_year, fertiliser_factor
from greatleap.scenario import ScenarioError


def test_the_factor_is_the_extra_grain_over_the_1957_output():
    # 10 kg of grain per kg of nutrients, 1.88 Mt more nutrients than in 1957: +18.8 Mt on 195 Mt
    assert fertiliser_factor(2.6045, 0.7279, 10.0, 195.05) == pytest.approx(1 + 18.766 / 195.05)
    assert fertiliser_factor(0.7279, 0.7279, 15.0, 195.05) == 1.0
    # a scenario whose 1957 fertiliser would out-produce its 1957 harvest cannot make a harvest negative
    assert fertiliser_factor(8.6, 18.8, 10.3, 97.6) == MIN_FERTILISER_FACTOR


def test_the_historical_table_is_the_record_held_at_1961_before():
    record, scen = data.chemical_fertiliser(), load_scenario("historical")
    assert record.loc[1961] == pytest.approx(7.04 * 103397000 / 1e9)
    assert record.loc[1966] == pytest.approx(36.46 * 102001000 / 1e9)
    table = scen.agriculture.chemical_fertiliser
    for year in range(1961, 1967):
        assert table[year] == pytest.approx(record.loc[year], abs=1e-4), year
    assert table[1957] == table[1961]
    factors = fertiliser_by_year(scen, range(1957, 1967))
    assert list(factors[:5]) == [1.0] * 5  # 1958-60 are absent: the 1957 level
    assert factors[8] == pytest.approx(1 + scen.agriculture.fertiliser_response * (2.6045 - 0.7279)
                                       / scen.agriculture.grain_base_mt, abs=1e-4)
    assert all(b > a for a, b in zip(factors[4:], factors[5:]))  # more every year 1962-66
    assert set(fertiliser_by_year(load_scenario("historical", **{"agriculture.chemical_fertiliser": {}}),
                                  range(1957, 1967))) == {1.0}


def test_the_harvest_rises_by_the_factor_of_its_year():
    short = {"run.end": "1962-07", "run.scale": 100000}
    low = load_scenario("historical", **short, **{"agriculture.fertiliser_response": 5.0})
    high = load_scenario("historical", **short, **{"agriculture.fertiliser_response": 15.0})
    r0, r1 = Sim(low, seed=2).run(), Sim(high, seed=2).run()
    h0 = r0.annual_national.set_index("year").grain_harvest_mt
    h1 = r1.annual_national.set_index("year").grain_harvest_mt
    for year in (1957, 1958, 1959, 1960, 1961):  # the same fertiliser as 1957: the same harvests
        assert h1.loc[year] == h0.loc[year]
    delta = (0.9898 - 0.7279) / low.agriculture.grain_base_mt
    assert h1.loc[1962] / h0.loc[1962] == pytest.approx((1 + 15 * delta) / (1 + 5 * delta), rel=1e-9)
    f = r1.harvest_factors.set_index("month").fertiliser
    assert f.iloc[-1] == pytest.approx(1 + 15 * delta) and f.iloc[0] == 1.0


def test_a_bad_amount_is_refused_with_the_year_and_the_range():
    with pytest.raises(ScenarioError, match=r"chemical_fertiliser.*1963.*0(\.0)? \.\. 20"):
        load_scenario("historical", **{"agriculture.chemical_fertiliser": {1963: -1.0}})
    with pytest.raises(ScenarioError, match=r"fertiliser_response.*30"):
        load_scenario("historical", **{"agriculture.fertiliser_response": 30.0})
