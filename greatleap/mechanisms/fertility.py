"""Fertility: conception, pregnancy, birth, and the famine's hold on them.

Annual fertility by age takes its shape from the UN WPP 2022 ASFR for 1955-60 and its level
from the official 1957 registered CBR divided by birth-registration completeness. A woman at
risk conceives with monthly probability p, so a birth cycle lasts 1/p + 9 + postpartum months
(p = 1 / (12/b - 9 - postpartum)). Hunger lowers conception (famine amenorrhoea: conception x
1 - (h / ``hunger_zero_depletion``)^``hunger_exponent``, h the deeper of depletion and ``intake_weight``
x the current energy deficit; an exponent above 1 is a threshold: mild losses barely touch ovulation,
Frisch 1984) and raises fetal loss. Labor campaigns separate spouses (conception falls by
``separation_effect`` x the diverted share of rural labor), and the Leap's mobilisation itself (labor
armies, night work, women's heavy labor) lowers rural conception by ``mobilisation_effect`` x the
campaign's pressure above its 1957 level, before and apart from hunger. Births
that hunger prevented form a stock of postponed births. The stock waits for food: each month
``catchup_decay`` x release of it is settled, release = 1 - depletion / ``hunger_zero_depletion``
(the province's mean; 0 where conception stops). A share ``catchup_strength`` of what is settled
is made up: those couples (married late, or together again) try at ``catchup_fecundability`` a
month and raise conception while they try; the rest is given up. Marriages put off in 1959-61
were made in 1962 and their first births came in 1963 (Ashton et al. 1984; Peng 1987).
"""
from __future__ import annotations

import numpy as np

from greatleap import data
from greatleap.curves import interpolate, tabulate
from greatleap.levers import LEVERS
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


def amenorrhoea(hunger, hunger_zero_depletion, hunger_exponent):
    """Share of conception famine amenorrhoea leaves at ``hunger`` (0-1):
    1 - (hunger / ``hunger_zero_depletion``)^``hunger_exponent``, none from ``hunger_zero_depletion`` on."""
    return 1.0 - min(1.0, hunger / hunger_zero_depletion) ** hunger_exponent


def catchup_release(depletion, hunger_zero_depletion):
    """Share of the settling rate that acts (0-1): 1 - mean ``depletion`` (0-1) / ``hunger_zero_depletion``,
    at least 0. Postponed births wait until food returns."""
    return np.clip(1.0 - depletion / hunger_zero_depletion, 0.0, 1.0)


def timing_multiplier(separation_effect, diverted_share, mobilisation_effect, mobilisation, trying, fecundability,
                      baseline, population):
    """Multiplier on conception: spouses apart on the campaigns, the Leap's mobilisation, catch-up of
    postponed births.

    Arrays broadcast together; ``mobilisation``: the campaign's pressure above its 1957 level (0-1, 0 in
    towns); ``trying``: postponed births whose couples now try (agents), each conceiving at
    ``fecundability`` a month; ``baseline``: births per person-month at 1957 fertility; ``population``: agents now.
    """
    catchup = 1.0 + fecundability * trying / (baseline * np.maximum(population, 1.0))
    apart = np.maximum(0.0, 1.0 - separation_effect * diverted_share - mobilisation_effect * mobilisation)
    return apart * np.minimum(catchup, MAX_CATCHUP)


def postponed_after(catchup_decay, catchup_strength, fecundability, postponed, trying, baseline, population, births,
                    release):
    """The stocks after a month (agents): (postponed births, couples trying to make them up).

    ``catchup_decay`` x ``release`` of the postponed stock is settled, ``catchup_strength`` of that
    joins the couples trying, who leave as they conceive (``fecundability``); births hunger prevented
    this month (below ``baseline`` x ``population``, x (1 - ``release``)) join the postponed stock.
    """
    settled = postponed * catchup_decay * release
    return (postponed - settled + np.maximum(0.0, baseline * population - births) * (1.0 - release),
            trying * (1.0 - fecundability) + catchup_strength * settled)


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
        w.provinces.add("postponed_births", unit="agents", meaning="births hunger put off, not yet settled", owner=self.name)
        w.provinces.add("catchup_trying", unit="agents", meaning="postponed births whose couples now try to make them up",
                        owner=self.name)
        w.places.add("fertility_multiplier", fill=1.0, unit="ratio",
                     meaning="timing of conceptions: spouses apart, mobilisation, catch-up", owner=self.name)
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
        self.amenorrhoea = np.stack([tabulate(
            lambda d, z=s.fertility.hunger_zero_depletion, e=s.fertility.hunger_exponent: amenorrhoea(d, z, e))
            for s in sim.scenarios])
        self.baseline = per_member([s.population.registered_cbr_1957 / 1000.0 / 12.0
                                    / completeness(s.registration.birth_completeness, 1957) for s in sim.scenarios])
        fp = sim.params.fertility
        self.separation, self.catchup = per_member(fp.separation_effect), per_member(fp.catchup_strength)
        self.mobilisation = per_member(fp.mobilisation_effect)
        self.decay, self.fecundability = per_member(fp.catchup_decay), per_member(fp.catchup_fecundability)
        self.zero_depletion = per_member(fp.hunger_zero_depletion)

    def hazards(self, world, month) -> None:
        """Conception timing by place: spouses apart on the campaigns and the Leap's mobilisation (communes),
        catch-up of postponed births."""
        geo, pv = world.geo, world.provinces
        rural = geo.place_is_city == 0
        diverted = np.where(rural, (pv.furnace_share + pv.water_share)[:, geo.place_province], 0.0)
        pressure = np.maximum(0.0, month.lever("campaign") - LEVERS["campaign"].default)
        mobilisation = np.where(rural, pressure[:, geo.place_province], 0.0)
        pop = by_province(world.places.pop.astype(float), geo.place_province, geo.n_provinces)
        world.places.fertility_multiplier[:] = timing_multiplier(
            self.separation, diverted, self.mobilisation, mobilisation, pv.catchup_trying[:, geo.place_province],
            self.fecundability, self.baseline, pop[:, geo.place_province])

    def account(self, world, month) -> None:
        """Births that hunger prevented join each province's stock of postponed births; as food returns
        the stock is settled, and the couples who make up their births try."""
        geo, pl, pv = world.geo, world.places, world.provinces
        pop = by_province(pl.pop.astype(float), geo.place_province, geo.n_provinces)
        births = by_province(pl.births.astype(float), geo.place_province, geo.n_provinces)
        reserve = by_province(pl.reserve_sum, geo.place_province, geo.n_provinces)
        release = catchup_release(1.0 - reserve / np.maximum(pop, 1.0), self.zero_depletion)
        pv.postponed_births[:], pv.catchup_trying[:] = postponed_after(
            self.decay, self.catchup, self.fecundability, pv.postponed_births, pv.catchup_trying, self.baseline, pop,
            births, release)

    def series(self) -> list[Series]:
        return [Series("births", "persons", "births this month", "province_sector", lambda w: w.places.births, per_agent=True),
                Series("births", "persons", "births this month", "national", lambda w: w.places.births.sum(axis=1),
                       per_agent=True)]
