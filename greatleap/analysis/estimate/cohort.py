"""The cohort check: famine birth cohorts in a later age distribution against their neighbours."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from greatleap.analysis.estimate.series import SeriesError


def cohort_deficit(pop_by_age: pd.Series, census_year: int, famine_cohorts: Sequence[int] = (1958, 1959, 1960, 1961),
                   reference_cohorts: Sequence[int] = (1955, 1956, 1957, 1962, 1963)) -> pd.DataFrame:
    """Expected minus observed size of each famine birth cohort at ``census_year`` (persons).

    ``pop_by_age`` maps age (completed years at ``census_year``) to persons. The expected size is
    the linear trend through the reference cohorts; the deficit measures lost births plus excess
    deaths of those children up to the census.
    """
    cohort = {census_year - int(age): float(v) for age, v in pop_by_age.items()}
    missing = [y for y in list(famine_cohorts) + list(reference_cohorts) if y not in cohort]
    if missing:
        raise SeriesError(f"cohort(s) {missing} not in the age distribution of {census_year}")
    ref = np.array(reference_cohorts, float)
    slope, intercept = np.polyfit(ref, [cohort[int(y)] for y in ref], 1)
    out = pd.DataFrame([(y, cohort[y], intercept + slope * y) for y in famine_cohorts],
                       columns=["cohort", "observed", "expected"])
    out["deficit"] = out.expected - out.observed
    return out
