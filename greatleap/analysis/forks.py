"""Runs that share their first months, run once: a prefix tree of branched worlds.

A decomposition runs 2^n coalitions of one scenario; most switch off mechanisms that only start
in 1957-58 (furnaces, canteens, techniques, ...), so until then many of them are the same run.
Members whose scenarios are equal except for their dated ``[[events]]`` (every parameter, the
structure and the weather equal) and whose policy levers (:func:`greatleap.timeline.lever_matrix`)
agree on the months before ``t`` have the same world at month ``t``: the model reads the
scenario's events only through the levers, and the random numbers are counter-based (keyed by
seed, person and month, not by the order of draws). So one batched world (one member a seed) runs
the shared months, is snapshotted where the members' levers first part, and each branch continues
from the snapshot with its own levers. Every member gets exactly the tables it gets alone (tested
for every coalition of a decomposition); the saving is the shared months: ~25% of a 1957-62
decomposition of the nine default mechanisms.

A *unit* (:func:`plan_units`) is a list of members that may share: the same fork key (everything
but the events and the seed), the same people capacity, and the seeds of one batch.
"""
from __future__ import annotations

import json
from typing import Sequence

import numpy as np

from greatleap import interrupt
from greatleap.analysis.ensemble import TABLES, RunOutcome, _agents, _with, make_batches, run_batch, structure_key

# parts of a scenario dict that do not reach the model (the name) or reach it only through the levers
_NOT_SHARED = ("events", "name", "description")
# at most this many bytes of snapshots held at once by one unit (one per branching level on the path
# being run); a unit that would need more runs the plain way (a scale-10 world is ~1.5 GiB a member)
FORK_MEMORY = 2 * 2**30
# at most this many runs a unit: its outcomes come back (to the progress bar, the cache) when the
# whole unit ends, and an interrupt loses the units in flight
UNIT_RUNS = 64


def fork_key(data: dict, scale: float | None) -> str | None:
    """What members must share to branch from one world: everything but the events, name and seed
    (None if the structure cannot be read: such a member runs alone)."""
    structure = structure_key(data, scale)
    if structure is None:
        return None
    rest = {k: v for k, v in data.items() if k not in _NOT_SHARED}
    rest["run"] = {k: v for k, v in rest.get("run", {}).items() if k != "seed"}
    if scale is not None:
        rest["run"]["scale"] = scale
    return json.dumps(rest, sort_keys=True, default=str)


def _events(data: dict) -> str:
    return json.dumps(data.get("events", []), sort_keys=True, default=str)


def _forkable(data: dict, scale: float | None) -> bool:
    """False where the people frame is sized from a pilot run of the scenario itself (a fine scale,
    see :mod:`greatleap.memory`): its events would change the frame, and with it the tables."""
    from greatleap.memory import PILOT_MIN_AGENTS, PILOT_SCALE
    try:
        fine = float(scale if scale is not None else data["run"]["scale"]) < PILOT_SCALE
    except (KeyError, TypeError, ValueError):
        return False
    return not (fine and _agents(data, scale) >= PILOT_MIN_AGENTS)


