"""Hukou and movement: recruitment to town, send-downs to the land, and flight from hunger.

Household registration (hukou) ties peasants to their commune. Rural people move only when
recruited by state industry (they move to their province's city and get urban hukou; lever
``recruitment``) or when they flee: a hungry rural person attempts flight with monthly
probability ``escape_rate`` x depletion^2 (above FLIGHT_DEPLETION), succeeds with a probability
that falls from ``escape_success_free`` to ``escape_success_enforced`` as hukou enforcement
(lever ``hukou``) rises, and goes to the best-fed of FLIGHT_CANDIDATES communes drawn at random
(if better than home). Urban workers are sent down to a random commune of their province
(lever ``senddown``; the 1961-63 return of ~20 M workers).
"""
from __future__ import annotations

import numpy as np

from greatleap.mechanisms.base import Mechanism, Series
from greatleap.rules import rule
from greatleap.streams import STREAM_RECRUITMENT, uniform
from greatleap.traits import HUKOU, with_code
from greatleap.world import map_slices

FLIGHT_DEPLETION = 0.2   # depletion (1 - reserve share) below which nobody flees
FLIGHT_CANDIDATES = 3    # communes a fugitive compares


@rule
def moves_this_month(rate, seed, step, uid):
    """True if the person is recruited (or sent down) this month: a draw from the person's
    recruitment stream falls under the monthly ``rate`` (no draw when the rate is 0)."""
    return rate > 0.0 and uniform(seed, STREAM_RECRUITMENT, step, uid) < rate


@rule
def send_down_place(u, first_commune, n_communes):
    """The commune (place index) a sent-down worker goes to: uniform over the province's communes."""
    k = int(u * n_communes)
    return first_commune + min(k, n_communes - 1)


@rule
def flight_probability(hukou, depletion, escape_rate):
    """Monthly probability that a person attempts flight (rural people above FLIGHT_DEPLETION only)."""
    if hukou == 0 and depletion > FLIGHT_DEPLETION and escape_rate > 0.0:
        return escape_rate * depletion * depletion
    return 0.0


@rule
def newborn_hukou(mother_hukou):
    """A child's registration follows the mother's."""
    return mother_hukou


def place_dtype(n_places: int) -> np.dtype:
    """The smallest integer type that holds every place index: 2 bytes a person up to 65,536 places."""
    return np.dtype(np.uint16 if n_places <= 2 ** 16 else np.int32)


def escape_success(free, enforced, hukou_lever):
    """Probability that an attempted flight succeeds, by hukou enforcement (0..1)."""
    return free * (1.0 - hukou_lever) + enforced * hukou_lever


class Migration(Mechanism):
    """Where people live and their hukou; recruitment, send-downs and flight."""
    name = "migration"
    phases = ("prepare", "hazards")

    def init(self, sim) -> None:
        w = sim.world
        w.people.add("place", place_dtype(sim.geo.n_places), 0, "place index", "commune or city the person lives in",
                     self.name)
        from greatleap.mechanisms.communes import initial_places
        def settle(s: slice) -> None:  # setup only: once per slice of agents
            place = initial_places(sim.layout, s)
            w.people.place[:, s] = place
            w.people.traits[:, s] = with_code(w.people.traits[:, s], HUKOU, sim.geo.place_is_city[place])  # 1: urban hukou
        map_slices(sim.layout.n_agents, settle)
        w.provinces.add("recruitment", unit="per month", meaning="share of rural working-age recruited to town", owner=self.name)
        w.provinces.add("senddown", unit="per month", meaning="share of urban working-age sent down", owner=self.name)
        w.provinces.add("escape_success", unit="probability", meaning="chance that an attempted flight succeeds", owner=self.name)
        for key in ("moved_in", "moved_out", "escapes_in", "escapes_out"):
            w.places.add(key, np.int64, 0, "agents", f"people who {key.replace('_', ' ')} this month", self.name)
        mig = sim.params.migration
        self.free, self.enforced = mig.escape_success_free[:, None], mig.escape_success_enforced[:, None]

    def prepare(self, world, month) -> None:
        """Recruitment and send-down rates of the month, by province."""
        world.provinces.recruitment[:] = month.lever("recruitment")
        world.provinces.senddown[:] = month.lever("senddown")

    def hazards(self, world, month) -> None:
        """Chance that a flight succeeds, by province (hukou enforcement)."""
        world.provinces.escape_success[:] = escape_success(self.free, self.enforced, month.lever("hukou"))

    def series(self) -> list[Series]:
        return [Series("escapes_in", "persons", "people who fled into the place this month", "province_sector",
                       lambda w: w.places.escapes_in, per_agent=True),
                Series("escapes", "persons", "successful flights this month", "national",
                       lambda w: w.places.escapes_in.sum(axis=1), per_agent=True),
                Series("moves", "persons", "recruitments and send-downs this month", "national",
                       lambda w: w.places.moved_in.sum(axis=1), per_agent=True)]
