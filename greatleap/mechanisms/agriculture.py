"""Agriculture: harvests from land, labor, weather, fertiliser, techniques, pests and incentives.

At each harvest of a province's calendar (``data/harvest_calendar.csv``):
Y_c = potential_c x season share x weather_{p,y,s} x trend x fertiliser_y x technique x pests x incentive
      x (tools x draught animals)^capital_elasticity x pigs^manure_elasticity x sown area x (L_season / L_norm)^alpha
      x (1 - harvest loss),
fertiliser_y = 1 + response x (F_y - F_1957) / Y_1957: F the chemical fertiliser applied in the harvest
year (Mt of nutrients, the record), response kg of grain per kg of nutrients, Y_1957 the 1957 output (Mt),
sown area = (1 - (1 - A_y) m) (1 - fallow_c m): A_y the grain sown area of the harvest year (share of
1957, the record in ``data/sources/grain_sown_area_1952_1966.csv``), fallow the land the Leap left
unplanted (the 'three-three' system), m ``marginal_yield`` (land leaves grain poorest first),
weather_{p,y,s} the national factor of the harvest shared out by the disaster record (the provinces it names lose
the severely hit share of the year's sown area x the yield lost there, spread over the named harvests' grain),
where L is effective farm labor (workers x work capacity) per hectare of grain land sown that year (:func:`sown_land`:
constant returns to land and labor, so less land needs fewer hands) against each month's need (the share of the 1957
field workforce the month's fieldwork needs, ``data/farm_labor_calendar.csv``: hands beyond the need add nothing, so
labor drafted in a slack month costs no grain; :func:`field_labor_ratio`), weighted by that need over the season, and
the harvest loss grows with the labor shortfall (per hectare) in the harvest month. Techniques, fallowing and pests
act through the state of the fields at planting time; techniques are adopted more where provincial leaders are
more radical. Birds (sparrows) fall with the Four Pests campaign and recover slowly; pest losses
grow as birds disappear. Farm tools are melted in the furnaces and forged again; the draught animals and the
pigs (whose manure at planting time feeds the fields) are lost in hunger and rebuilt after it
(:mod:`greatleap.mechanisms.livestock`).
Units: kg of unhusked grain (real, not per agent).
"""
from __future__ import annotations

import numpy as np

from greatleap import data
from greatleap.calendar import harvest_calendar
from greatleap.levers import LEVER_INDEX, parse_month
from greatleap.mechanisms.base import (Mechanism, Series, by_province, member_power, per_member, scalar_pow,
                                      uniform_or_mean)
from greatleap.streams import STREAM_WEATHER, normal_array

MAX_LABOR_RATIO = 1.3       # field labor above the 1957 norm (per hectare sown) helps up to this ratio
MIN_SOWN_SHARE = 0.05       # the labor per hectare of a year that sowed (almost) nothing stays finite
ADOPTION_BASE = 0.5         # techniques adopted at 0.5 + radicalism (capped at 1)
SUMMER = "summer"           # the calendar's season whose weather ``summer_weather`` may set apart
MAX_CAPITAL_LOSS = 0.5      # share of farm tools that can be lost in one month
# Less fertiliser than in 1957 takes away at most half a harvest. It binds only where a scenario's own numbers
# contradict each other (1957's fertiliser x the response above the 1957 output): the record's 0.73 Mt gives at
# most ~6% of output at any response in range.
MIN_FERTILISER_FACTOR = 0.5
FACTORS = {"technique": "technique factor (mean over communes)", "pests": "pest factor",
           "incentive": "incentive factor", "harvest_loss": "harvest loss (mean over communes)",
           "season_labor": "season labor ratio: field labor / each month's need (mean over communes)",
           "weather": "national weather factor",
           "capital": "farm capital factor (tools x draught animals)", "manure": "pig manure factor",
           "sown_area": "sown area factor (mean over communes)",
           "fertiliser": "chemical fertiliser factor"}


def national_weather(scenario, season: str) -> dict[int, float]:
    """The national weather factor by year of a ``season``'s harvest: the year's ``weather``, or for the
    summer harvest its own where ``summer_weather`` names the year."""
    agri = scenario.agriculture
    return {**agri.weather, **agri.summer_weather} if season == SUMMER else agri.weather


