"""The Leap's mobilisation lowers rural conception apart from hunger (fertility.mobilisation_effect)."""
import pandas as pd

from greatleap import Sim, load_scenario


def _run(preset: str, effect: float):
    """``preset`` to December 1959 at scale 20,000 (seed 3) with the mobilisation effect at ``effect``."""
    scen = load_scenario(preset, **{"run.end": "1959-12", "run.scale": 20000, "fertility.mobilisation_effect": effect})
    return Sim(scen, seed=3).run()


def _births(effect: float) -> pd.DataFrame:
    m = _run("historical", effect).monthly_province
    m = m.assign(year=pd.to_datetime(m.month).dt.year)
    return m.groupby(["year", "sector"]).births.sum().unstack("sector")


def test_the_campaign_lowers_rural_births_from_its_start_and_leaves_1957_alone():
    off, on = _births(0.0), _births(0.3)
    # before the campaign rises above its 1957 level (November 1957), and nine months on, nothing changes
    assert on.loc[1957].tolist() == off.loc[1957].tolist()
    # births of 1959 were conceived under the full campaign (pressure ~0.6-0.9 above 1957): about a fifth fewer
    drop = 1.0 - on.loc[1959, "rural"] / off.loc[1959, "rural"]
    assert 0.12 < drop < 0.35
    # 1958's births were conceived mostly before the campaign: a smaller fall
    assert 0.0 < 1.0 - on.loc[1958, "rural"] / off.loc[1958, "rural"] < drop / 2


def test_no_mobilisation_without_the_campaign():
    """With every lever at its 1957 default (no_great_leap) the effect has nothing to act on."""
    def births(effect: float) -> list:
        return _run("no_great_leap", effect).monthly_national.births.tolist()
    assert births(0.0) == births(0.5)
