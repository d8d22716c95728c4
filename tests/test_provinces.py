"""The provincial mechanisms of issue 9, with numbers: state granaries, weather by province,
communes' inflation ceilings, the commune layout at every scale, radicalism from evidence."""
import numpy as np
import pandas as pd
import pytest

from greatleap import Sim, data, load_scenario
from greatleap.calendar import harvest_calendar
from greatleap.mechanisms.agriculture import Agriculture, disaster_severity
from greatleap.mechanisms.communes import commune_draws, layout
from greatleap.mechanisms.granaries import draw, planned_resales, relief_claims, structural_deficit

SC = load_scenario("historical")


def test_draw_takes_what_the_stock_holds_and_no_more():
    stock = np.array([5.0, -1.0, 10.0])
    taken = draw(stock, np.array([7.0, 3.0, 4.0]))
    assert taken.tolist() == [5.0, 0.0, 4.0] and stock.tolist() == [0.0, -1.0, 6.0]


def test_relief_claims_are_the_shortfall_to_the_harvest_as_the_state_sees_it():
    # need 15 kg/month for 4 months against 20 kg in store: 40 kg short, 10 kg a month
    assert relief_claims(15.0, 4, 20.0, 1.0, 0.0) == pytest.approx(10.0)
    # the Anti-Right climate (lever 0.2), and a report that claimed 30 kg the commune never had:
    # the state sees 50 kg in store, 10 kg short, 2.5 kg a month, of which the climate lets 0.5 through
    assert relief_claims(15.0, 4, 20.0, 0.2, 30.0) == pytest.approx(0.5)
    assert relief_claims(15.0, 4, 20.0, 1.0, 40.0) == 0.0  # the claimed grain hides the whole shortage
    assert relief_claims(15.0, 4, 100.0, 1.0, 0.0) == 0.0  # no shortfall, no claim


def test_planned_resales_go_pro_rata_to_rural_people_and_never_negative():
    people = np.array([[100.0, 300.0], [0.0, 0.0]])
    out = planned_resales(np.array([40.0, 5.0]), people)
    assert out[0].tolist() == pytest.approx([10.0, 30.0]) and out[1].tolist() == [0.0, 0.0]
    assert planned_resales(np.array([-3.0, 0.0]), people).sum() == 0.0


def test_the_fixed_plan_weighs_communes_by_how_far_normal_output_per_head_falls_short():
    # normal output per head 300, 100, 200 and 150 kg against a mean of 750 / 4 = 187.5 kg per head
    potential = np.array([[300.0, 100.0, 200.0, 150.0]])
    weight = structural_deficit(potential, np.ones((1, 4)))
    assert weight[0].tolist() == pytest.approx([0.0, 1 - 100 / 187.5, 0.0, 1 - 150 / 187.5])
    doubled = structural_deficit(potential * [[1, 2, 1, 1]], np.array([[1.0, 2.0, 1.0, 1.0]]))
    assert doubled[0, 1] == pytest.approx(2 * (1 - 100 / (850 / 5)))  # people count, per head decides
    assert structural_deficit(np.zeros((1, 2)), np.zeros((1, 2))).sum() == 0.0


def test_the_fixed_sales_plan_feeds_the_deficit_provinces_whatever_they_claim():
    """With every routine resale on the fixed plan, a deficit province (Hebei, normal output per head ~0.7
    of the nation's) gets more per head and a surplus one (Heilongjiang, ~2.4) gets none; on the
    shortfall the state sees, both get some."""
    kw = {"run.end": "1959-06", "run.scale": 100000}

    def resales_per_head(share):
        a = Sim(load_scenario("historical", **kw, **{"procurement.planned_resale_share": share})).run().annual_province
        a = a[(a.year == 1959) & (a.sector == "rural")].set_index("province")
        return a.relief_mt * 1e9 / a.population_mean
    fixed, seen = resales_per_head(1.0), resales_per_head(0.0)
    assert fixed["Hebei"] > 1.2 * seen["Hebei"]
    assert fixed["Heilongjiang"] < 1e-6 * seen["Heilongjiang"] and seen["Heilongjiang"] > 0


