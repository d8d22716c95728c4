"""The regression baseline: a small pinned run whose every table must stay bit-identical.

A deliberate change of output is re-blessed with ``python scripts/bless_baseline.py "reason"``,
which records the reason in the baseline's history. On a processor whose SIMD features differ
from the blessing machine's, NumPy's array math differs in the last bit and exact digests cannot
match; the yearly national summary must then agree within 2%.
"""
import numpy as np
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bless_module():
    spec = importlib.util.spec_from_file_location("bless_baseline", ROOT / "scripts" / "bless_baseline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pinned_run_matches_the_blessed_baseline():
    baseline = json.loads((ROOT / "tests" / "regression" / "baseline.json").read_text())
    bless = _bless_module()
    assert baseline["run"] == bless.PINNED
    results = bless.pinned_run()
    assert baseline["history"] and all(entry["reason"] for entry in baseline["history"])
    advice = 'if deliberate, run python scripts/bless_baseline.py "reason" and commit the baseline'
    if bless.cpu_features() == baseline["cpu_features"]:
        now = results.digests()
        changed = sorted(k for k in baseline["digests"] if baseline["digests"][k] != now.get(k))
        assert not changed, f"output changed in {changed}; {advice}"
    else:
        for col, values in bless.summary(results).items():
            assert np.allclose(values, baseline["summary"][col], rtol=0.02), f"{col} moved by more than 2%; {advice}"
