"""Write the best parameter set of a calibration into the shipped historical scenario.

Usage: python scripts/apply_calibration.py runs/calibration/top.csv
Dotted parameters go into the "calibrated values" block (one table per section), merged with the
values already there, so a fit of some parameters keeps the others; by-year values
(agriculture.weather.YEAR, agriculture.summer_weather.YEAR) and event values (lever:NAME@YYYY-MM)
are edited in place.
"""
import re
import sys
from pathlib import Path

import pandas as pd

root = Path(__file__).resolve().parents[1]
path = root / "greatleap/scenarios/historical.toml"
MARKER = "# ---------------------------------------------------------------- calibrated values"
ANCHOR = "# ---------------------------------------------------------------- political climate"
BY_YEAR = ("agriculture.weather.", "agriculture.summer_weather.")


def old_block(text: str) -> dict[str, dict[str, str]]:
    """The values of the existing calibrated block, by section (as written)."""
    tables: dict[str, dict[str, str]] = {}
    if MARKER not in text:
        return tables
    section = None
    for line in text[text.index(MARKER):text.index(ANCHOR)].splitlines():
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section and "=" in line and not line.startswith("#"):
            name, value = (part.strip() for part in line.split("=", 1))
            tables.setdefault(section, {})[name] = value
    return tables


def set_by_year(text: str, table: str, year: str, value: float) -> str:
    """Set ``year = value`` inside the ``[table]`` of the scenario (the line must exist)."""
    head = text.index(f"[{table}]\n")
    end = text.find("\n[", head + 1)
    body = text[head:end]
    new, n = re.subn(rf"^{year} = [-0-9.eE]+$", f"{year} = {value:.4g}", body, count=1, flags=re.M)
    assert n == 1, f"{table}.{year}"
    return text[:head] + new + text[end:]


def main(top_csv: str) -> None:
    top = pd.read_csv(top_csv)
    best = top.iloc[0]
    text = path.read_text(encoding="utf-8")
    tables = old_block(text)
    if MARKER in text:
        text = text[:text.index(MARKER)] + text[text.index(ANCHOR):]
    for key in [c for c in top.columns if c not in ("trial", "score", "passed", "confirm_score", "confirm_passed")]:
        value = float(best[key])
        if key.startswith("lever:"):
            lever, start = key[6:].split("@")
            pattern = re.compile(rf'(lever = "{lever}"\nstart = "{start}"\n(?:end = "[^"]*"\n)?value = )([-0-9.eE]+)')
            text, n = pattern.subn(lambda m, v=value: f"{m.group(1)}{v:.4g}", text)
            assert n == 1, key
        elif key.startswith(BY_YEAR):
            table, year = key.rsplit(".", 1)
            text = set_by_year(text, table, year, value)
        else:
            section, name = key.rsplit(".", 1)
            tables.setdefault(section, {})[name] = f"{value:.4g}"
    block = [MARKER, f"# Calibrated by greatleap calibrate (last fit: score {best.score:.3f}, {int(best.passed)} targets passed",
             "# at the search scale); bounds and their literature ranges are under [[calibration.parameters]] below."]
    for section, values in tables.items():
        block.append(f"[{section}]")
        block += [f"{name} = {value}" for name, value in values.items()]
    block.append("")
    text = text.replace(ANCHOR, "\n".join(block) + "\n" + ANCHOR, 1)
    path.write_text(text, encoding="utf-8")
    print(f"applied trial {int(best.trial)} (score {best.score:.4f}) to {path}")


if __name__ == "__main__":
    main(sys.argv[1])
