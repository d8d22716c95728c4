"""The second book: what the registration system recorded.

A death is registered with probability c_d(year) x (1 - ``famine_death_penalty`` x depletion):
completeness by year is 1 - Banister's (1984) implied under-registration, lower still for the
starving (who died on the road, in empty houses, or whose deaths cadres hid to keep their
rations). A birth is registered with probability c_b(year). The registered population of a
place follows registered events and recorded moves, and communes report head counts inflated
by ``population_inflation`` to draw rations (DESIGN item 14). Registered rates are registered
events over the registered population.
"""
from __future__ import annotations

import numpy as np

from greatleap.mechanisms.base import Mechanism, Series
from greatleap.rules import rule


def completeness(table: dict[int, float], year: int) -> float:
    """Registration completeness for ``year`` (nearest listed year outside the table)."""
    if year in table:
        return float(table[year])
    years = sorted(table)
    return float(table[years[0]] if year < years[0] else table[years[-1]])


@rule
def death_registered_probability(completeness_of_year, famine_death_penalty, depletion):
    """Probability that a death is registered: completeness, lower for the starving."""
    return completeness_of_year * (1.0 - famine_death_penalty * depletion)


class Registration(Mechanism):
    """Registration completeness of the year; registered events and the registered population."""
    name = "registration"
    phases = ("hazards", "account")

    def init(self, sim) -> None:
        w = sim.world
        w.places.add("deaths_registered", np.int64, 0, "agents", "registered deaths this month", self.name)
        w.places.add("births_registered", np.int64, 0, "agents", "registered births this month", self.name)
        w.places.add("registered_pop", unit="agents", meaning="registered population (true head counts)", owner=self.name)
        w.national.add("death_completeness", fill=1.0, unit="share", meaning="deaths registered this year", owner=self.name)
        w.national.add("birth_completeness", fill=1.0, unit="share", meaning="births registered this year", owner=self.name)
        self.deaths = [s.registration.death_completeness for s in sim.scenarios]
        self.births = [s.registration.birth_completeness for s in sim.scenarios]
        inflation = sim.params.registration.population_inflation
        self.count_inflation = np.where(sim.geo.place_is_city[None, :] == 1, 1.0, 1.0 + inflation[:, None])

    def hazards(self, world, month) -> None:
        """Completeness of death and birth registration in this year."""
        world.national.death_completeness[:] = [completeness(t, month.year) for t in self.deaths]
        world.national.birth_completeness[:] = [completeness(t, month.year) for t in self.births]

    def account(self, world, month) -> None:
        """The registered population follows registered births and deaths and recorded moves."""
        pl = world.places
        if month.t == 0:
            pl.registered_pop[:] = pl.pop
        pl.registered_pop[:] += (pl.moved_in - pl.moved_out) + (pl.births_registered - pl.deaths_registered
                                                               + pl.escapes_in - pl.escapes_out)

    def series(self) -> list[Series]:
        reported = lambda w: w.places.registered_pop * self.count_inflation  # noqa: E731
        return [Series("reg_pop", "persons", "registered population (head counts as reported)", "province_sector",
                       reported, per_agent=True),
                Series("reg_pop", "persons", "registered population (head counts as reported)", "national",
                       lambda w: reported(w).sum(axis=1), per_agent=True),
                Series("births_reg", "persons", "registered births", "province_sector",
                       lambda w: w.places.births_registered, per_agent=True),
                Series("births_reg", "persons", "registered births", "national",
                       lambda w: w.places.births_registered.sum(axis=1), per_agent=True),
                Series("deaths_reg", "persons", "registered deaths", "province_sector",
                       lambda w: w.places.deaths_registered, per_agent=True),
                Series("deaths_reg", "persons", "registered deaths", "national",
                       lambda w: w.places.deaths_registered.sum(axis=1), per_agent=True)]
