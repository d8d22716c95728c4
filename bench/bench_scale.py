"""Benchmark a large run: memory (estimate, frame, bytes a person, peak RSS) and speed, optionally
stopping at a month and projecting the whole run.

Usage: python bench/bench_scale.py [--scale 10] [--until 1958-06] [--scenario historical]
Prints one JSON object. Compilation (or loading Numba's cache) is timed apart; the build of the
world (setup of every person) is timed apart from the months. "person_months" counts agent-months
(people alive at each monthly census); the projection assumes the months left run at the rate
of the months done (famine months run a little faster: fewer people).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time

from greatleap import Sim, load_scenario
from greatleap.memory import available_memory, estimate
from greatleap.sim import warmup


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--until", default=None, help="last month to run, YYYY-MM (default: the whole run)")
    ap.add_argument("--scenario", default="historical")
    args = ap.parse_args()
    t0 = time.perf_counter()
    warmup()
    compile_s = time.perf_counter() - t0
    scen = Sim._prepare(load_scenario(args.scenario), args.scale, None)
    t0 = time.perf_counter()
    est = estimate([scen])
    estimate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim = Sim(scen)
    build_s = time.perf_counter() - t0
    frame = sim.world.people
    built = {"slots": frame.size, "bytes_per_slot": sum(a.dtype.itemsize for a in frame.arrays().values()),
             "frame_gib": frame.nbytes() / 2**30, "bytes_per_person": frame.nbytes() / sim.layout.n_agents,
             "rss_after_build_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
    results = sim.run(until=args.until)
    run_s = results.meta["wall_seconds"]
    pm = float(results.monthly_national.population.sum()) / args.scale
    months = sim.world.t
    out = {"scenario": args.scenario, "scale": args.scale, "agents_start": sim.layout.n_agents, "months": months,
           "of_months": sim.n_months, "estimate_gib": est.total / 2**30, "estimate_people_gib": est.people / 2**30,
           "estimate_s": round(estimate_s, 2), "available_gib": (available_memory() or 0) / 2**30, **built,
           "grew": frame.size != built["slots"], "compile_or_cache_load_s": round(compile_s, 1),
           "build_s": round(build_s, 1), "run_s": round(run_s, 1), "s_per_month": round(run_s / max(months, 1), 2),
           "person_months_per_s": round(pm / run_s), "whole_run_projection_s": round(run_s / months * sim.n_months),
           "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
           "threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
           "timings_s": {k: round(v, 1) for k, v in sorted(results.meta["timings_seconds"].items(), key=lambda kv: -kv[1])[:6]}}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
