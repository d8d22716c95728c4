"""Derive greatleap/data/provinces_1958.csv and harvest_calendar.csv: the provincial units with
their population at the start of 1957, urban share, yield index and model indices.

Run from the repository root: ``python scripts/derive_provinces.py``. Sourced figures come from
``greatleap/data/sources/provincial_vital_rates_panel.csv`` (registered year-end population 1956),
``provincial_urban_population.csv`` (urban share 1956) and ``provincial_grain_panel.csv`` (official
grain output 1956-57; Sichuan's from its 1958 output per head); Beijing and Shanghai on their enlarged
boundaries of the end of 1958 (see ``ENLARGED``); the units those panels lack (Inner
Mongolia, Guangxi, Ningxia, Xinjiang, Tibet; Sichuan's urban share) keep ESTIMATES, labelled in the
``basis`` column.
"""
import csv
import io
from pathlib import Path

root = Path(__file__).resolve().parents[1]
SOURCES = root / "greatleap/data/sources"
START_TOTAL = 628.28e6    # official year-end 1956 population (CSY 1999): the start of the run
URBAN_1956 = 9185 / 62828  # national urban share, year-end 1956 (china_grain_procurement_retention_1952_1966.csv)


def rows(name):
    text = "".join(line for line in (SOURCES / name).open(encoding="utf-8") if not line.startswith("#"))
    return list(csv.DictReader(io.StringIO(text)))


def first(table, key_fields, value_field, prefer_conf=("V", "D", "V*")):
    """First finite value per key, preferring the given confidence flags in order."""
    out, rank = {}, {c: k for k, c in enumerate(prefer_conf)}
    for r in table:
        v = r.get(value_field, "")
        try:
            v = float(v)
        except ValueError:
            continue
        key = tuple(r[f] for f in key_fields)
        score = rank.get(r.get("conf", ""), 99)
        if key not in out or score < out[key][1]:
            out[key] = (v, score)
    return {k: v for k, (v, _) in out.items()}


def radicalism_index() -> dict[str, float]:
    """Provincial leaders' radicalism from pre-famine evidence (provincial_radicalism_evidence.csv):
    0.5 + 0.25 purge of 1957-58 + 0.15 Politburo promotion of May 1958 - 0.2 condemned as a moderate at Lushan
    + 0.1 x (rightists per head / national - 1) + 0.1 x (1955 cooperative share / national - 1), each of the last
    two clipped to +-0.1; 0.5 (neutral) where nothing is known."""
    ev = {r["province"]: r for r in rows("provincial_radicalism_evidence.csv")}
    nat = ev.pop("China (national)")
    out = {}
    for k, r in ev.items():
        num = lambda f: float(r[f]) if r[f] else None  # noqa: E731
        v = 0.5 + 0.25 * (num("purge_1957_58") or 0) + 0.15 * (num("politburo_1958") or 0) - 0.2 * (num("moderate_at_lushan") or 0)
        for field in ("rightists_per_10k", "coop_share_1955"):
            if num(field) is not None:
                v += max(-0.1, min(0.1, 0.1 * (num(field) / float(nat[field]) - 1)))
        out[k] = round(v, 3)
    return out


RADICALISM = radicalism_index()
pop = first(rows("provincial_vital_rates_panel.csv"), ("province", "year"), "pop_yearend", ("V", "V*", "D"))
urban = first(rows("provincial_urban_population.csv"), ("province", "year"), "urban_share")
grain = first([r for r in rows("provincial_grain_panel.csv") if r["indicator"] == "grain_output_official"],
              ("province", "year"), "value")

