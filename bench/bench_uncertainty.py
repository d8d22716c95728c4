"""Benchmark the uncertainty machinery on the model: a small ABC-SMC calibration, then a Morris screen.

Usage: python bench/bench_uncertainty.py [--particles 60] [--generations 5] [--seeds 1] [--scale 20000]
       [--jobs 2] [--trajectories 10] [--out runs/bench-uncertainty]
Prints runs, wall time, seconds per run, thresholds and ESS by generation, and the projection of the
same work on a 64-core cluster (runs are independent: wall ~ runs x seconds per run / cores, plus
one run's straggler tail per round of moves). The ABC history and the evaluation store live in --out, so a
rerun resumes (and then measures only what was left).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from greatleap import load_scenario


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--particles", type=int, default=60)
    ap.add_argument("--generations", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--scale", type=float, default=20000.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--trajectories", type=int, default=10)
    ap.add_argument("--vintage", default="both")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-uncertainty"))
    args = ap.parse_args()
    from greatleap.analysis import identifiability
    from greatleap.analysis.abc import SMCSettings
    from greatleap.analysis.posterior import fit_posterior, load_posterior, load_targets_for, write_posterior
    from greatleap.analysis.sensitivity import run_sensitivity, write_tables
    from greatleap.io import atomic_folder

    scen = load_scenario("historical")
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    settings = SMCSettings(population=args.particles, seeds_per_particle=args.seeds, max_generations=args.generations)
    result, problem = fit_posterior(scen, load_targets_for(None, args.vintage), args.vintage, settings,
                                    args.out / "abc.sqlite", args.scale, args.jobs)
    abc_s = time.perf_counter() - t0
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = args.out / f"posterior-{stamp}"
    write_posterior(result, problem, folder,
                    extra=lambda tmp: identifiability.write_report(load_posterior(tmp, str(folder)), tmp))
    t0 = time.perf_counter()
    table, sens = run_sensitivity(scen, "morris", args.trajectories, None, args.scale, range(1, args.seeds + 1),
                                  args.jobs, store=args.out / "sensitivity.sqlite")
    morris_s = time.perf_counter() - t0
    with atomic_folder(args.out / f"morris-{stamp}") as tmp:
        write_tables(table, sens, tmp)
    g = result.generations
    per_run = abc_s * args.jobs / max(result.runs, 1)
    cores = 64
    report = {
        "machine": {"cores": os.cpu_count(), "load_1min_at_end": round(os.getloadavg()[0], 2), "jobs": args.jobs},
        "abc": {"particles": args.particles, "seeds_per_particle": args.seeds, "scale": args.scale,
                "vintage": args.vintage, "runs": result.runs, "wall_s": round(abc_s, 1),
                "core_s_per_run": round(per_run, 3), "stop": result.stop_reason,
                "epsilon": [round(e, 3) for e in g.epsilon], "moves": g.moves.tolist(),
                "move_acceptance": [round(a, 3) for a in g.acceptance_rate], "distinct": g.unique.tolist(),
                "projected_64_cores_s": round(result.runs * per_run / cores + int(g.moves.sum() + 1) * per_run, 1)},
        "morris": {"trajectories": args.trajectories, "parameters": len(sens["parameters"]),
                   "runs": sens["evaluations_computed"] * args.seeds, "wall_s": round(morris_s, 1),
                   "projected_64_cores_s": round(sens["evaluations_computed"] * args.seeds * per_run / cores + per_run, 1)},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
