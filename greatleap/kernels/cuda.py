"""CUDA backend (numba-cuda): one GPU thread per person slot, around the same person steps.

``census``, ``live``, ``finish_month`` and ``give_births`` take and return what those of
:mod:`greatleap.kernels.cpu` do. Each thread calls the person steps of
:mod:`greatleap.lifecycle` (``census_person``, ``live_person``, ``newborn``), which the rules of
the mechanisms compose: no model rule lives here. Numba core's ``register_jitable`` (what
``@rule`` uses) registers a rule for the CPU target only, so every rule's Python function is
registered again with numba-cuda's ``register_jitable``: the same source compiled for the GPU.

Results do not depend on scheduling:

- counts per place (people, deaths, births, ...) are integer atomic additions: exact;
- float sums per place (effective labour, grain need, reserve, grain eaten) are added as int64
  in fixed point: each person's term ``x`` becomes ``round(x * 2^k)``, integer addition is
  associative, and the sum is divided by ``2^k`` at the end. ``k`` is the largest number of
  fraction bits that cannot overflow for the frame (``fraction_bits``): a term above its
  quantity's bound (``CENSUS_BOUNDS``, ``EATEN_BOUND``) or not finite stops the run with
  :class:`FixedPointError`. Each term is off by at most ``2^-(k+1)``, so a place of ``n`` people
  differs from the exact sum by at most ``n / 2^(k+1)``. At scale 1 (a frame of ~0.85 billion
  slots: k = 17 for grain need, 21 for grain eaten) a place of a million people is within
  4 kcal/day of ~2e9 (2e-9 relative) and 0.24 kg of ~1.5e7 kg eaten a month (2e-8); at scale
  100000, k = 34 and 38. The CPU's float64 chunk sums have their own rounding (~1e-16 relative);
- births: the k-th mother in index order gets the k-th free slot in index order, exactly as the
  CPU's serial loop, from per-tile counts and a prefix sum.

The device keeps a copy of the people frame (:mod:`greatleap.kernels.cuda_memory`); the
parameter record is uploaded as an aligned copy (CUDA refuses misaligned float64 fields).
With ``NUMBA_ENABLE_CUDASIM=1`` Numba runs these kernels on the CPU (slowly): the tests do.
"""
from __future__ import annotations

import math
import sys
import warnings

import numpy as np
from numba import config, cuda

import greatleap.mechanisms  # noqa: F401  (every rule registered in RULES before they are re-registered below)
from greatleap.kernels.cuda_memory import HOST_WRITTEN, DeviceFrame, HostFrame, aligned_record
from greatleap.lifecycle import (ABSENTEE, DEATH_MASK, ESCAPED, GHOST_DEATH, GIVES_BIRTH, REGISTERED_DEATH,
                                 census_person, census_scalars, live_person, live_scalars, newborn)
from greatleap.mechanisms.demography import AGE_GROUPS
from greatleap.mechanisms.labor import NONE, URBAN_WORK
from greatleap.mechanisms.nutrition import reserve_share
from greatleap.traits import HUKOU, KLASS, ON_REGISTER, SEX, code_of
from greatleap.passes import GROWTH
from greatleap.rules import RULES

SIMULATED = bool(config.ENABLE_CUDASIM)
THREADS = 128  # threads per block
# Kernels stride over slots (grid-stride loops): on a GPU the grid covers every slot once; the
# simulator starts a Python thread per GPU thread, so there a few threads take many slots each.
SIMULATOR_THREADS = 8
TILE = 256     # slots per tile: births list mothers and free slots tile by tile, in index order
N_AGE_GROUPS = len(AGE_GROUPS)
# bounds on one person's term of each fixed-point sum (powers of two; a term above stops the run)
CENSUS_BOUNDS = (16.0, 16.0, 16.0, 65536.0, 16.0)  # farm, furnace, water-works labour; grain need kcal/day; reserve
EATEN_BOUND = 4096.0                               # grain eaten, kg per person-month
CENSUS_QUANTITIES = ("farm labour", "furnace labour", "water-works labour", "grain need", "reserve")
# columns a newborn's slot gets (copied back slot by slot after the births kernel)
NEWBORN_COLUMNS = ("alive", "age_m", "traits", "place", "reserve", "intake_ratio", "preg", "mother")
CENSUS_WRITES = ("place", "traits")
LIVE_WRITES = ("status", "place", "traits", "intake_ratio", "reserve", "preg", "age_m")

FRAME = DeviceFrame()
_COMPILED: dict | None = None  # set while compile_kernels runs


