"""Batched ensembles: members stepped together in one world give exactly their solo tables;
failures stay with the member that failed; batches are sized to the work and the workers."""
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

import pandas as pd
import pytest

from greatleap import load_scenario
from greatleap.analysis import ensemble as ens
from greatleap.analysis.ensemble import make_batches, plan_batches, run_batch, run_many
from greatleap.analysis.executor import WorkerPool, open_pool, slots
from greatleap.sim import Sim, warmup

SHORT = {"run.end": "1958-06", "run.scale": 100000}


@pytest.fixture
def batch_sizes(monkeypatch):
    """The number of members of every Sim built in this process (after the kernels' warm-up)."""
    warmup()
    sizes: list[int] = []
    real = Sim.__init__

    def init(self, scenario=None, **kw):
        sizes.append(len(scenario) if isinstance(scenario, (list, tuple)) else 1)
        real(self, scenario, **kw)

    monkeypatch.setattr(Sim, "__init__", init)
    return sizes


def _same(a, b) -> None:
    assert a.error is None and b.error is None, (a.error, b.error)
    assert set(a.tables) == set(ens.TABLES) == set(b.tables)
    for name in ens.TABLES:
        assert len(a.tables[name]) > 0
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])


def test_a_batch_gives_each_member_exactly_its_solo_tables(batch_sizes):
    base = load_scenario("historical", **SHORT).to_dict()
    other = load_scenario("historical", **SHORT).to_dict()
    other["nutrition"]["metabolic_adaptation"] = 0.1  # another parameter set, same structure
    members = [(base, 1), (base, 2), (other, 1), (other, 3)]
    solo = run_many(members, jobs=1, batch=1)
    assert batch_sizes == [1, 1, 1, 1]
    batch_sizes.clear()
    batched = run_many(members, jobs=1)
    assert batch_sizes == [4]  # one world for all four
    for a, b in zip(solo, batched):
        _same(a, b)
    assert not solo[0].tables["annual_national"].equals(solo[1].tables["annual_national"])  # seeds differ
    assert not solo[0].tables["annual_national"].equals(solo[2].tables["annual_national"])  # parameters differ


def test_members_of_other_structures_never_share_a_batch():
    a = load_scenario("historical", **SHORT).to_dict()
    b = load_scenario("historical", **{**SHORT, "run.end": "1958-03"}).to_dict()
    members = [(a, 1), (b, 1), (a, 2), (b, 2), (a, 3)]
    batches = plan_batches(members, range(5), None, workers=1)
    assert sorted(map(sorted, batches)) == [[0, 2, 4], [1, 3]]
    assert len(plan_batches(members, range(5), 50000, workers=1)) == 2  # one scale for all: still the months differ
    assert sorted(map(len, plan_batches(members, range(5), None, workers=1, batch=1))) == [1] * 5


def test_batch_sizing():
    # scale 20,000: ~31,400 agents a member, so up to 9 a batch; 64 members -> 8 batches of 8
    assert [len(b) for b in make_batches(64, 31_414, workers=2)] == [8] * 8
    # scale 1,000: ~628,000 agents; batching gains nothing, each member runs alone
    assert [len(b) for b in make_batches(5, 628_280, workers=2)] == [1] * 5
    # at least as many batches as workers, split evenly
    assert sorted(len(b) for b in make_batches(3, 1_000, workers=2)) == [1, 2]
    assert sorted(len(b) for b in make_batches(40, 1_000, workers=2)) == [13, 13, 14]  # 16 members at most
    assert [len(b) for b in make_batches(10, 1_000, workers=8, batch=4)] == [3, 4, 3]  # explicit size wins
    assert make_batches(0, 1_000) == []
    covered = [k for b in make_batches(37, 40_000, workers=3) for k in b]
    assert covered == list(range(37))


