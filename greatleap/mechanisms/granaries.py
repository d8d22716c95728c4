"""State grain: the centre's and the provinces' granaries, urban supply, trade, other use, relief.

Each month the state granary gains procurement and imports and pays out, in this order of
priority, urban rations (lever ``urban_ration`` x urban people), exports (lever ``exports``),
other state use (army, industry, feed: ``state_other_use_mt``) and storage losses. Relief
(resale to deficit communes) covers a commune's projected shortfall until the next harvest
(need x months left - stock), as far as the budget above the reserve floor
(``relief_share_per_month`` of the stock above ``state_reserve_floor_mt``) and the political
climate (lever ``relief``) allow; the centre discounts the shortfall of a commune by the
inflation it believes in that commune's reports (a place that claimed a bumper crop is not
short), and it answers inflated head counts (``registration.population_inflation``).
Province granaries are accounts of their own (empty in the historical scenario: all state grain
is pooled at the centre). Units: kg (real).
"""
from __future__ import annotations

import numpy as np

from greatleap.calendar import harvest_calendar
from greatleap.mechanisms.base import Mechanism, Series, per_member

_FLOWS = ("urban_supply", "urban_demand", "exports", "imports", "state_other_use", "state_loss")


def relief_claims(need_kg, months_left, stock, relief_lever, believed_inflation):
    """What the centre believes each commune lacks per month until the next harvest (kg)."""
    shortfall = np.maximum(0.0, need_kg * months_left - stock) / np.maximum(months_left, 1)
    return shortfall * relief_lever / (1.0 + believed_inflation)


class Granaries(Mechanism):
    """The state's grain accounts and their monthly flows."""
    name = "granaries"
    phases = ("supply",)
    accounts = ("state_other_use", "exports", "imports", "state_loss")

    def init(self, sim) -> None:
        w = sim.world
        w.national.add("state_stock", unit="kg", meaning="grain in the centre's granaries", owner=self.name)
        w.provinces.add("granary", unit="kg", meaning="grain in the province's own granaries", owner=self.name)
        for key in _FLOWS:
            w.national.add(key, unit="kg/month", meaning=key.replace("_", " "), owner=self.name)
        w.places.add("relief", unit="kg/month", meaning="relief grain resold to the place", owner=self.name)
        pp = sim.params.procurement
        w.national.state_stock[:] = pp.initial_state_stock_mt * 1e9
        self.other_use_kg = pp.state_other_use_mt * 1e9 / 12.0
        self.loss_rate = pp.state_storage_loss_per_month
        self.floor_kg = pp.state_reserve_floor_mt * 1e9
        self.relief_share = pp.relief_share_per_month
        self.count_inflation = per_member(1.0 + sim.params.registration.population_inflation)
        self.calendar = harvest_calendar()

    def supply(self, world, month) -> None:
        """Procurement and imports in; urban rations, exports, other use, losses and relief out."""
        n, pl, geo, nc = world.national, world.places, world.geo, world.geo.n_communes
        stock = n.state_stock
        stock += pl.procured.sum(axis=1)
        n.imports[:] = month.national("imports") * 1e6
        stock += n.imports
        n.urban_demand[:] = month.national("urban_ration") * (pl.pop[:, nc:] * world.scale).sum(axis=1)
        n.urban_supply[:] = np.minimum(n.urban_demand, np.maximum(stock, 0.0))
        stock -= n.urban_supply
        n.exports[:] = np.minimum(month.national("exports") * 1e6, np.maximum(stock, 0.0))
        stock -= n.exports
        n.state_other_use[:] = np.minimum(self.other_use_kg, np.maximum(stock, 0.0))
        stock -= n.state_other_use
        n.state_loss[:] = stock * self.loss_rate
        stock -= n.state_loss
        budget = np.maximum(0.0, stock - self.floor_kg) * self.relief_share
        prov = geo.commune_province
        claims = relief_claims(pl.grain_need_kg[:, :nc] * self.count_inflation,
                               self.calendar.months_to_next_harvest(month.month)[prov], pl.stock[:, :nc],
                               month.lever("relief")[:, prov], pl.believed_inflation[:, :nc])
        total = claims.sum(axis=1)
        share = np.where(total > 0, np.minimum(1.0, budget / np.where(total > 0, total, 1.0)), 0.0)
        pl.relief[:, :nc] = claims * share[:, None]
        stock -= pl.relief[:, :nc].sum(axis=1)
        pl.stock[:, :nc] += pl.relief[:, :nc]

    def series(self) -> list[Series]:
        out = [Series(key, "kg", f"{key.replace('_', ' ')} this month", "national", lambda w, k=key: getattr(w.national, k))
               for key in _FLOWS if key != "state_loss"]
        return out + [
            Series("state_stock", "kg", "grain in state granaries (end of month)", "national",
                   lambda w: w.national.state_stock + w.provinces.granary.sum(axis=1)),
            Series("losses", "kg", "storage losses this month (places and state)", "national",
                   lambda w: w.places.losses.sum(axis=1) + w.national.state_loss),
            Series("relief", "kg", "relief grain resold this month", "province_sector", lambda w: w.places.relief),
            Series("relief", "kg", "relief grain resold this month", "national", lambda w: w.places.relief[:, : w.geo.n_communes].sum(axis=1))]