def disaster_severity(severe_hit_yield_loss: float, years, potential: np.ndarray, calendar) -> dict[int, float]:
    """Share of its harvest's yield a province named by the disaster record loses, by year: ``severe_hit_yield_loss``
    (share of yield lost on the severely hit area) x the year's severely hit share of the sown area
    (:func:`greatleap.data.severely_hit_share`) / the share of the year's grain ``potential`` (kg, by province) that
    the named province-harvests grow, the hit area at most all of it. Years without a record lose nothing."""
    hit_share = data.severely_hit_share()
    flags = {season: data.provincial_disasters(season) for season in data.DISASTER_SEASONS}
    total = float(np.sum(potential))
    out = {}
    for year in years:
        if year not in hit_share.index:
            continue
        named = sum(float(np.sum(flags[season][year].to_numpy() * potential * calendar.season_share(season)))
                    for season in flags if year in flags[season].columns)
        if named > 0.0:
            out[year] = severe_hit_yield_loss * min(1.0, float(hit_share[year]) * total / named)
    return out


def sown_area_factor(area, fallow, marginal_yield):
    """Output factor of the grain sown area: ``area`` (members,) share of 1957 sown, ``fallow`` (members,
    communes) share of that land the Leap left unplanted; the land that leaves (or joins) grain yields
    ``marginal_yield`` (members, 1) x the average."""
    return (1.0 - (1.0 - per_member(area)) * marginal_yield) * (1.0 - fallow * marginal_yield)


def sown_land(area, fallow):
    """Land under grain this year as a share of 1957's (members, communes): ``area`` (members,) the year's grain sown
    area (share of 1957), ``fallow`` (members, communes) the share of it the Leap left unplanted. Field labor is
    counted per hectare of it (constant returns to land and labor: a tenth less land needs a tenth fewer hands; in
    1959 the record's grain land was 13% below 1957's and the farm workforce ~16% below, yet yield per sown hectare
    held at 1957's 1.46 t), at least ``MIN_SOWN_SHARE``."""
    return np.maximum(per_member(area) * (1.0 - fallow), MIN_SOWN_SHARE)


def field_labor_ratio(labor_ratio, demand: float):
    """Field labor / what the month's fieldwork needs: ``labor_ratio`` (field labor / the 1957 norm, capped at
    ``MAX_LABOR_RATIO``) against ``demand``, the share of the 1957 field workforce the month needs (1 at the peak).
    Short of the need it is ``labor_ratio`` / ``demand``; between the need and the norm the work is done (1: a slack
    month's idle hands add nothing, so labor drafted then costs no grain); above the norm extra hands help as at
    the peak (``labor_ratio``)."""
    return np.where(labor_ratio < demand, labor_ratio / demand, np.maximum(labor_ratio, 1.0))


def fertiliser_factor(applied_mt, applied_1957_mt, response_kg_per_kg, output_1957_mt):
    """Output factor of chemical fertiliser: 1 + ``response_kg_per_kg`` (kg grain per kg of nutrients) x the
    nutrients applied beyond 1957's (Mt) / the 1957 output (Mt), at least ``MIN_FERTILISER_FACTOR``."""
    return max(MIN_FERTILISER_FACTOR, 1.0 + response_kg_per_kg * (applied_mt - applied_1957_mt) / output_1957_mt)


def fertiliser_by_year(scenario, years) -> np.ndarray:
    """The fertiliser factor of each harvest year (1 where the scenario has no fertiliser table)."""
    agri = scenario.agriculture
    table = agri.chemical_fertiliser
    base = table.get(1957, 0.0)
    return np.array([fertiliser_factor(table.get(y, base), base, agri.fertiliser_response, agri.grain_base_mt)
                     for y in years])


