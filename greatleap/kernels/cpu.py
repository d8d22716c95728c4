"""CPU backend: loops over people in parallel chunks, reductions, slot allocation (Numba).

No model rule lives here: each person's month is :mod:`greatleap.lifecycle`, which composes the
rules of the mechanism modules; this backend compiles it with ``njit`` and adds up what it
returns. People are split into a FIXED number of chunks per member (not per thread); each chunk
sums into its own row and rows are added in chunk order, so float sums do not depend on the
thread count. Chunks are dealt to the threads in turn (see ``_workers``). Passes that allocate slots
(births) give the k-th newborn of the month the k-th free slot in index order, each chunk starting
from its running total of mothers and free slots, so slots do not depend on the thread count either.
"""
from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from greatleap.lifecycle import (ABSENTEE, DEATH_MASK, ESCAPED, GHOST_DEATH, GIVES_BIRTH, REGISTERED_DEATH,
                                 census_person, census_scalars,
                                 live_person, live_scalars, newborn)
from greatleap.mechanisms.demography import AGE_GROUPS
from greatleap.mechanisms.labor import NONE, URBAN_WORK
from greatleap.mechanisms.nutrition import reserve_share
from greatleap.traits import HUKOU, KLASS, ON_REGISTER, SEX, code_of

N_CHUNKS = 16
N_AGE_GROUPS = len(AGE_GROUPS)


@njit(inline="always", cache=True)
def _chunk(c, n):
    return (c * n) // N_CHUNKS, ((c + 1) * n) // N_CHUNKS


def _workers(members: int) -> int:
    """How many parallel workers share a kernel's chunks: one per Numba thread, at most one per chunk.

    Worker ``w`` takes chunks ``w, w + workers, ...`` (interleaved), not a contiguous block: the
    frame's free slots sit at its end, so contiguous blocks gave the last thread the emptiest
    chunks (with 2 threads, one did 61% of the people over the default run; dealt in turn, 53%).
    Which worker runs a chunk does not change its sums, so results stay those of any thread
    count. (Counted here, in Python: a kernel that asks Numba for its thread count cannot be cached.)
    """
    return max(1, min(get_num_threads(), members * N_CHUNKS))


@njit(cache=True)
def sum_chunks(per_chunk, members):
    """Add the per-chunk rows of each member in chunk order: the same float sums on any thread count."""
    out = np.empty((members,) + per_chunk.shape[1:], per_chunk.dtype)
    for m in range(members):
        out[m] = per_chunk[m * N_CHUNKS]
        for c in range(1, N_CHUNKS):
            out[m] += per_chunk[m * N_CHUNKS + c]
    return out


# Each parallel kernel hands whole chunks to a serial chunk function: the person step is inlined
# there, and the frames' named tuples cross a call once per chunk, not once per person. (Numba 0.62
# also drops writes to a named tuple's arrays made directly in a prange body; inside a called
# function they persist.)

@njit(cache=True, error_model="numpy", _nrt=False)
def _census_chunk(m, lo, hi, P, C, par, T, ints, floats, pyr, want_pyramid):
    q = census_scalars(m, C, par)
    for j in range(lo, hi):
        i = np.uint64(j)  # unsigned: the compiled indexing skips the wraparound of negative indices
        if P.alive[m, i] == 0:
            continue
        age_y = P.age_m[m, i] // 12
        before, pl, act, capacity, grain_need = census_person(m, i, P, C, q, T)
        ints[0, pl] += 1
        ints[4, pl] += code_of(P.traits[m, i], ON_REGISTER)
        if before != pl:
            ints[2, pl] += 1
            ints[3, before] += 1
        if want_pyramid:
            pyr[code_of(P.traits[m, i], SEX), min(age_y, 100)] += 1
        if act != NONE:
            ints[1, pl] += 1
            if act != URBAN_WORK:
                floats[act - 1, pl] += capacity  # FARM=1, FURNACE=2, WATERWORKS=3
        floats[3, pl] += grain_need
        floats[4, pl] += reserve_share(P.reserve[m, i])


@njit(parallel=True, cache=True, error_model="numpy")
def _census(P, C, par, T, n_places, want_pyramid, workers):
    members, n = P.alive.shape
    ints = np.zeros((members * N_CHUNKS, 5, n_places), np.int64)  # pop, working, moved in, moved out, on register
    floats = np.zeros((members * N_CHUNKS, 5, n_places))          # farm, furnace, water, need, reserve
    pyr = np.zeros((members * N_CHUNKS, 2, 101), np.int64)
    for w in prange(workers):
        for mc in range(w, members * N_CHUNKS, workers):
            m = mc // N_CHUNKS
            lo, hi = _chunk(mc % N_CHUNKS, n)
            _census_chunk(m, lo, hi, P, C, par[m], T, ints[mc], floats[mc], pyr[mc], want_pyramid)
    return sum_chunks(ints, members), sum_chunks(floats, members), sum_chunks(pyr, members)


