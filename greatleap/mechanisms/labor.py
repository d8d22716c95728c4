"""Labor: who works where, the diversion of rural labor to furnaces and water works, and steel.

Each month the timeline sets, by province, the shares of rural working-age (15-59) labor drawn
to backyard furnaces and water-conservancy works (capped at MAX_DIVERSION together); everyone
else of working age farms, and urban people work in town. Effective labor counts each worker by
work capacity e = min(1, intake/need)^theta (hungry people work less; the channel Li & Yang 2005
stress). Steel (Mt) = furnace labor-months (real) x kg per labor-month / 1e9, of which
``furnace_unusable_share`` is unusable; modern steel grows with the urban workforce^0.8.
"""
from __future__ import annotations

import numpy as np

from greatleap.curves import tabulate
from greatleap.mechanisms.base import Mechanism, Series
from greatleap.rules import rule
from greatleap.traits import HUKOU, code_of
from greatleap.world import map_slices

NONE, FARM, FURNACE, WATERWORKS, URBAN_WORK = 0, 1, 2, 3, 4
ACTIVITIES = ("none", "farm", "furnace", "water works", "urban work")
MAX_DIVERSION = 0.9       # furnaces + water works never take more than this share of rural labor
MODERN_STEEL_ELASTICITY = 0.8  # modern steel output ~ urban workforce^0.8


@rule
def working_age(age_years):
    """15-59 years old."""
    return 15 <= age_years < 60


@rule
def rural_activity(u, furnace_share, water_share):
    """A rural worker's activity from a uniform draw and the month's diversion shares."""
    if u < furnace_share:
        return FURNACE
    if u < furnace_share + water_share:
        return WATERWORKS
    return FARM


def diversion_shares(furnace: np.ndarray, water: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Furnace and water-works shares of rural labor, scaled down together to at most MAX_DIVERSION."""
    total = furnace + water
    over = total > MAX_DIVERSION
    return (np.where(over, furnace * MAX_DIVERSION / np.where(over, total, 1.0), furnace),
            np.where(over, water * MAX_DIVERSION / np.where(over, total, 1.0), water))


class Labor(Mechanism):
    """Activities, diversion to furnaces and water works, effective labor, steel."""
    name = "labor"
    phases = ("prepare", "produce")

    def init(self, sim) -> None:
        w = sim.world
        w.provinces.add("furnace_share", unit="share", meaning="rural working-age labor at backyard furnaces", owner=self.name)
        w.provinces.add("water_share", unit="share", meaning="rural working-age labor on water works", owner=self.name)
        for key, meaning in (("steel_modern", "modern steel"), ("steel_furnace_usable", "usable furnace steel"),
                             ("steel_unusable", "unusable furnace steel")):
            w.national.add(key, unit="Mt/month", meaning=meaning, owner=self.name)
        thetas = sim.params.nutrition.work_capacity_theta
        self.work_capacity = np.stack([tabulate(lambda r, th=th: r ** th) for th in thetas.tolist()])
        pe = w.people
        def urban_workers(s: slice) -> np.ndarray:
            urban = code_of(pe.traits[:, s], HUKOU) == 1
            work = (pe.alive[:, s] == 1) & urban & (pe.age_m[:, s] >= 180) & (pe.age_m[:, s] < 720)
            return work.sum(axis=1)
        self.urban_workers_start = np.zeros(w.members)
        for count in map_slices(sim.layout.n_agents, urban_workers):  # in slice order
            self.urban_workers_start += count
        ind = sim.params.industry
        self.kg_per_labor_month, self.unusable = ind.furnace_steel_kg_per_labor_month, ind.furnace_unusable_share
        self.modern_1957 = ind.modern_steel_mt_1957
        self.scale = sim.world.scale

    def prepare(self, world, month) -> None:
        """Furnace and water-works shares of rural labor, by province."""
        furnace, water = diversion_shares(month.lever("furnace_labor"), month.lever("waterworks_labor"))
        world.provinces.furnace_share[:] = furnace
        world.provinces.water_share[:] = water

    def produce(self, world, month) -> None:
        """Steel from furnace labor and the urban workforce."""
        nc = world.geo.n_communes
        furnace_mt = world.places.furnace_labor.sum(axis=1) * self.scale * self.kg_per_labor_month / 1e9
        urban = world.places.working[:, nc:].sum(axis=1)
        growth = urban / np.maximum(self.urban_workers_start, 1.0)
        n = world.national
        n.steel_modern[:] = self.modern_1957 / 12.0 * np.array([g ** MODERN_STEEL_ELASTICITY for g in growth.tolist()])
        n.steel_unusable[:] = furnace_mt * self.unusable
        n.steel_furnace_usable[:] = furnace_mt - n.steel_unusable

    def series(self) -> list[Series]:
        nc = lambda w: w.geo.n_communes  # noqa: E731
        return [Series(key, "Mt", f"{key.replace('_', ' ')} this month", "national", lambda w, k=key: getattr(w.national, k))
                for key in ("steel_modern", "steel_furnace_usable", "steel_unusable")] + [
            Series("rural_working", "agents", "rural people of working age at work", "national",
                   lambda w: w.places.working[:, : nc(w)].sum(axis=1)),
            Series("urban_working", "agents", "urban people at work", "national",
                   lambda w: w.places.working[:, nc(w):].sum(axis=1)),
            Series("farm_labor", "agents", "effective field labor (workers x work capacity)", "national",
                   lambda w: w.places.farm_labor.sum(axis=1)),
            Series("furnace_labor", "agents", "effective furnace labor", "national",
                   lambda w: w.places.furnace_labor.sum(axis=1)),
            Series("water_labor", "agents", "effective water-works labor", "national",
                   lambda w: w.places.water_labor.sum(axis=1))]
