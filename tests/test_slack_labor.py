"""Field labor against the month's need: labor drafted in a slack month costs no grain, labor drafted at the peak
does (the winter water works of 1957-58 were built with the slack season's idle hands; the furnaces of autumn 1958
took the harvest's)."""
import numpy as np
import pytest

from greatleap import Sim, load_scenario
from greatleap.calendar import harvest_calendar
from greatleap.mechanisms.agriculture import field_labor_ratio


def test_labor_counts_against_the_months_need():
    labor = np.array([0.3, 0.69, 1.0, 1.2])
    # April needs 0.4 of the 1957 field workforce: 0.69 left after the works does it all; 0.3 does three quarters
    assert np.allclose(field_labor_ratio(labor, 0.4), [0.75, 1.0, 1.0, 1.2])
    # the peak needs everyone: every hand short is short, extra hands help as before
    assert np.allclose(field_labor_ratio(labor, 1.0), [0.3, 0.69, 1.0, 1.2])
    # continuous where the need is met exactly
    assert field_labor_ratio(np.array([0.4 - 1e-12]), 0.4)[0] == pytest.approx(1.0)


def test_the_calendar_peaks_at_one_and_winter_is_slack():
    demand = harvest_calendar().labor_demand
    assert demand.max() == 1.0 and demand.min() >= 0.0
    assert demand[[0, 1, 11]].max() <= 0.1  # December-February: a tenth of the peak's fieldwork


def _summer_1958(tmp_path, name: str, events: str) -> float:
    f = tmp_path / f"{name}.toml"
    f.write_text(f'extends = "historical"\nname = "{name}"\n[run]\nend = "1958-07"\nscale = 100000\n{events}')
    m = Sim(load_scenario(str(f)), seed=2).run().monthly_national
    return float(m.set_index("month").grain_harvest_mt.loc["1958-06-01"])


def test_the_winter_works_cost_the_summer_harvest_little_and_a_draft_at_the_peak_costs_it_much(tmp_path):
    event = '[[events]]\nlever = "waterworks_labor"\nstart = "{start}"\nend = "{end}"\nvalue = {value}\n'
    none = _summer_1958(tmp_path, "none", event.format(start="1957-11", end="1958-05", value=0.0))
    winter = _summer_1958(tmp_path, "winter", "")  # the record: 0.3 of rural labor November-April, Gansu 0.7
    may = _summer_1958(tmp_path, "may", event.format(start="1958-05", end="1958-05", value=0.3))
    # only Gansu, drafted beyond April's need, loses a little
    assert winter == pytest.approx(none, rel=0.01) and winter <= none
    # May is the peak of the wheat's fieldwork (1.0 of the season's 2.1 months of need, November-May): 0.3 of the
    # labor away that month leaves the season's labor at (1.1 + 0.7) / 2.1 of its need
    alpha = load_scenario("historical").agriculture.labor_elasticity
    assert may / winter == pytest.approx(((1.1 + 0.7) / 2.1) ** alpha, abs=0.005)
    assert may < 0.99 * winter
