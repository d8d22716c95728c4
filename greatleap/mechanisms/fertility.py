"""Fertility: conception, pregnancy, birth, and the famine's hold on them.

Annual fertility by age takes its shape from the UN WPP 2022 ASFR for 1955-60 and its level
from the official 1957 registered CBR divided by birth-registration completeness. A woman at
risk conceives with monthly probability p, so a birth cycle lasts 1/p + 9 + postpartum months
(p = 1 / (12/b - 9 - postpartum)). Hunger lowers conception (famine amenorrhoea: the deeper of
depletion and ``intake_weight`` x the current energy deficit, through ``hunger_zero_depletion``
and ``hunger_exponent``) and raises fetal loss. Nationally, labor campaigns separate spouses
(conception falls by ``separation_effect`` x the diverted share of rural labor), and births
that hunger prevented form a stock of postponed births that raises conception afterwards
(``catchup_strength``, decaying at ``catchup_decay`` per month).
"""
from __future__ import annotations

import numpy as np

from greatleap import data
from greatleap.curves import interpolate, tabulate
from greatleap.mechanisms.base import Mechanism, Series, by_province, per_member
from greatleap.mechanisms.mortality import urban_mix
from greatleap.rules import rule
from greatleap.streams import STREAM_INITIAL_PREGNANCY, uniform_array
from greatleap.traits import SEX, code_of
from greatleap.world import map_slices

GESTATION = 9          # months
MAX_CATCHUP = 1.8      # conception is never raised more than this by postponed births


@rule
def fetal_loss_probability(fetal_loss_hunger, depletion):
    """Monthly probability that a pregnancy ends in fetal loss (rises with depletion^2)."""
    return fetal_loss_hunger * depletion * depletion


@rule
def conception_probability(base, multiplier, is_city, urban_factor, depletion, intake_weight, intake_ratio,
                           amenorrhoea_curves, member):
    """Monthly conception probability of a woman at risk: base x timing x (urban) x famine amenorrhoea."""
    p = base * multiplier
    if p <= 0.0:
        return 0.0
    if is_city == 1:
        p *= urban_factor
    # amenorrhoea follows the energy balance: the deeper of depletion and the current deficit
    hunger = max(depletion, intake_weight * (1.0 - intake_ratio))
    return p * interpolate(amenorrhoea_curves, member, hunger)


def timing_multiplier(separation_effect, catchup_strength, diverted_share, postponed, baseline, population):
    """Multiplier on conception: spouses apart on the campaigns, catch-up of postponed births.

    Arrays broadcast together; ``baseline``: births per person-month at 1957 fertility;
    ``population``: agents now; ``postponed``: births put off (agents).
    """
    catchup = 1.0 + catchup_strength * postponed / (baseline * 12.0 * np.maximum(population, 1.0))
    return np.maximum(0.0, 1.0 - separation_effect * diverted_share) * np.minimum(catchup, MAX_CATCHUP)


def postponed_after(catchup_decay, postponed, baseline, population, births):
    """Postponed births after a month: the stock decays; births hunger prevented join it."""
    return postponed * (1.0 - catchup_decay) + np.maximum(0.0, baseline * population - births)


def conception_table(scenario, pyramid: np.ndarray, urban_share: float) -> tuple[np.ndarray, np.ndarray]:
    """Monthly conception probability of a woman at risk by age, and annual fertility by age."""
    from greatleap.mechanisms.registration import completeness
    asfr = data.fertility_rates("1955-1960")
    target = scenario.population.registered_cbr_1957 / 1000.0 / completeness(
        scenario.registration.birth_completeness, 1957)
    implied = float((pyramid[1] * asfr[:101]).sum()) * urban_mix(urban_share, scenario.population.urban_fertility_factor)
    annual = asfr * (target / implied)
    fixed = GESTATION + scenario.fertility.postpartum_months
    with np.errstate(divide="ignore"):
        waiting = np.where(annual > 0, 12.0 / np.maximum(annual, 1e-12) - fixed, np.inf)
    monthly = np.where(annual > 0, 1.0 / np.maximum(waiting, 1.0), 0.0)
    return monthly, annual


