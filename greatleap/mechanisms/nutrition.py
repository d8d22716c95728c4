"""Needs (kcal/person/day), reserve capacity (kcal) and non-grain food.

Needs by age and sex follow FAO-style energy requirements for a light-to-moderate activity
population; work adds ``farm_work_extra_kcal`` or ``heavy_work_extra_kcal`` (furnaces, water
works). The reserve is kcal above the lethal minimum, as a share of an age/sex capacity.
"""
from __future__ import annotations

import numpy as np

from greatleap.kernels.cpu import FARM, FURNACE, NONE, URBAN_WORK, WATERWORKS

# (first age, male kcal/day, female kcal/day); each row holds until the next first age
_NEEDS = [(0, 700, 700), (1, 1100, 1100), (4, 1400, 1400), (7, 1700, 1700), (10, 2100, 2000),
          (13, 2500, 2200), (16, 2600, 2100), (20, 2400, 1900), (60, 2000, 1700), (70, 1800, 1550)]
# (first age, male, female) share of the adult man's reserve capacity (~ body mass)
_CAPACITY = [(0, 0.12, 0.12), (1, 0.3, 0.3), (5, 0.4, 0.4), (10, 0.6, 0.6), (15, 0.8, 0.75),
             (20, 1.0, 0.85), (60, 0.85, 0.75)]


def _by_age(rows: list[tuple[int, float, float]]) -> np.ndarray:
    table = np.zeros((2, 111))
    for k, (lo, male, female) in enumerate(rows):
        hi = rows[k + 1][0] if k + 1 < len(rows) else 111
        table[0, lo:hi], table[1, lo:hi] = male, female
    return table


def need_table() -> np.ndarray:
    """Daily energy need (kcal/day) at rest-to-light activity by sex (rows M, F) and age 0..110."""
    return _by_age(_NEEDS)


def activity_extra(params) -> np.ndarray:
    """Extra kcal/day by activity code (none, farm, furnace, water works, urban work)."""
    extra = np.zeros(5)
    extra[FARM] = params.farm_work_extra_kcal
    extra[FURNACE] = extra[WATERWORKS] = params.heavy_work_extra_kcal
    extra[URBAN_WORK] = 0.6 * params.farm_work_extra_kcal
    extra[NONE] = 0.0
    return extra


def capacity_table(params) -> np.ndarray:
    """Reserve capacity (kcal) by sex and age 0..110."""
    return _by_age(_CAPACITY) * params.reserve_capacity_kcal


def nongrain_share(params, place_is_city: np.ndarray, private_plots: float) -> np.ndarray:
    """Share of need met by non-grain food, per place (rural share falls when private plots go)."""
    rural_kcal = params.nongrain_kcal_rural * (0.4 + 0.6 * private_plots)
    kcal = np.where(place_is_city == 1, params.nongrain_kcal_urban, rural_kcal)
    return np.minimum(kcal / 2000.0, 0.9)
