"""The orchestrator: builds the world, runs the month's step plan, collects results.

The step plan is data (``Sim.PLAN``): ``Sim.plan()`` prints it and ``Sim.timings`` holds the
seconds spent in each part. Mechanisms change state; the recorder only records.
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

from greatleap import __version__
from greatleap.kernels import get_backend
from greatleap.ledger import (check_grain_national, check_grain_places, check_people_national,
                              check_people_places)
from greatleap.mechanisms import canteens, labor, nutrition, procurement
from greatleap.mechanisms.agriculture import AUTUMN, SUMMER, Agriculture, months_to_next_harvest
from greatleap.mechanisms.demography import FertilityTiming, build_world, completeness
from greatleap.mechanisms.hierarchy import Hierarchy
from greatleap.results import Recorder, Results
from greatleap.scenario import Scenario, ScenarioError, load_scenario, validate_scenario
from greatleap.levers import LEVER_INDEX as L
from greatleap.levers import month_label, parse_month
from greatleap.timeline import lever_matrix


class Sim:
    """``Sim(load_scenario("historical"), scale=1000, seed=1).run()`` -> :class:`Results`."""

    PLAN = (
        ("policy", "levers of the month from the timeline (greatleap.timeline)"),
        ("labor", "diversion shares of the month (mechanisms.labor)"),
        ("census", "activities, recruitment, send-downs; people, labor, needs per place; people ledger (kernel labor_and_census)"),
        ("production", "season labor, birds; harvests in June and October; steel (mechanisms.agriculture, labor)"),
        ("reports_and_plans", "inflated reports, belief; January plans and quotas (mechanisms.hierarchy)"),
        ("procurement", "quota collection at harvests; state granary, urban supply, trade, relief (mechanisms.procurement)"),
        ("distribution", "canteen/household grain draw and ration ratio (mechanisms.canteens)"),
        ("nutrition_and_demography", "intake, reserve, deaths, pregnancies, flight, ageing (kernel person_month)"),
        ("births_and_records", "the dead, births in free slots, registration, ledgers, records (kernels finish_month, give_births)"),
    )

    def __init__(self, scenario: Scenario | str | None = None, *, scale: float | None = None,
                 seed: int | None = None, backend: str = "cpu"):
        if scenario is None or isinstance(scenario, str):
            scenario = load_scenario(scenario or "historical")
        if scale is not None or seed is not None:
            data = scenario.to_dict()
            if scale is not None:
                data["run"]["scale"] = scale
            if seed is not None:
                data["run"]["seed"] = seed
            scenario = validate_scenario(data, scenario.name)
        self.scenario = scenario
        self.k = get_backend(backend)
        self.people, self.places, self.tables = build_world(scenario)
        self.levers = lever_matrix(scenario)
        self.start = parse_month(scenario.run.start)
        self.n_months = self.levers.shape[0]
        self.scale = float(scenario.run.scale)
        self.timings = {name: 0.0 for name, _ in self.PLAN}
        self.agriculture = Agriculture(scenario, self.places)
        self.hierarchy = Hierarchy(scenario, self.places)
        self.granary = procurement.StateGranary(scenario)
        n_places = self.places.n_places
        self.violence_pressure = np.zeros(n_places)
        self.need_table = nutrition.need_table()
        self.extra = nutrition.activity_extra(scenario.nutrition)
        self.capacity = nutrition.capacity_table(scenario.nutrition)
        m = scenario.mortality
        self.beta = np.array([m.hunger_beta_child, m.hunger_beta_child, m.hunger_beta_adult,
                              m.hunger_beta_adult, m.hunger_beta_old])
        base_births = scenario.population.registered_cbr_1957 / 1000.0 / 12.0 / completeness(
            scenario.registration.birth_completeness, 1957)
        self.fertility_timing = FertilityTiming(scenario.fertility, base_births)
        # communes report inflated head counts to draw rations: registered counts and relief claims
        self.count_inflation = 1.0 + scenario.registration.population_inflation
        theta, fert = scenario.nutrition.work_capacity_theta, scenario.fertility
        self.work_capacity_table = self.k.lookup_table(lambda r: r ** theta)
        self.fertility_table = self.k.lookup_table(
            lambda d: max(0.0, 1.0 - d / fert.hunger_zero_depletion) ** fert.hunger_exponent)
        self.recorder = Recorder(self.n_months, self.places, self.start)
        self.expected_pop = None
        self.reg_pop = None
        self.grain_totals = dict.fromkeys(("production", "eaten", "waste", "seed_feed", "losses",
                                           "state_other_use", "exports", "imports"), 0.0)
        self.stocks_start = float(self.places.stock_kg.sum() + self.granary.stock)
        alive = self.people.alive.astype(bool)
        work = alive & (self.people.hukou == 1) & (self.people.age_m >= 180) & (self.people.age_m < 720)
        self.urban_workers_start = float(work.sum())
        self.t = 0
        self.compile_seconds = 0.0
        self._buffers(self.people.capacity)

    def _buffers(self, capacity: int) -> None:
        """Per-person work arrays reused every month (touched once, not re-allocated)."""
        self.reserve_start = np.full(capacity, 0, np.float32)
        self.status = np.full(capacity, 0, np.uint8)


    # ------------------------------------------------------------------ helpers
    @classmethod
    def plan(cls) -> str:
        """The month's step plan, in order."""
        return "\n".join(f"{i + 1}. {name:<26} {what}" for i, (name, what) in enumerate(cls.PLAN))

    def _place_name(self, k: int) -> str:
        pl = self.places
        kind = "city" if pl.place_is_city[k] else "commune"
        return f"{k} ({kind} of {pl.province_names[pl.place_province[k]]})"

    def _tick(self, name: str, t0: float) -> float:
        t1 = time.perf_counter()
        self.timings[name] += t1 - t0
        return t1

    # ------------------------------------------------------------------ the month
    def step(self) -> None:
        sc, pp, pl, k = self.scenario, self.people, self.places, self.k
        t = self.t
        month_index = self.start + t
        year, month = month_index // 12, month_index % 12 + 1
        label = month_label(month_index)
        nc = pl.n_communes
        t0 = time.perf_counter()
        lev = self.levers[t]
        t0 = self._tick("policy", t0)

        furnace_share, water_share = labor.diversion_shares(lev)
        t0 = self._tick("labor", t0)

        nongrain = nutrition.nongrain_share(sc.nutrition, pl.place_is_city, lev[L["private_plots"]])
        canteen_by_place = np.where(pl.place_is_city == 1, 0.0, lev[L["canteen"]])
        cp = sc.canteens
        pop, working, farm, furnace, water, wneed, mv_in, mv_out, reserve_sum, pyramid = k.labor_and_census(
            pp.alive, pp.age_m, pp.sex, pp.place, pp.hukou, pp.klass, pp.activity, pp.intake_ratio, pp.reserve,
            pp.uid, sc.run.seed, t, furnace_share, water_share, lev[L["recruitment"]], lev[L["senddown"]],
            pl.place_province, pl.province_city, pl.province_first_commune, pl.province_n_communes, pl.n_places,
            self.need_table, self.extra, nongrain, canteen_by_place, cp.weight_cadre, cp.weight_black_element,
            cp.weight_non_worker, cp.household_weight_damping, self.work_capacity_table, month == 7)
        if self.expected_pop is not None and sc.run.check_ledgers:
            check_people_places(label, pop, self.expected_pop + mv_in - mv_out, self._place_name)
        if self.reg_pop is None:
            self.reg_pop = pop.astype(float)
        self.reg_pop += mv_in - mv_out
        pop_real = pop * self.scale
        t0 = self._tick("census", t0)

        harvest = np.zeros(pl.n_places)
        seed_feed = np.zeros(pl.n_places)
        taken = np.zeros(pl.n_places)
        rural_depletion = 1.0 - float(reserve_sum[:nc].sum() / max(pop[:nc].sum(), 1))
        labor_ratio = self.agriculture.month(month, lev, farm, rural_depletion)
        steel = labor.steel_month(sc.industry, float(furnace.sum()), float(working[nc:].sum()),
                                  self.urban_workers_start, self.scale)
        report = None
        if month in (SUMMER, AUTUMN):
            harvest[:nc], factors = self.agriculture.harvest(year, month, labor_ratio)
            self.recorder.harvest_factors.append({"month": label, **factors})
            seed_feed = harvest * sc.agriculture.seed_feed_share
            pl.stock_kg += harvest - seed_feed
        t0 = self._tick("production", t0)

        if month == 1 or t == 0:
            trend = (1 + sc.agriculture.yield_trend) ** (year - 1957)
            self.hierarchy.plan_year(lev, pl.potential_kg[:nc] * trend, pop_real[:nc])
        if month in (SUMMER, AUTUMN):
            prov = pl.place_province[:nc]
            season = pl.summer_share[prov] if month == SUMMER else 1 - pl.summer_share[prov]
            report = self.hierarchy.report(t, harvest[:nc], season, lev)
        t0 = self._tick("reports_and_plans", t0)

        months_left = months_to_next_harvest(month, pl.summer_share[pl.place_province[:nc]])
        self.violence_pressure *= 0.75
        if month in (SUMMER, AUTUMN):
            if sc.planning.flexible_quotas:  # counterfactual: the quota follows what was truly harvested
                due = lev[L["procurement_rate"]] * harvest[:nc]
            else:
                due = self.hierarchy.quota * season
            taken[:nc], pressure = procurement.collect(sc.procurement, due, pl.stock_kg[:nc], pop_real[:nc],
                                                       months_left, lev, pl.radicalism[prov])
            pl.stock_kg[:nc] -= taken[:nc]
            self.violence_pressure[:nc] = np.maximum(self.violence_pressure[:nc], pressure * lev[L["campaign"]])
        else:
            due = None
        kcal = sc.nutrition.kcal_per_kg_grain
        need_kg = wneed * self.scale * 30.0 / kcal
        flows, relief = self.granary.month(float(taken.sum()), float(pop_real[nc:].sum()), lev,
                                           pl.stock_kg[:nc], need_kg[:nc] * self.count_inflation, months_left,
                                           self.hierarchy.believed_inflation)
        pl.stock_kg[:nc] += relief
        t0 = self._tick("procurement", t0)

        drawn = np.zeros(pl.n_places)
        waste = np.zeros(pl.n_places)
        drawn[:nc], waste[:nc] = canteens.monthly_draw(cp, pl.stock_kg[:nc], need_kg[:nc], months_left, lev)
        city_pop = pop_real[nc:]
        drawn[nc:] = flows["urban_supply"] * city_pop / max(city_pop.sum(), 1.0)
        pl.stock_kg[:nc] -= drawn[:nc]
        ratio = canteens.ration_ratio((drawn - waste) / self.scale, wneed, kcal)
        losses = pl.stock_kg * sc.agriculture.storage_loss_per_month
        pl.stock_kg -= losses
        t0 = self._tick("distribution", t0)

        reserve_start, status = self.reserve_start, self.status
        np.copyto(reserve_start, pp.reserve)
        m, f, mg = sc.mortality, sc.fertility, sc.migration
        reg = sc.registration
        escape_success = mg.escape_success_free * (1.0 - lev[L["hukou"]]) + 0.1 * lev[L["hukou"]]
        eaten_agents, deaths, deaths_reg, deaths_cause, esc_in, esc_out, deaths_detail = k.person_month(
            pp.alive, pp.age_m, pp.sex, pp.place, pp.hukou, pp.klass, pp.activity, pp.reserve, reserve_start,
            pp.intake_ratio, pp.preg, pp.mother, pp.mother_uid, pp.uid, status, sc.run.seed, t, pl.n_places,
            ratio, nongrain, canteen_by_place, pl.place_is_city, self.violence_pressure,
            self.need_table, self.extra, self.capacity,
            self.tables["base_hazard"] * (1.0 - sc.population.mortality_decline_per_year) ** max(0.0, year + (month - 1) / 12 - 1957),
            self.tables["conception"], kcal, sc.nutrition.famine_substitute_kcal, sc.nutrition.recovery_efficiency, sc.nutrition.metabolic_adaptation,
            cp.weight_cadre, cp.weight_black_element, cp.weight_non_worker, cp.household_weight_damping,
            self.beta, m.hunger_gamma, m.starvation_hazard, m.starvation_threshold, m.orphan_infant_multiplier,
            m.violence_rate, m.black_element_violence_factor, sc.population.urban_mortality_factor,
            sc.population.urban_fertility_factor,
            self.fertility_timing.multiplier(furnace_share + water_share, float(pop.sum())),
            completeness(reg.death_completeness, year),
            reg.famine_death_penalty, self.fertility_table, f.intake_weight, f.postpartum_months,
            f.fetal_loss_hunger, mg.escape_rate, escape_success, nc)
        t0 = self._tick("nutrition_and_demography", t0)

        alive_before = int(pop.sum())
        mothers = k.finish_month(pp.alive, status)
        free = pp.capacity - (alive_before - int(deaths.sum()))
        if free < mothers.shape[0] + 1:
            pp.grow(int(pp.capacity * 1.25) + mothers.shape[0])
            self._buffers(pp.capacity)
        births, births_reg, pp.next_uid = k.give_births(
            mothers, pp.alive, pp.age_m, pp.sex, pp.place, pp.hukou, pp.klass, pp.household, pp.reserve,
            pp.intake_ratio, pp.preg, pp.activity, pp.mother, pp.mother_uid, pp.uid, pp.next_uid, sc.run.seed, t,
            sc.population.sex_ratio_at_birth / (1.0 + sc.population.sex_ratio_at_birth),
            completeness(reg.birth_completeness, year), pl.n_places)
        self.expected_pop = pop + births - deaths + esc_in - esc_out
        self.fertility_timing.record(float(births.sum()), float(pop.sum()))
        self.reg_pop += births_reg - deaths_reg + esc_in - esc_out
        eaten_real = eaten_agents * self.scale

        gt = self.grain_totals
        gt["production"] += harvest.sum()
        gt["eaten"] += eaten_real.sum()
        gt["waste"] += waste.sum()
        gt["seed_feed"] += seed_feed.sum()
        gt["losses"] += losses.sum() + flows["state_loss"]
        gt["state_other_use"] += flows["state_other_use"]
        gt["exports"] += flows["exports"]
        gt["imports"] += flows["imports"]
        if sc.run.check_ledgers:
            check_grain_places(label, eaten_real, drawn, waste, pl.stock_kg, self._place_name)
            check_people_national(label, pp.n_alive, alive_before, int(births.sum()), int(deaths.sum()))
            check_grain_national(label, gt, float(pl.stock_kg.sum() + self.granary.stock), self.stocks_start)

        self.recorder.record(
            t, pop=pop, working=working, farm=farm, furnace=furnace, water=water, births=births, births_reg=births_reg,
            deaths=deaths, deaths_reg=deaths_reg, deaths_cause=deaths_cause, deaths_detail=deaths_detail,
            esc_in=esc_in, esc_out=esc_out, moved_in=mv_in, moved_out=mv_out,
            reg_pop=self.reg_pop * np.concatenate([np.full(nc, self.count_inflation), np.ones(pl.n_places - nc)]),
            harvest=harvest, seed_feed=seed_feed, procured=taken, due=due, relief=relief, drawn=drawn, waste=waste,
            eaten=eaten_real, stock=pl.stock_kg, losses=losses, ratio=ratio, flows=flows, state_stock=self.granary.stock,
            steel=steel, report=report, pyramid=pyramid if month == 7 else None, scale=self.scale,
            reserve_sum=reserve_sum)
        if month == 12 or t == self.n_months - 1:
            self.hierarchy.close_year()
        self._tick("births_and_records", t0)
        self.t += 1

    def run(self, progress: Callable[[int, int], None] | None = None) -> Results:
        """Run every month; ``progress(done, total)`` is called after each month."""
        if self.t == 0:
            t0 = time.perf_counter()
            warmup(self.k.__name__.rsplit(".", 1)[-1])
            self.compile_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        while self.t < self.n_months:
            self.step()
            if progress is not None:
                progress(self.t, self.n_months)
        wall = time.perf_counter() - t0
        meta = {"scenario": self.scenario.to_dict(), "seed": self.scenario.run.seed, "scale": self.scale,
                "version": __version__, "backend": self.k.__name__.rsplit(".", 1)[-1],
                "n_agents_start": int(self.recorder.national["pop"][0]), "n_communes": int(self.places.n_communes),
                "wall_seconds": wall, "compile_seconds": self.compile_seconds,
                "timings_seconds": dict(self.timings), "plan": [name for name, _ in self.PLAN]}
        return Results(self.recorder, meta)


_WARM: set[str] = set()


def warmup(backend: str = "cpu") -> None:
    """Compile (or load from cache) every kernel by stepping a tiny world for two months."""
    if backend in _WARM:
        return
    _WARM.add(backend)
    tiny = load_scenario("historical", **{"run.scale": 2e5, "run.end": "1957-06"})
    sim = Sim(tiny, backend=backend)
    for _ in range(sim.n_months):
        sim.step()


__all__ = ["Sim", "ScenarioError", "warmup"]
