"""The CPU backend's parallel passes equal a serial scan, on any thread count."""
from __future__ import annotations

import numba
import numpy as np
import pytest

from greatleap.kernels import cpu
from greatleap.lifecycle import DEATH_MASK, GIVES_BIRTH, REGISTERED_DEATH


def serial_finish_month(alive, status):
    """Reference: the dead leave; mothers listed in index order (plain NumPy)."""
    dead = (status & DEATH_MASK) != 0
    mothers = [np.flatnonzero(((status[m] & GIVES_BIRTH) != 0) & ~dead[m]) for m in range(alive.shape[0])]
    alive_after = np.where(dead, 0, alive)
    return mothers, alive_after


@pytest.mark.parametrize("threads", [1, 2])
def test_finish_month_equals_a_serial_scan(threads):
    rng = np.random.default_rng(7)
    members, n = 3, 10_007  # not a multiple of the chunk count
    alive = (rng.random((members, n)) < 0.8).astype(np.uint8)
    alive[:, -2_000:] = 0  # free slots at the end, as in a real frame
    status = np.zeros((members, n), np.uint8)
    live = alive == 1
    status[live & (rng.random((members, n)) < 0.02)] = 1 | REGISTERED_DEATH
    status[live & (rng.random((members, n)) < 0.03) & (status == 0)] = GIVES_BIRTH
    status[1] = 0  # a member with no births and no deaths
    want_mothers, want_alive = serial_finish_month(alive, status)
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        mothers, counts, alive_after = cpu.finish_month(alive, status)
    finally:
        numba.set_num_threads(before)
    assert counts.tolist() == [len(w) for w in want_mothers]
    assert counts[0] > 100 and counts[1] == 0
    for m in range(members):
        assert mothers[m, : counts[m]].tolist() == want_mothers[m].tolist()
        assert (mothers[m, counts[m]:] == -1).all()
    np.testing.assert_array_equal(alive, want_alive)
    assert alive_after.tolist() == want_alive.sum(axis=1).tolist()