class Agriculture(Mechanism):
    """Field labor over the season, birds and farm capital, and the harvests."""
    name = "agriculture"
    phases = ("produce",)
    accounts = ("production", "seed_feed")

    def init(self, sim) -> None:
        w, geo = sim.world, sim.geo
        for key, fill, unit, meaning in (("birds", 1.0, "share of 1957", "sparrows and other birds"),
                                         ("capital", 1.0, "share of 1957", "farm tools (melted in the furnaces, forged again)"),
                                         ("season_weight", 0.0, "months", "labor-demand weight accumulated this season"),
                                         ("season_commune", 0.0, "index-months", "commune organisation accumulated this season")):
            w.provinces.add(key, fill=fill, unit=unit, meaning=meaning, owner=self.name)
        w.places.add("season_labor", unit="ratio-months", meaning="field labor / norm accumulated this season", owner=self.name)
        w.places.add("harvest", unit="kg/month", meaning="grain harvested this month", owner=self.name)
        w.places.add("seed_feed", unit="kg/month", meaning="grain kept for seed and feed", owner=self.name)
        w.national.add("birds_at", fill=1.0, unit="share of 1957", meaning="birds at the start of each month",
                       owner=self.name, extra=(sim.n_months, geo.n_provinces))
        self.calendar = harvest_calendar()
        self.levers = sim.levers
        self.p = sim.params.agriculture
        self.manure_elasticity = sim.params.livestock.manure_elasticity
        self.adoption = np.minimum(1.0, ADOPTION_BASE + w.provinces.radicalism)[:, geo.commune_province]
        start = parse_month(sim.scenarios[0].run.start) // 12
        self.first_year = start
        years = range(start, parse_month(sim.scenarios[0].run.end) // 12 + 1)
        potential_p = by_province(w.places.potential[:, : geo.n_communes], geo.commune_province, geo.n_provinces)
        # by province (members, years, provinces) and national (members, years): the year's other
        # harvests, then its summer harvest
        severity = [disaster_severity(s.agriculture.severe_hit_yield_loss, years, potential_p[m], self.calendar)
                    for m, s in enumerate(sim.scenarios)]
        (self.weather, self.weather_national), (self.summer_weather, self.summer_weather_national) = (
            (np.stack([self._weather(s, years, geo.n_provinces, potential_p[m] * self.calendar.season_share(season), season,
                                     severity[m])
                       for m, s in enumerate(sim.scenarios)]),
             np.array([[national_weather(s, season).get(y, 1.0) for y in years] for s in sim.scenarios]))
            for season in ("autumn", SUMMER))
        self.summer_month = self.calendar.harvest_month[self.calendar.seasons.index(SUMMER)]  # by province
        self.sown_area = np.array([[s.agriculture.sown_area.get(y, 1.0) for y in years] for s in sim.scenarios])
        self.fertiliser = np.stack([fertiliser_by_year(s, years) for s in sim.scenarios])
        for key, meaning in FACTORS.items():
            w.national.add(f"factor_{key}", fill=1.0, unit="ratio",
                           meaning=f"the last harvest's {meaning}", owner=self.name)
        w.national.add("harvested", np.uint8, 0, "flag", "1 if a harvest came in this month", self.name)

    @staticmethod
    def _weather(scenario, years, n_provinces: int, potential: np.ndarray, season: str,
                 severity: dict[int, float]) -> np.ndarray:
        """Weather factor of a ``season``'s harvest by year and province: the national factor of that harvest
        (:func:`national_weather`) shared out by the provinces named as hit by drought or flood at that
        harvest (``severity`` of the year lower where named, the grain-weighted national mean kept),
        x provincial lognormal noise (the same draw for both harvests of a year)."""
        national = national_weather(scenario, season)
        sd, flags = scenario.agriculture.weather_province_sd, data.provincial_disasters(season)
        out = []
        for year in years:
            hit = 1.0 - severity.get(year, 0.0) * (flags[year].to_numpy() if year in flags.columns else np.zeros(n_provinces))
            share = hit / (np.sum(hit * potential) / np.sum(potential))
            z = normal_array(scenario.run.seed, STREAM_WEATHER, year, np.arange(n_provinces, dtype=np.int64))
            out.append(national.get(year, 1.0) * share * np.exp(sd * z - 0.5 * sd * sd))
        return np.stack(out)

    def produce(self, world, month) -> None:
        """Field labor joins the season; birds and farm capital change; harvests come in."""
        pv, pl, geo, p, nc = world.provinces, world.places, world.geo, self.p, world.geo.n_communes
        sown = sown_land(self.sown_area[:, month.year - self.first_year],
                         month.lever("fallow")[:, geo.commune_province] * self.adoption)
        ratio = np.minimum(pl.farm_labor[:, :nc] / (pl.farm_norm[:, :nc] * sown), MAX_LABOR_RATIO)
        demand = self.calendar.labor_demand[month.month - 1]
        if demand > 0.0:
            pl.season_labor[:, :nc] += demand * field_labor_ratio(ratio, demand)
        pv.season_weight[:] += demand
        pv.season_commune[:] += demand * month.lever("commune")
        world.national.birds_at[:, month.t] = pv.birds
        kill = per_member(p.sparrow_kill_per_month) * month.lever("sparrow_campaign")
        pv.birds[:] = pv.birds * (1.0 - kill)
        pv.birds[:] += per_member(p.bird_recovery_per_year) / 12.0 * (1.0 - pv.birds)
        lost = per_member(p.capital_furnace_loss) * month.lever("furnace_labor")
        pv.capital[:] = pv.capital * (1.0 - np.minimum(lost, MAX_CAPITAL_LOSS))
        pv.capital[:] += per_member(p.capital_recovery_per_year) / 12.0 * (1.0 - pv.capital)
        pl.harvest[:] = 0.0
        pl.seed_feed[:] = 0.0
        world.national.harvested[:] = 0
        if self.calendar.harvesting(month.month).any():
            self._harvest(world, month, ratio)

    def _harvest(self, world, month, harvest_labor_ratio: np.ndarray) -> None:
        pv, pl, geo, p, nc = world.provinces, world.places, world.geo, self.p, world.geo.n_communes
        prov = geo.commune_province
        harvesting = self.calendar.harvesting(month.month)
        share = self.calendar.harvest_share(month.month)[prov]
        weight = np.maximum(pv.season_weight, 1e-9)
        planted_t = np.maximum(0, month.t - self.calendar.planting_lag(month.month))  # by province
        rows = np.arange(pv.birds.shape[1])
        planted = self.levers[:, planted_t, :, rows]  # (provinces, members, levers) -> by commune below
        planted = np.ascontiguousarray(np.moveaxis(planted, 0, 2)[:, :, prov])  # (members, levers, communes)
        adoption = self.adoption
        close, deep, fallow_lever = (planted[:, LEVER_INDEX[k]] for k in ("close_cropping", "deep_plowing", "fallow"))
        technique = ((1.0 - per_member(p.close_cropping_loss) * np.minimum(1.0, close * adoption))
                     * (1.0 - per_member(p.deep_plowing_loss) * np.minimum(1.0, deep * adoption)))
        birds = world.national.birds_at[:, planted_t, rows]
        pests = 1.0 - per_member(p.pest_loss_max) * (1.0 - birds)
        incentive = 1.0 - per_member(p.incentive_loss) * (pv.season_commune / weight)
        year = month.year - self.first_year
        area = sown_area_factor(self.sown_area[:, year], fallow_lever * adoption, per_member(p.marginal_yield))
        season_labor = pl.season_labor[:, :nc] / weight[:, prov]
        loss = per_member(p.harvest_loss_max) * np.maximum(0.0, 1.0 - harvest_labor_ratio)
        trend = scalar_pow(1.0 + p.yield_trend, np.full(world.members, month.year - 1957.0))
        farm_capital = pv.capital * pv.draught_animals  # tools x draught animals, by province
        capital = scalar_pow(farm_capital, p.capital_elasticity)
        # contiguous by member, so that its national mean sums the provinces in the same order in any batch
        manure = scalar_pow(np.ascontiguousarray(world.national.pigs_at[:, planted_t, rows]), self.manure_elasticity)
        summer = self.summer_month == month.month  # by province: this is its summer harvest
        weather = np.where(summer, self.summer_weather[:, year], self.weather[:, year])
        fertiliser = self.fertiliser[:, year]
        y = (pl.potential[:, :nc] * share * weather[:, prov] * per_member(trend * fertiliser) * technique * pests[:, prov]
             * incentive[:, prov] * capital[:, prov] * manure[:, prov] * area * member_power(season_labor, p.labor_elasticity)
             * (1.0 - loss))
        on = harvesting[prov]
        pl.harvest[:, :nc] = np.where(on, y, 0.0)
        pl.seed_feed[:] = pl.harvest * per_member(p.seed_feed_share)
        pl.stock[:] += pl.harvest - pl.seed_feed
        pl.season_labor[:, :nc] = np.where(on, 0.0, pl.season_labor[:, :nc])
        pv.season_weight[:] = np.where(harvesting, 0.0, pv.season_weight)
        pv.season_commune[:] = np.where(harvesting, 0.0, pv.season_commune)
        n = world.national
        n.harvested[:] = 1
        n.factor_technique[:], n.factor_pests[:] = technique.mean(axis=1), uniform_or_mean(pests)
        n.factor_incentive[:], n.factor_harvest_loss[:] = uniform_or_mean(incentive), loss.mean(axis=1)
        n.factor_season_labor[:] = season_labor.mean(axis=1)
        n.factor_weather[:] = np.where(summer.any(), self.summer_weather_national[:, year], self.weather_national[:, year])
        n.factor_capital[:] = uniform_or_mean(farm_capital)
        n.factor_manure[:] = uniform_or_mean(manure)
        n.factor_sown_area[:] = area.mean(axis=1)
        n.factor_fertiliser[:] = fertiliser

    def series(self) -> list[Series]:
        return [Series("harvest", "kg", "grain harvested this month", "province_sector", lambda w: w.places.harvest),
                Series("harvest", "kg", "grain harvested this month", "national", lambda w: w.places.harvest.sum(axis=1)),
                Series("seed_feed", "kg", "grain kept for seed and feed this month", "national",
                       lambda w: w.places.seed_feed.sum(axis=1)),
                Series("harvested", "flag", "1 if a harvest came in this month", "national",
                       lambda w: w.national.harvested)] + [
            Series(f"factor_{key}", "ratio", f"the harvest's {meaning}", "national",
                   lambda w, k=key: getattr(w.national, f"factor_{k}")) for key, meaning in FACTORS.items()]