def census(P, C, par, T, n_places, want_pyramid):
    """Every person's activity and moves; counts per place (see :func:`greatleap.lifecycle.census_person`).

    Returns per member and place: people, working people, effective farm/furnace/water-works labor,
    weighted grain need (kcal/day), people moved in, moved out, people on the register, summed
    reserve; and the age-sex pyramid (0..100) when asked.
    """
    return _census(P, C, par, T, n_places, want_pyramid, _workers(P.alive.shape[0]))


@njit(cache=True, error_model="numpy", _nrt=False)
def _live_chunk(m, lo, hi, P, L, par, T, ints, eaten, detail):
    q = live_scalars(m, L, par)
    for j in range(lo, hi):
        i = np.uint64(j)  # unsigned: see _census_chunk
        P.status[m, i] = 0
        if P.alive[m, i] == 0:
            continue
        c, eaten_kg, status, g, dest = live_person(m, i, P, L, q, T)
        eaten[c] += eaten_kg
        P.status[m, i] = status
        cause = status & DEATH_MASK
        if cause:
            ints[0, c] += 1
            ints[1 + cause, c] += 1
            if status & REGISTERED_DEATH:
                ints[1, c] += 1
            elif status & GHOST_DEATH:
                ints[7, c] += 1
            detail[g, code_of(P.traits[m, i], KLASS), code_of(P.traits[m, i], HUKOU), cause - 1] += 1
        elif status & ESCAPED:
            ints[5, dest] += 1
            ints[6, c] += 1
            if status & ABSENTEE:
                ints[8, c] += 1


@njit(parallel=True, cache=True, error_model="numpy")
def _live(P, L, par, T, n_places, workers):
    members, n = P.alive.shape
    ints = np.zeros((members * N_CHUNKS, 9, n_places), np.int64)
    eaten = np.zeros((members * N_CHUNKS, n_places))
    detail = np.zeros((members * N_CHUNKS, N_AGE_GROUPS, 3, 2, 3), np.int64)
    for w in prange(workers):
        for mc in range(w, members * N_CHUNKS, workers):
            m = mc // N_CHUNKS
            lo, hi = _chunk(mc % N_CHUNKS, n)
            _live_chunk(m, lo, hi, P, L, par[m], T, ints[mc], eaten[mc], detail[mc])
    return sum_chunks(eaten, members), sum_chunks(ints, members), sum_chunks(detail, members)


def live(P, L, par, T, n_places):
    """Every person's month (see :func:`greatleap.lifecycle.live_person`), with the tallies per place.

    Returns per member: grain eaten per place (kg per agent); per place deaths, registered deaths,
    deaths by cause (natural, famine, violence), escapes in and out, unregistered deaths of people
    on the register, registered people who fled; and deaths by age group, class, hukou and cause.
    """
    return _live(P, L, par, T, n_places, _workers(P.alive.shape[0]))


@njit(cache=True)
def _finish_chunk(lo, hi, alive, status, out):
    """Mark the chunk's dead; out = (mothers giving birth, people alive after)."""
    births, living = 0, 0
    for i in range(lo, hi):
        st = status[i]
        if st & DEATH_MASK:
            alive[i] = 0
        elif st & GIVES_BIRTH:
            births += 1
        living += alive[i]
    out[0], out[1] = births, living


@njit(cache=True)
def _living(lo, hi, alive):
    living = 0
    for i in range(lo, hi):
        living += alive[i]
    return living


@njit(cache=True)
def _list_mothers(lo, hi, status, mothers, k):
    """Write the chunk's mothers giving birth, in index order, from ``mothers[k]`` on."""
    for i in range(lo, hi):
        if status[i] & GIVES_BIRTH:
            mothers[k] = i
            k += 1


@njit(cache=True)
def _chunk_offsets(per_chunk, members):
    """Each chunk's running total of its member's earlier chunks (chunk order)."""
    first = np.zeros(members * N_CHUNKS, np.int64)
    for m in range(members):
        total = 0
        for c in range(N_CHUNKS):
            first[m * N_CHUNKS + c] = total
            total += per_chunk[m * N_CHUNKS + c]
    return first


