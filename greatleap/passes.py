"""The engine's parts of the month: the person passes (run by the backend), the ledgers, the recorder.

They take their place in the plan like mechanisms (``phases``), but hold no model rule: the
passes hand every person to :mod:`greatleap.lifecycle` through the backend and store the
tallies; the ledgers check the declared accounts; the recorder stores the declared series.
"""
from __future__ import annotations

import numpy as np

from greatleap.ledger import (check_finite, check_grain_national, check_grain_places, check_people_national,
                              check_people_places)
from greatleap.lifecycle import BirthInputs, CensusInputs, LiveInputs, People
from greatleap.mechanisms.base import Mechanism, Series

ENGINE = "engine"
GROWTH = 1.05  # the people frame grows by this factor (plus the month's births) when slots run out (greatleap.memory)


def people_view(world) -> People:
    pe = world.people
    return People(*(getattr(pe, name) for name in People._fields))


class CensusPass(Mechanism):
    """Census pass: labor.working_age/rural_activity, migration.moves_this_month/send_down_place,
    nutrition.need, canteens.ration_weight for every person; counts per place; people ledger by place."""
    name = "census"
    phases = ("census",)

    def init(self, sim) -> None:
        w = sim.world
        w.people.add("status", np.uint8, 0, "bits", "what happened to the person this month (engine)", ENGINE)
        w.people.add("reserve_start", w.people.columns["reserve"].dtype, 0, w.people.columns["reserve"].unit,
                     "reserve at the start of the month (engine)", ENGINE)
        ints = (("pop", "agents", "people counted this month"), ("working", "agents", "people at work"))
        for key, unit, meaning in ints:
            w.places.add(key, np.int64, 0, unit, meaning, self.name)
        floats = (("farm_labor", "agents", "effective field labor"), ("furnace_labor", "agents", "effective furnace labor"),
                  ("water_labor", "agents", "effective water-works labor"),
                  ("grain_need", "kcal/day per agent", "weighted grain need of the place's people"),
                  ("grain_need_kg", "kg/month", "weighted grain need of the place's people (real)"),
                  ("reserve_sum", "share x agents", "summed reserve"))
        for key, unit, meaning in floats:
            w.places.add(key, unit=unit, meaning=meaning, owner=self.name)
        w.places.add("expected_pop", np.int64, -1, "agents", "population the ledger expects at the next census", self.name)
        self.sim = sim
        self.kcal = sim.params.nutrition.kcal_per_kg_grain[:, None]
        self.check = sim.check_ledgers

    def census(self, world, month) -> None:
        """Counts people, labor and needs per place after the month's activities and moves."""
        sim, geo, pl, pv = self.sim, world.geo, world.places, world.provinces
        inputs = CensusInputs(sim.seeds, month.t, geo.place_province, geo.province_city, geo.province_first_commune,
                              geo.province_n_communes, pv.furnace_share, pv.water_share, pv.recruitment, pv.senddown,
                              pl.nongrain_share, pl.canteen_share, world.national.late_registration)
        ints, floats, pyramid = sim.backend.census(people_view(world), inputs, sim.params.record, sim.tables,
                                                   geo.n_places, month.month == 7)
        pl.pop[:], pl.working[:], pl.moved_in[:], pl.moved_out[:] = ints[:, 0], ints[:, 1], ints[:, 2], ints[:, 3]
        pl.on_register[:] = ints[:, 4]
        pl.farm_labor[:], pl.furnace_labor[:], pl.water_labor[:] = floats[:, 0], floats[:, 1], floats[:, 2]
        pl.grain_need[:], pl.reserve_sum[:] = floats[:, 3], floats[:, 4]
        pl.grain_need_kg[:] = pl.grain_need * world.scale * 30.0 / self.kcal
        world.national.pyramid[:] = pyramid
        if self.check and month.t > 0:
            check_people_places(month.label, pl.pop, pl.expected_pop + pl.moved_in - pl.moved_out, sim.place_name)

    def series(self) -> list[Series]:
        return [Series("pop", "persons", "people counted this month", "province_sector", lambda w: w.places.pop,
                       per_agent=True),
                Series("pop", "persons", "people counted this month", "national", lambda w: w.places.pop.sum(axis=1),
                       per_agent=True)]