@pytest.mark.parametrize("season", ["autumn", "summer"])
def test_disaster_flags_spread_the_national_weather_and_keep_its_grain_weighted_mean(season):
    scen = load_scenario("historical", **{"agriculture.weather_province_sd": 0.0})
    flags = data.provincial_disasters(season)
    n = len(data.provinces())
    potential = data.provinces().pop_start.to_numpy(float)
    severity = {1958: 0.1, 1959: 0.2, 1960: 0.3, 1961: 0.4}
    w = Agriculture._weather(scen, range(1957, 1963), n, potential, season, severity)
    table = {**scen.agriculture.weather, **(scen.agriculture.summer_weather if season == "summer" else {})}
    for k, year in enumerate(range(1957, 1963)):
        assert np.sum(w[k] * potential) / potential.sum() == pytest.approx(table.get(year, 1.0))
        if year in flags.columns and flags[year].any() and not flags[year].all():
            hit = flags[year].to_numpy().astype(bool)
            # a named province loses the year's severity relative to one not named
            assert w[k][hit].max() / w[k][~hit].min() == pytest.approx(1.0 - severity[year])


def test_disaster_severity_spreads_the_severely_hit_area_over_the_named_harvests():
    """1960: 16.6% of the sown area severely hit (24,977 of 150,575 kha). Named province-harvests growing a quarter
    of the grain lose 0.5 x 0.166 / 0.25 of their yield; named ones growing less than the hit area lose the whole
    ``severe_hit_yield_loss``; years without a record lose nothing."""
    assert data.severely_hit_share()[1960] == pytest.approx(24977 / 150575)
    cal = harvest_calendar()
    n = len(cal.provinces)
    named = (data.provincial_disasters("summer")[1960].to_numpy() * cal.share[cal.seasons.index("summer")]
             + data.provincial_disasters("autumn")[1960].to_numpy() * cal.share[cal.seasons.index("autumn")])
    potential = np.ones(n)
    share_named = named.sum() / n
    got = disaster_severity(0.5, range(1957, 1963), potential, cal)
    assert set(got) == {1958, 1959, 1960, 1961}
    assert got[1960] == pytest.approx(0.5 * (24977 / 150575) / share_named)
    # all the grain in a named province: it holds the whole hit area, 16.6% of its sown area
    henan = np.where(np.array(cal.provinces) == "Henan", 1.0, 1e-9)
    assert disaster_severity(0.5, [1960], henan, cal)[1960] == pytest.approx(0.5 * 24977 / 150575, rel=1e-6)
    # almost all the grain in a province not named (Guangdong, 1960): the named ones are all hit, and lose 0.5
    guangdong = np.where(np.array(cal.provinces) == "Guangdong", 1.0, 1e-6)
    assert disaster_severity(0.5, [1960], guangdong, cal)[1960] == 0.5
    assert disaster_severity(0.0, [1960], potential, cal)[1960] == 0.0


def test_disasters_name_the_harvest_they_hit():
    """1959's drought came in July-September: the summer harvest is hit only where the spring was dry
    (Hebei, Heilongjiang); 1961's fell on the north's wheat; a flag of 1 or SA names both harvests."""
    summer, autumn, every = (data.provincial_disasters(s) for s in ("summer", "autumn", None))
    assert summer[1959][summer[1959] > 0].index.tolist() == ["Hebei", "Heilongjiang"]
    assert autumn[1959]["Henan"] == 1.0 and summer[1959]["Henan"] == 0.0
    assert summer[1961]["Shandong"] == 1.0 and autumn[1961]["Shandong"] == 0.0
    assert summer[1960]["Henan"] == autumn[1960]["Henan"] == 1.0
    assert (every == np.maximum(summer, autumn)).all().all()
    with pytest.raises(ValueError, match="allowed: summer, autumn"):
        data.provincial_disasters("winter")


