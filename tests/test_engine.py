"""The engine's shape: the plan is what runs, one world with a member axis, snapshots, places."""
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from greatleap import Sim, load_scenario
from greatleap.cli import app
from greatleap.data import provinces
from greatleap.levers import LEVER_INDEX
from greatleap.mechanisms import DEFAULT
from greatleap.mechanisms.base import Mechanism, Series
from greatleap.mechanisms.demography import person_uid
from greatleap.scenario import ScenarioError, validate_scenario
from greatleap.timeline import lever_matrix

SHORT = {"run.end": "1959-12", "run.scale": 100000}


def _tables_equal(a, b) -> bool:
    return all(a.digests()[k] == b.digests()[k] for k in a.digests())


def test_the_printed_plan_is_exactly_what_runs():
    sim = Sim(load_scenario("historical", **SHORT))
    ran = []
    for step in sim.plan:  # wrap every step's method so that running it is recorded
        method = getattr(step.mechanism, step.phase)

        def wrapped(world, month, _method=method, _name=step.name):
            ran.append(_name)
            _method(world, month)
        setattr(step.mechanism, step.phase, wrapped)
    sim.step()
    assert ran == [s.name for s in sim.plan]
    printed = CliRunner().invoke(app, ["plan"]).output
    positions = [printed.index(f" {name} ") for name in ran]
    assert positions == sorted(positions), "greatleap plan lists the steps in the order they run"
    assert {"census.census", "live.live", "births.births", "ledgers.account", "recorder.account"} <= set(ran)


def test_run_until_continues_and_snapshots_branch_exactly():
    whole = Sim(load_scenario("historical", **SHORT)).run()
    sim = Sim(load_scenario("historical", **SHORT))
    part = sim.run(until="1958-06")
    assert len(part.monthly_national) == 18 and part.monthly_national.month.iloc[-1] == pd.Timestamp("1958-06-01")
    snap = sim.snapshot()
    rest = sim.run()
    assert _tables_equal(rest, whole)
    sim.restore(snap)
    again = sim.run()
    assert _tables_equal(again, whole)
    with pytest.raises(ScenarioError, match="until"):
        sim.run(until="1972-01")


def test_a_branch_with_another_scenario_shares_the_past():
    base = load_scenario("historical", **SHORT)
    sim = Sim(base)
    sim.run(until="1958-12")
    snap = sim.snapshot()
    other = load_scenario("no_exports", **SHORT)
    branch = Sim(other)
    branch.restore(snap)
    result = branch.run()
    history = Sim(base).run()
    m_b, m_h = result.monthly_national, history.monthly_national
    before = m_h.year <= 1958
    assert m_b[before].equals(m_h[before])
    assert m_b[~before].exports_mt.sum() < m_h[~before].exports_mt.sum()


def test_batched_members_equal_separate_runs():
    scenarios = [load_scenario("historical", **SHORT, **{"run.seed": s}) for s in (3, 4)]
    scenarios.append(load_scenario("historical", **SHORT, **{"run.seed": 3, "mortality.hunger_beta_child": 12.0}))
    batch = Sim(scenarios).run()
    assert len(batch) == 3
    for member, scen in zip(batch, scenarios):
        assert _tables_equal(member, Sim(scen).run())
    with pytest.raises(ScenarioError, match="run.scale"):
        Sim([scenarios[0], load_scenario("historical", **{**SHORT, "run.scale": 50000})])


def test_events_may_name_a_province_and_national_levers_refuse_it():
    data = load_scenario("historical", **SHORT).to_dict()
    data["events"].append({"lever": "furnace_labor", "start": "1958-09", "end": "1958-12", "value": 0.6,
                           "where": "Henan"})
    scen = validate_scenario(data, "henan-steel-army")
    lev = lever_matrix(scen)
    names = list(provinces().province)
    henan, hebei = names.index("Henan"), names.index("Hebei")
    row = 20  # 1958-09
    assert lev[row, LEVER_INDEX["furnace_labor"], henan] == 0.6
    assert lev[row, LEVER_INDEX["furnace_labor"], hebei] == 0.25
    run = Sim(scen).run()
    hist = Sim(load_scenario("historical", **SHORT)).run()
    assert (run.monthly_national.labor_share_furnace.iloc[row] > hist.monthly_national.labor_share_furnace.iloc[row])
    for bad, match in (({"where": "Atlantis"}, "not a province"), ({"lever": "exports", "where": "Henan"}, "whole country")):
        data = load_scenario("historical").to_dict()
        data["events"].append({"lever": "furnace_labor", "start": "1958-09", "value": 0.5, **bad})
        with pytest.raises(ScenarioError, match=match):
            validate_scenario(data, "bad")