def test_a_member_that_fails_validation_fails_alone(batch_sizes):
    good = load_scenario("historical", **SHORT).to_dict()
    bad = load_scenario("historical", **SHORT).to_dict()
    bad["mortality"]["hunger_beta_adult"] = -3.0
    out = run_many([(good, 1), (bad, 1), (good, 2)], jobs=1)
    assert out[1].tables is None and "hunger_beta_adult" in out[1].error
    solo = run_many([(good, 1), (good, 2)], jobs=1, batch=1)
    _same(out[0], solo[0])
    _same(out[2], solo[1])


def test_a_batch_that_fails_is_rerun_member_by_member(monkeypatch, batch_sizes):
    real = Sim.run

    def run(self, progress=None, until=None):
        if self.batched:
            raise RuntimeError("the batch broke")
        return real(self, progress, until)

    monkeypatch.setattr(Sim, "run", run)
    data = load_scenario("historical", **SHORT).to_dict()
    out = run_batch([(data, 1), (data, 2)], None)
    assert batch_sizes == [2, 1, 1]  # the batch, then each member alone
    assert all(o.tables is not None for o in out) and [o.seed for o in out] == [1, 2]


class _FlakyPool:
    """An in-process pool whose first ``deaths`` submissions, and every one holding a ``doomed``
    seed, fail as if their worker died."""

    slots = 2

    def __init__(self, deaths: int = 0, doomed: frozenset = frozenset()):
        self.deaths, self.doomed, self.calls = deaths, doomed, []

    def submit(self, fn, *args) -> Future:
        seeds = [seed for _, seed in args[0]]
        self.calls.append(seeds)
        fut = Future()
        if self.deaths > 0 or self.doomed & set(seeds):
            self.deaths -= 1
            fut.set_exception(BrokenProcessPool("a worker died"))
        else:
            fut.set_result(fn(*args))
        return fut


def test_a_dead_workers_members_are_resubmitted_one_by_one():
    data = load_scenario("historical", **SHORT).to_dict()
    members = [(data, 1), (data, 2), (data, 3)]
    pool = _FlakyPool(deaths=1)
    out = run_many(members, jobs=pool, batch=3)
    assert pool.calls[0] == [1, 2, 3] and sorted(pool.calls[1:]) == [[1], [2], [3]]
    reference = run_many(members, jobs=1)
    for a, b in zip(out, reference):
        _same(a, b)
    # a member whose solo runs keep losing their worker is reported after two tries; the others finish
    pool = _FlakyPool(doomed=frozenset({1}))
    out = run_many(members[:2], jobs=pool, batch=2)
    assert pool.calls[0] == [1, 2] and sorted(pool.calls[1:]) == [[1], [1], [2]]
    assert out[0].tables is None and "worker failed" in out[0].error and "BrokenProcessPool" in out[0].error
    _same(out[1], reference[1])


def test_open_pool_and_slots():
    with open_pool(1) as pool:
        assert pool is None
    with open_pool(4, needed=1) as pool:
        assert pool is None  # one call: no processes to start
    flaky = _FlakyPool(0)
    with open_pool(flaky) as pool:
        assert pool is flaky
    assert slots(3) == 3 and slots(flaky) == 2


def test_a_local_pool_starts_again_after_a_worker_died():
    import os
    with WorkerPool(1) as pool:
        with pytest.raises(BrokenProcessPool):
            pool.submit(os._exit, 3).result(timeout=60)
        assert pool.submit(abs, -5).result(timeout=60) == 5


def test_a_calibration_trial_runs_its_seeds_as_one_batch(batch_sizes):
    from greatleap.analysis.calibrate import check_parameters, evaluate_params
    from greatleap.analysis.targets import load_targets
    scen = load_scenario("historical", **{"run.end": "1958-06"})
    value, passed = evaluate_params(scen.to_dict(), check_parameters(scen), {}, load_targets(), [1, 2], 100000)
    assert batch_sizes == [2]
    assert value == value and passed >= 0  # a number, not NaN