def test_a_bad_disaster_code_names_the_cell_and_what_is_allowed(monkeypatch):
    import io
    data.provinces()  # read (and cached) before the data files are replaced
    text = "province,1959\nHebei,X\n"
    monkeypatch.setattr(data, "read_sourced_csv", lambda name, cols, **kw: pd.read_csv(io.StringIO(text)))
    data.provincial_disasters.cache_clear()
    try:
        with pytest.raises(data.DataError, match=r"row 1, column '1959': value 'X'; allowed: blank, 1, S"):
            data.provincial_disasters()
    finally:
        data.provincial_disasters.cache_clear()


def test_the_summer_harvest_takes_its_own_weather():
    """A dry summer (0.5) halves the June harvest and leaves October's weather as it was (October's harvest
    falls only through the hunger that follows: weaker workers, draught animals eaten); the harvest factors
    report each harvest's own weather."""
    def harvests(**over):
        sim = Sim(load_scenario("historical", **{"run.scale": 100000, "run.end": "1959-12",
                                                 "agriculture.weather_province_sd": 0.0, **over}))
        sim.run()
        res = sim.results()
        m = res.monthly_national[res.monthly_national.year == 1959]
        factors = res.harvest_factors.set_index(res.harvest_factors.month.astype(str).str[:10]).weather
        return m.set_index(m.month.dt.month).grain_harvest_mt, factors
    base, wb = harvests(**{"agriculture.summer_weather": {}})
    dry, wd = harvests(**{"agriculture.summer_weather": {1959: 0.5 * SC.agriculture.weather[1959]}})
    assert dry[6] == pytest.approx(0.5 * base[6], rel=1e-9) and 0.9 * base[10] < dry[10] <= base[10]
    assert wd["1959-06-01"] == pytest.approx(0.5 * wb["1959-06-01"]) and wd["1959-10-01"] == wb["1959-10-01"]


def test_communes_are_the_same_number_at_every_scale_until_agents_run_short():
    n = {scale: layout(load_scenario("historical", **{"run.scale": scale})).geography.n_communes
         for scale in (200, 1000, 5000, 20000, 100000)}
    assert n[200] == n[1000] == n[5000] == SC.run.communes == 2000
    per = SC.run.min_agents_per_commune
    assert per == 50 and n[20000] < 2000  # 50 agents a commune at the least (the scale check, parameters.py)
    for scale in (20000, 100000):  # rural agents / per, within rounding and one commune per province
        rural = layout(load_scenario("historical", **{"run.scale": scale})).rural.sum()
        assert rural // per <= n[scale] <= rural // per + len(data.provinces())
        if rural // per >= 2 * len(data.provinces()):  # else one commune per province rules (scale 100,000)
            assert rural / n[scale] >= per * 0.9


def test_commune_draws_are_deviations_from_the_province_whatever_the_number_of_communes():
    for scale in (1000, 20000, 100000):
        geo = layout(load_scenario("historical", **{"run.scale": scale})).geography
        k = np.bincount(geo.commune_province, minlength=geo.n_provinces)
        z = np.concatenate([commune_draws(seed, 7, 3, geo) for seed in range(1, 41)])
        prov = np.tile(geo.commune_province, 40) + geo.n_provinces * np.repeat(np.arange(40), geo.n_communes)
        sums = np.bincount(prov, weights=z)
        assert np.abs(sums).max() < 1e-9  # every province's communes average exactly 0
        several = (k > 1)[np.tile(geo.commune_province, 40)]
        assert np.all(z[~several] == 0.0)  # a province with one commune is the province
        if several.any():
            assert np.std(z[several]) == pytest.approx(1.0, rel=0.1)  # unit variance within provinces
    assert (k == 1).any() and (k > 1).any()  # scale 100,000 has both kinds


def test_a_provinces_yield_potential_is_the_same_for_every_seed_and_scale():
    """Commune yield draws move grain between a province's communes, not between provinces."""
    prov = data.provinces()
    for scale in (20000, 50000):
        shares = []
        for seed in (1, 2):
            sim = Sim(load_scenario("historical", **{"run.end": "1957-01", "run.scale": scale, "run.seed": seed}))
            geo, nc = sim.geo, sim.geo.n_communes
            pot = np.bincount(geo.commune_province, weights=sim.world.places.potential[0, :nc], minlength=geo.n_provinces)
            assert np.std(np.log(sim.world.places.potential[0, :nc] / pot[geo.commune_province])) > 0.05
            shares.append(pot / pot.sum())
        assert shares[0] == pytest.approx(shares[1], rel=1e-9)
        expected = sim.layout.rural * prov.yield_index.to_numpy(float)
        assert shares[0] == pytest.approx(expected / expected.sum(), rel=1e-9)


