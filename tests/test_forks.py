"""Runs that share their first months (a prefix tree of branched worlds) give each member its solo tables."""
import pytest

from greatleap import load_scenario
from greatleap.analysis import forks
from greatleap.analysis.compare import ending_with
from greatleap.analysis.decompose import switch_off
from greatleap.analysis.ensemble import run_batch, run_many
from greatleap.mechanisms.communes import layout
from greatleap.scenario import validate_scenario
from greatleap.sim import Sim
from greatleap.timeline import lever_matrix

SCALE = 100000
BASE = ending_with(load_scenario("historical", **{"run.scale": SCALE}).to_dict())
OFFS = [[], ["labor_diversion"], ["canteens"], ["labor_diversion", "canteens"], ["pests", "political_campaign"],
        ["exports"], ["weather"], ["weather", "canteens"]]


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(a[name].equals(b[name]) for name in a)


def test_forked_members_get_exactly_their_solo_tables(monkeypatch):
    members = [(switch_off(BASE, off), seed) for off in OFFS for seed in (1, 2)] + [(switch_off(BASE, []), 1)]
    fallbacks = []
    monkeypatch.setattr(forks, "run_batch", lambda *a: fallbacks.append(a) or run_batch(*a))
    forked = run_many(members, jobs=1, share_prefix=True)
    assert not fallbacks  # every unit ran as a tree (the duplicate member included)
    alone = run_many(members, jobs=1, batch=1)
    assert all(o.error is None for o in forked)
    assert [o.seed for o in forked] == [seed for _, seed in members]
    assert all(_same(f.tables, a.tables) for f, a in zip(forked, alone))
    assert not _same(forked[0].tables, forked[4].tables)  # switching canteens off did change the run


def test_shared_months_are_run_once(monkeypatch):
    members = [(switch_off(BASE, off), 1) for off in ([], ["canteens"])]
    geo = layout(load_scenario("historical", **{"run.scale": SCALE})).geography
    a, b = (lever_matrix(validate_scenario(data, "x"), geo.province_names) for data, _ in members)
    split = forks._first_difference(a, b, 0)
    months = a.shape[0]
    assert 12 < split < months  # canteens start in 1958
    steps = []
    real = Sim.step
    monkeypatch.setattr(Sim, "step", lambda self: (steps.append(self.t), real(self))[1])
    out = forks.run_forked(members, None)
    assert len(steps) == split + 2 * (months - split)  # not 2 * months
    alone = run_many(members, jobs=1, batch=1)
    assert all(_same(f.tables, s.tables) for f, s in zip(out, alone))


def test_units_share_a_fork_key_and_fill_the_workers(monkeypatch):
    members = [(switch_off(BASE, off), seed) for off in OFFS for seed in (1, 2, 3, 4)]
    units = forks.plan_units(members, range(len(members)), None, workers=2)
    assert sorted(k for u in units for k in u) == list(range(len(members)))  # each member once
    assert all(len({forks.fork_key(members[k][0], None) for k in u}) == 1 for u in units)
    assert len(units) >= 2
    # the members differing only in their events (6 scenarios, 4 seeds) are one unit of 24 runs
    lever_only = [k for k, (data, _) in enumerate(members) if data["agriculture"]["weather"]]
    assert len({forks.fork_key(members[k][0], None) for k in lever_only}) == 1
    assert [sorted(u) for u in forks.plan_units(members, lever_only, None, workers=1)] == [lever_only]
    halves = forks.plan_units(members, lever_only, None, workers=2)  # one unit a worker: split by scenarios
    assert len(halves) == 2 and all({members[k][1] for k in u} == {1, 2, 3, 4} for u in halves)
    monkeypatch.setattr(forks, "UNIT_RUNS", 8)  # and none above UNIT_RUNS
    assert max(map(len, forks.plan_units(members, lever_only, None, workers=1))) <= 8
    assert sorted(forks.plan_units(members, lever_only[:1], None, workers=4)[0]) == lever_only[:1]


def test_a_unit_that_cannot_branch_runs_the_plain_way():
    members = [(switch_off(BASE, []), 1), (switch_off(BASE, ["weather"]), 1)]  # parameters differ
    assert forks.fork_key(members[0][0], None) != forks.fork_key(members[1][0], None)
    out = forks.run_forked(members, None)
    alone = run_many(members, jobs=1, batch=1)
    assert all(_same(f.tables, s.tables) for f, s in zip(out, alone))


def test_a_crashing_member_fails_alone(monkeypatch):
    real_run = Sim.run

    def flaky(self, progress=None, until=None):  # a world holding seed 2 crashes
        if any(s.run.seed == 2 for s in self.scenarios):
            raise RuntimeError("simulated crash")
        return real_run(self, progress, until)

    monkeypatch.setattr(Sim, "run", flaky)
    members = [(switch_off(BASE, off), seed) for off in ([], ["canteens"]) for seed in (1, 2)]
    out = run_many(members, jobs=1, share_prefix=True)
    assert [o.tables is not None for o in out] == [True, False, True, False]
    assert all("simulated crash" in o.error for o in out if o.tables is None)


