"""The compact people frame: bytes a person, the memory estimate and the refusal of a run that does
not fit, and the derived ids and mother test that replaced stored ones (results unchanged by them)."""
import numpy as np
import pytest
from typer.testing import CliRunner

from greatleap import Sim, load_scenario, memory, world
from greatleap.cli import app
from greatleap.mechanisms.demography import UID_STRIDE, mother_present, newborn_uid, person_uid
from greatleap.mechanisms.nutrition import (INTAKE_STEPS, RESERVE_STEPS, intake_ratio_of, reserve_share, stored_intake,
                                            stored_reserve)
from greatleap.traits import ACTIVITY, HUKOU, KLASS, ON_REGISTER, SEX, code_of, traits_of, with_code

SCALE = 5000.0  # ~126,000 agents


@pytest.fixture
def sized_from_pilot(monkeypatch):
    """Small runs sized the way large ones are: from the pilot run's projected births."""
    monkeypatch.setattr(memory, "PILOT_MIN_AGENTS", 0)


def test_a_person_costs_at_most_26_bytes_all_included_and_the_frame_is_not_outgrown(sized_from_pilot):
    sim = Sim(load_scenario("historical"), scale=SCALE)
    frame = sim.world.people
    size, per_person = frame.size, frame.nbytes() / sim.layout.n_agents
    per_slot = sum(a.dtype.itemsize for a in frame.arrays().values())
    # the kernels keep no per-person work buffers (their tallies are per place): the frame is all of it
    assert per_person <= 26.0, {k: a.dtype.itemsize for k, a in frame.arrays().items()}
    assert per_slot <= 17
    peak = []
    sim.run(progress=lambda done, total: peak.append(int(frame.alive.sum())))
    assert frame.size == size  # sized for the peak: the frame never grew
    assert max(peak) / sim.layout.n_agents > 1.1  # births did fill spare slots (the projection was needed)
    assert max(peak) < size


def test_the_estimate_matches_the_built_frame(sized_from_pilot):
    scen = Sim._prepare(load_scenario("historical"), SCALE, None)
    est = memory.estimate([scen])
    sim = Sim(scen)
    assert est.slots == sim.world.people.size and est.agents == sim.layout.n_agents
    assert est.bytes_per_slot == sum(a.dtype.itemsize for a in sim.world.people.arrays().values())
    assert abs(est.people - sim.world.people.nbytes()) <= 0.03 * sim.world.people.nbytes()
    assert est.total > est.people + est.growth  # runtime, tallies and setup counted too
    assert memory.estimate_memory(load_scenario("historical"), SCALE) == est.total


def test_scale_1_fits_this_machines_24_gib():
    est = memory.estimate([Sim._prepare(load_scenario("historical"), 1.0, None)])
    assert est.agents > 6e8 and est.bytes_per_person <= 26.0
    assert est.total < 22 * 2**30, est