# (zh, radicalism of the first engine - no longer used, summer share, yield index estimate, urban share estimate,
#  1956 population estimate)
# Population estimates only for the units the panel lacks: the 1953 census (S1/S4/S10 in
# china_provincial_population_1953_1964.csv) grown to 1956 at the national rate (+8.8%).
UNITS = {
    "Beijing": ("北京", 0.4, 0.35, 0.9, None, None), "Tianjin": ("天津", 0.4, 0.35, 0.9, None, None),
    "Shanghai": ("上海", 0.4, 0.30, 0.9, None, None), "Hebei": ("河北", 0.5, 0.35, 0.85, None, None),
    "Shanxi": ("山西", 0.4, 0.30, 0.9, None, None), "Inner Mongolia": ("内蒙古", 0.3, 0.10, 1.1, 0.18, 9.23e6),
    "Liaoning": ("辽宁", 0.5, 0.05, 0.95, None, None), "Jilin": ("吉林", 0.3, 0.05, 1.2, None, None),
    "Heilongjiang": ("黑龙江", 0.3, 0.05, 1.3, None, None), "Jiangsu": ("江苏", 0.4, 0.35, 1.05, None, None),
    "Zhejiang": ("浙江", 0.4, 0.35, 1.05, None, None), "Anhui": ("安徽", 0.95, 0.35, 1.0, None, None),
    "Fujian": ("福建", 0.4, 0.40, 0.9, None, None), "Jiangxi": ("江西", 0.4, 0.35, 1.1, None, None),
    "Shandong": ("山东", 0.7, 0.40, 0.9, None, None), "Henan": ("河南", 0.9, 0.45, 0.95, None, None),
    "Hubei": ("湖北", 0.5, 0.30, 1.05, None, None), "Hunan": ("湖南", 0.7, 0.35, 1.1, None, None),
    "Guangdong": ("广东", 0.5, 0.45, 1.0, None, None), "Guangxi": ("广西", 0.7, 0.40, 0.95, 0.07, 19.45e6),
    "Sichuan": ("四川", 0.9, 0.30, 1.1, 0.09, None), "Guizhou": ("贵州", 0.8, 0.25, 0.85, None, None),
    "Yunnan": ("云南", 0.5, 0.25, 0.9, None, None), "Tibet": ("西藏", 0.1, 0.20, 0.8, 0.05, 1.24e6),
    "Shaanxi": ("陕西", 0.3, 0.40, 0.9, None, None), "Gansu": ("甘肃", 0.95, 0.30, 0.8, None, None),
    "Qinghai": ("青海", 0.7, 0.20, 0.75, None, None), "Ningxia": ("宁夏", 0.6, 0.30, 0.85, 0.12, 1.64e6),
    "Xinjiang": ("新疆", 0.3, 0.30, 0.95, 0.15, 5.13e6),
}

# Beijing and Shanghai were enlarged in 1956-58 (counties from Hebei, and from Jiangsu in Jan and Dec 1958), and their panel
# series are on then-current boundaries while the others' are on later ones: the annexed counties are in neither series before
# the transfer (provincial_vital_rates_panel.csv). The run's units are those of the end of 1958, so these two start from their
# first year-end on the enlarged boundaries, brought back to 1956 by the nation's growth (CSY year-end population), with that
# year's urban share. The grain panel is on the enlarged boundaries throughout (Beijing's 1956-57 grain per old-boundary rural
# person would be ~0.78 t, hence the yield indices of ~1.8-2.0 these two units had before).
ENLARGED = {"Beijing": "1958", "Shanghai": "1959"}
national_pop = {r["year"]: float(r["pop_yearend_10k"]) for r in rows("china_national_vital_rates_1949_1970_csy1999.csv")}
pop56, basis = {}, {}
for k, (_, _, _, _, _, est) in UNITS.items():
    if k in ENLARGED:
        year = ENLARGED[k]
        pop56[k] = pop[(k, year)] * national_pop["1956"] / national_pop[year]
        basis[k] = [f"pop {year} on the enlarged boundaries sourced (back to 1956 by the nation's growth)"]
    elif (k, "1956") in pop:
        pop56[k], basis[k] = pop[(k, "1956")], ["pop 1956 sourced"]
    else:
        pop56[k], basis[k] = est, ["pop ESTIMATE (1953 census grown)"]
scale = START_TOTAL / sum(pop56.values())  # provincial figures sum to less than the national total

share, sourced = {}, set()
for k, (_, _, _, _, est, _) in UNITS.items():
    year = ENLARGED.get(k, "1956")  # the enlarged units: the share in their first year-end on those boundaries
    if (k, year) in urban:
        share[k] = urban[(k, year)]
        sourced.add(k)
        basis[k].append("urban sourced" if year == "1956" else f"urban {year} sourced")
    else:
        share[k] = est if est is not None else URBAN_1956
        basis[k].append("urban ESTIMATE")