class LivePass(Mechanism):
    """Person pass: nutrition.intake/reserve_after, mortality.famine_hazard/death_probability,
    violence.violence_hazard, registration.death_on_register, fertility.conception_probability/
    fetal_loss_probability, migration.flight_probability for every person; tallies per place."""
    name = "live"
    phases = ("live",)

    def init(self, sim) -> None:
        w = sim.world
        w.places.add("eaten", unit="kg/month", meaning="grain the place's people ate", owner=self.name)
        self.sim = sim

    def live(self, world, month) -> None:
        """Every person's month; deaths, flights and grain eaten per place."""
        sim, geo, pl, n = self.sim, world.geo, world.places, world.national
        world.people.reserve_start[:] = world.people.reserve
        inputs = LiveInputs(sim.seeds, month.t, geo.n_communes, geo.place_province, geo.place_is_city,
                            pl.nongrain_share, pl.canteen_share, pl.ration_ratio, pl.violence_pressure,
                            n.hazard_decline, pl.fertility_multiplier, pl.death_completeness,
                            world.provinces.escape_success, pl.mortality_level)
        eaten, ints, detail = sim.backend.live(people_view(world), inputs, sim.params.record, sim.tables, geo.n_places)
        pl.eaten[:] = eaten * world.scale
        pl.deaths[:], pl.deaths_registered[:] = ints[:, 0], ints[:, 1]
        pl.deaths_natural[:], pl.deaths_famine[:], pl.deaths_violence[:] = ints[:, 2], ints[:, 3], ints[:, 4]
        pl.escapes_in[:], pl.escapes_out[:] = ints[:, 5], ints[:, 6]
        pl.ghost_deaths[:], pl.absentees[:] = ints[:, 7], ints[:, 8]
        n.deaths_detail[:] = detail

    def series(self) -> list[Series]:
        nc = lambda w: w.geo.n_communes  # noqa: E731
        return [Series("eaten", "kg", "grain eaten this month", "province_sector", lambda w: w.places.eaten),
                Series("eaten_rural", "kg", "grain eaten in the countryside this month", "national",
                       lambda w: w.places.eaten[:, : nc(w)].sum(axis=1)),
                Series("eaten_urban", "kg", "grain eaten in cities this month", "national",
                       lambda w: w.places.eaten[:, nc(w):].sum(axis=1))]


class BirthsPass(Mechanism):
    """Births pass: the dead leave their slots; demography.newborn_sex, migration.newborn_hukou,
    classes.newborn_class for every newborn, placed in the lowest free slot; people ledger (national)."""
    name = "births"
    phases = ("births",)

    def init(self, sim) -> None:
        self.sim = sim
        ratio = sim.params.population.sex_ratio_at_birth
        self.male_probability = ratio / (1.0 + ratio)

    def births(self, world, month) -> None:
        """Mark the dead; newborns take the lowest free slots."""
        sim, pl, pe = self.sim, world.places, world.people
        mothers, counts, living = sim.backend.finish_month(pe.alive, pe.status)
        free = pe.size - living.sum(axis=1)
        if (free < counts + 1).any():
            pe.grow(int(pe.size * GROWTH) + int(counts.max()))
            living = None  # counted over the old frame's blocks
        births, births_reg = sim.backend.give_births(people_view(world), BirthInputs(sim.seeds, month.t, pl.birth_completeness),
                                                     mothers, counts, living, self.male_probability, world.geo.n_places)
        pl.births[:], pl.births_registered[:] = births, births_reg
        pl.expected_pop[:] = pl.pop + pl.births - pl.deaths + pl.escapes_in - pl.escapes_out
        if sim.check_ledgers:
            check_people_national(month.label, sim.backend.count_alive(pe.alive), pl.pop.sum(axis=1),
                                  pl.births.sum(axis=1), pl.deaths.sum(axis=1))


class Ledgers(Mechanism):
    """Ledgers: grain by place (eaten = drawn - waste, no negative stock), grain nationally over every
    account, no NaN or infinity anywhere."""
    name = "ledgers"
    phases = ("account",)
    FLOWS = ("production", "eaten", "waste", "seed_feed", "losses", "state_other_use", "exports", "imports")

    def init(self, sim) -> None:
        w = sim.world
        for key in self.FLOWS:
            w.national.add(f"total_{key}", unit="kg", meaning=f"cumulative {key.replace('_', ' ')}", owner=self.name)
        w.national.add("stocks_start", unit="kg", meaning="grain in every account at the start", owner=self.name)
        w.national.stocks_start[:] = w.places.stock.sum(axis=1) + w.national.state_stock
        self.sim = sim

    def account(self, world, month) -> None:
        """Check the grain ledgers and that every account is finite."""
        pl, n = world.places, world.national
        flows = {"production": pl.harvest.sum(axis=1), "eaten": pl.eaten.sum(axis=1), "waste": pl.waste.sum(axis=1),
                 "seed_feed": pl.seed_feed.sum(axis=1), "losses": pl.losses.sum(axis=1) + n.state_loss,
                 "state_other_use": n.state_other_use, "exports": n.exports, "imports": n.imports}
        for key, value in flows.items():
            total = getattr(n, f"total_{key}")
            total += value
        if not self.sim.check_ledgers:
            return
        check_finite(month.label, world)
        check_grain_places(month.label, pl.eaten, pl.drawn, pl.waste, pl.stock, self.sim.place_name)
        totals = {key: getattr(n, f"total_{key}") for key in self.FLOWS}
        stocks = pl.stock.sum(axis=1) + n.state_stock + world.provinces.granary.sum(axis=1)
        check_grain_national(month.label, totals, stocks, n.stocks_start)