class FixedPointError(RuntimeError):
    """One person's term of a per-place sum is above the bound its fixed-point format allows."""


def _device(fn):
    """Register ``fn`` for the CUDA target (compiled with the kernel that calls it, for that
    kernel's compute capability); the simulator calls it as Python."""
    if not SIMULATED:
        from numba.cuda.extending import register_jitable
        register_jitable(fn)
    return fn


for _rule in RULES.values():  # every rule and person step, from the one source the CPU compiles too
    _device(_rule)


def fraction_bits(n: int, bound: float) -> int:
    """The most fraction bits ``k`` with which ``n`` terms of size up to ``bound`` (a power of two)
    add in int64 without overflow (``n * bound * 2^k < 2^63``; a rounded term is at most
    ``bound * 2^k``), each term staying exact in float64 before rounding (``bound * 2^k <= 2^52``)."""
    k = 52 - int(math.log2(bound))
    while max(n, 1) * bound * 2.0 ** k >= 2.0 ** 63:
        k -= 1
    return k


def _scales(n: int, bounds) -> np.ndarray:
    return np.array([2.0 ** fraction_bits(n, b) for b in bounds])


# ---------------------------------------------------------------------------------- device code

@_device
def _add_fixed(sums, m, k, place, x, scale, bound, err, code):
    """Add ``x`` to ``sums[m, k, place]`` in fixed point (``scale`` = 2^bits); flag a term out of bounds."""
    if not abs(x) <= bound:  # also catches NaN
        err[0] = code
        return
    cuda.atomic.add(sums, (m, k, place), int(math.floor(x * scale + 0.5)))


@cuda.jit
def _census_kernel(P, C, par, T, want_pyramid, ints, sums, pyr, scales, bounds, err):
    members, n = P.alive.shape
    for t in range(cuda.grid(1), members * n, cuda.gridsize(1)):
        _census_slot(t, P, C, par, T, want_pyramid, ints, sums, pyr, scales, bounds, err)


@_device
def _census_slot(t, P, C, par, T, want_pyramid, ints, sums, pyr, scales, bounds, err):
    members, n = P.alive.shape
    m = t // n
    i = t - m * n
    if P.alive[m, i] == 0:
        return
    q = census_scalars(m, C, par[m])
    age_y = P.age_m[m, i] // 12
    before, pl, act, capacity, grain_need = census_person(m, i, P, C, q, T)
    cuda.atomic.add(ints, (m, 0, pl), 1)
    cuda.atomic.add(ints, (m, 4, pl), int(code_of(P.traits[m, i], ON_REGISTER)))
    if before != pl:
        cuda.atomic.add(ints, (m, 2, pl), 1)
        cuda.atomic.add(ints, (m, 3, before), 1)
    if want_pyramid:
        cuda.atomic.add(pyr, (m, code_of(P.traits[m, i], SEX), min(age_y, 100)), 1)
    if act != NONE:
        cuda.atomic.add(ints, (m, 1, pl), 1)
        if act != URBAN_WORK:  # FARM=1, FURNACE=2, WATERWORKS=3
            _add_fixed(sums, m, act - 1, pl, capacity, scales[act - 1], bounds[act - 1], err, act)
    _add_fixed(sums, m, 3, pl, grain_need, scales[3], bounds[3], err, 4)
    _add_fixed(sums, m, 4, pl, reserve_share(P.reserve[m, i]), scales[4], bounds[4], err, 5)


@cuda.jit
def _live_kernel(P, L, par, T, ints, sums, detail, scale, bound, err):
    members, n = P.alive.shape
    for t in range(cuda.grid(1), members * n, cuda.gridsize(1)):
        _live_slot(t, P, L, par, T, ints, sums, detail, scale, bound, err)


@_device
def _live_slot(t, P, L, par, T, ints, sums, detail, scale, bound, err):
    members, n = P.alive.shape
    m = t // n
    i = t - m * n
    P.status[m, i] = 0
    if P.alive[m, i] == 0:
        return
    q = live_scalars(m, L, par[m])
    c, eaten_kg, status, g, dest = live_person(m, i, P, L, q, T)
    _add_fixed(sums, m, 0, c, eaten_kg, scale, bound, err, 1)
    P.status[m, i] = status
    cause = status & DEATH_MASK
    if cause:
        cuda.atomic.add(ints, (m, 0, c), 1)
        cuda.atomic.add(ints, (m, 1 + cause, c), 1)
        if status & REGISTERED_DEATH:
            cuda.atomic.add(ints, (m, 1, c), 1)
        elif status & GHOST_DEATH:
            cuda.atomic.add(ints, (m, 7, c), 1)
        cuda.atomic.add(detail, (m, g, code_of(P.traits[m, i], KLASS), code_of(P.traits[m, i], HUKOU), cause - 1), 1)
    elif status & ESCAPED:
        cuda.atomic.add(ints, (m, 5, dest), 1)
        cuda.atomic.add(ints, (m, 6, c), 1)
        if status & ABSENTEE:
            cuda.atomic.add(ints, (m, 8, c), 1)


