"""Labor: diversion of rural labor to furnaces and water works, recruitment, and steel output.

The month's shares come from the timeline levers; the per-person draws happen in the
``assign_labor`` kernel. Steel (t) = furnace labor-months (real) x kg per labor-month / 1000,
of which ``furnace_unusable_share`` is unusable; modern steel grows with the urban workforce.
"""
from __future__ import annotations

from greatleap.levers import LEVER_INDEX as L


def diversion_shares(levers) -> tuple[float, float]:
    """(furnace share, water-works share) of rural working-age labor this month, capped at 90%."""
    furnace = float(levers[L["furnace_labor"]])
    water = float(levers[L["waterworks_labor"]])
    total = furnace + water
    if total > 0.9:
        furnace, water = furnace * 0.9 / total, water * 0.9 / total
    return furnace, water


def steel_month(params, furnace_labor_agents: float, urban_workers: float, urban_workers_start: float,
                scale: float) -> tuple[float, float, float]:
    """(modern, furnace usable, furnace unusable) steel this month, in Mt."""
    furnace_mt = furnace_labor_agents * scale * params.furnace_steel_kg_per_labor_month / 1e9
    modern = params.modern_steel_mt_1957 / 12.0 * (urban_workers / max(urban_workers_start, 1.0)) ** 0.8
    unusable = furnace_mt * params.furnace_unusable_share
    return modern, furnace_mt - unusable, unusable
