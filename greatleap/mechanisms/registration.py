"""The second book: what the registration system recorded.

Every person is on their place's household register or not. People alive at the start are on
it; a birth is registered (and the child put on the register) with probability c_b(year). The
death of a person on the register is registered with probability
c_d(year) x (1 - ``famine_death_penalty`` x depletion) (completeness by year is 1 - Banister's
1984 implied under-registration, lower still for the starving, who died on the road, in empty
houses, or whose deaths cadres hid to keep their rations); an unregistered death leaves a
*ghost* on the register, and so does a registered person who flees (absent, still counted at
home). Ghosts leave the register at ``ghost_removal_per_year``; the living missing from it (births
not registered, people who fled) are put on it at ``late_registration_per_year`` (wherever they now
live); a census (``census`` months: July 1964) puts every living person on the register and strikes
off every ghost. A late registration adds to the registered population, not to registered births.
Recruitment and send-downs move the register with the person. The registered population of a
place = living people on its register + its ghosts; communes report head counts inflated by
``population_inflation`` to draw rations (DESIGN item 14). Registered rates are registered events
over the registered population.
"""
from __future__ import annotations

import numpy as np

from greatleap.levers import parse_month
from greatleap.mechanisms.base import Mechanism, Series, per_member
from greatleap.rules import rule
from greatleap.streams import STREAM_LATE_REGISTRATION, uniform
from greatleap.traits import ON_REGISTER, with_code
from greatleap.world import map_slices


def completeness(table: dict[int, float], year: int) -> float:
    """Registration completeness for ``year`` (nearest listed year outside the table)."""
    if year in table:
        return float(table[year])
    years = sorted(table)
    return float(table[years[0]] if year < years[0] else table[years[-1]])


NOT_ON_REGISTER, REGISTERED, GHOST = 0, 1, 2  # what the register makes of a death


@rule
def registered_late(on_register, probability, seed, step, uid):
    """True if a living person missing from the register is put on it this month (``probability``:
    the month's chance, 1 in a census month); draws from the person's late-registration stream."""
    return on_register == 0 and probability > 0.0 and uniform(seed, STREAM_LATE_REGISTRATION, step, uid) < probability


def late_registration_probability(per_year, census_month):
    """The month's chance (members,) that a living person missing from the register is put on it:
    ``per_year`` spread over twelve months, 1 in a census month (``census_month``: (members,) bool)."""
    return np.where(census_month, 1.0, 1.0 - (1.0 - per_year) ** (1.0 / 12.0))


@rule
def death_registered_probability(completeness_of_year, famine_death_penalty, depletion):
    """Probability that the death of a person on the register is registered: lower for the starving."""
    return completeness_of_year * (1.0 - famine_death_penalty * depletion)


@rule
def death_on_register(on_register, u, completeness_of_year, famine_death_penalty, depletion):
    """REGISTERED (the death is recorded), GHOST (it is not: the dead stay on the register) or
    NOT_ON_REGISTER (the person was never registered: nothing is recorded), from a uniform draw."""
    if on_register == 0:
        return NOT_ON_REGISTER
    if u < death_registered_probability(completeness_of_year, famine_death_penalty, depletion):
        return REGISTERED
    return GHOST


class Registration(Mechanism):
    """Registration completeness of the year; registered events and the registered population."""
    name = "registration"
    phases = ("prepare", "hazards", "account")

    def init(self, sim) -> None:
        w = sim.world
        def register(s: slice) -> None:  # everyone alive at the start is on the register
            w.people.traits[:, s] = with_code(w.people.traits[:, s], ON_REGISTER, 1)
        map_slices(sim.layout.n_agents, register)
        for key, meaning in (("on_register", "living people on the register at the census"),
                             ("ghost_deaths", "unregistered deaths of people on the register"),
                             ("absentees", "people on the register who fled")):
            w.places.add(key, np.int64, 0, "agents", meaning + " this month", self.name)
        w.places.add("ghosts", unit="agents", meaning="dead or absent people still on the register", owner=self.name)
        self.ghost_removal = (1.0 - sim.params.registration.ghost_removal_per_year)[:, None] ** (1.0 / 12.0)
        w.places.add("deaths_registered", np.int64, 0, "agents", "registered deaths this month", self.name)
        w.places.add("births_registered", np.int64, 0, "agents", "registered births this month", self.name)
        w.places.add("registered_pop", unit="agents", meaning="registered population (true head counts)", owner=self.name)
        w.places.add("death_completeness", fill=1.0, unit="share", meaning="deaths registered this year", owner=self.name)
        w.places.add("birth_completeness", fill=1.0, unit="share", meaning="births registered this year", owner=self.name)
        rp = sim.params.registration
        self.urban_deaths, self.urban_births = per_member(rp.urban_death_completeness), per_member(rp.urban_birth_completeness)
        self.deaths = [s.registration.death_completeness for s in sim.scenarios]
        self.births = [s.registration.birth_completeness for s in sim.scenarios]
        self.late_per_year = sim.params.registration.late_registration_per_year
        self.census_months = [{parse_month(c) for c in s.registration.census} for s in sim.scenarios]
        w.national.add("late_registration", unit="probability", owner=self.name,
                       meaning="chance this month that a living person missing from the register is put on it")
        w.national.add("census_month", np.uint8, 0, "flag", "1 in a month a census reconciles the registers", self.name)
        inflation = sim.params.registration.population_inflation
        self.count_inflation = np.where(sim.geo.place_is_city[None, :] == 1, 1.0, 1.0 + inflation[:, None])

    def prepare(self, world, month) -> None:
        """Late registrations of the month; a census puts everyone on the register (census pass)."""
        n = world.national
        n.census_month[:] = [month.index in months for months in self.census_months]
        n.late_registration[:] = late_registration_probability(self.late_per_year, n.census_month == 1)

    def hazards(self, world, month) -> None:
        """Completeness of death and birth registration in this year."""
        city = world.geo.place_is_city == 1
        rural_d = per_member([completeness(t, month.year) for t in self.deaths])
        rural_b = per_member([completeness(t, month.year) for t in self.births])
        world.places.death_completeness[:] = np.where(city, np.maximum(rural_d, self.urban_deaths), rural_d)
        world.places.birth_completeness[:] = np.where(city, np.maximum(rural_b, self.urban_births), rural_b)

    def account(self, world, month) -> None:
        """Registered population: living people on the register plus its ghosts (struck off by a census)."""
        pl = world.places
        kept = np.where(per_member(world.national.census_month) == 1, 0.0, self.ghost_removal)
        pl.ghosts[:] = pl.ghosts * kept + pl.ghost_deaths + pl.absentees
        living = pl.on_register - pl.deaths_registered - pl.ghost_deaths - pl.absentees + pl.births_registered
        pl.registered_pop[:] = living + pl.ghosts

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