def plan_units(members: Sequence[tuple[dict, int]], todo: Sequence[int], scale: float | None,
               workers: int) -> list[list[int]]:
    """Units of the members ``todo``.

    Members branch together when they share a fork key and their scenarios run the same seeds
    here (a partly cached grid splits by seed set); each unit takes the seeds of one batch (a
    batch's agent limit, :func:`~greatleap.analysis.ensemble.make_batches`). Units are halved (by
    scenarios in lever order, else by seeds) until none holds more than ``UNIT_RUNS`` runs and
    there is one a worker. Members that cannot branch go in the plain batches of
    :func:`~greatleap.analysis.ensemble.plan_batches`.
    """
    from greatleap.analysis.ensemble import plan_batches
    variant_seeds: dict = {}
    plain, keyed = [], {}
    for k in todo:
        data, seed = members[k]
        key = fork_key(data, scale) if _forkable(data, scale) else None
        if key is None:
            plain.append(k)
            continue
        keyed[k] = (key, _events(data))
        variant_seeds.setdefault(keyed[k], set()).add(seed)
    groups: dict = {}
    for k, variant in keyed.items():
        groups.setdefault((variant[0], frozenset(variant_seeds[variant])), []).append(k)
    order = _lever_order(members, keyed)
    events = {k: variant[1] for k, variant in keyed.items()}  # serialised once, not at every halving
    units = []
    for (_, seed_set), ks in groups.items():
        seeds = sorted(seed_set)
        for r in make_batches(len(seeds), _agents(members[ks[0]][0], scale)):
            chunk = {seeds[i] for i in r}
            units.append([k for k in ks if members[k][1] in chunk])
    while units:
        units.sort(key=len)
        if len(units[-1]) <= UNIT_RUNS and len(units) >= workers:
            break
        halves = _halve(units[-1], members, order, events)
        if halves is None:
            break
        units = units[:-1] + halves
    return sorted(units + plan_batches(members, plain, scale, workers), key=len, reverse=True)


def _lever_order(members, keyed: dict) -> dict[str, bytes]:
    """A sort key per scenario (events): its lever matrix, month by month, so that scenarios sharing
    their first months sit together and a halving splits where they part."""
    from greatleap.scenario import validate_scenario
    from greatleap.timeline import lever_matrix
    order: dict[str, bytes] = {}
    for k, (_, events) in keyed.items():
        if events not in order:
            try:
                order[events] = lever_matrix(validate_scenario(members[k][0], "unit")).tobytes()
            except Exception:  # noqa: BLE001 - a member that does not validate fails in its run, not here
                order[events] = b""
    return order


