"""Livestock: draught animals and pigs, lost in hunger and rebuilt after it; the pigs' manure feeds the fields.

Each province's herds are shares of their 1957 year-end size (large animals 83.82 M, pigs 145.90 M in
China; ``data/sources/china_livestock_1957_1965.csv``). Each month, with d the shortfall of the grain the
province's communes ate last month (1 - ration ratio, population-weighted) beyond ``HUNGER_THRESHOLD``,
first the losses, then the increase on what is left:
draught <- draught x (1 - min(draught_hunger_loss x d, MAX_MONTHLY_LOSS)), then + draught_recovery / 12 x (1 - draught);
pigs <- pigs x (1 - cull) x (1 - min(pig_hunger_loss x d, MAX_MONTHLY_LOSS)),
        then + plots x pig_growth / 12 x pigs x (1 - pigs / K_y),
K_y = 1 + pig_capacity_growth x (year - 1957) (a step each January). As the communes take in the households'
pigs (the commune lever rises to a level not reached before), ``pig_commune_cull`` x the rise is slaughtered at
once. Hungry people eat the grain and waste that fed the animals, and then the animals; the herds come back when
the hunger ends, the pigs by breeding (logistic) where households may raise them again (``plots``: the private
plots and sidelines lever; the collective pig farms of 1958-61 bred few), the draught animals slowly. Draught
animals work the fields (:mod:`greatleap.mechanisms.agriculture` multiplies them with the farm tools into farm
capital); the pigs at planting time manure the fields (``manure_elasticity``).
"""
from __future__ import annotations

import numpy as np

from greatleap.mechanisms.base import Mechanism, Series, by_province, per_member

HUNGER_THRESHOLD = 0.25     # ration shortfall beyond which the feed goes to people and the animals are eaten or starve
# (in 1957 the poorest provinces' leanest month ate ~0.75-0.8 of need: the usual lean months barely touch the herds)
MAX_MONTHLY_LOSS = 0.5      # share of a herd that can be lost in one month
HERDS = {"draught_animals": "draught animals (large animals: cattle, buffalo, horses, mules, donkeys, camels)",
         "pigs": "pigs"}


def rural_ration_shortfall(world) -> np.ndarray:
    """1 - the ration ratio (grain eaten / need) of each province's communes last month, population-weighted
    (members, provinces); negative where they ate more than their need."""
    nc, prov, n_prov = world.geo.n_communes, world.geo.commune_province, world.geo.n_provinces
    pop = world.places.pop[:, :nc].astype(float)
    fed = by_province(world.places.ration_ratio[:, :nc] * pop, prov, n_prov)
    return 1.0 - fed / np.maximum(by_province(pop, prov, n_prov), 1.0)


def herd_loss(loss_per_shortfall: np.ndarray, shortfall: np.ndarray) -> np.ndarray:
    """Share of a herd lost this month (members, provinces): ``loss_per_shortfall`` (members,) x the ration
    shortfall beyond ``HUNGER_THRESHOLD``, at most ``MAX_MONTHLY_LOSS``."""
    return np.minimum(per_member(loss_per_shortfall) * np.maximum(0.0, shortfall - HUNGER_THRESHOLD), MAX_MONTHLY_LOSS)


def pig_increase(pigs: np.ndarray, growth_per_year: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """The month's natural increase of the herd (share of 1957): logistic at ``growth_per_year`` (members,) toward
    ``capacity`` (members,), negative above it."""
    return per_member(growth_per_year) / 12.0 * pigs * (1.0 - pigs / per_member(capacity))


class Livestock(Mechanism):
    """Draught animals and pigs by province."""
    name = "livestock"
    phases = ("produce",)

    def init(self, sim) -> None:
        w, geo = sim.world, sim.geo
        for key, meaning in HERDS.items():
            w.provinces.add(key, fill=1.0, unit="share of 1957", meaning=meaning, owner=self.name)
        w.provinces.add("commune_reached", fill=0.0, unit="lever", meaning="the highest commune lever so far (pigs taken in)",
                        owner=self.name)
        w.national.add("pigs_at", fill=1.0, unit="share of 1957", meaning="pigs at the start of each month",
                       owner=self.name, extra=(sim.n_months, geo.n_provinces))
        self.p = sim.params.livestock
        # national herds: provinces weighted by their grain potential (the farm economy the animals serve)
        potential = by_province(w.places.potential[:, : geo.n_communes], geo.commune_province, geo.n_provinces)
        self.weight = potential / np.maximum(potential.sum(axis=1, keepdims=True), 1e-300)

    def produce(self, world, month) -> None:
        """The herds at the start of the month are kept for the harvests; hunger takes its share; they breed back."""
        pv, p = world.provinces, self.p
        world.national.pigs_at[:, month.t] = pv.pigs
        commune = month.lever("commune")
        if month.t == 0:  # no meals eaten yet; a run that starts under the communes took their pigs in before it
            shortfall = np.zeros_like(pv.pigs)
            pv.commune_reached[:] = commune
        else:  # last month's meals
            shortfall = rural_ration_shortfall(world)
        pv.draught_animals[:] = pv.draught_animals * (1.0 - herd_loss(p.draught_hunger_loss, shortfall))
        pv.draught_animals[:] += per_member(p.draught_recovery_per_year) / 12.0 * (1.0 - pv.draught_animals)
        capacity = 1.0 + p.pig_capacity_growth_per_year * (month.year - 1957.0)
        culled = per_member(p.pig_commune_cull) * np.maximum(0.0, commune - pv.commune_reached)
        pv.commune_reached[:] = np.maximum(pv.commune_reached, commune)
        pv.pigs[:] = pv.pigs * (1.0 - culled) * (1.0 - herd_loss(p.pig_hunger_loss, shortfall))
        pv.pigs[:] += month.lever("private_plots") * pig_increase(pv.pigs, p.pig_growth_per_year, capacity)

    def national_herd(self, world, key: str) -> np.ndarray:
        """A herd of China (members,): the provinces' shares of 1957 weighted by grain potential."""
        return (getattr(world.provinces, key) * self.weight).sum(axis=1)

    def series(self) -> list[Series]:
        return [Series(key, "share of 1957", f"{meaning} at the end of the month", "national",
                       lambda w, k=key: self.national_herd(w, k)) for key, meaning in HERDS.items()]
