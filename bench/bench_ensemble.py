"""Benchmark ensembles: members/s of the process pool (each member alone), batched worlds on the
same pool, and batched worlds on a Dask LocalCluster, at scales 1,000 and 20,000; optionally the
same in this one process (``serial``: each alone, ``serial-batched``).

Usage: python bench/bench_ensemble.py [--scales 1000,20000] [--members 4,64] [--jobs 2]
       [--modes pool,batched,cluster,serial,serial-batched]
Every mode runs the same members (historical, seeds 1..M, 1957-1966) from scratch, with no run
cache, including its start-up (spawning workers, loading the compiled kernels): that is what an
analysis pays. Prints one JSON line per (scale, mode), then a Markdown table for BENCHMARKS.md.
Checks that every mode gave the same tables.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import pandas as pd

from greatleap import load_scenario


def run_mode(mode: str, members, scale: float, jobs: int):
    from greatleap.analysis.ensemble import run_many
    t0 = time.perf_counter()
    if mode == "cluster":
        from greatleap.analysis.cluster import ClusterPool
        with ClusterPool(f"local:{jobs}") as pool:
            outcomes = run_many(members, scale, pool)
    else:
        alone = mode in ("pool", "serial")
        outcomes = run_many(members, scale, 1 if mode.startswith("serial") else jobs, batch=1 if alone else None)
    return outcomes, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="1000,20000")
    ap.add_argument("--members", default="4,64", help="members at each scale (same order)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--modes", default="pool,batched,cluster")
    args = ap.parse_args()
    from greatleap.analysis.ensemble import _agents, make_batches
    from greatleap.sim import warmup
    warmup()  # compile (or load) the kernels once, so no mode pays the compilation
    data = load_scenario("historical").to_dict()
    rows = []
    for scale, n in zip(map(float, args.scales.split(",")), map(int, args.members.split(","))):
        members = [(data, seed) for seed in range(1, n + 1)]
        reference = None
        for mode in args.modes.split(","):
            load0 = os.getloadavg()[0]
            outcomes, wall = run_mode(mode, members, scale, args.jobs)
            failed = [o.error for o in outcomes if o.tables is None]
            assert not failed, failed[0]
            if reference is None:
                reference = outcomes
            for a, b in zip(reference, outcomes):
                for name, table in a.tables.items():
                    pd.testing.assert_frame_equal(table, b.tables[name])
            workers = 1 if mode.startswith("serial") else args.jobs
            sizes = [1] * n if mode in ("pool", "serial") else [len(b) for b in make_batches(n, _agents(data, scale),
                                                                                             workers)]
            row = {"scale": scale, "mode": mode, "members": n, "jobs": workers, "batches": len(sizes),
                   "largest_batch": max(sizes), "wall_s": round(wall, 1), "members_per_s": round(n / wall, 3),
                   "load_1min_before": round(load0, 2), "load_1min_after": round(os.getloadavg()[0], 2)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\nmachine: {os.cpu_count()} cores; {os.uname().sysname} {os.uname().release}")
    print("| scale | mode | members | batches (largest) | wall s | members/s | load before/after |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['scale']:,.0f} | {r['mode']} | {r['members']} | {r['batches']} ({r['largest_batch']}) | "
              f"{r['wall_s']} | {r['members_per_s']} | {r['load_1min_before']} / {r['load_1min_after']} |")


if __name__ == "__main__":
    main()