@pytest.mark.parametrize("key", ["events", "name"])
def test_the_fork_key_ignores_only_events_name_and_seed(key):
    data = switch_off(BASE, ["canteens"])
    other = {**data, key: [] if key == "events" else "another"}
    assert forks.fork_key(data, None) == forks.fork_key(other, None)
    reseeded = {**data, "run": {**data["run"], "seed": 99}}
    assert forks.fork_key(data, None) == forks.fork_key(reseeded, None)
    changed = {**data, "mortality": {**data["mortality"], "hunger_gamma": 2.5}}
    assert forks.fork_key(data, None) != forks.fork_key(changed, None)


def test_a_unit_whose_snapshots_would_not_fit_runs_the_plain_way(monkeypatch):
    members = [(switch_off(BASE, off), 1) for off in ([], ["canteens"], ["labor_diversion"])]
    geo = layout(load_scenario("historical", **{"run.scale": SCALE})).geography
    levers = [lever_matrix(validate_scenario(data, "x"), geo.province_names) for data, _ in members]
    assert forks._depth([0, 1, 2], levers, 0) == 2  # labor diversion parts first, then canteens
    snapshots = []
    real = Sim.snapshot
    monkeypatch.setattr(Sim, "snapshot", lambda self: (snapshots.append(self.t), real(self))[1])
    forks.run_forked(members[:2], None)
    assert len(snapshots) == 1  # room for it: the tree branched once
    monkeypatch.setattr(forks, "FORK_MEMORY", 1000)
    out = forks.run_forked(members, None)
    assert len(snapshots) == 1 and all(o.error is None for o in out)  # no snapshot: run the plain way


def test_a_partly_cached_grid_splits_into_consistent_units(monkeypatch):
    a, b = (switch_off(BASE, off) for off in ([], ["canteens"]))
    members = [(data, seed) for data in (a, b) for seed in (1, 2, 3, 4)]
    todo = [k for k in range(len(members)) if k != 0]  # (a, seed 1) already cached
    units = forks.plan_units(members, todo, None, workers=1)
    for unit in units:  # every scenario of a unit runs the unit's seeds
        seeds = {forks._events(members[k][0]): set() for k in unit}
        for k in unit:
            seeds[forks._events(members[k][0])].add(members[k][1])
        assert len({frozenset(s) for s in seeds.values()}) == 1
    assert sorted(k for u in units for k in u) == todo


def test_a_branch_that_grows_the_frame_leaves_the_next_branch_exact(monkeypatch):
    from greatleap import world
    tight = ending_with(load_scenario("historical", **{"run.scale": SCALE, "run.capacity_factor": 1.05}).to_dict())
    members = [(switch_off(tight, off), 1) for off in (["canteens"], [])]
    fallbacks, grown = [], []
    monkeypatch.setattr(forks, "run_batch", lambda *a: fallbacks.append(a) or run_batch(*a))
    real_grow = world.Frame.grow
    monkeypatch.setattr(world.Frame, "grow", lambda self, n: (grown.append(n), real_grow(self, n))[1])
    out = forks.run_forked(members, None)
    assert grown and not fallbacks  # a branch grew the frame; the next one restored the smaller one
    alone = run_many(members, jobs=1, batch=1)
    assert all(_same(f.tables, s.tables) for f, s in zip(out, alone))


def test_members_sized_by_a_pilot_run_are_not_forked(monkeypatch):
    from greatleap import memory
    from greatleap.analysis import ensemble
    monkeypatch.setattr(memory, "PILOT_MIN_AGENTS", 1000)  # as at scale ~300 and finer
    monkeypatch.setattr(memory, "PILOT_SCALE", 1e9)
    monkeypatch.setattr(ensemble, "BATCH_AGENTS", 1000)  # such members are batched alone
    members = [(switch_off(BASE, off), 1) for off in ([], ["canteens"])]
    assert not forks._forkable(members[0][0], None)
    assert sorted(map(sorted, forks.plan_units(members, [0, 1], None, workers=1))) == [[0], [1]]


def test_keep_tables_false_fills_the_cache_and_returns_no_tables(tmp_path):
    members = [(switch_off(BASE, off), 1) for off in ([], ["canteens"])]
    filled = run_many(members, jobs=1, cache_dir=tmp_path, share_prefix=True, keep_tables=False)
    assert [o.tables for o in filled] == [{}, {}] and all(o.error is None for o in filled)
    again = run_many(members, jobs=1, cache_dir=tmp_path, keep_tables=False)
    assert all(o.cached and o.tables == {} for o in again)
    read = run_many(members, jobs=1, cache_dir=tmp_path)
    assert all(o.cached for o in read)
    assert all(_same(r.tables, s.tables) for r, s in zip(read, run_many(members, jobs=1, batch=1)))
