"""Procurement and state grain: collection on real stocks, granaries, urban supply, trade, relief.

At a harvest the season's share of the quota is due. What can be taken is the accessible
stock (hidden grain is found by searches) above a protected floor that shrinks with
enforcement, harder in more radical provinces (x (1 + gain x (radicalism - 0.5))):
taken = clip(min(due, accessible - floor), 0), floor = min_retention x people x months to the
next harvest / 12 x (1 - enforcement). Where the quota bites, violence follows (the
``violence_pressure`` read by the nutrition kernel). The state granary gains procurement and
imports and pays out urban rations, exports, other state use, storage losses and relief.
Relief reaches a commune only when its stock per head is below a threshold, and only as
much as the political climate (lever ``relief``) releases. Units: kg (real).
"""
from __future__ import annotations

import numpy as np

from greatleap.levers import LEVER_INDEX as L


def collect(params, due, stock, people_real, months_left, levers, radicalism):
    """Grain taken from each commune (kg) and the bite (due / accessible stock)."""
    enforcement = np.minimum(1.0, levers[L["enforcement"]] * np.maximum(
        0.0, 1.0 + params.radical_enforcement_gain * (radicalism - 0.5)))
    pressure = np.minimum(1.0, due / np.maximum(stock, 1.0))
    hidden = params.concealment_max * pressure * (1.0 - levers[L["search"]])
    accessible = stock * (1.0 - hidden)
    floor = params.min_retention_kg * people_real * months_left / 12.0 * (1.0 - enforcement)
    taken = np.clip(np.minimum(due, accessible - floor), 0.0, None)
    bite = np.minimum(due / np.maximum(accessible, 1.0), 2.0)
    return taken, bite * enforcement


class StateGranary:
    """The state's grain account (kg) and its monthly flows."""

    def __init__(self, scenario):
        self.p = scenario.procurement
        self.stock = self.p.initial_state_stock_mt * 1e9

    def month(self, procured, urban_people_real, levers, commune_stock, commune_need_kg, months_left,
              believed_inflation):
        """Move one month's state grain. Returns the flows (kg) and the relief/resale per commune (kg).

        Relief (resale to deficit communes) covers a commune's projected shortfall until the next
        harvest (need x months left - stock), as far as the budget above the reserve floor and the
        political climate allow; the centre discounts the shortfall of a commune by the inflation
        it believes in that commune's reports (a place that claimed a bumper crop is not short).
        """
        p = self.p
        self.stock += procured
        imports = levers[L["imports"]] * 1e6
        self.stock += imports
        urban_demand = levers[L["urban_ration"]] * urban_people_real
        urban_supply = min(urban_demand, max(self.stock, 0.0))
        self.stock -= urban_supply
        exports = min(levers[L["exports"]] * 1e6, max(self.stock, 0.0))
        self.stock -= exports
        other = min(p.state_other_use_mt * 1e9 / 12.0, max(self.stock, 0.0))
        self.stock -= other
        loss = self.stock * 0.002
        self.stock -= loss
        budget = max(0.0, self.stock - p.state_reserve_floor_mt * 1e9) * p.relief_share_per_month
        shortfall = np.maximum(0.0, commune_need_kg * months_left - commune_stock) / np.maximum(months_left, 1)
        believed = shortfall * levers[L["relief"]] / (1.0 + believed_inflation)
        total = believed.sum()
        relief = believed * (min(1.0, budget / total) if total > 0 else 0.0)
        self.stock -= relief.sum()
        return {"urban_supply": urban_supply, "urban_demand": urban_demand, "exports": exports,
                "imports": imports, "state_other_use": other, "state_loss": loss}, relief
