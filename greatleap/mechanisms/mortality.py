"""Mortality: baseline death rates, the hazard hunger adds, and the death draw.

Baseline m(x) takes its age shape from the UN WPP 2022 life tables for 1955-60 and its level
from the official 1957 registered CDR divided by death-registration completeness (true CDR =
registered / completeness), declining by ``mortality_decline_per_year`` after 1957; cities have
``urban_mortality_factor`` of the rural level, and each province's ordinary causes its own level
(:func:`provincial_level`: its registered CDR of 1955-57), raised in the countryside by ``worksite_mortality`` x
the share of the province's rural labor drafted to furnaces and water works that month (:func:`worksite_level`:
the works' dysentery, measles and exposure, at the sites and in the villages they emptied). Hunger adds a monthly hazard
natural x beta_age x depletion^gamma on the nation's baseline, plus starvation near exhaustion; a nursing child (< 2)
shares its mother's depletion, and an infant whose mother died faces ``orphan_infant_multiplier``.
Each person's hazards (baseline and hunger's) are multiplied by their frailty z, lognormal with mean 1 and
variance ``frailty_variance`` in ``FRAILTY_BINS`` equal-probability classes, theirs for life by a hash of their
id: a famine takes the frailest first, and those who survive it die less often than the people of 1957 did
(frailty is drawn at the same spread at every age, so the frail old also thin out in ordinary years). A
variance of 0 turns it off exactly.
"""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from greatleap import data
from greatleap.mechanisms.base import Mechanism, Series, per_member
from greatleap.mechanisms.demography import AGE_GROUPS
from greatleap.rules import rule
from greatleap.streams import STREAM_FRAILTY, uniform

NATURAL, FAMINE, VIOLENCE = 1, 2, 3  # causes of death
CAUSES = ("natural", "famine", "violence")
NURSING_AGE = 2  # years: a child this young shares its mother's hunger
# which hunger multiplier each age group of greatleap.mechanisms.demography.AGE_GROUPS takes
HUNGER_BETA_OF_GROUP = {"0": "child", "1-4": "child", "5-9": "adult", "10-14": "adult", "15-59": "adult", "60+": "old"}


@rule
def famine_hazard(natural, beta, gamma, depletion, starvation_hazard, starvation_threshold):
    """Monthly hazard added by hunger: natural x beta x depletion^gamma, plus starvation near exhaustion."""
    dg = depletion * depletion if gamma == 2.0 else depletion ** gamma
    h = natural * beta * dg
    if depletion > starvation_threshold:
        x = (depletion - starvation_threshold) / (1.0 - starvation_threshold)
        h += starvation_hazard * x * x
    return h


FRAILTY_BINS = 1024  # equal-probability classes of frailty: a person's class is one hash of their id


def frailty_table(variance: float) -> np.ndarray:
    """Frailty (ratio) of each of ``FRAILTY_BINS`` equal-probability classes of a lognormal with mean 1 and
    ``variance``: each class's conditional mean, so the table's mean is exactly 1 and its variance that of
    the lognormal less the small spread within classes (< 2% at variance 1). All ones at variance 0."""
    if variance <= 0.0:
        return np.ones(FRAILTY_BINS)
    sigma = math.sqrt(math.log(1.0 + variance))
    std = NormalDist()
    edges = [-math.inf] + [std.inv_cdf(k / FRAILTY_BINS) for k in range(1, FRAILTY_BINS)] + [math.inf]
    below = np.array([std.cdf(x - sigma) for x in edges])
    table = np.diff(below) * FRAILTY_BINS  # E[Z | class] = (Phi(b - sigma) - Phi(a - sigma)) x bins
    return table / table.mean()


@rule
def frailty(seed, uid, table):
    """A person's frailty (ratio, mean 1): the class their id hashes to, theirs for life; 1 when off."""
    if table[0] == 1.0:
        return 1.0  # variance 0: every class is 1 (a lognormal with variance > 0 has its lowest class < 1)
    return table[int(uniform(seed, STREAM_FRAILTY, 0, uid) * FRAILTY_BINS)]


@rule
def death_probability(total_hazard):
    """1 - exp(-hazard), with a series for the small hazards of most people (error < 1e-10)."""
    if total_hazard < 1e-3:
        return total_hazard * (1.0 - total_hazard * (0.5 - total_hazard / 6.0))
    return 1.0 - math.exp(-total_hazard)


@rule
def cause_of_death(u, natural, famine):
    """The cause of a death, from a uniform draw ``u`` scaled by the total hazard."""
    if u < natural:
        return NATURAL
    if u < natural + famine:
        return FAMINE
    return VIOLENCE


def urban_mix(urban_share: float, factor: float) -> float:
    """National level relative to the rural level when a share of people has ``factor`` x the rate."""
    return 1.0 - urban_share + urban_share * factor


