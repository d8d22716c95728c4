"""The grain sown area: the record's area and the Leap's fallowing, land leaving grain at marginal yield."""
import numpy as np
import pytest

from greatleap import Sim, data, load_scenario
from greatleap.mechanisms.agriculture import MIN_SOWN_SHARE, sown_area_factor, sown_land
from greatleap.scenario import ScenarioError


def test_land_leaves_grain_at_its_marginal_yield():
    one = np.array([1.0])
    assert sown_area_factor(one, 0.0, 0.6) == pytest.approx(1.0)
    # the record's 1959 area (0.868 of 1957) at marginal yield 0.6 loses 7.9% of output, not 13.2%
    assert sown_area_factor(np.array([0.868]), 0.0, 0.6) == pytest.approx(1 - 0.132 * 0.6)
    assert sown_area_factor(np.array([0.868]), 0.0, 1.0) == pytest.approx(0.868)
    # fallowing a tenth of the land sown, at half the average yield, and new land joining at marginal yield
    assert sown_area_factor(one, np.array([[0.1, 0.0]]), 0.5)[0] == pytest.approx([0.95, 1.0])
    assert sown_area_factor(np.array([1.1]), 0.0, 0.5) == pytest.approx(1.05)


def test_the_historical_area_is_the_record_and_its_1959_dip_is_the_fallowing():
    record, scen = data.sown_area(), load_scenario("historical")
    table = scen.agriculture.sown_area
    assert record.loc[1957] == 1.0 and record.loc[1959] == pytest.approx(0.868, abs=5e-4)
    for year, value in table.items():
        if year != 1959:
            assert value == pytest.approx(record.loc[year], abs=5e-4), year
    fallow = [ev for ev in scen.events if ev.lever == "fallow"]
    assert len(fallow) == 1 and (fallow[0].start, fallow[0].end) == ("1958-10", "1959-09")
    sim = Sim(scen, scale=100000, seed=1)
    adoption, potential = sim.mechanism("agriculture").adoption, sim.world.places.potential[0, : sim.geo.n_communes]
    mean_adoption = float((adoption * potential).sum() / potential.sum())
    assert table[1959] * (1 - fallow[0].value * mean_adoption) == pytest.approx(record.loc[1959], rel=5e-3)
    assert set(load_scenario("no_great_leap").agriculture.sown_area.values()) == {1.0}


def _june_1958(**overrides):
    """The summer harvest of 1958 (Mt) and its factors."""
    short = {"run.end": "1958-07", "run.scale": 100000, "agriculture.marginal_yield": 0.5}
    r = Sim(load_scenario("historical", **short, **overrides), seed=3).run()
    h = r.harvest_factors
    factors = h[h.month.astype(str).str.startswith("1958-06")].iloc[0]
    return r.annual_national.set_index("year").grain_harvest_mt, factors


def test_a_smaller_area_lowers_the_harvest_of_its_year_by_the_factor():
    h0, f0 = _june_1958()  # the record: 0.955 in 1958
    h1, f1 = _june_1958(**{"agriculture.sown_area": {1958: 0.8}})
    assert h1.loc[1957] == h0.loc[1957]
    area = (1 - 0.2 * 0.5) / (1 - (1 - 0.955) * 0.5)
    alpha = load_scenario("historical").agriculture.labor_elasticity
    # the area's factor, and the same hands on less land: more labor per hectare, a smaller harvest loss
    labor = (f1.season_labor / f0.season_labor) ** alpha * (1 - f1.harvest_loss) / (1 - f0.harvest_loss)
    assert f1.season_labor > f0.season_labor and f1.harvest_loss <= f0.harvest_loss
    # (the factors are means over communes, so their product matches the harvests' ratio to within their spread)
    assert h1.loc[1958] / h0.loc[1958] == pytest.approx(area * labor, rel=1e-3)
    assert area < h1.loc[1958] / h0.loc[1958] < 1.0


def test_labor_counts_per_hectare_sown(tmp_path):
    """Constant returns to land and labor: a fifth less land worked by a fifth fewer hands needs no more labor per
    hectare than before; a fifth fewer hands on the same land are a fifth short at the peak."""
    assert sown_land(np.array([0.868]), np.zeros((1, 1)))[0, 0] == pytest.approx(0.868)
    assert sown_land(np.array([0.936]), np.array([[0.073, 0.0]]))[0] == pytest.approx([0.936 * 0.927, 0.936])
    assert sown_land(np.array([0.0]), np.zeros((1, 1)))[0, 0] == MIN_SOWN_SHARE

    def season_labor(area: float, draft: float) -> float:
        f = tmp_path / f"s{area}_{draft}.toml"
        f.write_text(f'extends = "historical"\nname = "s"\n[run]\nend = "1958-07"\nscale = 100000\n'
                     f'[agriculture.sown_area]\n1958 = {area}\n[[events]]\nlever = "waterworks_labor"\n'
                     f'start = "1957-11"\nend = "1958-06"\nvalue = {draft}\n')
        h = Sim(load_scenario(str(f)), seed=2).run().harvest_factors
        return float(h[h.month.astype(str).str.startswith("1958-06")].season_labor.iloc[0])

    full = season_labor(1.0, 0.0)
    assert season_labor(0.8, 0.2) == pytest.approx(full, abs=0.02)
    assert season_labor(1.0, 0.2) < full - 0.08
    assert season_labor(0.8, 0.0) > full + 0.15  # the same hands on less land


def test_a_bad_area_is_refused_with_the_year_and_the_range():
    with pytest.raises(ScenarioError, match=r"sown_area.*1960.*0\.5 \.\. 1\.5"):
        load_scenario("historical", **{"agriculture.sown_area": {1960: 0.2}})
