"""Procurement: the state collects its quota on real stocks from each harvest on.

At a harvest the season's share of the annual quota (fixed in January from believed output, and redrawn at the
autumn harvest where the ``quota_redraw`` lever says so, off in the history: :mod:`hierarchy`) falls due, and a share ``collection_share_per_month`` of what is still outstanding
(what the floor held back included) is called that month and each month after, until the season's
next harvest forgives the rest: the autumn quota came in over the winter, and the famine peaked in
the spring. Under the flexible-quota counterfactual the plan is drawn on last year's true output
instead, and its rate (quota / that output) is taken of each true harvest: the state still plans
to cover its cities, army and exports, but on real output. What can be taken
is the accessible stock (a share ``concealment_max`` x bite x (1 - search) is hidden) above a
protected floor that shrinks with enforcement, harder in more radical provinces:
taken = clip(min(due, accessible - floor), 0), floor = min_retention x people x months to the
next harvest / 12 x (1 - enforcement), enforcement = lever x (1 + gain x (radicalism - 0.5)).
The part of the quota that pays the state's commitments (urban rations, army, exports: the share
``committed_share`` the January plan set aside for them, :mod:`hierarchy`) is collected down to the
lower of that floor and ``commitment_floor_kg`` to the next harvest, whatever the climate: the
cities were fed first in every year, the retreat included; the rest of the quota stops at the
floor. The state's extra purchases for the cities (:mod:`granaries`) stop at the same lower floor.
Where the quota bites (the outstanding quota / accessible), violence follows (:mod:`violence`). Units: kg (real).
"""
from __future__ import annotations

import math

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


def commitment_floor(floor, commitment_floor_kg, people_real, months_left):
    """Grain (kg) a collection for the state's commitments leaves: the lower of the procurement
    ``floor`` and ``commitment_floor_kg`` (kg/person/year) to the next harvest."""
    return np.minimum(floor, protected_floor(commitment_floor_kg, people_real, months_left, 0.0))


def collect(due, stock, people_real, months_left, enforcement_lever, search, radicalism, params, committed=0.0,
            outstanding=None):
    """Grain taken from each commune (kg) and the bite x enforcement that drives violence.

    ``params``: (min_retention_kg, radical_enforcement_gain, concealment_max, commitment_floor_kg),
    each (members, 1). ``committed`` (share, (members, 1)): the part of ``due`` that pays the state's
    commitments, collected first and down to :func:`commitment_floor`; the rest stops at the floor.
    ``outstanding`` (kg, default ``due``): the season's quota still owed, which sets the pressure to hide and the bite.
    """
    min_retention_kg, gain, concealment_max, commitment_floor_kg = params
    enforcement = enforcement_of(enforcement_lever, gain, radicalism)
    owed = due if outstanding is None else outstanding
    pressure = np.minimum(1.0, owed / np.maximum(stock, 1.0))
    hidden = concealment_max * pressure * (1.0 - search)
    accessible = stock * (1.0 - hidden)
    floor = protected_floor(min_retention_kg, people_real, months_left, enforcement)
    first = np.clip(np.minimum(due * committed, accessible - commitment_floor(floor, commitment_floor_kg,
                                                                               people_real, months_left)), 0.0, None)
    taken = first + np.clip(np.minimum(due - first, accessible - first - floor), 0.0, None)
    bite = np.minimum(owed / np.maximum(accessible, 1.0), MAX_BITE)
    return taken, bite * enforcement


class Procurement(Mechanism):
    """Quota collection at harvests, concealment and searches."""
    name = "procurement"
    phases = ("procure",)

    def init(self, sim) -> None:
        w = sim.world
        for key, meaning in (("procured", "grain taken by the state this month"),
                             ("due", "procurement called this month"),
                             ("bite", "procurement bite x enforcement (drives violence)")):
            w.places.add(key, unit="kg" if key != "bite" else "index", meaning=meaning, owner=self.name)
        w.places.add("outstanding", unit="kg", meaning="the season's quota not yet collected", owner=self.name)
        pp = sim.params.procurement
        self.params = (per_member(pp.min_retention_kg), per_member(pp.radical_enforcement_gain),
                       per_member(pp.concealment_max), per_member(pp.commitment_floor_kg))
        self.flexible = per_member(sim.params.planning.flexible_quotas).astype(bool)
        self.collection_share = per_member(pp.collection_share_per_month)
        self.calendar = harvest_calendar()
        self.scale = sim.world.scale

    def procure(self, world, month) -> None:
        """A harvest sets the season's quota outstanding; a share of what is outstanding is collected each month."""
        pl, geo, nc = world.places, world.geo, world.geo.n_communes
        pl.procured[:] = 0.0
        pl.due[:] = 0.0
        pl.bite[:] = 0.0
        prov = geo.commune_province
        harvesting = self.calendar.harvesting(month.month)
        if harvesting.any():
            season = self.calendar.harvest_share(month.month)[prov]
            due = np.where(self.flexible, pl.quota_rate[:, :nc] * pl.harvest[:, :nc], pl.quota[:, :nc] * season)
            pl.outstanding[:, :nc] = np.where(harvesting[prov], due, pl.outstanding[:, :nc])
        if month.t == 0:
            pl.outstanding[:, :nc] += self._carried_in(pl.quota[:, :nc], month.month, prov)
        outstanding = pl.outstanding[:, :nc]
        if not outstanding.any():
            return
        due = outstanding * self.collection_share
        committed = per_member(np.where(self.flexible[:, 0], world.national.committed_share_true,
                                        world.national.committed_share))
        months_left = self.calendar.months_to_next_harvest(month.month)[prov]
        taken, bite = collect(due, pl.stock[:, :nc], pl.pop[:, :nc] * self.scale, months_left,
                              month.lever("enforcement")[:, prov], month.lever("search")[:, prov],
                              world.provinces.radicalism[:, prov], self.params, committed, outstanding)
        pl.stock[:, :nc] -= taken
        outstanding -= taken
        pl.procured[:, :nc], pl.due[:, :nc], pl.bite[:, :nc] = taken, due, bite

    def _carried_in(self, quota, month: int, prov) -> np.ndarray:
        """What a run that starts in ``month`` still owes of the last season's quota (kg by commune): that
        season's share of this year's ``quota``, fallen due at its harvest and collected at the monthly share since."""
        since, share = self.calendar.last_harvest(month)
        left = np.array([[math.pow(1.0 - c, int(m)) if m < 12 else 0.0 for m in since]
                         for c in self.collection_share[:, 0]])
        return quota * (share * left)[:, prov]

    def series(self) -> list[Series]:
        return [Series("procured", "kg", "grain procured this month", "province_sector", lambda w: w.places.procured),
                Series("procured", "kg", "grain procured this month", "national", lambda w: w.places.procured.sum(axis=1)),
                Series("due", "kg", "procurement called this month (a share of what is outstanding)", "national",
                       lambda w: w.places.due[:, : w.geo.n_communes].sum(axis=1))]
