"""Policy levers: the table of every lever (default, allowed range, unit, meaning) and month parsing.

A lever is a quantity the timeline of dated events moves month by month (see
:mod:`greatleap.timeline`); mechanisms read the month's lever values.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


def parse_month(text: str) -> int:
    """'YYYY-MM' (or 'YYYY-MM-DD') -> absolute month index (year*12 + month-1)."""
    m = _MONTH.match(str(text))
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"date {text!r} is not a month; allowed: 'YYYY-MM' with month 01..12")
    return int(m.group(1)) * 12 + int(m.group(2)) - 1


def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class Lever:
    default: float
    lo: float
    hi: float
    unit: str
    meaning: str
    scope: str = "provincial"  # "national": set by the centre for the whole country (events may not name a province)


LEVERS: dict[str, Lever] = {
    "campaign": Lever(0.1, 0, 1, "index", "political pressure of the Leap campaign (drives inflation and ambition)"),
    "anti_right": Lever(0.0, 0, 1, "index", "Anti-Right Deviation struggle after Lushan (fear of reporting shortfalls)"),
    "ambition": Lever(0.05, -0.5, 3, "planned output / last year's claimed output - 1", "targets: planned output = last year's claim x (1 + ambition)", "national"),
    "commune": Lever(0.0, 0, 1, "index", "egalitarian commune organisation (0 = 1957 higher co-ops); lowers incentives"),
    "private_plots": Lever(1.0, 0, 1, "share", "private plots and sidelines allowed (non-grain food)"),
    "canteen": Lever(0.0, 0, 1, "share of rural people", "eating in communal canteens"),
    "free_eating": Lever(0.0, 0, 1, "index", "canteen free-eating phase (eat your fill)"),
    "furnace_labor": Lever(0.0, 0, 0.8, "share of rural working-age labor", "backyard furnaces"),
    "waterworks_labor": Lever(0.0, 0, 0.8, "share of rural working-age labor", "water-conservancy works"),
    "recruitment": Lever(0.0015, 0, 0.05, "per month, share of rural working-age", "recruited to state industry (urban hukou)"),
    "senddown": Lever(0.0, 0, 0.05, "per month, share of urban working-age", "sent back to the countryside"),
    "close_cropping": Lever(0.0, 0, 1, "intensity", "Lysenkoist close cropping"),
    "deep_plowing": Lever(0.0, 0, 1, "intensity", "deep plowing"),
    "fallow": Lever(0.0, 0, 0.5, "share of land", "moderately productive land left unplanted"),
    "sparrow_campaign": Lever(0.0, 0, 1, "intensity", "Four Pests: killing sparrows"),
    "procurement_rate": Lever(0.24, 0, 0.8, "share of believed output", "procurement plan (tax + compulsory purchase)", "national"),
    "quota_redraw": Lever(0.0, 0, 1, "share", "share of the grain year's quota redrawn at the autumn harvest on the "
                          "year's reports as believed (0: fixed in January for the year)", "national"),
    "enforcement": Lever(0.0, 0, 1, "index", "procurement enforcement: lowers the protected floor"),
    "search": Lever(0.2, 0, 1, "index", "anti-concealment searches"),
    "scepticism": Lever(0.05, 0, 0.9, "share", "centre's discount on reports", "national"),
    "urban_ration": Lever(16.0, 0, 40, "kg grain/urban person/month", "urban ration from state stocks", "national"),
    "outflow_task": Lever(0.0, 0, 20, "Mt/year of raw grain", "the centre's task of grain the province ships out "
                          "(met from its granaries, else levied from its communes)"),
    "exports": Lever(190.0, 0, 2000, "kt/month", "grain exports", "national"),
    "imports": Lever(0.0, 0, 2000, "kt/month", "grain imports", "national"),
    "relief": Lever(0.8, 0, 1, "index", "willingness to send relief grain to starving communes"),
    "hukou": Lever(0.9, 0, 1, "index", "enforcement of household registration (blocks escape)"),
}
LEVER_NAMES = tuple(LEVERS)
LEVER_INDEX = {name: i for i, name in enumerate(LEVER_NAMES)}
