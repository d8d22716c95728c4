"""Population and demography: the initial population, baseline mortality and fertility, registration.

Baseline schedules take their age shape from the UN WPP 2022 life tables and fertility for
1955-60 and their level from the official registered 1957 rates divided by registration
completeness (true CDR = registered CDR / death completeness; likewise births), so the
*registered* book reproduces CDR 10.8 and CBR 34.0 per mille in 1957.
"""
from __future__ import annotations

import numpy as np

from greatleap import data
from greatleap.kernels import cpu
from greatleap.state import People, Places


def completeness(table: dict[int, float], year: int) -> float:
    """Registration completeness for ``year`` (nearest listed year outside the table)."""
    if year in table:
        return float(table[year])
    years = sorted(table)
    return float(table[years[0]] if year < years[0] else table[years[-1]])


def _urban_mix(urban_share: float, factor: float) -> float:
    return 1.0 - urban_share + urban_share * factor


def baseline_hazard(scenario, pyramid: np.ndarray, urban_share: float) -> np.ndarray:
    """Annual death rate m(x) by sex and age, scaled so the true 1957 CDR = registered / completeness."""
    mx = data.mortality_rates("1955-1960")
    target = scenario.population.registered_cdr_1957 / 1000.0 / completeness(
        scenario.registration.death_completeness, 1957)
    implied = float((pyramid * mx[:, :101]).sum()) * _urban_mix(urban_share, scenario.population.urban_mortality_factor)
    return mx * (target / implied)


def conception_table(scenario, pyramid: np.ndarray, urban_share: float) -> tuple[np.ndarray, np.ndarray]:
    """Monthly conception probability of a woman at risk by age, and annual fertility by age.

    Annual fertility ``b(x)`` = UN ASFR shape x level so the true 1957 CBR = registered / completeness.
    A woman at risk conceives with monthly probability p, so a birth cycle lasts 1/p + 9 +
    postpartum months and b = 12 / cycle, i.e. p = 1 / (12/b - 9 - postpartum).
    """
    asfr = data.fertility_rates("1955-1960")
    target = scenario.population.registered_cbr_1957 / 1000.0 / completeness(
        scenario.registration.birth_completeness, 1957)
    implied = float((pyramid[1] * asfr[:101]).sum()) * _urban_mix(urban_share, scenario.population.urban_fertility_factor)
    annual = asfr * (target / implied)
    fixed = 9.0 + scenario.fertility.postpartum_months
    with np.errstate(divide="ignore"):
        waiting = np.where(annual > 0, 12.0 / np.maximum(annual, 1e-12) - fixed, np.inf)
    monthly = np.where(annual > 0, 1.0 / np.maximum(waiting, 1.0), 0.0)
    return monthly, annual


def _largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    raw = shares / shares.sum() * total
    out = np.floor(raw).astype(np.int64)
    out[np.argsort(-(raw - out), kind="stable")[: total - out.sum()]] += 1
    return out


