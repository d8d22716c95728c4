"""The births kernels (CPU backend): chunks in parallel, the slots of a serial scan in index order."""
import numba
import numpy as np
import pytest

from greatleap import Sim, load_scenario
from greatleap.kernels import cpu
from greatleap.lifecycle import DEATH_MASK, GIVES_BIRTH, BirthInputs
from greatleap.passes import people_view


def _frame(deaths: float, births: float, seed: int):
    """A real people frame after one month, two members, with random deaths and births marked."""
    sim = Sim([load_scenario("historical", **{"run.end": "1957-01", "run.seed": s}) for s in (1, 2)], scale=100000)
    sim.run()
    pe = sim.world.people
    rng = np.random.default_rng(seed)
    living = pe.alive == 1
    status = np.zeros_like(pe.status)
    status[living & (rng.random(pe.alive.shape) < deaths)] = 1  # a death cause (DEATH_MASK bits)
    status[living & (status == 0) & (rng.random(pe.alive.shape) < births)] = GIVES_BIRTH
    pe.status[:] = status
    return sim, pe


@pytest.mark.parametrize("deaths, births", [(0.01, 0.002), (0.3, 0.05), (0.0, 0.0)])
def test_mothers_and_slots_are_those_of_a_serial_scan_on_any_thread_count(deaths, births):
    """Also when the births pass recounts the free slots itself (``living=None``: the frame grew)."""
    outcomes = []
    for threads, recount in ((1, False), (2, False), (2, True)):
        sim, pe = _frame(deaths, births, seed=7)
        status = pe.status.copy()
        alive_before = pe.alive.copy()
        with_threads = numba.get_num_threads()
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        try:
            mothers, counts, living = cpu.finish_month(pe.alive, pe.status)
            alive_after = living.sum(axis=1)
            free_before_births = pe.alive == 0
            out = cpu.give_births(people_view(sim.world), BirthInputs(sim.seeds, 1, sim.world.places.birth_completeness),
                                  mothers, counts, None if recount else living, np.array([0.51, 0.51]),
                                  sim.world.geo.n_places)
        finally:
            numba.set_num_threads(with_threads)
        for m in range(2):
            expected = np.flatnonzero(status[m] & GIVES_BIRTH)
            assert counts[m] == len(expected) and mothers[m, :counts[m]].tolist() == expected.tolist()
            assert (mothers[m, counts[m]:] == -1).all()
            dead = (status[m] & DEATH_MASK) != 0
            assert alive_after[m] == int((alive_before[m] == 1).sum() - dead.sum())
            slots = np.flatnonzero(free_before_births[m])[:counts[m]]  # the lowest free slots, in order
            assert (pe.alive[m, slots] == 1).all() and pe.mother[m, slots].tolist() == expected.tolist()
            assert pe.age_m[m, slots].tolist() == [0] * len(slots)
            assert int(pe.alive[m].sum()) == alive_after[m] + counts[m] == cpu.count_alive(pe.alive)[m]
            assert out[0][m].sum() == counts[m] and out[1][m].sum() <= counts[m]
        outcomes.append((mothers, counts, pe.alive.copy(), pe.traits.copy(), out[0], out[1]))
    for other in outcomes[1:]:
        for a, b in zip(outcomes[0], other):
            np.testing.assert_array_equal(a, b)