def _halve(unit: list[int], members, order: dict[str, bytes], events: dict[int, str]) -> list[list[int]] | None:
    """Two halves of a unit: by scenarios (``events`` of each member), in lever order (every seed of
    a scenario in one half; a batch of seeds is kept), else by seeds."""
    variants = sorted({events[k] for k in unit}, key=lambda e: order.get(e, b""))
    if len(variants) > 1:
        first = set(variants[: len(variants) // 2])
        return [[k for k in unit if events[k] in first], [k for k in unit if events[k] not in first]]
    seeds = sorted({members[k][1] for k in unit})
    if len(seeds) < 2:
        return None
    first = set(seeds[: len(seeds) // 2])
    return [[k for k in unit if members[k][1] in first], [k for k in unit if members[k][1] not in first]]


def run_forked(members: Sequence[tuple[dict, int]], scale: float | None) -> list[RunOutcome]:
    """Run one unit's members as a prefix tree (in this process); outcomes in order.

    A unit that cannot branch (members that differ in more than their events, frames of different
    sizes, snapshots above ``FORK_MEMORY``, a failure) runs the plain way: in the batches
    :func:`~greatleap.analysis.ensemble.plan_batches` makes (members alone at fine scales), each
    batch falling back to its members alone, which reports the faulty one. An interrupt propagates."""
    if len(members) > 1:
        try:
            return _run_tree(members, scale)
        except Exception:  # noqa: BLE001 - run them the plain way
            pass
    from greatleap.analysis.ensemble import plan_batches
    out: list[RunOutcome | None] = [None] * len(members)
    for ks in plan_batches(members, range(len(members)), scale, 1):
        for k, outcome in zip(ks, run_batch([members[k] for k in ks], scale)):
            out[k] = outcome
    return out


def _run_tree(members: Sequence[tuple[dict, int]], scale: float | None) -> list[RunOutcome]:
    from greatleap.memory import people_capacity
    from greatleap.mechanisms import DEFAULT
    from greatleap.scenario import validate_scenario
    from greatleap.sim import Sim
    from greatleap.timeline import lever_matrix

    if len({fork_key(data, scale) for data, _ in members}) != 1:
        raise ValueError("members differ in more than their events")
    seeds = sorted({seed for _, seed in members})
    variants: dict[str, list[int]] = {}  # scenario (events) -> member indices
    for k, (data, _) in enumerate(members):
        variants.setdefault(_events(data), []).append(k)
    if any({members[k][1] for k in ks} != set(seeds) for ks in variants.values()):
        raise ValueError("every scenario of a unit must run every seed of the unit")
    firsts = [ks[0] for ks in variants.values()]
    scens = [[validate_scenario(_with(members[k][0], s, scale), members[k][0].get("name", "scenario")) for s in seeds]
             for k in firsts]
    sim = Sim(scens[0])
    capacity = sim.world.people.size
    if any(people_capacity(sc, sim.layout.n_agents, tuple(DEFAULT)) != capacity for sc in scens[1:]):
        raise ValueError("the scenarios' people frames differ in size")
    levers = [lever_matrix(sc[0], sim.geo.province_names) for sc in scens]
    if _depth(list(range(len(firsts))), levers, 0) * _snapshot_bytes(sim.world) > FORK_MEMORY:
        raise ValueError("the unit's snapshots would not fit in FORK_MEMORY")
    tables: dict[tuple[int, int], dict] = {}
    _grow(sim, list(range(len(firsts))), levers, tables)
    out = []
    for data, seed in members:
        v = firsts.index(variants[_events(data)][0])
        out.append(RunOutcome(seed, dict(tables[(v, seeds.index(seed))])))
    return out


def _first_difference(a: np.ndarray, b: np.ndarray, start: int) -> int:
    """First month at or after ``start`` where two lever matrices (months, levers, provinces) differ."""
    differs = (a[start:] != b[start:]).reshape(a.shape[0] - start, -1).any(axis=1)
    hit = np.flatnonzero(differs)
    return start + int(hit[0]) if hit.size else a.shape[0]


def _parts(variants: list[int], levers: list[np.ndarray], start: int) -> tuple[int, list[list[int]]]:
    """The month at or after ``start`` where ``variants`` first part, and the branches there."""
    split = min((_first_difference(levers[variants[0]], levers[v], start) for v in variants[1:]),
                default=levers[variants[0]].shape[0])
    if split >= levers[variants[0]].shape[0]:
        return split, [variants]
    branches: dict[bytes, list[int]] = {}
    for v in variants:
        branches.setdefault(levers[v][split].tobytes(), []).append(v)
    return split, list(branches.values())


def _depth(variants: list[int], levers: list[np.ndarray], start: int) -> int:
    """Snapshots held at once on the deepest path of the tree."""
    split, branches = _parts(variants, levers, start)
    return 0 if len(branches) == 1 else 1 + max(_depth(b, levers, split) for b in branches)


def _snapshot_bytes(world) -> int:
    """Bytes a snapshot of ``world`` copies: its frames and the records' arrays."""
    def walk(node) -> int:
        if isinstance(node, np.ndarray):
            return node.nbytes
        if isinstance(node, dict):
            return sum(walk(v) for v in node.values())
        return 0
    return world.nbytes() + walk(world.records)


def _grow(sim, variants: list[int], levers: list[np.ndarray], tables: dict) -> None:
    """Run ``sim`` (at month ``sim.t``, with the levers of ``variants[0]``, all of which agree on the
    months before it) to where the variants part, then each branch from a snapshot there."""
    split, branches = _parts(variants, levers, sim.t)
    sim.run(interrupt.progress_check, until=split)
    if split >= sim.n_months:
        for m in range(sim.world.members):
            r = sim.results(m)
            for v in variants:  # equal levers throughout: the same run
                tables[(v, m)] = {name: getattr(r, name) for name in TABLES}
        return
    snap = sim.snapshot() if len(branches) > 1 else None
    for j, branch in enumerate(branches):
        if j:
            sim.restore(snap)
        sim.levers[:] = levers[branch[0]][None]  # in place: mechanisms hold this array
        _grow(sim, branch, levers, tables)