def test_inflation_ceilings_differ_by_commune_around_the_calibrated_maximum():
    sim = Sim(load_scenario("historical", **{"run.end": "1957-01", "run.scale": 20000}))
    nc = sim.geo.n_communes
    cap = sim.world.places.inflation_cap[0, :nc]
    rp = sim.scenarios[0].reporting
    assert np.std(np.log(cap)) == pytest.approx(rp.cap_sd, rel=0.15)
    assert cap.mean() == pytest.approx(rp.inflation_max, rel=0.1)  # lognormal, mean kept
    by_province = np.bincount(sim.geo.commune_province, weights=np.log(cap)) / sim.geo.province_n_communes
    assert by_province == pytest.approx(np.log(rp.inflation_max) - 0.5 * rp.cap_sd ** 2)  # no province by chance


def test_radicalism_comes_from_pre_famine_evidence_not_the_famine():
    """Every province's index is set from pre-famine evidence (purges, promotion, Lushan, rightists,
    1955 co-operatives) or left neutral, and the provinces with evidence differ in the right order."""
    prov = data.provinces().set_index("province")
    evidence = data.read_sourced_csv("provincial_radicalism_evidence.csv", ("province",)).set_index("province")
    assert prov.radicalism.between(0.0, 1.0).all()
    assert prov.loc["Henan", "radicalism"] > prov.loc["Hunan", "radicalism"]  # Wu Zhipu against Zhou Xiaozhou
    assert evidence.loc["Hunan", "moderate_at_lushan"] == 1 and prov.loc["Hunan", "radicalism"] < 0.5
    assert evidence.loc["Henan", "purge_1957_58"] == 1 and prov.loc["Henan", "radicalism"] > 0.7
    named = [p for p in prov.index if p not in evidence.index or evidence.loc[p].drop(
        [c for c in evidence.columns if c not in ("purge_1957_58", "politburo_1958", "moderate_at_lushan",
                                                  "rightists_per_10k", "coop_share_1955")]).isna().all()]
    assert all(prov.loc[p, "radicalism"] == 0.5 for p in named)  # no evidence: neutral


def test_cities_come_first_the_state_levies_what_its_granaries_lack():
    """With empty state granaries the cities are fed by a levy on their provinces' communes (counted as
    procurement, outside the harvest months); without the levy they go short."""
    kw = {"run.end": "1957-04", "run.scale": 100000, "procurement.initial_state_stock_mt": 0.0,
          "procurement.collection_share_per_month": 1.0}  # no arrears of the 1956 autumn quota: only the levy
    fed = Sim(load_scenario("historical", **kw)).run().monthly_national.set_index("month")
    starved = Sim(load_scenario("historical", **kw, **{"procurement.urban_levy_share": 0.0})).run() \
        .monthly_national.set_index("month")
    stocked = Sim(load_scenario("historical", **{**kw, "procurement.initial_state_stock_mt": 30.0})).run() \
        .monthly_national.set_index("month")
    feb = pd.Timestamp("1957-02-01")
    demand = stocked.loc[feb, "urban_supply_mt"]  # full rations from a stocked granary
    assert demand == pytest.approx(17.0 * stocked.loc[feb, "population_urban"] / 1e9, rel=0.05)
    assert starved.loc[feb, "urban_supply_mt"] < 0.5 * demand
    assert fed.loc[feb, "urban_supply_mt"] == pytest.approx(demand, rel=1e-6)
    assert fed.loc[feb, "procurement_mt"] == pytest.approx(fed.loc[feb, "urban_supply_mt"], rel=0.05)
    assert starved.loc[feb, "procurement_mt"] == 0.0


