"""Benchmark the CUDA backend: wall time, s/month, person-months/s and bytes copied host<->device.

Usage: python bench/bench_gpu.py [--scales 1000,100,10,1] [--end 1966-12] [--cpu]
Each scale is checked first against free host memory and free GPU memory and skipped, with the
reason, where it cannot fit. ``--cpu`` runs the CPU backend at the same scales for comparison.
Kernel compilation (or loading from the cache) is timed separately and excluded from run times.
On a machine without a GPU, ``NUMBA_ENABLE_CUDASIM=1 python bench/bench_gpu.py --scales 100000
--end 1957-02`` checks that the script works (the simulator is slow; its numbers mean nothing).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time

from greatleap import Sim, load_scenario
from greatleap.kernels import cuda_problem
from greatleap.memory import available_memory, estimate_memory
from greatleap.sim import warmup

def host_free() -> int:
    return available_memory() or os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def one_run(scenario, scale: float, backend: str) -> dict:
    """Build and run one world; times, throughput and (cuda) bytes copied."""
    t0 = time.perf_counter()
    sim = Sim(scenario, scale=scale, backend=backend)
    build_s = time.perf_counter() - t0
    row = {"backend": backend, "scale": scale, "agents_start": int(sim.layout.n_agents), "build_s": round(build_s, 2)}
    if backend == "cuda":
        problem = sim.backend.memory_problem(sim.world)
        if problem is not None:
            return {**row, "skipped": f"GPU memory: {problem}"}
        before = sim.backend.transfers()
    results = sim.run()
    run_s = results.meta["wall_seconds"]
    person_months = float(results.monthly_national.population.sum()) / scale  # agent-months simulated
    row.update({"months": sim.n_months, "run_s": round(run_s, 3), "s_per_month": round(run_s / sim.n_months, 4),
                "person_months": int(person_months), "person_months_per_s": round(person_months / run_s),
                "people_bytes": int(sim.world.people.nbytes()),
                "timings_s": {k: round(v, 3) for k, v in results.meta["timings_seconds"].items() if v > 0.01}})
    if backend == "cuda":
        after = sim.backend.transfers()
        moved = {f"bytes_{k}": after[k] - before[k] for k in after}
        row.update({**moved, "bytes_per_person_month": round(sum(moved.values()) / max(person_months, 1), 1)})
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="1000,100,10,1", help="comma-separated persons per agent")
    ap.add_argument("--end", default=None, help="last month (YYYY-MM; default: the scenario's)")
    ap.add_argument("--scenario", default="historical")
    ap.add_argument("--cpu", action="store_true", help="also run the CPU backend at each scale")
    args = ap.parse_args()
    problem = cuda_problem()
    if problem is not None:
        raise SystemExit(f"error: the CUDA backend cannot run here: {problem}")
    overrides = {"run.end": args.end} if args.end else {}
    scenario = load_scenario(args.scenario, **overrides)
    backends = ("cuda", "cpu") if args.cpu else ("cuda",)
    for backend in backends:
        t0 = time.perf_counter()
        warmup(backend)
        row = {"backend": backend, "compile_or_cache_load_s": round(time.perf_counter() - t0, 2)}
        print(json.dumps(row), flush=True)
    for scale in (float(s) for s in args.scales.split(",")):
        need = estimate_memory(scenario, scale)  # the host's share: the people frame, one growth, the runtime
        if need > host_free():
            print(json.dumps({"scale": scale, "skipped": f"host memory: needs about {need / 2**30:.1f} GiB, "
                              f"{host_free() / 2**30:.1f} GiB free"}), flush=True)
            continue
        for backend in backends:
            row = one_run(scenario, scale, backend)
            row["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
