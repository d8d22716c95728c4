"""State grain: each province's granaries and the centre's, with the flows between them.

Procurement goes into the province's granary. Each month, in order of priority:
1. the province feeds its city (lever ``urban_ration`` x urban people), calling on the centre for
   what its own granary lacks; if the centre is short too, the state levies the rest from the
   province's communes, then from other provinces' (at most ``urban_levy_share`` of a commune's
   stock above the lower of the procurement floor and ``commitment_floor_kg`` a month, recorded as
   procurement): cities came first; only beyond that does the city get less;
2. the centre pays exports (lever ``exports``) and other state use (army, industry:
   ``state_other_use_mt``), taking from provinces' surpluses when its own stock runs short;
3. resales to rural communes short of grain (projected shortfall until the next harvest: need x
   months left - stock): (a) routine resales, a share ``resale_share`` of all that was procured,
   sold back over the months to the next harvest: a share ``planned_resale_share`` on the fixed
   plan to the structurally deficit communes (:func:`structural_deficit`), the rest to the
   communes short of grain wherever they are (grain moved from surplus to deficit provinces and
   communes, cash-crop and disaster areas: Shandong, a deficit province, resold 56-71 bn jin a
   year in 1957-59 against 51-75 bn jin procured); (b) relief beyond that, scaled by the
   political climate (lever ``relief``), within a budget of the provinces' grain above their
   reserves (``province_reserve_months`` of urban demand) and the centre's above
   ``state_stock_target_mt``. Both are allotted on the state's
   view of the shortfall: the commune's stock plus the grain its last harvest report claimed
   beyond the truth (as far as the centre believes it), so inflated reports hide hunger from both.
   Resales are paid from the commune's province's granary, then the centre's, then other
   provinces' (an inter-provincial transfer);
4. each province sends ``outflow_share_per_month`` of its grain above the reserve to the centre
   (more in radical provinces: the centre's outflow tasks were met hardest where leaders were
   zealous, Sichuan's above all), and at least its outflow task where the record gives one (lever
   ``outflow_task``), levied from its own communes as procurement where its granaries lack it
   (Sichuan raised procurement to ship 4.8 bn jin in 1959-60 and 14.7 bn jin in 1959-61);
5. storage losses. Imports arrive at the centre. Grain is raw (unhusked), kg.
Shandong's account 1957-61 (procurement, resales) and Sichuan's outflows are in
``provincial_grain_panel.csv``; the state's stocks before the summer harvests of 1959 and 1960
(28.6 and 19.1 Mt of trade grain) are validation targets.
"""
from __future__ import annotations

import numpy as np

from greatleap.calendar import harvest_calendar
from greatleap.mechanisms.base import Mechanism, Series, by_province, per_member
from greatleap.mechanisms.hierarchy import believed_inflation
from greatleap.mechanisms.procurement import commitment_floor, enforcement_of, protected_floor

_FLOWS = ("urban_supply", "urban_demand", "exports", "imports", "state_other_use", "state_loss")


def relief_claims(need_kg, months_left, stock, relief_lever, phantom_kg):
    """What the state believes each commune lacks per month until the next harvest (kg).

    The state sees a commune's grain through its report: it believes the commune still holds the
    grain its last harvest report claimed beyond the truth (``phantom_kg`` = believed inflation x
    that harvest), so an inflated report hides a shortage from the resale plan and from relief
    alike (Yang 2012: provinces that claimed bumper harvests were refused resales and searched for
    'hidden' grain; Bernstein 1984: procurement and resales were both planned from the claims).
    """
    believed_stock = stock + phantom_kg
    shortfall = np.maximum(0.0, need_kg * months_left - believed_stock) / np.maximum(months_left, 1)
    return shortfall * relief_lever


def planned_resales(amount, weight):
    """Routine resales the state does not allot by a shortfall it sees, shared pro rata to ``weight`` (kg,
    (members, communes)): rural people, or :func:`structural_deficit` for the fixed plan. The resale plan
    returned grain to villages' grain-short households, cash-crop and pastoral areas wherever they were,
    not by the hunger it could not see."""
    total = weight.sum(axis=1)
    return np.maximum(amount, 0.0)[:, None] * np.divide(weight, total[:, None], out=np.zeros(weight.shape),
                                                        where=total[:, None] > 0)


