"""Benchmark the default historical run: wall time, person-months per second, peak memory.

Usage: python bench/bench_run.py [--scale 1000] [--repeat 2]
One-time JIT compilation (or loading from Numba's cache) is timed separately and excluded.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time

from greatleap import Sim, load_scenario
from greatleap.sim import warmup


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1000.0)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--scenario", default="historical")
    args = ap.parse_args()
    t0 = time.perf_counter()
    warmup()
    compile_s = time.perf_counter() - t0
    best = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        sim = Sim(load_scenario(args.scenario), scale=args.scale)
        build_s = time.perf_counter() - t0
        results = sim.run()
        run_s = results.meta["wall_seconds"]
        pm = float(results.monthly_national.population.sum()) / args.scale  # agent-months simulated
        slots = sim.world.people.size * sim.n_months
        row = {"scale": args.scale, "agents_start": results.meta["agents_start"],
               "communes": results.meta["n_communes"], "build_s": round(build_s, 3), "run_s": round(run_s, 3),
               "person_months": int(pm), "person_months_per_s": round(pm / run_s),
               "slot_months_per_s": round(slots / run_s), "timings_s": {k: round(v, 3) for k, v in results.meta["timings_seconds"].items()}}
        if best is None or row["run_s"] < best["run_s"]:
            best = row
    best["compile_or_cache_load_s"] = round(compile_s, 2)
    best["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    best["threads"] = int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1))
    print(json.dumps(best, indent=2))


if __name__ == "__main__":
    main()
