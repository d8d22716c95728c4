"""Write the best parameter set of a calibration into the shipped historical scenario.

Usage: python scripts/apply_calibration.py runs/calibration/top.csv [SCENARIO.toml]
(default: the shipped historical scenario)
Dotted parameters go into the "calibrated values" block (one table per section), merged with the
values already there, so a fit of some parameters keeps the others; by-year values
(agriculture.weather.YEAR, agriculture.summer_weather.YEAR, any TABLE.YEAR) and event values
(lever:NAME@YYYY-MM) are edited in place.
"""
import re
import sys
from pathlib import Path

import pandas as pd

root = Path(__file__).resolve().parents[1]
HISTORICAL = root / "greatleap/scenarios/historical.toml"
MARKER = "# ---------------------------------------------------------------- calibrated values"
ANCHOR = "# ---------------------------------------------------------------- political climate"


def old_block(text: str) -> dict[str, dict[str, str]]:
    """The values of the existing calibrated block, by section (as written)."""
    tables: dict[str, dict[str, str]] = {}
    if MARKER not in text:
        return tables
    section = None
    for line in text[text.index(MARKER):text.index(ANCHOR)].splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section and "=" in line:
            name, value = (part.strip() for part in line.split("=", 1))
            tables.setdefault(section, {})[name] = value
    return tables


def set_by_year(text: str, table: str, year: str, value: float, where: Path = HISTORICAL) -> str:
    """Set ``year = value`` inside the ``[table]`` of the scenario (the line must exist)."""
    found = re.search(rf"^\[{re.escape(table)}\][ \t]*(#.*)?$", text, flags=re.M)
    if found is None:
        raise SystemExit(f"no [{table}] table in {where}")
    head = found.start()
    end = text.find("\n[", head + 1)
    end = len(text) if end < 0 else end
    new, n = re.subn(rf"^{year} = [-0-9.eE]+$", f"{year} = {value:.4g}", text[head:end], count=1, flags=re.M)
    if n != 1:
        raise SystemExit(f"no line '{year} = ...' in [{table}] of {where}: add it before applying")
    return text[:head] + new + text[end:]


def main(top_csv: str, scenario: Path = HISTORICAL) -> None:
    top = pd.read_csv(top_csv)
    best = top.iloc[0]
    text = scenario.read_text(encoding="utf-8")
    if ANCHOR not in text:
        raise SystemExit(f"{scenario}: the line {ANCHOR!r} that the calibrated block goes before is missing")
    tables = old_block(text)
    if MARKER in text:
        text = text[:text.index(MARKER)] + text[text.index(ANCHOR):]
    for key in [c for c in top.columns if c not in ("trial", "score", "passed", "confirm_score", "confirm_passed")]:
        value = float(best[key])
        if key.startswith("lever:"):
            lever, start = key[6:].split("@")
            pattern = re.compile(rf'(lever = "{lever}"\nstart = "{start}"\n(?:end = "[^"]*"\n)?value = )([-0-9.eE]+)')
            text, n = pattern.subn(lambda m, v=value: f"{m.group(1)}{v:.4g}", text)
            if n != 1:
                raise SystemExit(f"{key}: no single event of that lever starting then in {scenario}")
        elif key.rsplit(".", 1)[1].isdigit():  # a year of a by-year table (weather, summer_weather, ...)
            table, year = key.rsplit(".", 1)
            text = set_by_year(text, table, year, value, scenario)
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
    scenario.write_text(text, encoding="utf-8")
    print(f"applied trial {int(best.trial)} (score {best.score:.4f}) to {scenario}")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]) if len(sys.argv) > 2 else HISTORICAL)