@njit(parallel=True, cache=True)
def _finish_month(alive, status, workers):
    members, n = alive.shape
    per_chunk = np.zeros((members * N_CHUNKS, 2), np.int64)
    for w in prange(workers):
        for mc in range(w, members * N_CHUNKS, workers):
            lo, hi = _chunk(mc % N_CHUNKS, n)
            _finish_chunk(lo, hi, alive[mc // N_CHUNKS], status[mc // N_CHUNKS], per_chunk[mc])
    counts = sum_chunks(per_chunk, members)[:, 0].copy()
    first = _chunk_offsets(per_chunk[:, 0].copy(), members)
    mothers = np.full((members, max(counts.max(), 1)), -1, np.int64)
    for w in prange(workers):
        for mc in range(w, members * N_CHUNKS, workers):
            lo, hi = _chunk(mc % N_CHUNKS, n)
            _list_mothers(lo, hi, status[mc // N_CHUNKS], mothers[mc // N_CHUNKS], first[mc])
    return mothers, counts, per_chunk[:, 1].copy().reshape(members, N_CHUNKS)


def finish_month(alive, status):
    """Mark the dead; list each member's mothers giving birth, in index order (chunks in parallel, each
    writing from its running total of mothers: the same list on any thread count).

    Returns (mothers (members, most births) padded with -1, births per member, the living after the
    deaths per member and chunk (summed over axis 1: per member); :func:`give_births` takes these).
    """
    return _finish_month(alive, status, _workers(alive.shape[0]))


@njit(cache=True)
def _births_chunk(m, lo, k, stop, P, B, mothers, male_probability, births, births_reg):
    """Mothers ``k``..``stop - 1`` of member ``m`` give birth into the chunk's free slots from ``lo`` on."""
    slot = lo
    for j in range(k, stop):
        mother = mothers[j]
        while P.alive[m, slot] == 1:
            slot += 1
        registered = newborn(m, slot, mother, P, B, male_probability)
        births[P.place[m, mother]] += 1
        births_reg[P.place[m, mother]] += registered


@njit(parallel=True, cache=True)
def _give_births(P, B, mothers, counts, living, male_probability, n_places, workers):
    members, n = P.alive.shape
    free = np.empty(members * N_CHUNKS, np.int64)
    for mc in range(members * N_CHUNKS):
        lo, hi = _chunk(mc % N_CHUNKS, n)
        free[mc] = hi - lo - living[mc // N_CHUNKS, mc % N_CHUNKS]
    first = _chunk_offsets(free, members)
    births = np.zeros((members * N_CHUNKS, n_places), np.int64)
    births_reg = np.zeros((members * N_CHUNKS, n_places), np.int64)
    for w in prange(workers):
        for mc in range(w, members * N_CHUNKS, workers):
            m = mc // N_CHUNKS
            stop = min(counts[m], first[mc] + free[mc])
            if first[mc] < stop:
                lo, _hi = _chunk(mc % N_CHUNKS, n)
                _births_chunk(m, lo, first[mc], stop, P, B, mothers[m], male_probability[m], births[mc], births_reg[mc])
    return sum_chunks(births, members), sum_chunks(births_reg, members)


def give_births(P, B, mothers, counts, living, male_probability, n_places):
    """The k-th mother in index order fills the k-th free slot in index order (chunks in parallel, from
    their running totals of free slots: the same slots on any thread count; the frame holds at least
    ``counts`` free slots). ``living``: :func:`finish_month`'s, or None if the frame grew since.

    Returns births and registered births per member and place.
    """
    if living is None:
        living = living_per_chunk(P.alive)
    return _give_births(P, B, mothers, counts, living, male_probability, n_places, _workers(P.alive.shape[0]))


@njit(parallel=True, cache=True)
def _living_per_chunk(alive, workers):
    members, n = alive.shape
    living = np.zeros((members, N_CHUNKS), np.int64)
    for w in prange(workers):
        for mc in range(w, members * N_CHUNKS, workers):
            lo, hi = _chunk(mc % N_CHUNKS, n)
            living[mc // N_CHUNKS, mc % N_CHUNKS] = _living(lo, hi, alive[mc // N_CHUNKS])
    return living


def living_per_chunk(alive):
    """People alive per member and chunk, counted over the frame (chunks in parallel)."""
    return _living_per_chunk(alive, _workers(alive.shape[0]))


def count_alive(alive):
    """People alive per member, counted over the frame: the people ledger's own count."""
    return living_per_chunk(alive).sum(axis=1)
