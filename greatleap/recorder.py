"""Observation: the recorder stores every series the mechanisms declare, month by month.

Mechanisms change the world; the recorder only reads it, at the end of each month, through the
``read`` function each mechanism declares with its series (:class:`greatleap.mechanisms.base.Series`).
Arrays are preallocated by name: national series (members, months), province x sector series
(members, months, provinces, 2: rural, urban), plus deaths by age group x class x hukou x cause
and the July age-sex pyramid. The result tables (:mod:`greatleap.results`) are built from them.
"""
from __future__ import annotations

import numpy as np

from greatleap.mechanisms.base import Mechanism, Series

LEVELS = ("national", "province_sector", "province")


class Recorder(Mechanism):
    """Recorder: every declared series, stored by name."""
    name = "recorder"
    phases = ("account",)

    def init(self, sim) -> None:
        self.declared: dict[tuple[str, str], Series] = {}
        for mech in sim.mechanisms:
            for s in mech.series():
                if s.level not in LEVELS:
                    raise ValueError(f"{mech.name}: series {s.name!r} has level {s.level!r}; allowed: {LEVELS}")
                if (s.level, s.name) in self.declared:
                    raise ValueError(f"series {s.name!r} ({s.level}) declared twice")
                self.declared[(s.level, s.name)] = s
        w = sim.world
        members, months, npv = w.members, sim.n_months, sim.geo.n_provinces
        w.records = {
            "national": {name: np.zeros((members, months)) for (level, name) in self.declared if level == "national"},
            "sector": {name: np.zeros((members, months, npv, 2)) for (level, name) in self.declared if level != "national"},
            "deaths_detail": np.zeros((members, months) + w.national.deaths_detail.shape[1:], np.int64),
            "pyramids": {},
        }

    def account(self, world, month) -> None:
        """Store every declared series for this month."""
        rec, t, scale = world.records, month.t, world.scale
        npv = world.geo.n_provinces
        keys = (np.arange(world.members)[:, None] * 2 * npv + world.geo.sector_key[None, :]).ravel()
        for (level, name), s in self.declared.items():
            values = s.read(world)
            if level == "national":
                rec["national"][name][:, t] = values * scale if s.per_agent else values
            elif level == "province":
                rec["sector"][name][:, t, :, 0] = values
            else:
                rolled = np.bincount(keys, np.asarray(values, dtype=float).ravel(),
                                     minlength=world.members * 2 * npv).reshape(world.members, npv, 2)
                rec["sector"][name][:, t] = rolled * scale if s.per_agent else rolled
        rec["deaths_detail"][:, t] = world.national.deaths_detail
        if month.month == 7:
            rec["pyramids"][month.year] = world.national.pyramid * scale
