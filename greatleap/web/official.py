"""The record drawn behind every run on the page, with sources, and where Plotly's bundled script is."""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

from greatleap.data import banister_rates, grain_series, official_vital_rates
from greatleap.web.levers import history

YEARS = (1955, 1970)
SURVIVAL_KCAL_PER_DAY = 1600.0  # adult bare survival 1,500-1,700 kcal/day (DESIGN.md section 8)


def _col(frame, col: str) -> list:
    return [None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)
            for v in frame[col].tolist()]


@lru_cache(maxsize=1)
def series() -> dict:
    """Official and reconstructed national series (per mille; Mt; kg per rural person per year)."""
    vital = official_vital_rates()
    vital = vital[(vital.year >= YEARS[0]) & (vital.year <= YEARS[1])]
    ban = banister_rates()
    ban = ban[(ban.year >= YEARS[0]) & (ban.year <= YEARS[1])]
    grain = grain_series()
    grain = grain[(grain.year >= YEARS[0]) & (grain.year <= YEARS[1])]
    kcal_per_kg = float(history()["nutrition"]["kcal_per_kg_grain"])
    return {
        "vital": {"year": vital.year.tolist(), "cbr": _col(vital, "cbr"), "cdr": _col(vital, "cdr"),
                  "source": "registered rates, China Statistical Yearbook 1999 (china_national_vital_rates_1949_1970_csy1999.csv)"},
        "banister": {"year": ban.year.tolist(), "cbr": _col(ban, "cbr_estimated"), "cdr": _col(ban, "cdr_estimated"),
                     "source": "Banister (1984), reconstructed true rates, Population and Development Review 10(2), Table 5"},
        "grain": {"year": grain.year.tolist(), "output_revised": _col(grain, "output_revised"),
                  "procurement": _col(grain, "procurement"), "rural_retention_kg": _col(grain, "rural_retention_kg"),
                  "source": "grain output: revised NBS series; procurement and rural retention: older official series "
                            "(china_grain_output_1949_1967_revised_nbs.csv, china_grain_procurement_retention_1952_1966.csv)"},
        "survival_kg": round(SURVIVAL_KCAL_PER_DAY * 365 / kcal_per_kg, 1),
        "survival_source": f"bare survival of an adult, {SURVIVAL_KCAL_PER_DAY:.0f} kcal/day (DESIGN.md section 8: "
                           f"1,500-1,700), all from grain at {kcal_per_kg:.0f} kcal/kg of unhusked grain; retention "
                           "also has to cover seed and feed",
    }


def plotly_path() -> Path | None:
    """Plotly's own bundled, offline ``plotly.min.js`` (in the ``plotly`` package), or None."""
    try:
        from importlib import resources
        path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None