def build_world(scenario) -> tuple[People, Places, dict]:
    """Create the initial people and places for January of the start year."""
    run, pop_p = scenario.run, scenario.population
    seed = run.seed
    prov = data.provinces()
    n_prov = len(prov)
    n_agents = max(int(round(pop_p.initial_population_million * 1e6 / run.scale)), 200 * n_prov)
    per_prov = _largest_remainder(n_agents, prov.pop_start.to_numpy(float))
    urban = np.minimum(np.round(per_prov * prov.urban_share.to_numpy()).astype(np.int64), per_prov - 20)
    rural = per_prov - urban
    n_communes = int(np.clip(rural.sum() // run.agents_per_commune, n_prov, run.max_communes))
    communes_per_prov = np.maximum(1, _largest_remainder(n_communes, rural.astype(float)))
    # keep the total after forcing at least one commune per province
    n_communes = int(communes_per_prov.sum())
    first = np.concatenate([[0], np.cumsum(communes_per_prov)[:-1]]).astype(np.int32)
    place_province = np.concatenate([np.repeat(np.arange(n_prov), communes_per_prov),
                                     np.arange(n_prov)]).astype(np.int32)
    place_is_city = np.concatenate([np.zeros(n_communes), np.ones(n_prov)]).astype(np.uint8)
    province_city = (n_communes + np.arange(n_prov)).astype(np.int32)

    # people: place, then age/sex/class drawn from counter-based streams keyed by id
    capacity = int(n_agents * run.capacity_factor)
    people = People.empty(capacity)
    ids = np.arange(n_agents, dtype=np.int64)
    people.uid[:n_agents] = ids
    people.next_uid = n_agents
    people.alive[:n_agents] = 1
    place = np.empty(n_agents, np.int32)
    pos = 0
    for p in range(n_prov):  # setup only: one pass per province, not per person
        k = np.arange(rural[p])
        place[pos:pos + rural[p]] = first[p] + (k * communes_per_prov[p]) // max(rural[p], 1)
        pos += rural[p]
        place[pos:pos + urban[p]] = province_city[p]
        pos += urban[p]
    people.place[:n_agents] = place
    people.hukou[:n_agents] = place_is_city[place]

    pyramid = data.initial_age_sex(float(int(run.start[:4])) + (int(run.start[5:7]) - 1) / 12.0)
    cdf = np.cumsum(pyramid.ravel())
    u = cpu.uniform_array(seed, cpu.STREAM_INIT_AGE, 0, ids)
    cell = np.minimum(np.searchsorted(cdf, u * cdf[-1], side="right"), cdf.size - 1)
    sex, age_y = np.divmod(cell, 101)
    frac = cpu.uniform_array(seed, cpu.STREAM_INIT_AGE, 1, ids)
    people.sex[:n_agents] = sex
    people.age_m[:n_agents] = age_y * 12 + np.floor(frac * 12).astype(np.int64)

    u = cpu.uniform_array(seed, cpu.STREAM_INIT_CLASS, 0, ids)
    rural_mask = people.hukou[:n_agents] == 0
    klass = np.zeros(n_agents, np.uint8)
    klass[rural_mask & (u < pop_p.cadre_share)] = 1
    klass[(u >= 1.0 - pop_p.black_element_share)] = 2
    people.klass[:n_agents] = klass
    people.household[:n_agents] = np.arange(n_agents) // 5  # consecutive agents within a place
    people.reserve[:n_agents] = 0.9
    people.intake_ratio[:n_agents] = 1.0

    urban_share = float(urban.sum() / n_agents)
    hazard = baseline_hazard(scenario, pyramid, urban_share)
    conceive, annual_fert = conception_table(scenario, pyramid, urban_share)
    # initial pregnancy states at the renewal equilibrium of each woman's birth cycle
    fixed = 9.0 + scenario.fertility.postpartum_months
    b = annual_fert[np.minimum(age_y, 110)]
    cycle = np.where(b > 0, 12.0 / np.maximum(b, 1e-12), np.inf)
    u = cpu.uniform_array(seed, cpu.STREAM_INIT_PREG, 0, ids) * cycle
    preg = np.zeros(n_agents, np.int8)
    female = sex == 1
    pregnant = female & (u < 9.0)
    postpartum = female & (u >= 9.0) & (u < fixed)
    preg[pregnant] = (1 + np.floor(u[pregnant])).astype(np.int8)
    preg[postpartum] = -(1 + np.floor(u[postpartum] - 9.0)).astype(np.int8)
    people.preg[:n_agents] = preg

    agri = scenario.agriculture
    prov_yield = prov.yield_index.to_numpy(float)
    commune_ids = np.arange(n_communes, dtype=np.int64)
    noise = cpu.normal_array(seed, cpu.STREAM_COMMUNE_YIELD, 0, commune_ids)
    rural_agents = np.bincount(place[rural_mask[:n_agents]], minlength=n_communes + n_prov)[:n_communes]
    raw = rural_agents * prov_yield[place_province[:n_communes]] * np.exp(
        agri.commune_yield_sd * noise - 0.5 * agri.commune_yield_sd ** 2)
    potential = np.zeros(n_communes + n_prov)
    potential[:n_communes] = raw / raw.sum() * agri.grain_base_mt * 1e9
    working = (people.age_m[:n_agents] >= 180) & (people.age_m[:n_agents] < 720) & rural_mask
    farm_norm = np.bincount(place[working], minlength=n_communes + n_prov).astype(float)
    farm_norm[n_communes:] = 1.0
    stock = np.zeros(n_communes + n_prov)
    from greatleap.mechanisms.agriculture import months_to_next_harvest
    months = months_to_next_harvest(int(run.start[5:7]), prov.summer_share.to_numpy(float)[place_province[:n_communes]])
    stock[:n_communes] = rural_agents * run.scale * agri.initial_stock_cover * months * 18.0  # ~18 kg grain/person/month

    places = Places(
        province_names=list(prov.province), n_communes=n_communes, place_province=place_province,
        place_is_city=place_is_city, province_city=province_city, province_first_commune=first,
        province_n_communes=communes_per_prov.astype(np.int32), radicalism=prov.radicalism.to_numpy(float),
        summer_share=prov.summer_share.to_numpy(float), potential_kg=potential,
        farm_norm=np.maximum(farm_norm, 1.0), stock_kg=stock)
    tables = {"base_hazard": hazard, "conception": conceive, "annual_fertility": annual_fert,
              "pyramid": pyramid}
    return people, places, tables


class FertilityTiming:
    """National timing effects on conception (a multiplier on every woman's monthly probability).

    - Separation: labor campaigns (furnaces, water works) take spouses away from home, so
      conception falls by ``separation_effect`` x the diverted share of rural labor.
    - Catch-up: births that hunger prevented (expected at baseline fertility minus actual) form a
      stock of postponed births (marriages and births put off) that decays at ``catchup_decay``
      per month; conception is raised by ``catchup_strength`` x that stock in years of births.
    """

    def __init__(self, fert, baseline_births_per_person_month: float):
        self.p = fert
        self.base = baseline_births_per_person_month
        self.postponed = 0.0

    def multiplier(self, diverted_share: float, population: float) -> float:
        expected_year = self.base * 12.0 * max(population, 1.0)
        catchup = 1.0 + self.p.catchup_strength * self.postponed / expected_year
        return max(0.0, 1.0 - self.p.separation_effect * diverted_share) * min(catchup, 1.8)

    def record(self, births: float, population: float) -> None:
        expected = self.base * population
        self.postponed = self.postponed * (1.0 - self.p.catchup_decay) + max(0.0, expected - births)
