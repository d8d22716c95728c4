"""The agricultural calendar as data: harvest seasons by province and field-labor demand by month.

``data/harvest_calendar.csv`` gives, for each province, every grain season's planting month,
harvest month and share of annual grain; ``data/farm_labor_calendar.csv`` the relative demand
for field labor in each calendar month. Mechanisms ask the calendar which provinces harvest
this month, what share of their year's grain comes in, when the crop was planted, and how many
months of consumption remain until the next harvest that matters.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from greatleap.data import PACKAGE_DATA, DataError, read_sourced_csv

MIN_SEASON_SHARE = 0.2  # a season smaller than this is not planned on (single-crop regions)


@dataclass(frozen=True)
class HarvestCalendar:
    """Seasons x provinces. Months are 1..12."""
    provinces: tuple[str, ...]
    seasons: tuple[str, ...]
    harvest_month: np.ndarray   # int [season, province]
    planting_month: np.ndarray  # int [season, province]
    share: np.ndarray           # float [season, province], shares sum to 1 per province
    labor_demand: np.ndarray    # float [12], share of the 1957 field workforce each calendar month's fieldwork needs (1 at the peak)

    def harvest_share(self, month: int) -> np.ndarray:
        """Share of each province's annual grain harvested in calendar ``month`` (0 where none)."""
        return np.where(self.harvest_month == month, self.share, 0.0).sum(axis=0)

    def season_share(self, season: str) -> np.ndarray:
        """Each province's share of its annual grain harvested in ``season``."""
        return self.share[self.seasons.index(season)]

    def harvesting(self, month: int) -> np.ndarray:
        """Bool per province: a harvest comes in this month."""
        return (self.harvest_month == month).any(axis=0)

    def last_of_year(self, month: int) -> np.ndarray:
        """Bool per province: the calendar year's last harvest comes in this month (the autumn harvest)."""
        return np.where(self.share > 0, self.harvest_month, 0).max(axis=0) == month

    def planting_lag(self, month: int) -> np.ndarray:
        """Months from planting to the harvest of ``month``, per province (0 where no harvest)."""
        lag = (self.harvest_month - self.planting_month) % 12
        return np.where(self.harvest_month == month, lag, 0).max(axis=0)

    def last_harvest(self, month: int) -> tuple[np.ndarray, np.ndarray]:
        """The latest harvest before calendar ``month`` (one in ``month`` itself counts as a year ago), per
        province: (months since it, 1-12; the share of the year's grain it brought)."""
        since = (month - self.harvest_month) % 12
        since = np.where(self.share > 0, np.where(since == 0, 12, since), 13)
        last, provinces = since.argmin(axis=0), np.arange(since.shape[1])
        return since[last, provinces], self.share[last, provinces]

    def months_to_next_harvest(self, month: int) -> np.ndarray:
        """Months of consumption (this one included) until the next harvest that matters, per province.

        A harvest in this very month has already come in, so it counts as a year away. Seasons
        below MIN_SEASON_SHARE are not planned on (stocks must last from autumn to autumn).
        """
        ahead = (self.harvest_month - month) % 12
        ahead = np.where(ahead == 0, 12, ahead)
        counted = np.where(self.share >= MIN_SEASON_SHARE, ahead, 13).min(axis=0)
        return np.where(counted <= 12, counted, ahead.min(axis=0))


@lru_cache(maxsize=None)
def harvest_calendar() -> HarvestCalendar:
    """The shipped calendar (provinces in the order of ``data/provinces_1958.csv``)."""
    from greatleap.data import provinces
    names = tuple(provinces().province)
    frame = read_sourced_csv("harvest_calendar.csv", ("province", "season", "planting_month", "harvest_month", "share"),
                             where=PACKAGE_DATA)
    seasons = tuple(dict.fromkeys(frame.season))
    shape = (len(seasons), len(names))
    harvest, planting, share = np.zeros(shape, np.int64), np.zeros(shape, np.int64), np.zeros(shape)
    for row in frame.itertuples(index=False):
        if row.province not in names:
            raise DataError(f"harvest_calendar.csv: province {row.province!r} is not one of the provincial units")
        if not (1 <= row.harvest_month <= 12 and 1 <= row.planting_month <= 12 and 0 <= row.share <= 1):
            raise DataError(f"harvest_calendar.csv: {row.province}/{row.season}: months must be 1..12 and share 0..1")
        k, p = seasons.index(row.season), names.index(row.province)
        harvest[k, p], planting[k, p], share[k, p] = row.harvest_month, row.planting_month, row.share
    bad = np.abs(share.sum(axis=0) - 1.0) > 1e-9
    if bad.any():
        raise DataError(f"harvest_calendar.csv: season shares of {names[int(np.flatnonzero(bad)[0])]} do not sum to 1")
    labor = read_sourced_csv("farm_labor_calendar.csv", ("month", "demand"), where=PACKAGE_DATA)
    if sorted(labor.month) != list(range(1, 13)):
        raise DataError("farm_labor_calendar.csv: needs one row per month 1..12")
    demand = labor.sort_values("month").demand.to_numpy(float)
    return HarvestCalendar(names, seasons, harvest, planting, share, demand)
