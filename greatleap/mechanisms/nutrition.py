"""Nutrition: energy needs, intake, and the body's reserve.

Needs (kcal/person/day) by age and sex follow FAO-style requirements for a light-to-moderate
activity population; work adds ``farm_work_extra_kcal`` or ``heavy_work_extra_kcal`` (furnaces,
water works). Intake = the non-grain share of need (vegetables, private plots) + grain eaten +
famine substitutes (bark, husks, wild plants) that grow with depletion in the countryside.
The reserve (kcal above the lethal minimum, as a share of an age/sex capacity) changes by
30 x (intake - need x (1 - adaptation x depletion)) per month: a depleted body needs less, so
mild deficits settle at a lower reserve; surplus is stored with ``recovery_efficiency``.
"""
from __future__ import annotations

import numpy as np

from greatleap.mechanisms.base import Mechanism, Series, per_member
from greatleap.mechanisms.labor import FARM, FURNACE, NONE, URBAN_WORK, WATERWORKS
from greatleap.rules import rule

# (first age, male kcal/day, female kcal/day); each row holds until the next first age
_NEEDS = [(0, 700, 700), (1, 1100, 1100), (4, 1400, 1400), (7, 1700, 1700), (10, 2100, 2000),
          (13, 2500, 2200), (16, 2600, 2100), (20, 2400, 1900), (60, 2000, 1700), (70, 1800, 1550)]
# (first age, male, female) share of the adult man's reserve capacity (~ body mass)
_CAPACITY = [(0, 0.12, 0.12), (1, 0.3, 0.3), (5, 0.4, 0.4), (10, 0.6, 0.6), (15, 0.8, 0.75),
             (20, 1.0, 0.85), (60, 0.85, 0.75)]
MAX_AGE = 110
INITIAL_RESERVE = 0.9     # share of capacity held in January 1957 (after the good 1956-57 harvests)
NEWBORN_RESERVE = 1.0
URBAN_WORK_EXTRA = 0.6    # urban work needs this share of the field-work extra
PLOT_SHARE_OF_NONGRAIN = 0.6  # share of rural non-grain food that comes from private plots and sidelines
REFERENCE_NEED_KCAL = 2000.0  # kcal/day against which the non-grain share of need is reckoned
MAX_NONGRAIN_SHARE = 0.9
# What a person carries to the next month is kept small: the reserve share (0..1) in 16 bits, in
# steps of 1/RESERVE_STEPS, and the intake ratio in 8 bits on 0..1, in steps of 1/INTAKE_STEPS
# (nothing reads it above 1: work capacity and the conception term are flat there). Both are
# rounded to the nearest step when stored; within the month the exact values are used.
RESERVE_STEPS = 65535
INTAKE_STEPS = 255


def _by_age(rows: list[tuple[int, float, float]]) -> np.ndarray:
    table = np.zeros((2, MAX_AGE + 1))
    for k, (lo, male, female) in enumerate(rows):
        hi = rows[k + 1][0] if k + 1 < len(rows) else MAX_AGE + 1
        table[0, lo:hi], table[1, lo:hi] = male, female
    return table


def need_table() -> np.ndarray:
    """Daily energy need (kcal/day) at rest-to-light activity by sex (rows M, F) and age 0..110."""
    return _by_age(_NEEDS)


def activity_extra(farm_work_extra_kcal: float, heavy_work_extra_kcal: float) -> np.ndarray:
    """Extra kcal/day by activity code (none, farm, furnace, water works, urban work)."""
    extra = np.zeros(5)
    extra[FARM] = farm_work_extra_kcal
    extra[FURNACE] = extra[WATERWORKS] = heavy_work_extra_kcal
    extra[URBAN_WORK] = URBAN_WORK_EXTRA * farm_work_extra_kcal
    extra[NONE] = 0.0
    return extra


def capacity_table(reserve_capacity_kcal: float) -> np.ndarray:
    """Reserve capacity (kcal) by sex and age 0..110."""
    return _by_age(_CAPACITY) * reserve_capacity_kcal


def nongrain_share(rural_kcal: np.ndarray, urban_kcal: np.ndarray, private_plots: np.ndarray,
                   place_is_city: np.ndarray, urban_from_plots=0.0) -> np.ndarray:
    """Share of need met by non-grain food per place (members, places); it falls with the private
    plots and sidelines, in the countryside and (by ``urban_from_plots``) in the cities they supplied.

    ``rural_kcal``/``urban_kcal``/``urban_from_plots``: (members, 1); ``private_plots``: lever by place.
    """
    rural = rural_kcal * ((1.0 - PLOT_SHARE_OF_NONGRAIN) + PLOT_SHARE_OF_NONGRAIN * private_plots)
    urban = urban_kcal * ((1.0 - urban_from_plots) + urban_from_plots * private_plots)
    kcal = np.where(place_is_city == 1, urban, rural)
    return np.minimum(kcal / REFERENCE_NEED_KCAL, MAX_NONGRAIN_SHARE)