def initial_pregnancies(annual: np.ndarray, age_y: np.ndarray, female: np.ndarray, u: np.ndarray,
                        postpartum_months: int) -> np.ndarray:
    """Pregnancy states at the renewal equilibrium of each woman's birth cycle (>0 pregnant, <0 postpartum)."""
    fixed = GESTATION + postpartum_months
    b = annual[np.minimum(age_y, 110)]
    cycle = np.where(b > 0, 12.0 / np.maximum(b, 1e-12), np.inf)
    u = u * cycle
    preg = np.zeros(age_y.shape[0], np.int8)
    pregnant = female & (u < GESTATION)
    postpartum = female & (u >= GESTATION) & (u < fixed)
    preg[pregnant] = (1 + np.floor(u[pregnant])).astype(np.int8)
    preg[postpartum] = -(1 + np.floor(u[postpartum] - GESTATION)).astype(np.int8)
    return preg


class Fertility(Mechanism):
    """Pregnancy states, conception tables, and the national timing of conceptions."""
    name = "fertility"
    phases = ("hazards", "account")

    def init(self, sim) -> None:
        from greatleap.mechanisms.registration import completeness
        w, lay = sim.world, sim.layout
        w.people.add("preg", np.int8, 0, "months", ">0 months pregnant, <0 months postpartum-infecund, 0 at risk", self.name)
        w.places.add("births", np.int64, 0, "agents", "births this month", self.name)
        w.provinces.add("postponed_births", unit="agents", meaning="births hunger put off, not yet made up", owner=self.name)
        w.places.add("fertility_multiplier", fill=1.0, unit="ratio",
                     meaning="timing of conceptions: spouses apart, catch-up", owner=self.name)
        urban_share = float(lay.urban.sum() / lay.n_agents)
        pyramid = sim.mechanism("demography").pyramid
        tables = [conception_table(s, pyramid, urban_share) for s in sim.scenarios]
        self.conception = np.stack([monthly for monthly, _ in tables])
        for m, scen in enumerate(sim.scenarios):  # setup only: once per member and slice of agents
            def draw(s: slice, m=m, scen=scen) -> None:
                u = uniform_array(scen.run.seed, STREAM_INITIAL_PREGNANCY, 0, np.arange(s.start, s.stop, dtype=np.int64))
                age_y = w.people.age_m[m, s] // 12
                female = code_of(w.people.traits[m, s], SEX) == 1
                w.people.preg[m, s] = initial_pregnancies(tables[m][1], age_y.astype(np.int64), female,
                                                          u, scen.fertility.postpartum_months)
            map_slices(lay.n_agents, draw)
        self.amenorrhoea = np.stack([
            tabulate(lambda d, z=s.fertility.hunger_zero_depletion, e=s.fertility.hunger_exponent: max(0.0, 1.0 - d / z) ** e)
            for s in sim.scenarios])
        self.baseline = per_member([s.population.registered_cbr_1957 / 1000.0 / 12.0
                                    / completeness(s.registration.birth_completeness, 1957) for s in sim.scenarios])
        fp = sim.params.fertility
        self.separation, self.catchup = per_member(fp.separation_effect), per_member(fp.catchup_strength)
        self.decay = per_member(fp.catchup_decay)

    def hazards(self, world, month) -> None:
        """Conception timing by place: spouses apart on the campaigns (communes), catch-up of postponed births."""
        geo, pv = world.geo, world.provinces
        diverted = np.where(geo.place_is_city == 1, 0.0,
                            (pv.furnace_share + pv.water_share)[:, geo.place_province])
        pop = by_province(world.places.pop.astype(float), geo.place_province, geo.n_provinces)
        world.places.fertility_multiplier[:] = timing_multiplier(
            self.separation, self.catchup, diverted, pv.postponed_births[:, geo.place_province], self.baseline,
            pop[:, geo.place_province])

    def account(self, world, month) -> None:
        """Births that hunger prevented join each province's stock of postponed births, which decays."""
        geo, pl = world.geo, world.places
        pop = by_province(pl.pop.astype(float), geo.place_province, geo.n_provinces)
        births = by_province(pl.births.astype(float), geo.place_province, geo.n_provinces)
        world.provinces.postponed_births[:] = postponed_after(self.decay, world.provinces.postponed_births, self.baseline,
                                                              pop, births)

    def series(self) -> list[Series]:
        return [Series("births", "persons", "births this month", "province_sector", lambda w: w.places.births, per_agent=True),
                Series("births", "persons", "births this month", "national", lambda w: w.places.births.sum(axis=1),
                       per_agent=True)]
