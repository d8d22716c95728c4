"""Frailty: people differ in their risk of death, and a famine takes the frailest first."""
import math

import numpy as np
import pytest

from greatleap import Sim, load_scenario
from greatleap.mechanisms.mortality import frailty, frailty_sigma


def test_frailty_has_mean_one_and_the_variance_asked_for():
    """Lognormal frailty: mean 1 and the declared variance over many people; one fixed draw per person."""
    for variance in (0.3, 1.0):
        sigma = frailty_sigma(variance)
        z = np.array([frailty(7, uid, sigma) for uid in range(200_000)])
        assert z.mean() == pytest.approx(1.0, abs=0.01)
        assert z.var() == pytest.approx(variance, rel=0.08)
        assert frailty(7, 123, sigma) == frailty(7, 123, sigma) != frailty(8, 123, sigma)
    assert frailty_sigma(0.0) == 0.0 and frailty(7, 123, 0.0) == 1.0
    assert frailty_sigma(1.0) == pytest.approx(math.sqrt(math.log(2.0)))


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