@rule
def need(sex, age_years, need_by_age, activity_extra_kcal):
    """Daily energy need (kcal/day) of a person of this sex and age, plus the extra of their activity."""
    return need_by_age[sex, min(age_years, MAX_AGE)] + activity_extra_kcal


@rule
def intake(need_kcal, nongrain, grain_kcal, substitute_kcal, depletion, is_city):
    """Energy eaten (kcal/day): non-grain food + grain + famine substitutes (countryside only)."""
    return need_kcal * nongrain + grain_kcal + substitute_kcal * depletion * (1.0 - is_city)


@rule
def reserve_after(reserve, intake_kcal, need_kcal, capacity_kcal, adaptation, recovery_efficiency):
    """Reserve share after a month: loses or (at ``recovery_efficiency``) stores the energy balance."""
    depletion = 1.0 - reserve
    delta = 30.0 * (intake_kcal - need_kcal * (1.0 - adaptation * depletion)) / capacity_kcal
    if delta > 0.0:
        delta *= recovery_efficiency
    return min(1.0, max(0.0, reserve + delta))


@rule(inline=True)
def stored_reserve(share):
    """A reserve share (0..1) as the people frame keeps it (16 bits)."""
    return np.uint16(share * RESERVE_STEPS + 0.5)


@rule(inline=True)
def reserve_share(stored):
    """The reserve share (0..1) of a stored reserve."""
    return stored / RESERVE_STEPS


@rule(inline=True)
def stored_intake(ratio):
    """An intake ratio (intake / need) as the people frame keeps it (8 bits, 0..1)."""
    return np.uint8(min(1.0, max(0.0, ratio)) * INTAKE_STEPS + 0.5)


@rule(inline=True)
def intake_ratio_of(stored):
    """The intake ratio (0..1) of a stored intake ratio."""
    return stored / INTAKE_STEPS


class Nutrition(Mechanism):
    """Needs, non-grain food, the reserve of every person."""
    name = "nutrition"
    phases = ("prepare",)

    def init(self, sim) -> None:
        w = sim.world
        w.people.add("reserve", np.uint16, 0, f"1/{RESERVE_STEPS} of capacity",
                     "nutritional reserve (0 = exhausted; see reserve_share)", self.name)
        w.people.add("intake_ratio", np.uint8, 0, f"1/{INTAKE_STEPS}",
                     "last month's intake / need, up to 1 (see intake_ratio_of)", self.name)
        n = sim.layout.n_agents
        w.people.reserve[:, :n] = stored_reserve(INITIAL_RESERVE)
        w.people.intake_ratio[:, :n] = stored_intake(1.0)
        w.places.add("nongrain_share", unit="share", meaning="need met by non-grain food", owner=self.name)
        nu = sim.params.nutrition
        self.need = need_table()
        self.activity_extra = np.stack([activity_extra(f, h) for f, h in
                                        zip(nu.farm_work_extra_kcal.tolist(), nu.heavy_work_extra_kcal.tolist())])
        self.capacity = np.stack([capacity_table(c) for c in nu.reserve_capacity_kcal.tolist()])
        self.rural_kcal, self.urban_kcal = per_member(nu.nongrain_kcal_rural), per_member(nu.nongrain_kcal_urban)
        self.urban_from_plots = per_member(nu.urban_nongrain_from_plots)

    def prepare(self, world, month) -> None:
        """Non-grain share of need, by place (private plots feed the countryside)."""
        plots = month.lever("private_plots")[:, world.geo.place_province]
        world.places.nongrain_share[:] = nongrain_share(self.rural_kcal, self.urban_kcal, plots, world.geo.place_is_city,
                                                        self.urban_from_plots)

    def series(self) -> list[Series]:
        return [Series(f"reserve_{sector}", "share of capacity", f"mean reserve of {sector} people", "national",
                       lambda w, s=s: (w.places.reserve_sum[:, _sector(w, s)].sum(axis=1)
                                       / np.maximum(w.places.pop[:, _sector(w, s)].sum(axis=1), 1)))
                for s, sector in enumerate(("rural", "urban"))]


def _sector(world, s: int) -> slice:
    nc = world.geo.n_communes
    return slice(0, nc) if s == 0 else slice(nc, None)
