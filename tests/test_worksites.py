"""The works' own deaths: ordinary mortality in the countryside rises with the share of its labor drafted to
furnaces and water works (mortality.worksite_mortality; the edema, dysentery and measles of Yunnan and Gansu in 1958)."""
import numpy as np

from greatleap import Sim, load_scenario
from greatleap.mechanisms.mortality import worksite_level


def test_the_level_rises_in_proportion_to_the_share_drafted():
    level = np.array([[0.8, 1.0, 1.3]])
    assert np.allclose(worksite_level(level, np.array([[0.0, 0.3, 0.7]]), 0.5), [[0.8, 1.15, 1.755]])
    assert np.array_equal(worksite_level(level, np.array([[0.2, 0.3, 0.7]]), 0.0), level)


def _level_in(month: str, worksite: float) -> tuple[Sim, np.ndarray]:
    sim = Sim(load_scenario("historical", **{"run.end": "1958-06", "run.scale": 20000,
                                             "mortality.worksite_mortality": worksite}), seed=1)
    sim.run(until=month)
    return sim, sim.world.places.mortality_level[0].copy()


def test_the_winter_works_of_1957_58_raise_the_countrysides_ordinary_mortality():
    sim, calm = _level_in("1957-06", 1.0)  # no works before November 1957: the province's own level
    _, drafted = _level_in("1958-02", 1.0)  # water works: 0.3 of rural labor nationally, 0.7 in Gansu
    nc, prov = sim.geo.n_communes, sim.geo.commune_province
    gansu = prov == sim.geo.province_names.index("Gansu")
    henan = prov == sim.geo.province_names.index("Henan")
    assert np.allclose(drafted[:nc][gansu], calm[:nc][gansu] * 1.7)
    assert np.allclose(drafted[:nc][henan], calm[:nc][henan] * 1.3)
    assert np.array_equal(drafted[nc:], calm[nc:])  # towns sent no one


def test_the_works_add_deaths_and_none_before_them():
    def deaths(worksite):
        m = Sim(load_scenario("historical", **{"run.end": "1958-04", "run.scale": 5000,
                                               "mortality.worksite_mortality": worksite}), seed=1).run().monthly_national
        return m.set_index("month").deaths
    off, on = deaths(0.0), deaths(1.0)
    assert off.iloc[:10].tolist() == on.iloc[:10].tolist()  # January-October 1957: no one drafted, the same draws
    assert on.iloc[-4:].sum() > 1.15 * off.iloc[-4:].sum()  # January-April 1958: 0.3 of labor on the works
