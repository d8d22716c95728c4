"""Distribution within places: communal canteens (free eating, then rationing) and household eating.

Each month a commune draws grain from its stock: the stock spread over the months until the
next harvest, capped at ``household_max_ratio`` x grain need. In the canteens' free-eating phase
people over-draw by ``free_eating_ratio`` (stocks run out before the spring); canteens waste
``canteen_waste`` of what they cook. Inside a place grain is shared by ration weights (class,
cadre privilege, work: :func:`ration_weight`), so the ration ratio r = grain eaten / weighted
grain need. Each city eats what the state supplied its province's towns this month (:mod:`granaries`: the
province's granary, the centre, the levy): a shortfall falls on the towns of the province that has it.
Units: kg/month (real).
"""
from __future__ import annotations

import numpy as np

from greatleap.calendar import harvest_calendar
from greatleap.mechanisms.base import Mechanism, Series, per_member
from greatleap.mechanisms.classes import class_weight
from greatleap.mechanisms.labor import NONE
from greatleap.rules import rule


@rule
def ration_weight(klass, age_years, activity, canteen_share, weight_cadre, weight_black_element,
                  weight_non_worker, household_damping):
    """Relative ration weight: canteen rules weighted by the canteen share, household sharing otherwise.

    In a canteen, class labels and work points set the weight; at home a share
    ``household_damping`` of the canteen's gap persists (0 = shared by need).
    """
    w = class_weight(klass, weight_cadre, weight_black_element)
    if age_years >= 15 and activity == NONE:
        w *= weight_non_worker
    return canteen_share * w + (1.0 - canteen_share) * (1.0 + household_damping * (w - 1.0))


@rule
def weighted_grain_need(weight, need_kcal, nongrain):
    """Grain part of a person's need, weighted by the ration weight (kcal/day)."""
    return weight * need_kcal * (1.0 - nongrain)


def monthly_draw(stock, grain_need_kg, months_left, canteen, free_eating, household_max_ratio, free_eating_ratio,
                 canteen_waste):
    """Grain drawn from each commune's stock this month (kg) and the part canteens waste.

    Arrays are (members, communes); parameters (members, 1).
    """
    planned = stock / np.maximum(months_left, 1)
    cap = household_max_ratio * grain_need_kg
    free = free_eating * canteen
    draw = np.minimum(planned, cap)
    # eat your fill: over-draw the planned ration, so stocks run out before the harvest
    feast = np.minimum(planned, cap * free_eating_ratio) * (1.0 + (free_eating_ratio - 1.0) * free)
    draw = np.where(free > 0, feast, draw)
    draw = np.minimum(draw, stock)
    return draw, draw * canteen_waste * canteen


def ration_ratio(eaten_kg, weighted_need_kcal_day, kcal_per_kg):
    """Ratio of grain eaten to weighted grain need, per place."""
    return np.where(weighted_need_kcal_day > 0,
                    eaten_kg * kcal_per_kg / 30.0 / np.maximum(weighted_need_kcal_day, 1e-9), 0.0)


class Canteens(Mechanism):
    """Canteen share by place; grain drawn, wasted and shared; the ration ratio."""
    name = "canteens"
    phases = ("prepare", "distribute")
    accounts = ("waste",)

    def init(self, sim) -> None:
        w = sim.world
        for key, unit, meaning in (("canteen_share", "share", "people eating in communal canteens"),
                                   ("drawn", "kg/month", "grain drawn from the place's stock (cities: from the state)"),
                                   ("waste", "kg/month", "grain wasted by canteens"),
                                   ("ration_ratio", "ratio", "grain eaten / weighted grain need")):
            w.places.add(key, unit=unit, meaning=meaning, owner=self.name)
        cp = sim.params.canteens
        self.household_max_ratio, self.free_eating_ratio = per_member(cp.household_max_ratio), per_member(cp.free_eating_ratio)
        self.waste_rate = per_member(cp.canteen_waste)
        self.kcal = per_member(sim.params.nutrition.kcal_per_kg_grain)
        self.calendar = harvest_calendar()

    def prepare(self, world, month) -> None:
        """Share of each place eating in canteens (none in cities)."""
        world.places.canteen_share[:] = np.where(world.geo.place_is_city == 1, 0.0,
                                                 month.lever("canteen")[:, world.geo.place_province])

    def distribute(self, world, month) -> None:
        """Grain drawn and wasted; each city eats its province's urban supply; the ration ratio of every place."""
        geo, pl, nc = world.geo, world.places, world.geo.n_communes
        prov = geo.commune_province
        months_left = self.calendar.months_to_next_harvest(month.month)[prov]
        draw, waste = monthly_draw(pl.stock[:, :nc], pl.grain_need_kg[:, :nc], months_left, pl.canteen_share[:, :nc],
                                   month.lever("free_eating")[:, prov], self.household_max_ratio,
                                   self.free_eating_ratio, self.waste_rate)
        pl.drawn[:, :nc], pl.waste[:, :nc] = draw, waste
        pl.drawn[:, nc:] = world.provinces.urban_supplied  # city places follow the provinces' order
        pl.stock[:, :nc] -= draw
        pl.ration_ratio[:] = ration_ratio((pl.drawn - pl.waste) / world.scale, pl.grain_need, self.kcal)

    def series(self) -> list[Series]:
        def ratio(w, s):
            nc = w.geo.n_communes
            part = slice(0, nc) if s == 0 else slice(nc, None)
            return np.array([np.average(w.places.ration_ratio[m, part], weights=np.maximum(w.places.pop[m, part], 1e-9))
                             for m in range(w.members)])
        return [Series("drawn", "kg", "grain drawn for eating this month", "national", lambda w: w.places.drawn.sum(axis=1)),
                Series("waste", "kg", "grain wasted by canteens this month", "national", lambda w: w.places.waste.sum(axis=1)),
                Series("ration_ratio_rural", "ratio", "grain eaten / weighted need, rural (population-weighted)",
                       "national", lambda w: ratio(w, 0)),
                Series("ration_ratio_urban", "ratio", "grain eaten / weighted need, urban (population-weighted)",
                       "national", lambda w: ratio(w, 1))]
