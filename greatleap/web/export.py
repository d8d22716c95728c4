"""Take-aways: the page's scenario as a TOML overlay (loadable by ``greatleap run FILE``) and a
run's tables as a zip of CSV or Parquet files."""
from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from greatleap.web.levers import preset_dict


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"cannot write {v!r} to TOML")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise ValueError(f"cannot write {type(v).__name__} to TOML")


def _key(k: Any) -> str:
    k = str(k)
    return k if k.replace("_", "").replace("-", "").isalnum() and k.isascii() else json.dumps(k)


def scenario_toml(preset: str, levers: dict[str, Any], data: dict) -> str:
    """An overlay of ``preset``: the parameters the levers changed and the events they appended."""
    base = preset_dict(preset)
    lines = [f"# greatleap explorer: the preset {preset!r} with these levers moved:"]
    lines += [f"#   {name} = {value}" for name, value in levers.items()] or ["#   (none)"]
    lines += ["# Run it with: greatleap run THIS_FILE", f"extends = {_value(preset)}",
              f"name = {_value(data['name'])}", f"description = {_value(data.get('description', ''))}"]
    for section, values in data.items():
        if not isinstance(values, dict) or section == "calibration":
            continue
        changed = {k: v for k, v in values.items() if base.get(section, {}).get(k) != v}
        if changed:
            lines.append(f"\n[{section}]")
            lines += [f"{_key(k)} = {_value(v)}" for k, v in changed.items()]
    for ev in data["events"][len(base["events"]):]:
        lines.append("\n[[events]]")
        lines += [f"{k} = {_value(v)}" for k, v in ev.items() if v is not None]
    return "\n".join(lines) + "\n"


def tables_zip(folder: Path, fmt: str) -> bytes:
    """Every table of a cached run folder as CSV or Parquet files in a zip (in memory)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.glob("*.parquet")):
            if fmt == "parquet":
                z.write(path, path.name)
            else:
                z.writestr(f"{path.stem}.csv", pd.read_parquet(path).to_csv(index=False))
        z.write(folder / "payload.json", "summary.json")
    return buf.getvalue()