def test_the_levy_for_cities_stops_at_the_commitment_floor_whatever_the_climate():
    """The cities were fed in every year, the retreat included: with no enforcement and a high retention
    standard the levy still takes grain down to ``commitment_floor_kg`` (the lower floor), so the cities
    are fed; only raising that floor to the retention standard leaves them short."""
    kw = {"run.end": "1957-04", "run.scale": 100000, "procurement.initial_state_stock_mt": 0.0,
          "procurement.urban_levy_share": 1.0, "procurement.collection_share_per_month": 1.0}

    def run(**extra):
        return Sim(load_scenario("historical", **kw, **extra)).run().monthly_national.set_index("month")
    hard = run()
    kept = run(**{"procurement.min_retention_kg": 245.0})
    floor_up = run(**{"procurement.min_retention_kg": 245.0, "procurement.commitment_floor_kg": 245.0})
    feb = pd.Timestamp("1957-02-01")
    assert kept.loc[feb, "procurement_mt"] == pytest.approx(hard.loc[feb, "procurement_mt"], rel=1e-9)
    assert kept.loc[feb, "urban_supply_mt"] == pytest.approx(hard.loc[feb, "urban_supply_mt"], rel=1e-9)
    assert floor_up.loc[feb, "procurement_mt"] < 0.9 * hard.loc[feb, "procurement_mt"]
    assert floor_up.loc[feb, "urban_supply_mt"] < 0.9 * hard.loc[feb, "urban_supply_mt"]


def test_beijing_and_shanghai_start_on_their_enlarged_boundaries():
    """Their panel series are on then-current boundaries (Hebei's and Jiangsu's counties joined them in
    1956-58), so each starts from its first year-end on the enlarged boundaries brought back to 1956 by
    the nation's growth; their grain (on the enlarged boundaries throughout) then gives a yield index in
    the range of the other provinces', not the ~2 per rural person of the old city limits."""
    import re
    from importlib import resources
    prov = data.provinces().set_index("province")
    text = (resources.files("greatleap.data") / "provinces_1958.csv").read_text()
    scale = float(re.search(r"^# pop_scale = ([0-9.]+)$", text, re.M).group(1))
    panel = data.read_sourced_csv("provincial_vital_rates_panel.csv", ("province", "year"))
    national = data.read_sourced_csv("china_national_vital_rates_1949_1970_csy1999.csv", ("year",)).set_index("year")
    for unit, year in (("Beijing", 1958), ("Shanghai", 1959)):
        enlarged = panel[(panel.province == unit) & (panel.year == year)].pop_yearend.dropna().iloc[0]
        grown = national.loc[year, "pop_yearend_10k"] / national.loc[1956, "pop_yearend_10k"]
        assert prov.loc[unit, "pop_start"] == pytest.approx(enlarged / grown * scale, rel=1e-3)
    sourced = prov[prov.basis.str.contains("yield sourced")]
    assert sourced.yield_index.between(0.5, 2.5).all() and prov.loc[["Beijing", "Shanghai"], "yield_index"].max() < 1.5



def test_the_mortality_index_is_each_provinces_pre_famine_register_made_rural_equivalent():
    """Registered CDR 1955-57, each year's urban share taken out at the towns' 1958 ratio to the country
    (9.22/12.50), relative to the nation: Yunnan (15-16 per mille) high, Shanghai (6-8, mostly town) low;
    two provinces' ratio is that of their rural-equivalent means, whatever the national mean."""
    prov = data.provinces().set_index("province")
    panel = data.read_sourced_csv("provincial_vital_rates_panel.csv", ("province", "year"))
    urban = data.read_sourced_csv("provincial_urban_population.csv", ("province", "year"))

    def rural_equivalent(unit):
        rates = []
        for year in (1955, 1956, 1957):
            cdr = panel[(panel.province == unit) & (panel.year == year)].cdr.dropna().iloc[0]
            share = urban[(urban.province == unit) & (urban.year == year)].urban_share.iloc[0]
            rates.append(cdr / (1 - share * (1 - 9.22 / 12.50)))
        return np.mean(rates)
    assert prov.loc["Yunnan", "mortality_index"] / prov.loc["Gansu", "mortality_index"] == pytest.approx(
        rural_equivalent("Yunnan") / rural_equivalent("Gansu"), rel=1e-3)
    assert prov.loc["Yunnan", "mortality_index"] > 1.25 and prov.loc["Shanghai", "mortality_index"] < 0.8
    assert (prov.mortality_index[~prov.basis.str.contains("mortality sourced")] == 1.0).all()  # no data: the nation's