def test_a_run_that_cannot_fit_is_refused_with_the_figure(tmp_path, monkeypatch):
    need = memory.estimate_memory(load_scenario("historical"), 1.0)
    monkeypatch.setenv(memory.AVAILABLE_ENV, str(need // 2))
    out = tmp_path / "never"
    result = CliRunner().invoke(app, ["run", "historical", "--scale", "1", "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert "--scale = 1:" in lines[0] and f"{need / 2**30:.1f} GiB" in lines[0] and "allowed: a scale of at least" in lines[0]
    assert not out.exists()
    monkeypatch.setenv(memory.AVAILABLE_ENV, str(need * 4))  # enough: the check lets it through (scale 50000 runs)
    result = CliRunner().invoke(app, ["run", "historical", "--scale", "50000", "--no-plot", "--out", str(out)])
    assert result.exit_code == 0, result.output


def test_setup_in_slices_builds_the_same_world(monkeypatch):
    whole = Sim(load_scenario("historical"), scale=20000.0)
    monkeypatch.setattr(world, "SETUP_CHUNK", 777)
    sliced = Sim(load_scenario("historical"), scale=20000.0)
    assert sliced.layout.n_agents > 20 * 777
    for a, b in zip(whole.world.frames, sliced.world.frames):
        for name, x in a.arrays().items():
            assert np.array_equal(x, b.arrays()[name]), f"{a.kind}.{name}"


def test_ids_are_derived_uniquely_and_keyed_to_mother_and_birth_month():
    assert person_uid(17, -1, 300, 50) == 17  # the initial population: the slot's id
    assert person_uid(5, 17, 0, 50) == newborn_uid(17, 49) == 50 * UID_STRIDE + 17  # born in the births pass of month 49
    sim = Sim(load_scenario("historical"), scale=20000.0)
    seen = []

    def check(done, total):
        p = sim.world.people
        alive = np.flatnonzero(p.alive[0] == 1)
        uids = [person_uid(int(i), int(p.mother[0, i]), int(p.age_m[0, i]), done) for i in alive]
        assert len(set(uids)) == len(uids)
        seen.append(sum(u >= UID_STRIDE for u in uids))
    sim.run(progress=check, until="1959-12")
    assert seen[-1] > 1000


def test_a_child_whose_mother_died_does_not_take_the_newborn_in_her_slot_for_her():
    """The mother test (alive and older than the child) against the ids: a slot holds the mother
    exactly when its person's id is the mother's (her slot: mothers here are of the initial population)."""
    assert not mother_present(1, 3, 10)   # a newborn of 3 months took the slot: not the 10-month-old's mother
    assert not mother_present(0, 400, 10)
    assert mother_present(1, 400, 10)
    sim = Sim(load_scenario("historical"), scale=SCALE)
    reused, present = [0], [0]

    def check(done, total):
        p = sim.world.people
        age, mother, alive = p.age_m[0], p.mother[0], p.alive[0]
        kids = np.flatnonzero((alive == 1) & (mother >= 0) & (age < 24))
        mo = mother[kids]
        by_age = np.array([mother_present(alive[j], age[j], age[k]) for j, k in zip(mo, kids)])
        by_id = np.array([alive[j] == 1 and person_uid(int(j), int(mother[j]), int(age[j]), done) == j for j in mo])
        assert np.array_equal(by_age, by_id)
        reused[0] += int(((alive[mo] == 1) & ~by_id).sum())
        present[0] += int(by_id.sum())
    sim.run(progress=check, until="1961-06")
    assert reused[0] > 0 and present[0] > 1000  # both cases occurred


def test_traits_pack_five_codes_in_one_byte():
    t = traits_of(1, 0, 1, 2, 4)
    fields = (SEX, HUKOU, ON_REGISTER, KLASS, ACTIVITY)
    assert tuple(code_of(t, f) for f in fields) == (1, 0, 1, 2, 4) and t < 256
    t = with_code(with_code(with_code(t, HUKOU, 1), ON_REGISTER, 0), ACTIVITY, 3)
    assert tuple(code_of(t, f) for f in fields) == (1, 1, 0, 2, 3)
    arr = np.zeros(4, np.uint8)
    arr[:] = with_code(with_code(arr, SEX, np.array([0, 1, 0, 1])), KLASS, np.array([0, 1, 2, 0]))
    assert code_of(arr, SEX).tolist() == [0, 1, 0, 1] and code_of(arr, KLASS).tolist() == [0, 1, 2, 0]
    assert not code_of(arr, HUKOU).any()


def test_stored_reserve_and_intake_round_to_the_nearest_step():
    for share in (0.0, 0.9, 1.0, 0.123456):
        assert abs(reserve_share(stored_reserve(share)) - share) <= 0.5 / RESERVE_STEPS
    assert reserve_share(stored_reserve(1.0)) == 1.0
    assert abs(intake_ratio_of(stored_intake(0.7)) - 0.7) <= 0.5 / INTAKE_STEPS
    assert intake_ratio_of(stored_intake(1.4)) == 1.0 and intake_ratio_of(stored_intake(-0.1)) == 0.0
