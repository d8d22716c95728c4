"""Procurement: the state collects its quota on real stocks at each harvest.

At a harvest the season's share of the annual quota (fixed in January from believed output:
:mod:`hierarchy`) is due. Under the flexible-quota counterfactual the plan is drawn on last
year's true output instead, and its rate (quota / that output) is taken of each true harvest: the
state still plans to cover its cities, army and exports, but on real output. What can be taken
is the accessible stock (a share ``concealment_max`` x bite x (1 - search) is hidden) above a
protected floor that shrinks with enforcement, harder in more radical provinces:
taken = clip(min(due, accessible - floor), 0), floor = min_retention x people x months to the
next harvest / 12 x (1 - enforcement), enforcement = lever x (1 + gain x (radicalism - 0.5)).
The state's extra purchases for the cities (:mod:`granaries`) stop at the same floor. Where the
quota bites (due / accessible), violence follows (:mod:`violence`). Units: kg (real).
"""
from __future__ import annotations

import numpy as np

from greatleap.calendar import harvest_calendar
from greatleap.mechanisms.base import Mechanism, Series, per_member

MAX_BITE = 2.0  # the bite (due / accessible stock) that counts for violence is capped here


def enforcement_of(enforcement_lever, gain, radicalism):
    """How hard collection is pressed (0..1): the lever, harder in more radical provinces."""
    return np.minimum(1.0, enforcement_lever * np.maximum(0.0, 1.0 + gain * (radicalism - 0.5)))


def protected_floor(min_retention_kg, people_real, months_left, enforcement):
    """Grain (kg) a collection leaves the commune: the retention standard to the next harvest, less
    what enforcement overrides."""
    return min_retention_kg * people_real * months_left / 12.0 * (1.0 - enforcement)


def collect(due, stock, people_real, months_left, enforcement_lever, search, radicalism, params):
    """Grain taken from each commune (kg) and the bite x enforcement that drives violence.

    ``params``: (min_retention_kg, radical_enforcement_gain, concealment_max), each (members, 1).
    """
    min_retention_kg, gain, concealment_max = params
    enforcement = enforcement_of(enforcement_lever, gain, radicalism)
    pressure = np.minimum(1.0, due / np.maximum(stock, 1.0))
    hidden = concealment_max * pressure * (1.0 - search)
    accessible = stock * (1.0 - hidden)
    floor = protected_floor(min_retention_kg, people_real, months_left, enforcement)
    taken = np.clip(np.minimum(due, accessible - floor), 0.0, None)
    bite = np.minimum(due / np.maximum(accessible, 1.0), MAX_BITE)
    return taken, bite * enforcement


class Procurement(Mechanism):
    """Quota collection at harvests, concealment and searches."""
    name = "procurement"
    phases = ("procure",)

    def init(self, sim) -> None:
        w = sim.world
        for key, meaning in (("procured", "grain taken by the state this month"),
                             ("due", "procurement due this month"),
                             ("bite", "procurement bite x enforcement (drives violence)")):
            w.places.add(key, unit="kg" if key != "bite" else "index", meaning=meaning, owner=self.name)
        pp = sim.params.procurement
        self.params = (per_member(pp.min_retention_kg), per_member(pp.radical_enforcement_gain),
                       per_member(pp.concealment_max))
        self.flexible = per_member(sim.params.planning.flexible_quotas).astype(bool)
        self.calendar = harvest_calendar()
        self.scale = sim.world.scale

    def procure(self, world, month) -> None:
        """The season's quota is collected where a harvest came in."""
        pl, geo, nc = world.places, world.geo, world.geo.n_communes
        pl.procured[:] = 0.0
        pl.due[:] = 0.0
        pl.bite[:] = 0.0
        if not self.calendar.harvesting(month.month).any():
            return
        prov = geo.commune_province
        season = self.calendar.harvest_share(month.month)[prov]
        due = np.where(self.flexible, pl.quota_rate[:, :nc] * pl.harvest[:, :nc], pl.quota[:, :nc] * season)
        months_left = self.calendar.months_to_next_harvest(month.month)[prov]
        taken, bite = collect(due, pl.stock[:, :nc], pl.pop[:, :nc] * self.scale, months_left,
                              month.lever("enforcement")[:, prov], month.lever("search")[:, prov],
                              world.provinces.radicalism[:, prov], self.params)
        pl.stock[:, :nc] -= taken
        pl.procured[:, :nc], pl.due[:, :nc], pl.bite[:, :nc] = taken, due, bite

    def series(self) -> list[Series]:
        return [Series("procured", "kg", "grain procured this month", "province_sector", lambda w: w.places.procured),
                Series("procured", "kg", "grain procured this month", "national", lambda w: w.places.procured.sum(axis=1)),
                Series("due", "kg", "procurement due this month", "national",
                       lambda w: w.places.due[:, : w.geo.n_communes].sum(axis=1))]
