"""Write the best parameter set of a calibration into the shipped historical scenario.

Usage: python scripts/apply_calibration.py runs/calibration/top.csv
Dotted parameters go into a "calibrated values" block (one table per section); by-year values
(agriculture.weather.YEAR) and event values (lever:NAME@YYYY-MM) are edited in place.
"""
import re
import sys
from pathlib import Path

import pandas as pd

root = Path(__file__).resolve().parents[1]
path = root / "greatleap/scenarios/historical.toml"
top = pd.read_csv(sys.argv[1])
best = top.iloc[0]
text = path.read_text(encoding="utf-8")
marker = "# ---------------------------------------------------------------- calibrated values"
if marker in text:  # replace an earlier block
    start = text.index(marker)
    end = text.index("# ---------------------------------------------------------------- political climate")
    text = text[:start] + text[end:]
tables: dict[str, dict[str, float]] = {}
for key in [c for c in top.columns if c not in ("trial", "score", "passed", "confirm_score", "confirm_passed")]:
    value = float(best[key])
    if key.startswith("lever:"):
        lever, start = key[6:].split("@")
        pattern = re.compile(rf'(lever = "{lever}"\nstart = "{start}"\n(?:end = "[^"]*"\n)?value = )([-0-9.eE]+)')
        text, n = pattern.subn(lambda m: f"{m.group(1)}{value:.4g}", text)
        assert n == 1, key
    elif key.startswith("agriculture.weather."):
        year = key.rsplit(".", 1)[1]
        text, n = re.subn(rf"^{year} = [-0-9.eE]+$", f"{year} = {value:.4g}", text, count=1, flags=re.M)
        assert n == 1, key
    else:
        section, name = key.rsplit(".", 1)
        tables.setdefault(section, {})[name] = value
block = [marker, f"# Calibrated by greatleap calibrate (score {best.score:.3f}, {int(best.passed)} targets passed at",
         "# the search scale); bounds and their literature ranges are under [[calibration.parameters]] below."]
for section, values in tables.items():
    block.append(f"[{section}]")
    block += [f"{name} = {value:.4g}" for name, value in values.items()]
block.append("")
anchor = "# ---------------------------------------------------------------- political climate"
text = text.replace(anchor, "\n".join(block) + "\n" + anchor, 1)
path.write_text(text, encoding="utf-8")
print(f"applied trial {int(best.trial)} (score {best.score:.4f}) to {path}")