def baseline_hazard(scenario, pyramid: np.ndarray, urban_share: float) -> np.ndarray:
    """Annual death rate m(x) by sex and age 0..110, scaled so the true 1957 CDR = registered / completeness."""
    from greatleap.mechanisms.registration import completeness
    mx = data.mortality_rates("1955-1960")
    target = scenario.population.registered_cdr_1957 / 1000.0 / completeness(
        scenario.registration.death_completeness, 1957)
    implied = float((pyramid * mx[:, :101]).sum()) * urban_mix(urban_share, scenario.population.urban_mortality_factor)
    return mx * (target / implied)


def provincial_level(index, weight, rural, urban, urban_factor):
    """Baseline mortality of each province relative to the nation's (ratio, (members, provinces)).

    ``index``: each province's pre-famine registered CDR, rural-equivalent, relative to the nation
    (provinces_1958.csv); ``weight`` (members,): the share of those differences that is mortality rather
    than registration, as an exponent; ``rural``, ``urban``: agents per province; ``urban_factor`` (members,).
    Rescaled so the nation's baseline deaths stay those the 1957 CDR calibrates.
    """
    level = np.asarray(index, float)[None, :] ** np.asarray(weight, float)[:, None]
    people = rural[None, :] + urban[None, :] * np.asarray(urban_factor, float)[:, None]
    return level * (people.sum(axis=1, keepdims=True) / (people * level).sum(axis=1, keepdims=True))


def worksite_level(level, drafted, worksite_mortality):
    """Ordinary mortality of rural places relative to the nation's (ratio): their province's ``level`` x
    (1 + ``worksite_mortality`` x the share of its rural labor ``drafted`` to furnaces and water works (0-1)).
    Each argument (members, communes) or broadcastable."""
    return level * (1.0 + worksite_mortality * drafted)


class Mortality(Mechanism):
    """Baseline hazards (with their decline), hunger's hazard, deaths by cause."""
    name = "mortality"
    phases = ("hazards",)

    def init(self, sim) -> None:
        w = sim.world
        for key, meaning in (("deaths", "deaths this month"), ("deaths_natural", "deaths from baseline causes"),
                             ("deaths_famine", "deaths from hunger"), ("deaths_violence", "violent deaths")):
            w.places.add(key, np.int64, 0, "agents", meaning, self.name)
        w.national.add("deaths_detail", np.int64, 0, "agents", "deaths by age group, class, hukou and cause",
                       self.name, extra=(len(AGE_GROUPS), 3, 2, 3))
        w.national.add("hazard_decline", fill=1.0, unit="ratio", meaning="baseline mortality relative to 1957", owner=self.name)
        lay = sim.layout
        w.places.add("mortality_level", fill=1.0, unit="ratio", meaning="the province's baseline mortality relative to "
                     "the nation's", owner=self.name)
        level = provincial_level(data.provinces().mortality_index.to_numpy(float),
                                 sim.params.mortality.provincial_level_weight, lay.rural.astype(float),
                                 lay.urban.astype(float), sim.params.population.urban_mortality_factor)
        w.places.mortality_level[:] = level[:, sim.geo.place_province]
        self.rural_level = w.places.mortality_level[:, : sim.geo.n_communes].copy()
        self.worksite = per_member(sim.params.mortality.worksite_mortality)
        urban_share = float(lay.urban.sum() / lay.n_agents)
        pyramid = sim.mechanism("demography").pyramid
        self.base_hazard = np.stack([baseline_hazard(s, pyramid, urban_share) for s in sim.scenarios])
        mo = sim.params.mortality
        beta = {"child": mo.hunger_beta_child, "adult": mo.hunger_beta_adult, "old": mo.hunger_beta_old}
        self.hunger_beta = np.stack([beta[HUNGER_BETA_OF_GROUP[g]] for g in AGE_GROUPS], axis=1)
        self.frailty = np.stack([frailty_table(v) for v in mo.frailty_variance])
        self.decline = sim.params.population.mortality_decline_per_year.tolist()

    def hazards(self, world, month) -> None:
        """Baseline mortality of the month relative to 1957, and the countryside's under the month's labor drafts."""
        years = max(0.0, month.year + (month.month - 1) / 12 - 1957)
        world.national.hazard_decline[:] = [(1.0 - d) ** years for d in self.decline]
        drafted = world.provinces.furnace_share + world.provinces.water_share
        world.places.mortality_level[:, : world.geo.n_communes] = worksite_level(
            self.rural_level, drafted[:, world.geo.commune_province], self.worksite)

    def series(self) -> list[Series]:
        return [Series("deaths", "persons", "deaths this month", "province_sector", lambda w: w.places.deaths, per_agent=True),
                Series("deaths", "persons", "deaths this month", "national", lambda w: w.places.deaths.sum(axis=1), per_agent=True),
                Series("deaths_famine", "persons", "deaths from hunger this month", "province_sector",
                       lambda w: w.places.deaths_famine, per_agent=True)]
