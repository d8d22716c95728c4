"""Agriculture: harvests from land, labor, weather, techniques, pests and incentives.

At each harvest (summer in June, autumn in October; province-specific shares):
Y_c = potential_c x season share x weather_{p,y} x trend x technique x pests x incentive
      x (1 - fallow) x (L_season / L_norm)^alpha x (1 - harvest loss),
where L is effective farm labor (workers x work capacity), weighted by the cultivation labor
demand of each month of the season, and the harvest loss grows with the labor shortfall in
the harvest month. Techniques, fallowing and pests act through the state of the fields at
planting time (October for the summer crop, April for the autumn crop); techniques are adopted
more where provincial leaders are more radical. Birds (sparrows) fall with the Four Pests
campaign and recover slowly; pest losses grow as birds disappear. Farm capital (draught
animals, tools) is melted in the furnaces and eaten or lost in hunger, and is rebuilt slowly;
yields scale with capital^capital_elasticity (draught animals fell by ~29% 1957-61).
Units: kg of unhusked grain (real, not per agent).
"""
from __future__ import annotations

import numpy as np

from greatleap.kernels import cpu
from greatleap.levers import LEVER_INDEX as L

SUMMER, AUTUMN = 6, 10  # harvest months (1-based)
# relative labor demand by calendar month (1..12): winter slack, spring planting, harvests
LABOR_DEMAND = np.array([0.1, 0.1, 0.2, 0.4, 1.0, 0.0, 1.0, 1.0, 0.3, 0.0, 0.2, 0.1])
# harvest months carry no cultivation weight: their labor acts through the harvest loss
PLANTING_LAG = {SUMMER: 8, AUTUMN: 6}  # months from planting (Oct; Apr) to harvest


MIN_SEASON_SHARE = 0.2  # a summer crop smaller than this is not planned on (single-crop regions)


def months_to_next_harvest(month: int, summer_share: np.ndarray | float = 0.5) -> np.ndarray:
    """Months of consumption (this one included) until the next harvest that matters arrives.

    Where the summer crop is small (the northeast), stocks must last from autumn to autumn.
    """
    to_autumn = AUTUMN - month if month < AUTUMN else 12 - month + AUTUMN
    if SUMMER <= month < AUTUMN:
        to_next = AUTUMN - month
    else:
        to_next = 12 - month + SUMMER if month >= AUTUMN else SUMMER - month
    return np.where(np.asarray(summer_share) < MIN_SEASON_SHARE, to_autumn, to_next)


class Agriculture:
    def __init__(self, scenario, places):
        self.p = scenario.agriculture
        self.seed = scenario.run.seed
        self.places = places
        self.birds = 1.0  # share of the pre-campaign bird population
        self.capital = 1.0  # farm capital (draught animals, tools) relative to 1957
        self.history: list[tuple[np.ndarray, float]] = []  # (levers, birds) of each month so far
        nc = places.n_communes
        self.adoption = np.minimum(1.0, 0.5 + places.radicalism)[places.place_province[:nc]]
        self._reset_season()
        self._weather: dict[int, np.ndarray] = {}

    def _reset_season(self):
        nc = self.places.n_communes
        self.labor_sum = np.zeros(nc)
        self.weight_sum = 0.0
        self.lever_sum = np.zeros(len(L))

    def weather(self, year: int) -> np.ndarray:
        """Weather factor by province for ``year``: national factor x provincial lognormal noise."""
        if year not in self._weather:
            sd = self.p.weather_province_sd
            z = cpu.normal_array(self.seed, cpu.STREAM_WEATHER, year, np.arange(self.places.n_provinces, dtype=np.int64))
            self._weather[year] = self.p.weather.get(year, 1.0) * np.exp(sd * z - 0.5 * sd * sd)
        return self._weather[year]

    def month(self, month: int, levers: np.ndarray, farm_labor: np.ndarray, rural_depletion: float = 0.0) -> np.ndarray:
        """Accumulate this month's effective farm labor; update birds and farm capital. Returns the labor ratio."""
        nc = self.places.n_communes
        ratio = np.minimum(farm_labor[:nc] / self.places.farm_norm[:nc], 1.3)
        w = LABOR_DEMAND[month - 1]
        self.labor_sum += w * ratio
        self.weight_sum += w
        self.lever_sum += w * levers
        self.history.append((levers, self.birds))
        kill = self.p.sparrow_kill_per_month * levers[L["sparrow_campaign"]]
        self.birds = self.birds * (1.0 - kill)
        self.birds += self.p.bird_recovery_per_year / 12.0 * (1.0 - self.birds)
        lost = self.p.capital_furnace_loss * levers[L["furnace_labor"]] + self.p.capital_hunger_loss * max(0.0, rural_depletion - 0.1)
        self.capital = self.capital * (1.0 - min(lost, 0.5))
        self.capital += self.p.capital_recovery_per_year / 12.0 * (1.0 - self.capital)
        return ratio

    def harvest(self, year: int, month: int, harvest_labor_ratio: np.ndarray) -> tuple[np.ndarray, dict]:
        """Grain harvested per commune (kg) this month, and the national factors that shaped it."""
        pl, p = self.places, self.p
        nc = pl.n_communes
        prov = pl.place_province[:nc]
        share = pl.summer_share[prov] if month == SUMMER else 1.0 - pl.summer_share[prov]
        mean = self.lever_sum / max(self.weight_sum, 1e-9)
        planted, birds = self.history[max(0, len(self.history) - 1 - PLANTING_LAG[month])]
        technique = (1.0 - p.close_cropping_loss * np.minimum(1.0, planted[L["close_cropping"]] * self.adoption)) \
            * (1.0 - p.deep_plowing_loss * np.minimum(1.0, planted[L["deep_plowing"]] * self.adoption))
        pests = 1.0 - p.pest_loss_max * (1.0 - birds)
        incentive = 1.0 - p.incentive_loss * mean[L["commune"]]
        fallow = 1.0 - planted[L["fallow"]] * self.adoption
        season_labor = self.labor_sum / max(self.weight_sum, 1e-9)
        loss = p.harvest_loss_max * np.maximum(0.0, 1.0 - harvest_labor_ratio)
        trend = (1.0 + p.yield_trend) ** (year - 1957)
        y = (pl.potential_kg[:nc] * share * self.weather(year)[prov] * trend * technique * pests * incentive
             * self.capital ** p.capital_elasticity
             * fallow * season_labor ** p.labor_elasticity * (1.0 - loss))
        factors = {"technique": float(np.mean(technique)), "pests": pests, "incentive": incentive,
                   "harvest_loss": float(np.mean(loss)), "season_labor": float(np.mean(season_labor)),
                   "weather": float(p.weather.get(year, 1.0)), "capital": self.capital}
        self._reset_season()
        return y, factors
