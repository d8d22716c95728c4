"""The data dictionary: the unit and meaning of every column of every result table.

One declaration per column name (a name means the same thing in every table; counts and flows
are per row's period: the month in monthly tables, the year in annual ones). ``Results.save``
writes the unit and meaning into each Parquet column's metadata; ``docs/data_dictionary.md`` is
generated from here (``python scripts/data_dictionary.py``); a test checks that every column of
every table is declared and the document is current, so the three cannot drift apart.
"""
from __future__ import annotations

P, PM, MT, KG, SH, R, IDX = "persons", "per mille per year", "Mt (unhusked grain)", "kg", "share 0-1", "ratio", "index"

TABLES = {
    "monthly_national": "the nation, month by month",
    "monthly_province": "each province and sector (rural communes, the city), month by month",
    "annual_national": "the nation, year by year (flows summed over the year; stocks at year end)",
    "annual_province": "each province and sector (total, rural, urban), year by year",
    "deaths_by_age_class": "deaths by year, age group, class label, sector and cause",
    "population_by_age": "population by single year of age and sex each July",
    "harvest_factors": "each harvest's national factors (means over communes where they vary)",
}

COLUMNS: dict[str, tuple[str, str]] = {
    # keys
    "month": ("date", "first day of the month"),
    "year": ("year", "calendar year"),
    "province": ("name", "provincial unit of 1958"),
    "sector": ("name", "rural (communes), urban (the province's city) or total"),
    "age_group": ("years", "age group: 0, 1-4, 5-9, 10-14, 15-59, 60+"),
    "class": ("name", "class label: ordinary, cadre, black_element"),
    "cause": ("name", "cause of death: natural (baseline), famine (hunger), violence"),
    "sex": ("name", "male or female"),
    "age": ("years", "age in whole years (100 = 100 and over)"),
    # people, true book
    "population": (P, "people alive (true book; monthly: at the census of the month)"),
    "population_urban": (P, "people living in cities"),
    "population_rural": (P, "people living in communes"),
    "population_mean": (P, "mean of the monthly censuses of the year (exposure of the true rates)"),
    "population_end": (P, "people alive at the end of the year"),
    "population_rural_end": (P, "people living in communes at the end of the year"),
    "population_urban_end": (P, "people living in cities at the end of the year"),
    "births": (P, "live births (true book)"),
    "deaths": (P, "deaths (true book)"),
    "deaths_famine": (P, "deaths from hunger (the hazard hunger adds)"),
    "deaths_violence": (P, "violent deaths (beatings, torture, killings around procurement)"),
    "births_rural": (P, "live births in communes"), "births_urban": (P, "live births in cities"),
    "deaths_rural": (P, "deaths in communes"), "deaths_urban": (P, "deaths in cities"),
    "escapes": (P, "successful flights from hunger to another commune"),
    "cbr_true": (PM, "crude birth rate, true book"),
    "cdr_true": (PM, "crude death rate, true book"),
    "cbr_true_rural": (PM, "crude birth rate in communes, true book"),
    "cdr_true_rural": (PM, "crude death rate in communes, true book"),
    "cbr_true_urban": (PM, "crude birth rate in cities, true book"),
    "cdr_true_urban": (PM, "crude death rate in cities, true book"),
    # people, registered book
    "registered_population": (P, "registered population: people on the household register plus its ghosts, "
                                 "with communes' inflated head counts"),
    "registered_population_mean": (P, "mean registered population of the year (exposure of registered rates)"),
    "registered_population_end": (P, "registered population at the end of the year"),
    "births_registered": (P, "registered births"),
    "deaths_registered": (P, "registered deaths"),
    "cbr_registered": (PM, "crude birth rate, registered book"),
    "cdr_registered": (PM, "crude death rate, registered book"),
    "cbr_registered_rural": (PM, "crude birth rate in communes, registered book"),
    "cdr_registered_rural": (PM, "crude death rate in communes, registered book"),
    "cbr_registered_urban": (PM, "crude birth rate in cities, registered book"),
    "cdr_registered_urban": (PM, "crude death rate in cities, registered book"),
    # grain
    "grain_harvest_mt": (MT, "grain harvested"), "harvest_mt": (MT, "grain harvested"),
    "seed_feed_mt": (MT, "grain kept back for seed and feed"),
    "procurement_mt": (MT, "grain procured by the state"), "procured_mt": (MT, "grain procured by the state"),
    "procurement_due_mt": (MT, "procurement called this month: the monthly share of the season's quota still outstanding"),
    "relief_mt": (MT, "relief grain resold by the state to deficit communes"),
    "eaten_rural_mt": (MT, "grain eaten in communes"), "eaten_urban_mt": (MT, "grain eaten in cities"),
    "eaten_mt": (MT, "grain eaten"),
    "canteen_waste_mt": (MT, "grain wasted by communal canteens"),
    "commune_stock_mt": (MT, "grain held by communes at the end of the month"),
    "commune_stock_end_mt": (MT, "grain held by communes at the end of the year"),
    "stock_mt": (MT, "grain held by the places at the end of the month"),
    "state_stock_mt": (MT, "grain in state granaries (centre and provinces) at the end of the month"),
    "state_stock_end_mt": (MT, "grain in state granaries at the end of the year"),
    "state_stock_may_mt": (MT, "grain in state granaries at the end of May, before the summer harvest"),
    "granary_mt": (MT, "grain in the province's state granaries at the end of the month (rural row)"),
    "granary_end_mt": (MT, "grain in the province's state granaries at the end of the year (rural row)"),
    "outflow_mt": (MT, "grain the province sent to the centre, net of what it received (rural row)"),
    "storage_losses_mt": (MT, "grain lost in storage (places and state granaries)"),
    "urban_supply_mt": (MT, "grain the state supplied to cities (urban rations)"),
    "exports_mt": (MT, "grain exported"), "imports_mt": (MT, "grain imported"),
    "net_exports_mt": (MT, "exports minus imports"),
    "state_other_use_mt": (MT, "other state use of grain (army, industry, feed)"),
    "grain_reported_commune_mt": (MT, "harvest as communes reported it"),
    "grain_reported_province_mt": (MT, "harvest as provinces reported it to the centre"),
    "reported_commune_mt": (MT, "harvest as communes reported it"),
    "reported_province_mt": (MT, "harvest as provinces reported it to the centre"),
    "grain_believed_mt": (MT, "harvest the centre believed (reports less its scepticism)"),
    "grain_claimed_mt": (MT, "the year's output as the provinces compiled it in December (the year's claim)"),
    "procurement_share": (SH, "procurement / harvest"),
    "reported_to_actual": (R, "the year's claim (compiled in December) / true harvest"),
    "rural_retention_kg": ("kg/rural person/year", "(harvest - procurement) per rural person; undefined (NaN) "
                                                   "where nobody lives in the countryside"),
    "ration_ratio_rural": (R, "grain eaten / weighted grain need in communes (population-weighted)"),
    "ration_ratio_urban": (R, "grain eaten / weighted grain need in cities (population-weighted)"),
    "reserve_rural": ("share of capacity", "mean nutritional reserve of rural people (1 = full)"),
    "reserve_urban": ("share of capacity", "mean nutritional reserve of urban people (1 = full)"),
    # industry and labor
    "steel_modern_mt": ("Mt", "modern (state plant) steel"),
    "steel_furnace_usable_mt": ("Mt", "usable steel from backyard furnaces"),
    "steel_unusable_mt": ("Mt", "unusable backyard-furnace steel"),
    "steel_total_mt": ("Mt", "all steel, usable or not"),
    "labor_share_furnace": (SH, "effective rural labor at backyard furnaces / rural working people"),
    "labor_share_waterworks": (SH, "effective rural labor on water works / rural working people"),
    "labor_share_farm": (SH, "effective rural labor in the fields / rural working people"),
    "labor_share_furnace_max": (SH, "highest monthly furnace labor share of the year"),
    "urban_workers": (P, "people working in cities"), "urban_workers_end": (P, "people working in cities, December"),
    # livestock (China's herds: the provinces' shares of 1957 weighted by grain potential)
    "draught_animals": (R, "draught animals (large animals) / 1957 year-end, at the end of the month"),
    "draught_animals_end": (R, "draught animals (large animals) / 1957 year-end, December"),
    "pigs": (R, "pigs / 1957 year-end, at the end of the month"), "pigs_end": (R, "pigs / 1957 year-end, December"),
    # harvest factors
    "technique": (R, "yield factor of close cropping, deep plowing (at planting time)"),
    "pests": (R, "yield factor of pests (birds killed by the Four Pests campaign)"),
    "incentive": (R, "yield factor of commune egalitarianism (work incentives)"),
    "harvest_loss": (SH, "share of the crop lost for want of harvest labor"),
    "season_labor": (R, "effective field labor over the season / 1957 norm"),
    "weather": (R, "national weather factor of the harvest (its season's, 1 = normal)"),
    "capital": (R, "yield factor base of farm capital: farm tools x draught animals, / 1957"),
    "manure": (R, "yield factor of pig manure: (pigs at planting / 1957)^manure elasticity"),
    "sown_area": (R, "yield factor of the grain sown area (the record's area and land left fallow, at marginal yield)"),
    "fertiliser": (R, "yield factor of chemical fertiliser: 1 + kg grain per kg of nutrients x nutrients applied beyond "
                      "1957's / the 1957 output"),
}


def column_info(column: str) -> tuple[str, str]:
    """(unit, meaning) of a result column; KeyError names the undeclared column."""
    if column not in COLUMNS:
        raise KeyError(f"result column {column!r} has no entry in greatleap/columns.py (the data dictionary)")
    return COLUMNS[column]


def data_dictionary(tables: dict) -> str:
    """The data dictionary as Markdown, for the given tables (name -> DataFrame)."""
    lines = ["# Data dictionary", "",
             "Every table of a run folder (Parquet) and every column, with its unit and meaning. Generated by",
             "`python scripts/data_dictionary.py` from `greatleap/columns.py`, which also writes each unit and",
             "meaning into the Parquet column metadata (`unit`, `meaning`). Counts are real persons (agents x",
             "persons per agent); flows are per row's period (month or year); rates are per mille per year.", ""]
    for name, frame in tables.items():
        lines += [f"## `{name}.parquet`: {TABLES[name]}", "", "| column | unit | meaning |", "|---|---|---|"]
        lines += [f"| `{c}` | {column_info(c)[0]} | {column_info(c)[1]} |" for c in frame.columns]
        lines.append("")
    return "\n".join(lines)