def test_coarse_scales_that_would_invent_people_are_refused():
    with pytest.raises(ScenarioError, match=r"allowed: scale <= 108333"):
        Sim(load_scenario("historical"), scale=200000)
    assert Sim(load_scenario("historical", **{"run.end": "1957-02"}), scale=108333).layout.n_agents >= 200 * 29


class Locusts(Mechanism):
    """A locust plague that eats a share of one province's harvest (an example of a new mechanism)."""
    name = "locusts"
    phases = ("produce",)

    def init(self, sim):
        self.province = sim.geo.province_names.index("Henan")
        sim.world.national.add("locust_damage", unit="kg/month", meaning="grain eaten by locusts", owner=self.name)

    def produce(self, world, month):
        """Locusts eat 30% of Henan's harvest in 1959."""
        share = 0.3 if month.year == 1959 else 0.0
        eaten = np.where(world.geo.place_province == self.province, world.places.harvest * share, 0.0)
        world.places.harvest[:] -= eaten
        world.places.stock[:] -= eaten
        world.national.locust_damage[:] = eaten.sum(axis=1)

    def series(self):
        return [Series("locust_damage", "kg", "grain eaten by locusts", "national", lambda w: w.national.locust_damage)]


def test_a_new_mechanism_is_a_module_and_a_registration():
    sim = Sim(load_scenario("historical", **SHORT), mechanisms=DEFAULT + (Locusts,))
    names = [s.name for s in sim.plan]
    assert names.index("agriculture.produce") < names.index("locusts.produce") < names.index("hierarchy.report")
    assert "locusts.produce" in sim.describe()
    run = sim.run()
    base = Sim(load_scenario("historical", **SHORT)).run()
    assert run.monthly_national.grain_harvest_mt[run.monthly_national.year == 1959].sum() < \
        base.monthly_national.grain_harvest_mt[base.monthly_national.year == 1959].sum()
    assert sim.world.records["national"]["locust_damage"].sum() > 0


def test_newborns_are_keyed_to_mother_and_month_so_a_later_change_keeps_the_past():
    """Two scenarios that differ only from 1962 on: identical people and tables before 1962, and a
    child born later to the same mother in the same month has the same id (and streams) in both."""
    kw = {"run.end": "1962-12", "run.scale": 50000}
    base = load_scenario("historical", **kw)
    data = base.to_dict()
    data["events"] += [{"lever": "procurement_rate", "start": "1962-01", "value": 0.4},
                       {"lever": "enforcement", "start": "1962-01", "value": 1.0}]
    later = validate_scenario(data, "harsher-1962")
    a, b = Sim(base), Sim(later)
    ra, rb = a.run(until="1961-12"), b.run(until="1961-12")
    assert _tables_equal(ra, rb)
    assert all(np.array_equal(x, y) for x, y in zip(a.world.people.arrays().values(), b.world.people.arrays().values()))
    a.run(), b.run()
    pa, pb = a.world.people, b.world.people

    def born_1962(p, months):
        alive = np.flatnonzero((p.alive[0] == 1) & (p.age_m[0] < 5) & (p.mother[0] >= 0))
        return {int(p.mother[0, i]): (person_uid(i, int(p.mother[0, i]), int(p.age_m[0, i]), months), int(p.age_m[0, i]))
                for i in alive}
    ka, kb = born_1962(pa, a.t), born_1962(pb, b.t)
    common = [m for m in ka if m in kb and ka[m][1] == kb[m][1]]
    assert len(common) > 100
    assert all(ka[m][0] == kb[m][0] for m in common)
    da, db = (s.results().monthly_national.procurement_mt.iloc[-12:].to_numpy() for s in (a, b))
    assert not np.array_equal(da, db)  # the harsher quota did change 1962
