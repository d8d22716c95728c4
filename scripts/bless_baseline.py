"""Re-bless the regression baseline after a deliberate change to the model's output.

Usage: python scripts/bless_baseline.py "why the output changed"

The baseline (tests/regression/baseline.json) holds the digest of every result table of a small
pinned run; tests/test_regression.py fails when any output changes. Re-blessing records the new
digests with the reason, appended to the file's history, so every change of output is explained.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

BASELINE = Path(__file__).resolve().parents[1] / "tests" / "regression" / "baseline.json"
PINNED = {"scenario": "historical", "scale": 50000.0, "seed": 7}


SUMMARY = ("population_end", "births", "deaths", "grain_harvest_mt", "procurement_mt")


def cpu_features() -> list[str]:
    """The SIMD features NumPy dispatches on: array math (exp, pow) differs in the last bit between them."""
    from numpy._core._multiarray_umath import __cpu_features__ as features
    return sorted(k for k, v in features.items() if v and k.startswith(("AVX512", "AVX2", "FMA3")))


def pinned_run():
    from greatleap import Sim, load_scenario
    return Sim(load_scenario(PINNED["scenario"]), scale=PINNED["scale"], seed=PINNED["seed"]).run()


def summary(results) -> dict[str, list[float]]:
    a = results.annual_national
    return {col: [float(v) for v in a[col]] for col in SUMMARY}


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].strip():
        sys.exit('usage: python scripts/bless_baseline.py "why the output changed"')
    old = json.loads(BASELINE.read_text()) if BASELINE.exists() else {"history": []}
    results = pinned_run()
    digests = results.digests()
    changed = sorted(k for k, v in digests.items() if old.get("digests", {}).get(k) != v)
    from greatleap.provenance import git_commit
    old["history"].append({"date": time.strftime("%Y-%m-%d"), "after_commit": git_commit(), "reason": sys.argv[1].strip(),
                           "tables_changed": changed})
    BASELINE.parent.mkdir(parents=True, exist_ok=True)
    BASELINE.write_text(json.dumps({"run": PINNED, "cpu_features": cpu_features(), "digests": digests,
                                    "summary": summary(results), "history": old["history"]}, indent=1) + "\n")
    print(f"blessed {BASELINE}: {len(changed)} table(s) changed: {', '.join(changed) or 'none'}")


if __name__ == "__main__":
    main()
