"""Communes and cities: the places people live in, their grain stocks, and storage losses.

Each province has synthetic rural communes (``run.communes`` in all, shared among provinces by
rural population, the same number at every scale, so that the spread of commune conditions does
not change with the scale; fewer where a commune would have fewer than
``run.min_agents_per_commune`` agents) and one city. A commune's yield potential is its rural people
x the province's yield index x a lognormal commune factor (averaging 1 over the province's rural
people: the draws move grain between a province's communes, never between provinces), scaled so
the nation grows ``agriculture.grain_base_mt`` in 1957 conditions. Stocks (kg, real) start at
``initial_stock_cover`` x consumption until the next harvest (~18 kg grain/person/month) and lose
``storage_loss_per_month`` each month.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greatleap import data
from greatleap.calendar import harvest_calendar
from greatleap.levers import parse_month
from greatleap.mechanisms.base import Mechanism, Series, per_member
from greatleap.streams import STREAM_COMMUNE_YIELD, normal_array
from greatleap.traits import HUKOU, code_of
from greatleap.world import Geography, map_slices

MIN_AGENTS_PER_PROVINCE = 200  # fewer agents than this per province make provincial rates noise
GRAIN_PER_PERSON_MONTH_KG = 18.0  # initial stocks: ~216 kg/person/year of unhusked grain


class ScaleError(ValueError):
    """The scale leaves too few agents to represent every province."""


@dataclass(frozen=True)
class Layout:
    """Agents per province at the start (rural, urban), before any person exists."""
    geography: Geography
    n_agents: int
    rural: np.ndarray
    urban: np.ndarray


def _largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    raw = shares / shares.sum() * total
    out = np.floor(raw).astype(np.int64)
    out[np.argsort(-(raw - out), kind="stable")[: total - out.sum()]] += 1
    return out


def largest_valid_scale(initial_population_million: float, n_provinces: int) -> float:
    """The coarsest scale (persons per agent) that still gives every province its minimum of agents."""
    return float(int(initial_population_million * 1e6 / (MIN_AGENTS_PER_PROVINCE * n_provinces - 0.5)))


def layout(scenario) -> Layout:
    """Provinces, communes and cities for a scenario's scale (the same for every member)."""
    run, pop_p = scenario.run, scenario.population
    prov = data.provinces()
    n_prov = len(prov)
    n_agents = int(round(pop_p.initial_population_million * 1e6 / run.scale))
    if n_agents < MIN_AGENTS_PER_PROVINCE * n_prov:
        limit = largest_valid_scale(pop_p.initial_population_million, n_prov)
        raise ScaleError(f"run.scale = {run.scale:g} persons per agent leaves {n_agents} agents, fewer than "
                         f"{MIN_AGENTS_PER_PROVINCE} per province; allowed: scale <= {limit:g}")
    per_prov = _largest_remainder(n_agents, prov.pop_start.to_numpy(float))
    urban = np.minimum(np.round(per_prov * prov.urban_share.to_numpy()).astype(np.int64), per_prov - 20)
    rural = per_prov - urban
    n_communes = int(np.clip(min(run.communes, rural.sum() // run.min_agents_per_commune), n_prov, None))
    communes_per_prov = np.maximum(1, _largest_remainder(n_communes, rural.astype(float)))
    n_communes = int(communes_per_prov.sum())  # keep the total after forcing one commune per province
    first = np.concatenate([[0], np.cumsum(communes_per_prov)[:-1]]).astype(np.int32)
    geo = Geography(
        province_names=list(prov.province), n_communes=n_communes,
        place_province=np.concatenate([np.repeat(np.arange(n_prov), communes_per_prov), np.arange(n_prov)]).astype(np.int32),
        place_is_city=np.concatenate([np.zeros(n_communes), np.ones(n_prov)]).astype(np.uint8),
        province_city=(n_communes + np.arange(n_prov)).astype(np.int32),
        province_first_commune=first, province_n_communes=communes_per_prov.astype(np.int32))
    return Layout(geo, n_agents, rural, urban)


def commune_draws(seed: int, stream: int, step: int, geo: Geography) -> np.ndarray:
    """Standard normal deviations of each commune from its province (n_communes,): the draws centred within each
    province and rescaled to unit variance, 0 where a province has one commune. A province's mean commune is then
    its own, whatever the number of communes: uncentred, the few communes of a coarse scale (~5 a province at
    20,000) left each province's yield and reports a few per cent off by chance, and mortality, being convex,
    turned that into more famine deaths (+7% at 20,000 against 200, stop 44)."""
    z = normal_array(seed, stream, step, np.arange(geo.n_communes, dtype=np.int64))
    prov, k = geo.commune_province, geo.province_n_communes.astype(float)
    mean = np.bincount(prov, weights=z, minlength=geo.n_provinces) / np.maximum(k, 1.0)
    spread = np.sqrt(k / np.maximum(k - 1.0, 1.0)) * (k > 1)
    return (z - mean[prov]) * spread[prov]


def initial_places(lay: Layout, agents: slice) -> np.ndarray:
    """The place of the initial ``agents``: province by province, its rural agents spread evenly
    over its communes, then its city's agents."""
    geo = lay.geography
    sizes = np.stack([lay.rural, lay.urban], axis=1).ravel().astype(np.int64)  # rural, urban of each province
    ends = np.cumsum(sizes)
    j = np.arange(agents.start, agents.stop, dtype=np.int64)
    group = np.searchsorted(ends, j, side="right")
    p, urban = group // 2, group % 2 == 1
    k = j - (ends[group] - sizes[group])  # rank within the province's rural (or urban) agents
    rural_place = geo.province_first_commune[p] + (k * geo.province_n_communes[p]) // np.maximum(lay.rural[p], 1)
    return np.where(urban, geo.province_city[p], rural_place).astype(np.int32)


class Communes(Mechanism):
    """Places, their yield potential and grain stocks; storage losses."""
    name = "communes"
    phases = ("distribute",)
    accounts = ("losses",)

    def init(self, sim) -> None:
        w, geo, nc = sim.world, sim.geo, sim.geo.n_communes
        prov = data.provinces()
        w.provinces.add("radicalism", fill=0.0, unit="index 0-1", meaning="provincial leaders' zeal", owner=self.name)
        w.provinces.radicalism[:] = prov.radicalism.to_numpy(float)
        w.places.add("potential", unit="kg/year", meaning="grain in 1957 conditions (0 for cities)", owner=self.name)
        w.places.add("farm_norm", fill=1.0, unit="agents", meaning="field labor at the start", owner=self.name)
        w.places.add("stock", unit="kg", meaning="grain held by the place", owner=self.name)
        w.places.add("losses", unit="kg/month", meaning="grain lost in storage this month", owner=self.name)
        months = harvest_calendar().months_to_next_harvest(parse_month(sim.scenarios[0].run.start) % 12 + 1)
        people = w.people
        n = sim.layout.n_agents
        for m, scen in enumerate(sim.scenarios):  # setup only: once per member
            agri = scen.agriculture
            noise = commune_draws(scen.run.seed, STREAM_COMMUNE_YIELD, 0, geo)
            def count(s: slice, m=m) -> tuple[np.ndarray, np.ndarray]:  # per slice of agents: small temporaries
                place, age = people.place[m, s], people.age_m[m, s]
                rural_mask = code_of(people.traits[m, s], HUKOU) == 0
                return (np.bincount(place[rural_mask], minlength=geo.n_places),
                        np.bincount(place[(age >= 180) & (age < 720) & rural_mask], minlength=geo.n_places))
            rural_agents = np.zeros(geo.n_places, np.int64)
            farm_norm = np.zeros(geo.n_places)
            for rural, working in map_slices(n, count):  # in slice order
                rural_agents += rural
                farm_norm += working
            rural_agents = rural_agents[:nc]
            factor = np.exp(agri.commune_yield_sd * noise)  # lognormal, then scaled to mean 1 in each province
            in_province = np.bincount(geo.commune_province, weights=rural_agents * factor, minlength=geo.n_provinces) \
                / np.maximum(np.bincount(geo.commune_province, weights=rural_agents, minlength=geo.n_provinces), 1)
            raw = (rural_agents * prov.yield_index.to_numpy(float)[geo.commune_province]
                   * factor / in_province[geo.commune_province])
            w.places.potential[m, :nc] = raw / raw.sum() * agri.grain_base_mt * 1e9
            farm_norm[nc:] = 1.0
            w.places.farm_norm[m] = np.maximum(farm_norm, 1.0)
            w.places.stock[m, :nc] = (rural_agents * scen.run.scale * agri.initial_stock_cover
                                      * months[geo.commune_province] * GRAIN_PER_PERSON_MONTH_KG)
        self.loss_rate = per_member(sim.params.agriculture.storage_loss_per_month)

    def distribute(self, world, month) -> None:
        """Storage losses on every place's stock."""
        pl = world.places
        pl.losses[:] = pl.stock * self.loss_rate
        pl.stock[:] = pl.stock - pl.losses

    def series(self) -> list[Series]:
        return [Series("stock", "kg", "grain held, by province and sector (end of month)", "province_sector",
                       lambda w: w.places.stock),
                Series("commune_stock", "kg", "grain held by communes (end of month)", "national",
                       lambda w: w.places.stock[:, : w.geo.n_communes].sum(axis=1))]
