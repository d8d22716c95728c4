"""Distribution within communes: canteens (free eating, then rationing) and household eating.

Each month a commune draws grain from its stock: the stock spread over the months until the
next harvest, capped at ``household_max_ratio`` x grain need. In the canteen free-eating phase
people over-draw the planned ration by ``free_eating_ratio``, which leaves the spring short.
Canteens waste a share of what they cook. Inside the place, grain is shared by ration
weights (class, cadre privilege, work) - see ``ration_weight`` in the kernels - so the
ration ratio r_c = grain eaten (kcal/day) / weighted grain need. Units: kg/month (real).
"""
from __future__ import annotations

import numpy as np

from greatleap.levers import LEVER_INDEX as L


def monthly_draw(params, stock, grain_need_kg, months_left, levers):
    """Grain drawn from each commune's stock this month (kg) and the part wasted by canteens."""
    canteen = levers[L["canteen"]]
    planned = stock / np.maximum(months_left, 1)
    cap = params.household_max_ratio * grain_need_kg
    free = levers[L["free_eating"]] * canteen
    draw = np.minimum(planned, cap)
    if free > 0:  # eat your fill: over-draw the planned ration (stocks run out before the harvest)
        draw = np.minimum(planned, cap * params.free_eating_ratio) * (1.0 + (params.free_eating_ratio - 1.0) * free)
    draw = np.minimum(draw, stock)
    waste = draw * params.canteen_waste * canteen
    return draw, waste


def ration_ratio(eaten_kg, weighted_need_kcal_day, kcal_per_kg):
    """Ratio of grain eaten to weighted grain need, per place."""
    return np.where(weighted_need_kcal_day > 0,
                    eaten_kg * kcal_per_kg / 30.0 / np.maximum(weighted_need_kcal_day, 1e-9), 0.0)
