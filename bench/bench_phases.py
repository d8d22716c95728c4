"""Where a month's time goes: CPU seconds (process time) and wall seconds per step of the plan.

Usage: python bench/bench_phases.py [--scale 1000] [--until 1966-12] [--repeat 1]
Prints one JSON object: person-months, the months' wall and CPU seconds, and per step of the plan
the CPU seconds (all threads) sorted by cost, grouped into person kernels, place-level NumPy and
ledgers/recording; and the share of the people the busiest of 2 threads handles (averaged over
the months) when the kernels' chunks are split in contiguous blocks or dealt in turn (counted
outside the timings). CPU time is less sensitive than wall time to other jobs on a shared machine.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from greatleap import Sim, load_scenario
from greatleap.kernels.cpu import N_CHUNKS
from greatleap.levers import parse_month
from greatleap.mechanisms.base import Month
from greatleap.sim import _numba_threads, warmup

PERSON = ("census.census", "live.live", "births.births")
RECORDING = ("ledgers.account", "recorder.account")


def busiest_thread_share(alive, threads: int = 2) -> tuple[float, float]:
    """Share of the living people the busiest of ``threads`` threads handles, when the kernels'
    chunks go to threads in contiguous blocks (prange's static split) and dealt in turn."""
    n = alive.shape[1]
    per_chunk = np.array([int(alive[:, (c * n) // N_CHUNKS: ((c + 1) * n) // N_CHUNKS].sum()) for c in range(N_CHUNKS)])
    block = max(per_chunk[t * N_CHUNKS // threads: (t + 1) * N_CHUNKS // threads].sum() for t in range(threads))
    dealt = max(per_chunk[t::threads].sum() for t in range(threads))
    return block / per_chunk.sum(), dealt / per_chunk.sum()


def run_once(scale: float, until: str | None, scenario: str) -> dict:
    sim = Sim(load_scenario(scenario), scale=scale)
    stop = sim.n_months if until is None else min(sim.n_months, int(until) if until.isdigit() else
                                                   parse_month(until) - sim.start + 1)
    cpu = {s.name: 0.0 for s in sim.plan}
    wall = {s.name: 0.0 for s in sim.plan}
    pm = 0
    busiest = {"contiguous": 0.0, "dealt in turn": 0.0}
    w0, c0 = time.perf_counter(), time.process_time()
    with _numba_threads(sim.threads):
        while sim.world.t < stop:
            t = sim.world.t
            month = Month(t, sim.start + t, sim.levers[:, t], t == sim.n_months - 1)
            for step in sim.plan:
                a, b = time.perf_counter(), time.process_time()
                step.run(sim.world, month)
                wall[step.name] += time.perf_counter() - a
                cpu[step.name] += time.process_time() - b
            a, b = time.perf_counter(), time.process_time()
            pm += int(sim.world.places.pop.sum())
            share_block, share_dealt = busiest_thread_share(sim.world.people.alive)
            busiest["contiguous"] += share_block / stop
            busiest["dealt in turn"] += share_dealt / stop
            w0, c0 = w0 + time.perf_counter() - a, c0 + time.process_time() - b  # not the engine's time
            sim.world.t += 1
    run_wall, run_cpu = time.perf_counter() - w0, time.process_time() - c0
    group = {"person kernels": sum(cpu[k] for k in PERSON), "ledgers and recording": sum(cpu[k] for k in RECORDING)}
    group["place-level NumPy"] = run_cpu - group["person kernels"] - group["ledgers and recording"]
    return {"months": stop, "person_months": pm, "run_wall_s": round(run_wall, 3), "run_cpu_s": round(run_cpu, 3),
            "s_per_month_wall": round(run_wall / stop, 4), "person_months_per_s_wall": round(pm / run_wall),
            "person_months_per_cpu_s": round(pm / run_cpu),
            "cpu_s_by_group": {k: round(v, 3) for k, v in group.items()},
            "cpu_s_by_step": {k: round(v, 3) for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]) if v >= 0.001},
            "wall_s_person_kernels": {k: round(wall[k], 3) for k in PERSON},
            "busiest_of_2_threads_share_of_people": {k: round(v, 3) for k, v in busiest.items()}}


def main() -> None:
    ap = argparse.ArgumentParser()
    for flag, default, kind, meaning in (("--scale", 1000.0, float, "persons per agent"),
                                         ("--until", None, str, "last month, YYYY-MM or a number of months (default: all)"),
                                         ("--repeat", 1, int, "runs; the fastest (wall) is shown"),
                                         ("--scenario", "historical", str, "scenario name")):
        ap.add_argument(flag, default=default, type=kind, help=meaning)
    args = ap.parse_args()
    compile_s = -time.perf_counter()
    warmup()
    compile_s += time.perf_counter()
    rows = [run_once(args.scale, args.until, args.scenario) for _ in range(args.repeat)]
    best = min(rows, key=lambda r: r["run_wall_s"])
    best["best_cpu_s_of_repeats"] = min(r["run_cpu_s"] for r in rows)
    best.update(scale=args.scale, compile_or_cache_load_s=round(compile_s, 1), load_1min=os.getloadavg()[0],
                threads=int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)))
    print(json.dumps(best, indent=1))


if __name__ == "__main__":
    main()