def test_provincial_levels_keep_the_nations_baseline_deaths():
    """Worked by hand: indices 2 and 0.5, 100 rural agents each and 100 urban in the second at half the rate
    (150 rural-equivalent): at weight 1 the levels 2c and 0.5c with c = 250 / 275; at weight 0 one level."""
    from greatleap.mechanisms.mortality import provincial_level
    level = provincial_level(np.array([2.0, 0.5]), np.array([1.0, 0.0]), np.array([100.0, 100.0]),
                             np.array([0.0, 100.0]), np.array([0.5, 0.5]))
    np.testing.assert_allclose(level[0], [2 * 250 / 275, 0.5 * 250 / 275])
    np.testing.assert_allclose(level[1], [1.0, 1.0])
    people = np.array([100.0, 150.0])
    assert (people * level[0]).sum() == pytest.approx(people.sum())


def test_a_provinces_ordinary_deaths_follow_its_pre_famine_level():
    """In 1957, before the famine, Yunnan dies more than Shanghai when the provinces' levels count (weight 1)
    than under one national level (weight 0), and the nation's deaths barely move. (Scale 5,000: at 20,000
    Shanghai has ~500 agents and a handful of deaths a year, and a person's frailty can decide the test.)"""
    kw = {"run.end": "1957-12", "run.scale": 5000}

    def deaths(weight):
        r = Sim(load_scenario("historical", **kw, **{"mortality.provincial_level_weight": weight})).run()
        a = r.annual_province
        return (a[(a.year == 1957) & (a.sector == "total")].set_index("province").cdr_true,
                r.annual_national.set_index("year").loc[1957, "deaths"])
    (level, nation_level), (one, nation_one) = deaths(1.0), deaths(0.0)
    assert level["Yunnan"] / level["Shanghai"] > 1.3 * one["Yunnan"] / one["Shanghai"]
    assert level["Yunnan"] > one["Yunnan"] and level["Shanghai"] < one["Shanghai"]
    assert nation_level == pytest.approx(nation_one, rel=0.03)


def test_an_outflow_task_is_shipped_and_levied_from_the_provinces_own_communes():
    """Sichuan's task (2.8 Mt a year from July 1959, the record's 14.7 bn jin in 1959-61) is shipped even
    once its granaries hold less: in 1960 it procures more from its own communes, eats less and sends more on
    balance than without the task, and no other province is levied for it (Henan's procurement is unchanged to
    within 2%). In 1961 it still eats less, from a smaller harvest (the famine the task deepened cost it
    labor and herds), so it procures less than without the task. (In 1961 the centre's resales into the
    starving province outweigh the task on balance: the record's Sichuan kept shipping; a known gap.)"""
    from greatleap.scenario import validate_scenario
    kw = {"run.end": "1961-12", "run.scale": 50000}
    data = load_scenario("historical", **kw).to_dict()
    assert [e["value"] for e in data["events"] if e["lever"] == "outflow_task" and e["where"] == "Sichuan"] == [2.8]
    without = dict(data, events=[e for e in data["events"] if e["lever"] != "outflow_task"])

    def province(scenario_data):
        a = Sim(validate_scenario(scenario_data, "task")).run().annual_province
        return a[a.sector == "total"].set_index(["province", "year"])
    task, free = province(data), province(without)
    assert task.loc[("Sichuan", 1960), "outflow_mt"] > free.loc[("Sichuan", 1960), "outflow_mt"] + 0.5
    sichuan, base = task.loc[("Sichuan", 1960)], free.loc[("Sichuan", 1960)]
    assert sichuan.procured_mt > base.procured_mt + 0.5 and sichuan.eaten_mt < base.eaten_mt
    sichuan, base = task.loc[("Sichuan", 1961)], free.loc[("Sichuan", 1961)]
    assert sichuan.eaten_mt < base.eaten_mt - 1.0 and sichuan.harvest_mt < base.harvest_mt - 1.0
    # a levy for the task would take a sizeable share of Henan's ~2.2 Mt (the task is 2.8 Mt a year); what moves it at
    # all is indirect (the centre's stocks, hence resales and relief)
    assert task.loc[("Henan", 1960), "procured_mt"] == pytest.approx(free.loc[("Henan", 1960), "procured_mt"], rel=0.02)


