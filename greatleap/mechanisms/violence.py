"""Violence: beatings, torture and killings that followed grain collection (~7% of excess deaths).

Where the procurement quota bites under hard enforcement, violence pressure on a commune rises
to bite x enforcement x campaign climate, and a share ``pressure_retention`` of it persists
each month. Rural working-age (15-59) people then face a monthly death hazard
``rate`` x pressure, ``black_element_factor`` times higher for people with a bad-class label.
"""
from __future__ import annotations

import numpy as np

from greatleap.mechanisms.base import Mechanism, Series, per_member
from greatleap.mechanisms.classes import BLACK_ELEMENT
from greatleap.rules import rule


@rule
def violence_hazard(hukou, age_years, klass, pressure, rate, black_element_factor):
    """Monthly hazard of a violent death (rural working-age people only)."""
    if hukou == 0 and 15 <= age_years < 60:
        h = rate * pressure
        if klass == BLACK_ELEMENT:
            h *= black_element_factor
        return h
    return 0.0


class Violence(Mechanism):
    """Violence pressure by place, from procurement's bite and the campaign climate."""
    name = "violence"
    phases = ("hazards",)

    def init(self, sim) -> None:
        sim.world.places.add("violence_pressure", unit="index", meaning="pressure behind violent deaths", owner=self.name)
        self.retention = per_member(sim.params.violence.pressure_retention)

    def hazards(self, world, month) -> None:
        """Last month's pressure fades; a biting collection under the campaign raises it."""
        pl, geo = world.places, world.geo
        campaign = month.lever("campaign")[:, geo.place_province]
        pl.violence_pressure[:] = np.maximum(pl.violence_pressure * self.retention, pl.bite * campaign)

    def series(self) -> list[Series]:
        return [Series("deaths_violence", "persons", "violent deaths this month", "province_sector",
                       lambda w: w.places.deaths_violence, per_agent=True)]