def structural_deficit(potential, people):
    """Each commune's weight in the fixed sales plan (persons, (members, communes)): its people x the share by
    which its normal output per head (``potential``, kg/year in 1957 conditions) falls short of the nation's
    rural mean (0 at or above it). The 'three fixes' of 1955 (fixed output, purchase and sales) set the sales to
    grain-deficit households and to cash-crop, suburban and pastoral areas on normal output, for three years,
    and the plan went on feeding the deficit areas whatever they claimed: Shandong, a deficit province that
    claimed a bumper 1958, resold 71.4 bn jin in 1958-59 and 66.7 in 1959-60, more than in 1957
    (provincial_grain_panel.csv; Tombstone Table 8-1)."""
    per_head = potential / np.maximum(people, 1.0)
    mean = potential.sum(axis=1, keepdims=True) / np.maximum(people.sum(axis=1, keepdims=True), 1.0)
    return people * np.maximum(0.0, 1.0 - per_head / np.maximum(mean, 1e-9))


def draw(stock, amount):
    """Take ``amount`` from ``stock`` as far as it goes (arrays; stock is changed); returns what was taken."""
    taken = np.minimum(amount, np.maximum(stock, 0.0))
    stock -= taken
    return taken


class Granaries(Mechanism):
    """The state's grain: provincial granaries, the centre, urban supply, resales, outflows, trade."""
    name = "granaries"
    phases = ("supply",)
    accounts = ("state_other_use", "exports", "imports", "state_loss")

    def init(self, sim) -> None:
        w = sim.world
        w.national.add("state_stock", unit="kg", meaning="grain in the centre's granaries", owner=self.name)
        w.national.add("resale_due", unit="kg", meaning="routine resales still owed to rural communes this season",
                       owner=self.name)
        for key, meaning in (("granary", "grain in the province's state granaries"),
                             ("outflow", "grain sent to the centre this month (negative: received)"),
                             ("urban_supplied", "grain the state supplied to the province's city this month "
                              "(its towns eat it; short of the ration where the state could not supply it)")):
            w.provinces.add(key, unit="kg", meaning=meaning, owner=self.name)
        for key in _FLOWS:
            w.national.add(key, unit="kg/month", meaning=key.replace("_", " "), owner=self.name)
        w.places.add("relief", unit="kg/month", meaning="grain the state resold to the place", owner=self.name)
        w.places.add("last_harvest", unit="kg", meaning="the commune's last harvest (true)", owner=self.name)
        w.places.add("phantom", unit="kg", meaning="grain the centre believes the commune holds beyond the truth "
                     "(believed inflation at this month's scepticism x its last harvest)", owner=self.name)
        pp = sim.params.procurement
        w.national.state_stock[:] = pp.initial_state_stock_mt * 1e9
        self.other_use_kg = pp.state_other_use_mt * 1e9 / 12.0
        self.loss_rate = per_member(pp.state_storage_loss_per_month)
        self.target_kg = pp.state_stock_target_mt * 1e9
        self.relief_share = per_member(pp.relief_share_per_month)
        self.reserve_months = per_member(pp.province_reserve_months)
        self.resale_share, self.planned_share = per_member(pp.resale_share), pp.planned_resale_share
        w.places.add("resale_weight", unit="persons", meaning="weight in the fixed sales plan (people x shortfall of normal "
                     "output per head), set in the first month", owner=self.name)
        self.levy_share, self.levy_floor_kg = per_member(pp.urban_levy_share), per_member(pp.commitment_floor_kg)
        self.min_retention_kg, self.enforcement_gain = per_member(pp.min_retention_kg), per_member(pp.radical_enforcement_gain)
        self.outflow_share = np.minimum(1.0, per_member(pp.outflow_share_per_month) * np.maximum(
            0.0, 1.0 + per_member(pp.radical_outflow_gain) * (w.provinces.radicalism - 0.5)))
        self.count_inflation = per_member(1.0 + sim.params.registration.population_inflation)
        self.calendar = harvest_calendar()

    def supply(self, world, month) -> None:
        """Procurement and imports in; urban rations, exports, other use, resales, outflows and losses out."""
        n, pl, pv, geo, nc = world.national, world.places, world.provinces, world.geo, world.geo.n_communes
        prov = geo.commune_province
        centre, granary = n.state_stock, pv.granary
        procured = by_province(pl.procured[:, :nc], prov, geo.n_provinces)
        granary += procured
        n.resale_due[:] += self.resale_share[:, 0] * procured.sum(axis=1)
        months_left = self.calendar.months_to_next_harvest(month.month)
        n.imports[:] = month.national("imports") * 1e6
        centre += n.imports
        # 1. cities: the province's own granary, then the centre
        demand = month.national("urban_ration")[:, None] * pl.pop[:, nc:] * world.scale
        own = draw(granary, demand)
        from_centre = draw(centre, (demand - own).sum(axis=1))
        shortfall = demand - own
        share = np.divide(from_centre, shortfall.sum(axis=1), out=np.zeros_like(from_centre),
                          where=shortfall.sum(axis=1) > 0)
        supplied = own + shortfall * share[:, None]
        supplied += self._levy(world, month, demand - supplied, months_left[prov])
        pv.urban_supplied[:] = supplied
        n.urban_demand[:], n.urban_supply[:] = demand.sum(axis=1), supplied.sum(axis=1)
        # 2. exports and other state use, from the centre, then from provincial surpluses
        for key, amount in (("exports", month.national("exports") * 1e6), ("state_other_use", self.other_use_kg)):
            got = draw(centre, amount)
            got += self._call_on_provinces(granary, amount - got)
            getattr(n, key)[:] = got
        # 3. resales to rural communes by their shortfall: routine resales (a share of procurement, wherever
        # the shortfall is), then relief as the political climate and the believed reports allow
        need = pl.grain_need_kg[:, :nc]
        pl.last_harvest[:, :nc] = np.where(pl.harvest[:, :nc] > 0, pl.harvest[:, :nc], pl.last_harvest[:, :nc])
        phantom = pl.phantom[:, :nc]
        believed = believed_inflation(pl.report_inflation[:, :nc], month.national("scepticism"))
        phantom[:] = believed * pl.last_harvest[:, :nc]
        shortfall_c = relief_claims(need * self.count_inflation, months_left[prov], pl.stock[:, :nc], 1.0, phantom)
        if month.t == 0:  # the plan is fixed on the first month's people (a column: snapshots carry it)
            pl.resale_weight[:, :nc] = structural_deficit(pl.potential[:, :nc], pl.pop[:, :nc].astype(float))
        due = n.resale_due / max(int(np.max(months_left)), 1)
        fixed = planned_resales(due * self.planned_share, pl.resale_weight[:, :nc])
        due_now = due - fixed.sum(axis=1)
        routine = shortfall_c * np.minimum(1.0, np.divide(due_now, shortfall_c.sum(axis=1), out=np.zeros_like(due_now),
                                                          where=shortfall_c.sum(axis=1) > 0))[:, None]
        routine += planned_resales(due_now - routine.sum(axis=1), pl.pop[:, :nc]) + fixed
        claims = np.maximum(0.0, shortfall_c * month.lever("relief")[:, prov] - routine)  # the climate's share of it
        budget = np.maximum(0.0, granary - self.reserve_months * demand).sum(axis=1) * self.relief_share[:, 0] \
            + np.maximum(0.0, centre - self.target_kg) * self.relief_share[:, 0]
        claims = claims * np.minimum(1.0, np.divide(budget, claims.sum(axis=1), out=np.zeros_like(budget),
                                                    where=claims.sum(axis=1) > 0))[:, None]
        wanted = by_province(routine + claims, prov, geo.n_provinces)
        paid_p = draw(granary, wanted)            # the province's own granary first,
        from_centre_r = draw(centre, (wanted - paid_p).sum(axis=1))   # then the centre,
        from_centre_r += self._call_on_provinces(granary, (wanted - paid_p).sum(axis=1) - from_centre_r)  # then others
        short = wanted - paid_p
        cover = np.divide(from_centre_r, short.sum(axis=1), out=np.zeros_like(from_centre_r), where=short.sum(axis=1) > 0)
        received = shortfall * share[:, None] + short * cover[:, None]  # from the centre: city rations, resales
        got = np.divide(paid_p + short * cover[:, None], wanted, out=np.zeros_like(paid_p), where=wanted > 0)
        pl.relief[:, :nc] = (routine + claims) * got[:, prov]
        n.resale_due[:] = np.maximum(0.0, n.resale_due - (routine * got[:, prov]).sum(axis=1))
        pl.stock[:, :nc] += pl.relief[:, :nc]
        # 4. outflows of provincial surpluses to the centre, at least the province's task (levied if need be)
        sent = np.maximum(0.0, granary - self.reserve_months * demand) * self.outflow_share
        task = month.lever("outflow_task") * 1e9 / 12.0
        sent = np.maximum(sent, np.minimum(task, np.maximum(granary, 0.0)))
        granary -= sent
        if task.any():  # the record gives few tasks: most months no province has one to levy
            sent += self._levy(world, month, task - sent, months_left[prov], others=False)
        centre += sent.sum(axis=1)
        pv.outflow[:] = sent - received
        # 5. storage losses
        lost_p, lost_c = granary * self.loss_rate, centre * self.loss_rate[:, 0]
        granary -= lost_p
        centre -= lost_c
        n.state_loss[:] = lost_p.sum(axis=1) + lost_c

    def _levy(self, world, month, short, months_left, others=True) -> np.ndarray:
        """What the state takes from communes for each province's city or outflow task (kg, (members, provinces)):
        first from the province's own communes, then (``others``) from all others (a transfer: Shanghai was fed
        from other provinces), in proportion to their stocks above a floor, at most ``urban_levy_share`` of each;
        procurement. The floor is the procurement floor or ``commitment_floor_kg`` to the next harvest,
        whichever is lower: these extra purchases were pressed at least as hard as procurement, and the
        cities were fed whatever the climate (in the retreat of 1961-62 too), so a mild campaign does not
        leave the cities without grain while villages keep the full retention standard."""
        pl, geo, nc = world.places, world.geo, world.geo.n_communes
        prov = geo.commune_province
        enforcement = enforcement_of(month.lever("enforcement")[:, prov], self.enforcement_gain,
                                     world.provinces.radicalism[:, prov])
        people = pl.pop[:, :nc] * world.scale
        floor = commitment_floor(protected_floor(self.min_retention_kg, people, months_left, enforcement),
                                 self.levy_floor_kg, people, months_left)
        stock = np.maximum(pl.stock[:, :nc] - floor, 0.0)
        held = by_province(stock, prov, geo.n_provinces)
        take = np.minimum(np.maximum(short, 0.0), held * self.levy_share)
        frac = np.divide(take, held, out=np.zeros_like(take), where=held > 0)
        levy = stock * frac[:, prov]
        if others:  # what the province's own communes could not give, from everyone else's
            rest = np.maximum(short, 0.0) - take
            spare = stock * self.levy_share - levy
            total_spare = spare.sum(axis=1)
            more = np.minimum(rest.sum(axis=1), total_spare)
            levy += spare * np.divide(more, total_spare, out=np.zeros_like(more), where=total_spare > 0)[:, None]
            take += rest * np.divide(more, rest.sum(axis=1), out=np.zeros_like(more),
                                     where=rest.sum(axis=1) > 0)[:, None]
        pl.stock[:, :nc] -= levy
        pl.procured[:, :nc] += levy
        return take

    @staticmethod
    def _call_on_provinces(granary, amount):
        """Take ``amount`` (members,) from provincial granaries, in proportion to what they hold above zero."""
        held = np.maximum(granary, 0.0)
        total = held.sum(axis=1)
        take = np.minimum(amount, total)
        frac = np.divide(take, total, out=np.zeros_like(take), where=total > 0)
        granary -= held * frac[:, None]
        return take

    def series(self) -> list[Series]:
        out = [Series(key, "kg", f"{key.replace('_', ' ')} this month", "national", lambda w, k=key: getattr(w.national, k))
               for key in _FLOWS if key != "state_loss"]
        return out + [
            Series("state_stock", "kg", "grain in state granaries, centre and provinces (end of month)", "national",
                   lambda w: w.national.state_stock + w.provinces.granary.sum(axis=1)),
            Series("granary", "kg", "grain in the province's state granaries (end of month)", "province",
                   lambda w: w.provinces.granary),
            Series("outflow", "kg", "grain sent to the centre (negative: received) this month", "province",
                   lambda w: w.provinces.outflow),
            Series("losses", "kg", "storage losses this month (places and state)", "national",
                   lambda w: w.places.losses.sum(axis=1) + w.national.state_loss),
            Series("relief", "kg", "grain resold to rural communes this month", "province_sector", lambda w: w.places.relief),
            Series("relief", "kg", "grain resold to rural communes this month", "national",
                   lambda w: w.places.relief[:, : w.geo.n_communes].sum(axis=1))]