# rescale the estimated urban shares so the nation is at the official 1956 share
fixed = sum(pop56[k] * share[k] for k in sourced)
estimated = sum(pop56[k] * share[k] for k in UNITS if k not in sourced)
f = (URBAN_1956 * sum(pop56.values()) - fixed) / estimated
for k in UNITS:
    if k not in sourced:
        share[k] = min(0.9, share[k] * f)

# yield index: official grain 1956-57 per rural person, relative to the provinces with data
per_rural = {}
for k in UNITS:
    g = [grain.get((k, y)) for y in ("1956", "1957")]
    if all(v is not None for v in g):
        per_rural[k] = sum(g) / 2 * 1e4 / (pop56[k] * (1 - share[k]))
mean_pr = sum(per_rural[k] * pop56[k] * (1 - share[k]) for k in per_rural) / sum(pop56[k] * (1 - share[k]) for k in per_rural)
# Sichuan (not in the mean): the panel has no 1956-57 output, but its 1958 output per head (636 jin: provincial_grain_panel.csv,
# grain_per_capita) x the mean registered population of 1958 (Tombstone Table 222), brought back to 1956-57 by the
# nation's revised output (1958 / mean of 1956-57: china_grain_output_1949_1967_revised_nbs.csv)
national = {r["year"]: float(r["grain_output_10kt"]) for r in rows("china_grain_output_1949_1967_revised_nbs.csv")}
sichuan_pc = first([r for r in rows("provincial_grain_panel.csv") if r["indicator"] == "grain_per_capita"],
                   ("province", "year"), "value")[("Sichuan", "1958")]
sichuan_pop = {r["variable"]: r for r in rows("tombstone_table222_provincial_sichuan_henan_1955_1966.csv")
               if r["province"] == "Sichuan"}["pop_10k"]
sichuan_1958 = sichuan_pc / 2 * (float(sichuan_pop["1957"]) + float(sichuan_pop["1958"])) / 2 / 1e3  # 10k t
sichuan_1956_57 = sichuan_1958 / (national["1958"] / ((national["1956"] + national["1957"]) / 2))
per_rural["Sichuan"] = sichuan_1956_57 * 1e4 / (pop56["Sichuan"] * (1 - share["Sichuan"]))
yield_index = {}
for k, (_, _, _, est, _, _) in UNITS.items():
    if k in per_rural:
        yield_index[k] = per_rural[k] / mean_pr
        basis[k].append("yield sourced (grain 1958 per head)" if k == "Sichuan" else "yield sourced (grain 1956-57)")
    else:
        yield_index[k] = est
        basis[k].append("yield ESTIMATE")

# mortality index: registered CDR 1955-57 (provincial_vital_rates_panel.csv) made rural-equivalent with each year's urban
# share on the same boundaries and the registered town/country ratio 9.22/12.50 of 1958 (Xin & Ge 2008), relative to the
# population-weighted mean of the provinces with data; 1 where the panel has no CDR
cdr = first(rows("provincial_vital_rates_panel.csv"), ("province", "year"), "cdr", ("V", "V*", "D"))
TOWN_RATIO = next(float(r["urban_cdr"]) / float(r["rural_cdr"])
                  for r in rows("china_urban_rural_registered_cdr_1958_1960.csv") if r["year"] == "1958")
MORTALITY_YEARS = ("1955", "1956", "1957")
rural_level = {}
for k in UNITS:
    years = [y for y in MORTALITY_YEARS if (k, y) in cdr]
    if years:
        rural_level[k] = sum(cdr[(k, y)] / (1 - urban.get((k, y), share[k]) * (1 - TOWN_RATIO)) for y in years) / len(years)
    basis[k].append("mortality sourced (CDR 1955-57)" if years else "mortality neutral (no data)")
mean_level = sum(rural_level[k] * pop56[k] for k in rural_level) / sum(pop56[k] for k in rural_level)
mortality_index = {k: rural_level.get(k, mean_level) / mean_level for k in UNITS}