def test_each_city_eats_what_its_province_was_supplied():
    """A shortfall of urban grain falls on the towns of the province that has it: with empty state granaries
    and a levy of 2% of communes' stocks, Henan's and Shandong's towns (small beside their countryside) are
    fed far better than Shanghai's, Tianjin's and Beijing's (large beside theirs), and what every city eats is
    still what the state supplied. (The cities once shared the nation's supply by population: every town ate
    3.1 kg a head here, Shanghai's as much as Henan's.)"""
    kw = {"run.end": "1957-03", "run.scale": 100000, "procurement.initial_state_stock_mt": 0.0,
          "procurement.urban_levy_share": 0.02, "procurement.collection_share_per_month": 1.0}  # the levy alone
    result = Sim(load_scenario("historical", **kw)).run()
    m = result.monthly_province
    feb = m[(m.sector == "urban") & (m.month == pd.Timestamp("1957-02-01")) & (m.population > 0)].set_index("province")
    per_head = feb.eaten_mt * 1e9 / feb.population  # kg a month
    assert per_head.max() < 17.0  # everyone short of the 17 kg ration
    assert per_head[["Henan", "Shandong"]].min() > 5 * per_head[["Shanghai", "Tianjin", "Beijing"]].max()
    national = result.monthly_national.set_index("month").loc[pd.Timestamp("1957-02-01")]
    assert feb.eaten_mt.sum() == pytest.approx(national.urban_supply_mt, rel=1e-9)


def test_provincial_procurement_shares_are_targets_read_from_the_archive(historical):
    """The state's take by province (archival tasks and collections of 1959-60, Shandong's Ministry account
    1957-61) is a target on the new annual_province column procurement_share = procured / harvest."""
    from greatleap.analysis.targets import load_targets
    t = load_targets()
    p = t[t.name == "provincial_procurement_share"].set_index(["province", "year"])
    assert p.loc[("Anhui", 1959), "observed"] == 0.53 and p.loc[("Anhui", 1959), "lower"] == pytest.approx(0.46)
    assert p.loc[("Shandong", 1959), "observed"] == pytest.approx(74.69 / 211.3, abs=5e-4)  # Tombstone Table 8-1
    assert len(p) == 10 and p.counted.all() and (p.table == "annual_province").all()
    a = historical.annual_province
    rural = a[(a.sector == "rural") & (a.harvest_mt > 0)]
    assert np.allclose(rural.procurement_share, rural.procured_mt / rural.harvest_mt)
    assert a[a.sector == "urban"].procurement_share.isna().all()  # cities have no harvest
    share = a[(a.sector == "total") & (a.year == 1959)].set_index("province").procurement_share
    assert share.between(0.05, 0.9).all()


def test_zeal_above_neutral_raises_only_the_zealous_provinces_own_claims():
    """k_province_radicalism adds to a province's own inflation in proportion to its radicalism above 0.5:
    Henan (0.815) and Anhui (0.758) claim more over their communes' reports; Shaanxi (0.5, no evidence) and
    Hunan (0.3) add exactly what they added before."""
    kw = {"run.end": "1958-12", "run.scale": 100000, "reporting.province_inflation_max": 0.3}

    def ratio(k):
        a = Sim(load_scenario("historical", **kw, **{"reporting.k_province_radicalism": k})).run().annual_province
        a = a[(a.sector == "total") & (a.year == 1958)].set_index("province")
        return a.reported_province_mt / a.reported_commune_mt
    flat, zealous = ratio(0.0), ratio(20.0)
    for p in ("Henan", "Anhui"):
        assert zealous[p] > flat[p] + 0.05
    for p in ("Shaanxi", "Hunan"):
        assert zealous[p] == pytest.approx(flat[p], rel=1e-12)
