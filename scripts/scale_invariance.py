"""Does the headline depend on the scale? True excess deaths 1958-62 (compare's measure) at several scales.

Usage: python scripts/scale_invariance.py [--scenario historical] [--scales 200,1000,5000,20000]
                                          [--seeds 16] [--seeds-at 20000=128,5000=32] [--jobs 2] [--out FILE.csv]
                                          [--runs FILE.csv ...]

Each scale runs its own seeds 1..N (N from ``--seeds-at`` where given: coarse scales are cheap and noisy, so they
need many). Prints, per scale: agents, communes, seeds, the mean in millions with its standard error, the spread of
one seed (standard deviation) and the difference from the finest scale, paired by seed: a seed draws the same
provincial weather at every scale, and the same commune draws where the communes are as many (counter-based
streams keyed by province and commune), so the difference of one seed's two runs is free of that shared noise (at 1,000 the two runs correlate ~0.9 with scale 200's) and the mean of those
differences over the seeds both scales ran (``pairs``) measures the scale effect with a far smaller standard error
than two independent means would. A difference within ~2 standard errors is not evidence of a scale effect.
``--out`` writes every run's value (CSV); ``--runs`` reads such files instead of running (their union; a seed
run twice at a scale counts once). Runs end in December 1962 (the measure's last year).
"""
from __future__ import annotations

import argparse
import math
import sys

import numpy as np
import pandas as pd

from greatleap import load_scenario
from greatleap.analysis.compare import ending_with, run_metrics
from greatleap.analysis.ensemble import run_many
from greatleap.mechanisms.communes import layout
from greatleap.sim import Sim


def parse_seeds_at(text: str) -> dict[float, int]:
    """``"20000=128,5000=32"`` -> {20000.0: 128, 5000.0: 32}; ValueError naming the part that is not SCALE=N."""
    out = {}
    for part in filter(None, text.split(",")):
        try:
            scale, n = part.split("=")
            out[float(scale)] = int(n)
        except ValueError:
            raise ValueError(f"--seeds-at: {part!r} is not SCALE=N (e.g. 20000=128)") from None
    return out


def agents_and_communes(scenario, scale: float) -> tuple[int, int]:
    """Agents at the start and communes of a run at ``scale`` (the layout a Sim would build, without building it)."""
    plan = layout(Sim._prepare(scenario, scale, 1))
    return int(plan.n_agents), int(plan.geography.n_communes)


def run_scales(data: dict, scales: list[float], seeds: int, seeds_at: dict[float, int], jobs: int) -> pd.DataFrame:
    """One row per run: scale, seed and compare's true excess deaths (persons)."""
    rows = []
    for scale in sorted(set(scales)):
        n = seeds_at.get(scale, seeds)
        outs = run_many([(data, seed) for seed in range(1, n + 1)], scale, jobs)
        failed = [o.seed for o in outs if o.error]
        if failed:
            print(f"scale {scale:g}: seeds {failed} failed", file=sys.stderr)
        rows += [{"scale": scale, "seed": o.seed, "excess_deaths_true": run_metrics(o.tables)["excess_deaths_true"]}
                 for o in outs if not o.error]
        print(f"scale {scale:g}: {n} seeds done", file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def paired_difference(runs: pd.DataFrame, scale: float, finest: float) -> tuple[int, float, float]:
    """Seeds run at both scales, and the mean of their per-seed differences (scale - finest) as a per cent of the
    finest scale's mean over those seeds, with its standard error (nan with fewer than two pairs)."""
    by = runs.pivot_table(index="seed", columns="scale", values="excess_deaths_true")
    both = by[[scale, finest]].dropna()
    d = both[scale] - both[finest]
    base = both[finest].mean()
    se = d.std() / math.sqrt(len(d)) / base * 100 if len(d) > 1 else float("nan")
    return len(d), d.mean() / base * 100, se


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="historical")
    ap.add_argument("--scales", default="200,1000,5000,20000")
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--seeds-at", default="", help="per-scale seed counts, e.g. 20000=128,5000=32")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=None)
    ap.add_argument("--runs", nargs="+", default=None, help="CSV files of earlier runs (--out's) to tabulate")
    args = ap.parse_args(argv)
    scenario = load_scenario(args.scenario)
    data = ending_with(scenario.to_dict())
    try:
        seeds_at = parse_seeds_at(args.seeds_at)
    except ValueError as exc:
        ap.error(str(exc))
    if args.runs:
        runs = pd.concat([pd.read_csv(f) for f in args.runs]).drop_duplicates(["scale", "seed"])
    else:
        runs = run_scales(data, [float(x) for x in args.scales.split(",")], args.seeds, seeds_at, args.jobs)
    if args.out:
        runs.to_csv(args.out, index=False)
    table = runs.groupby("scale").excess_deaths_true.agg(["count", "mean", "std"])
    table["se"] = table["std"] / np.sqrt(table["count"])
    finest = table.index.min()
    print(f"{args.scenario}: true excess deaths 1958-62, millions (difference against scale {finest:g}, paired by seed)")
    print(f"{'scale':>8} {'agents':>9} {'communes':>8} {'seeds':>5} {'mean':>7} {'+-se':>6} {'sd/seed':>8} "
          f"{'pairs':>5} {'diff %':>7} {'+-se %':>7}")
    for scale, r in table.iterrows():
        agents, communes = agents_and_communes(scenario, scale)
        pairs, diff, se = paired_difference(runs, scale, finest) if scale != finest else (int(r["count"]), 0.0, 0.0)
        print(f"{scale:>8g} {agents:>9,} {communes:>8,} {int(r['count']):>5} {r['mean'] / 1e6:>7.2f} "
              f"{r['se'] / 1e6:>6.2f} {r['std'] / 1e6:>8.2f} {pairs:>5} {diff:>+7.1f} {se:>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