out = root / "greatleap/data/provinces_1958.csv"
with out.open("w", encoding="utf-8", newline="") as fh:
    fh.write("# The provincial units of the run: the 28 units of 1958 with Tianjin kept separate (a municipality until Feb 1958 and\n")
    fh.write("#   again from 1967; the provincial panels report it apart from Hebei). Generated by scripts/derive_provinces.py.\n")
    fh.write("# pop_start: persons at 1957-01 = registered year-end 1956 population (provincial_vital_rates_panel.csv; Sichuan from\n")
    fh.write("#   Tombstone Table 222) x pop_scale, the factor that brings the provinces to the official national 628.28 M (provincial\n")
    fh.write("#   figures sum to less: boundaries and definitions); units without panel data are ESTIMATES (1953 census grown).\n")
    fh.write("#   Beijing and Shanghai on their enlarged boundaries of the end of 1958 (counties from Hebei and Jiangsu): their first\n")
    fh.write("#   year-end on those boundaries (1958, 1959) brought back to 1956 by the nation's growth, with that year's urban share.\n")
    fh.write("# urban_share: 1956 share from provincial_urban_population.csv; ESTIMATES elsewhere, rescaled so the nation is 14.62%.\n")
    fh.write("# yield_index: official grain output 1956-57 per rural person relative to the provinces with data (provincial_grain_panel.csv;\n")
    fh.write("#   Sichuan from its 1958 output per head); ESTIMATES where the panel has no grain (Zhejiang, Inner Mongolia, Guangxi,\n")
    fh.write("#   Ningxia, Xinjiang, Tibet).\n")
    fh.write("# radicalism (0-1): index from PRE-FAMINE evidence only (provincial_radicalism_evidence.csv; scripts/derive_provinces.py):\n")
    fh.write("#   0.5 + 0.25 purge of 1957-58 + 0.15 Politburo promotion May 1958 - 0.2 moderate condemned at Lushan + rightists per head\n")
    fh.write("#   and 1955 cooperative share relative to the nation (+-0.1 each); 0.5 where nothing is known. Season shares: harvest_calendar.csv.\n")
    fh.write("# mortality_index: registered CDR 1955-57 (provincial_vital_rates_panel.csv), rural-equivalent (each year's urban share,\n")
    fh.write(f"#   towns at {TOWN_RATIO:.3f} of the country's rate: 9.22/12.50 in 1958, Xin & Ge 2008), relative to the provinces with data\n")
    fh.write("#   (population-weighted); 1 where the panel has none. Registration as well as mortality differs: see mortality.provincial_level_weight.\n")
    fh.write(f"# pop_scale = {scale:.6f}\n")
    fh.write("province,province_zh,pop_start,urban_share,radicalism,yield_index,mortality_index,basis\n")
    for k, (zh, _, _, _, _, _) in UNITS.items():
        rad = RADICALISM.get(k, 0.5)
        basis[k].append("radicalism from evidence" if k in RADICALISM else "radicalism neutral (no evidence)")
        fh.write(f"{k},{zh},{pop56[k] * scale:.0f},{share[k]:.4f},{rad},{yield_index[k]:.4f},{mortality_index[k]:.4f},{'; '.join(basis[k])}\n")

calendar = root / "greatleap/data/harvest_calendar.csv"
with calendar.open("w", encoding="utf-8", newline="") as fh:
    fh.write("# Harvest calendar by province: each grain season's planting month, harvest month (1-12) and share of the\n")
    fh.write("# province's annual grain. Generated by scripts/derive_provinces.py.\n")
    fh.write("# Months: ESTIMATE, the national double-season calendar (summer crops - winter wheat, early rice - planted in October\n")
    fh.write("#   and harvested in June; autumn crops - rice, maize, millet, sorghum, tubers - planted in April, harvested in October).\n")
    fh.write("# share: ESTIMATE of the summer crop's share of annual grain (small in the single-crop northeast and northwest).\n")
    fh.write("# A season whose share is below 0.2 is not planned on when stocks are spread to the next harvest (greatleap.calendar).\n")
    fh.write("province,season,planting_month,harvest_month,share\n")
    for k, (_, _, summer, _, _, _) in UNITS.items():
        fh.write(f"{k},summer,10,6,{summer}\n")
        fh.write(f"{k},autumn,4,10,{round(1.0 - summer, 4)}\n")
print(out, "and", calendar, f"written; {len(UNITS)} units; pop_scale {scale:.4f}; total {sum(pop56.values()) * scale / 1e6:.2f} M")
