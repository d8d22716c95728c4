"""Frailty: people differ in their risk of death, and a famine takes the frailest first."""
import math

import numpy as np
import pytest

from greatleap import Sim, load_scenario
from greatleap.mechanisms.mortality import FRAILTY_BINS, frailty, frailty_table


def test_frailty_has_mean_one_and_the_variance_asked_for():
    """Lognormal frailty: mean 1 and the declared variance over many people; one fixed draw per person."""
    for variance in (0.3, 1.0):
        table = frailty_table(variance)
        assert table.mean() == pytest.approx(1.0, abs=1e-12) and np.all(np.diff(table) > 0)
        assert table.var() == pytest.approx(variance, rel=0.02)  # only the spread within each class is lost
        z = np.array([frailty(7, uid, table) for uid in range(200_000)])
        assert z.mean() == pytest.approx(1.0, abs=0.01)
        assert z.var() == pytest.approx(variance, rel=0.08)
        assert frailty(7, 123, table) == frailty(7, 123, table) != frailty(8, 123, table)
        # the median class of a lognormal with mean 1 sits at exp(-sigma^2 / 2)
        sigma = math.sqrt(math.log(1.0 + variance))
        assert table[FRAILTY_BINS // 2] == pytest.approx(math.exp(-0.5 * sigma * sigma), rel=0.01)
    off = frailty_table(0.0)
    assert np.all(off == 1.0) and frailty(7, 123, off) == 1.0


def test_the_famine_takes_the_frailest_and_leaves_the_survivors_stronger():
    """Same seed, same hazards on average: with frailty, 1957's deaths are the same to within noise, the
    famine's toll is smaller (the frail die first, and the rest are less susceptible), and after it the
    survivors die less often than without frailty (the record: registered CDR below its 1957 level in
    1961-62 where the famine was worst)."""
    def annual(variance):
        scenario = load_scenario("historical", **{"mortality.frailty_variance": variance, "run.end": "1963-12"})
        return Sim(scenario, scale=20000.0).run().annual_national.set_index("year")
    none, frail = annual(0.0), annual(1.0)
    assert frail.cdr_true.loc[1957] == pytest.approx(none.cdr_true.loc[1957], rel=0.05)
    assert frail.cdr_true.loc[1960] < none.cdr_true.loc[1960]
    assert frail.cdr_true.loc[1962:1963].mean() < 0.95 * none.cdr_true.loc[1962:1963].mean()