@cuda.jit
def _deaths_kernel(alive, status, tile_mothers, tile_alive):
    """The dead leave their slots; mothers and the living counted per tile."""
    members, n = alive.shape
    for t in range(cuda.grid(1), members * n, cuda.gridsize(1)):
        _deaths_slot(t, alive, status, tile_mothers, tile_alive)


@_device
def _deaths_slot(t, alive, status, tile_mothers, tile_alive):
    members, n = alive.shape
    m = t // n
    i = t - m * n
    st = status[m, i]
    if st & DEATH_MASK:
        alive[m, i] = 0
    elif st & GIVES_BIRTH:
        cuda.atomic.add(tile_mothers, (m, i // TILE), 1)
    if alive[m, i] == 1:
        cuda.atomic.add(tile_alive, (m, i // TILE), 1)


@cuda.jit
def _count_free(alive, tile_free):
    members, n = alive.shape
    for t in range(cuda.grid(1), members * n, cuda.gridsize(1)):
        _free_slot(t, alive, tile_free)


@_device
def _free_slot(t, alive, tile_free):
    members, n = alive.shape
    m = t // n
    i = t - m * n
    if alive[m, i] == 0:
        cuda.atomic.add(tile_free, (m, i // TILE), 1)


@cuda.jit
def _list_matches(flags, mask, want, offsets, limit, out):
    """One thread per tile writes, in index order from the tile's offset, the slots ``i`` with
    ``flags[m, i] & mask == want``, at most ``limit[m]`` per member (mothers; free slots)."""
    members = flags.shape[0]
    for t in range(cuda.grid(1), members * offsets.shape[1], cuda.gridsize(1)):
        _matches_of_tile(t, flags, mask, want, offsets, limit, out)


@_device
def _matches_of_tile(t, flags, mask, want, offsets, limit, out):
    n = flags.shape[1]
    tiles = offsets.shape[1]
    m = t // tiles
    tile = t - m * tiles
    k = offsets[m, tile]
    for i in range(tile * TILE, min(n, (tile + 1) * TILE)):
        if k >= limit[m]:
            return
        if flags[m, i] & mask == want:
            out[m, k] = i
            k += 1


@cuda.jit
def _births_kernel(P, B, mothers, slots, counts, male_probability, births, births_reg):
    members, most = mothers.shape
    for t in range(cuda.grid(1), members * most, cuda.gridsize(1)):
        _birth(t, P, B, mothers, slots, counts, male_probability, births, births_reg)


@_device
def _birth(t, P, B, mothers, slots, counts, male_probability, births, births_reg):
    members, most = mothers.shape
    m = t // most
    k = t - m * most
    if k >= counts[m]:
        return
    mother = mothers[m, k]
    registered = newborn(m, slots[m, k], mother, P, B, male_probability[m])
    cuda.atomic.add(births, (m, P.place[m, mother]), 1)
    cuda.atomic.add(births_reg, (m, P.place[m, mother]), registered)


@cuda.jit
def _gather(column, slots, out):
    """out[m, k] = column[m, slots[m, k]] where a slot is given (new slots, to copy back)."""
    members, most = slots.shape
    for t in range(cuda.grid(1), members * most, cuda.gridsize(1)):
        m = t // most
        k = t - m * most
        s = slots[m, k]
        if s >= 0:
            out[m, k] = column[m, s]


# ---------------------------------------------------------------------------------- host side

def _launch(kernel, threads: int):
    blocks = max(1, -(-threads // THREADS))
    return kernel[1, SIMULATOR_THREADS] if SIMULATED else kernel[blocks, THREADS]


def _inputs(nt):
    """A named tuple of inputs with its arrays on the device (scalars stay)."""
    return type(nt)(*(FRAME.upload(v) if isinstance(v, np.ndarray) else v for v in nt))


def _run(kernel, threads: int, *args) -> None:
    if _COMPILED is not None:  # compile_kernels: PTX for the arguments' types, nothing launched
        from numba.cuda.typing.typeof import typeof
        ptx, _ = cuda.compile_ptx(kernel.py_func, tuple(typeof(a) for a in args), cc=_COMPILED["cc"])
        _COMPILED[kernel.py_func.__name__] = len(ptx)
    elif SIMULATED:  # the simulator runs the rules as Python, in threads: NumPy warns where compiled code wraps
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning)
            _launch(kernel, threads)(*args)
    else:
        _launch(kernel, threads)(*args)


def _check(err, quantities, bounds, bits) -> None:
    code = int(FRAME.fetch(err)[0])
    if code:
        name, bound, k = quantities[code - 1], bounds[code - 1], bits[code - 1]
        raise FixedPointError(f"a person's {name} is not finite or above {bound:g}, the bound of its fixed-point sum "
                              f"({k} fraction bits); the per-place sums on the GPU cannot hold it")


def census(P, C, par, T, n_places, want_pyramid):
    """See :func:`greatleap.kernels.cpu.census` (same arguments and returns)."""
    members, n = P.alive.shape
    d = FRAME.people(P)
    scales = _scales(n, CENSUS_BOUNDS)
    ints = FRAME.upload(np.zeros((members, 5, n_places), np.int64))
    sums = FRAME.upload(np.zeros((members, 5, n_places), np.int64))
    pyr = FRAME.upload(np.zeros((members, 2, 101), np.int64))
    err = FRAME.upload(np.zeros(1, np.int64))
    _run(_census_kernel, members * n, d, _inputs(C), FRAME.upload(aligned_record(par)), _inputs(T), bool(want_pyramid),
         ints, sums, pyr, FRAME.upload(scales), FRAME.upload(np.array(CENSUS_BOUNDS)), err)
    _check(err, CENSUS_QUANTITIES, CENSUS_BOUNDS, [fraction_bits(n, b) for b in CENSUS_BOUNDS])
    FRAME.download(CENSUS_WRITES)
    return FRAME.fetch(ints), FRAME.fetch(sums) / scales[None, :, None], FRAME.fetch(pyr)


def live(P, L, par, T, n_places):
    """See :func:`greatleap.kernels.cpu.live` (same arguments and returns)."""
    members, n = P.alive.shape
    d = FRAME.people(P, fresh=HOST_WRITTEN["live"])
    scale = 2.0 ** fraction_bits(n, EATEN_BOUND)
    ints = FRAME.upload(np.zeros((members, 9, n_places), np.int64))
    sums = FRAME.upload(np.zeros((members, 1, n_places), np.int64))
    detail = FRAME.upload(np.zeros((members, N_AGE_GROUPS, 3, 2, 3), np.int64))
    err = FRAME.upload(np.zeros(1, np.int64))
    _run(_live_kernel, members * n, d, _inputs(L), FRAME.upload(aligned_record(par)), _inputs(T), ints, sums, detail,
         scale, EATEN_BOUND, err)
    _check(err, ("grain eaten",), (EATEN_BOUND,), (fraction_bits(n, EATEN_BOUND),))
    FRAME.download(LIVE_WRITES)
    return FRAME.fetch(sums)[:, 0] / scale, FRAME.fetch(ints), FRAME.fetch(detail)


def _offsets(per_tile: np.ndarray) -> np.ndarray:
    """Exclusive prefix sum along the tiles: where each tile's first entry goes."""
    out = np.zeros_like(per_tile)
    np.cumsum(per_tile[:, :-1], axis=1, out=out[:, 1:])
    return out


def finish_month(alive, status):
    """See :func:`greatleap.kernels.cpu.finish_month` (same arguments and returns, the living per tile
    of ``TILE`` slots rather than per chunk)."""
    members, n = alive.shape
    tiles = -(-n // TILE)
    d_alive, d_status = FRAME.column("alive", alive), FRAME.column("status", status)
    d_mothers_per_tile = FRAME.upload(np.zeros((members, tiles), np.int64))
    d_alive_per_tile = FRAME.upload(np.zeros((members, tiles), np.int64))
    _run(_deaths_kernel, members * n, d_alive, d_status, d_mothers_per_tile, d_alive_per_tile)
    FRAME.download(("alive",))
    per_tile = FRAME.fetch(d_mothers_per_tile)
    counts = per_tile.sum(axis=1)
    d_mothers = FRAME.upload(np.full((members, max(int(counts.max()), 1)), -1, np.int64))
    _run(_list_matches, members * tiles, d_status, GIVES_BIRTH, GIVES_BIRTH, FRAME.upload(_offsets(per_tile)),
         FRAME.upload(counts), d_mothers)
    return FRAME.fetch(d_mothers), counts, FRAME.fetch(d_alive_per_tile)


def give_births(P, B, mothers, counts, living, male_probability, n_places):
    """See :func:`greatleap.kernels.cpu.give_births` (same arguments and returns; ``living`` per tile)."""
    members, n = P.alive.shape
    tiles = -(-n // TILE)
    d = FRAME.people(P)
    if living is None:
        d_free = FRAME.upload(np.zeros((members, tiles), np.int64))
        _run(_count_free, members * n, d.alive, d_free)
        free = FRAME.fetch(d_free)
    else:
        free = np.minimum(TILE, n - TILE * np.arange(tiles))[None, :] - living
    most = mothers.shape[1]
    d_slots = FRAME.upload(np.full((members, most), -1, np.int64))
    d_counts = FRAME.upload(np.asarray(counts, np.int64))
    offsets = FRAME.upload(_offsets(free))
    _run(_list_matches, members * tiles, d.alive, 1, 0, offsets, d_counts, d_slots)  # free: alive == 0
    births = FRAME.upload(np.zeros((members, n_places), np.int64))
    births_reg = FRAME.upload(np.zeros((members, n_places), np.int64))
    _run(_births_kernel, members * most, d, _inputs(B), FRAME.upload(mothers), d_slots, d_counts,
         FRAME.upload(np.asarray(male_probability, np.float64)), births, births_reg)
    FRAME.download_slots(NEWBORN_COLUMNS, FRAME.fetch(d_slots), np.asarray(counts),
                         lambda column, slots, out: _run(_gather, slots.size, column, slots, out))
    return FRAME.fetch(births), FRAME.fetch(births_reg)


def transfers() -> dict[str, int]:
    """Bytes copied so far (all runs of this process): people columns and other arrays, each way."""
    return dict(FRAME.copied)


def free_device_bytes() -> float:
    """Free memory on the current GPU, bytes (the simulator says infinite)."""
    return float(cuda.current_context().get_memory_info()[0])


def device_bytes(world) -> int:
    """Device memory a run of ``world`` needs: the people frame after one growth (columns are
    replaced one by one as it grows, so one old column more), the tallies and inputs of a pass,
    and room to spare. A run whose frame grows more than once may need more."""
    people = world.people
    largest = max(a.nbytes for a in people.arrays().values())
    per_pass = world.members * (16 * world.geo.n_places + N_AGE_GROUPS * 18 + 202) * 8
    return int(people.nbytes() * GROWTH) + largest + 4 * per_pass + 64 * 2**20


def memory_problem(world, free: float | None = None) -> str | None:
    """Why ``world`` cannot run on the GPU (it does not fit free device memory), or None."""
    need, free = device_bytes(world), free_device_bytes() if free is None else free
    if need > free:
        return f"needs about {need / 2**30:.1f} GiB of GPU memory, {free / 2**30:.1f} GiB free"
    return None


def compile_kernels(sim, cc: tuple[int, int] = (9, 0)) -> dict[str, int]:
    """Compile every kernel to PTX for compute capability ``cc`` (9.0: H100/H200), no GPU needed.

    Steps ``sim`` (a world built for the CPU backend) one month with host arrays standing in for
    the device's, so each kernel is compiled for the argument types of a real run; the month's
    results are meaningless (nothing is launched; ledgers must be off). Returns PTX bytes per kernel.
    """
    global FRAME, _COMPILED
    import numba.cuda.dispatcher as dispatcher
    from types import SimpleNamespace

    saved = FRAME, _COMPILED, dispatcher.get_current_device, sim.backend
    FRAME, _COMPILED = HostFrame(), {"cc": cc}
    # rules compile as device functions for the current device's compute capability: say which
    dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=cc)
    sim.backend = sys.modules[__name__]
    try:
        sim.step()
        people = sim.world.people
        for name in NEWBORN_COLUMNS:
            column = getattr(people, name)
            slots = np.zeros((column.shape[0], 1), np.int64)
            _run(_gather, 1, column, slots, np.zeros(slots.shape, column.dtype))
            _COMPILED[f"_gather[{column.dtype}]"] = _COMPILED.pop("_gather")
        # the births pass counts free slots itself only after the frame grew (no growth here)
        _run(_count_free, 1, people.alive, np.zeros((people.alive.shape[0], 1), np.int64))
        return {k: v for k, v in _COMPILED.items() if k != "cc"}
    finally:
        FRAME, _COMPILED, dispatcher.get_current_device, sim.backend = saved


def count_alive(alive):
    """People alive per member, counted over the host's frame (see :func:`greatleap.kernels.cpu.count_alive`)."""
    return alive.sum(axis=1, dtype=np.int64)
