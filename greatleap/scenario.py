"""Scenario files: TOML loading, overlays (``extends = "historical"``) and clear errors for bad input.

The schema (every parameter with unit, allowed range and source) is :mod:`greatleap.parameters`.
"""
from __future__ import annotations

import copy
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from greatleap.parameters import Event, Scenario


class ScenarioError(ValueError):
    """A scenario (or CLI argument) is invalid. The message names key, value and what is allowed."""


BUILTIN = resources.files("greatleap") / "scenarios"


def builtin_names() -> list[str]:
    return sorted(p.name[:-5] for p in BUILTIN.iterdir() if p.name.endswith(".toml"))


def _read_toml(source: str | Path) -> tuple[dict[str, Any], str]:
    """Read a built-in scenario by name or a TOML file by path; return (dict, label)."""
    text: str
    if isinstance(source, str) and source in builtin_names():
        text, label = (BUILTIN / f"{source}.toml").read_text(encoding="utf-8"), source
    else:
        path = Path(source)
        if not path.is_file():
            raise ScenarioError(f"scenario {str(source)!r}: no such file and not a built-in scenario; "
                                f"allowed: a TOML path or one of {builtin_names()}")
        text, label = path.read_text(encoding="utf-8"), str(path)
    try:
        return tomllib.loads(text), label
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario {label}: malformed TOML: {exc}") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if key == "events":
            replace = over.get("replace_events", False)
            out["events"] = list(value) if replace else list(out.get("events", [])) + list(value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    out.pop("replace_events", None)
    return out


def _resolve(source: str | Path, depth: int = 0) -> tuple[dict[str, Any], str]:
    if depth > 8:
        raise ScenarioError(f"scenario {source!r}: 'extends' chain deeper than 8; allowed: a short chain without cycles")
    data, label = _read_toml(source)
    parent = data.get("extends")
    if parent is not None:
        if not isinstance(parent, str):
            raise ScenarioError(f"scenario {label}: extends = {parent!r}; allowed: a built-in name or a TOML path")
        if parent not in builtin_names():
            sibling = Path(label).parent / parent  # a relative path is relative to the child file
            parent = str(sibling) if sibling.is_file() else parent
        base, _ = _resolve(parent, depth + 1)
        data = _merge(base, data)
        data["extends"] = parent
    return data, label


def _allowed(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """Describe the allowed values of the field at ``loc`` (range and unit) from the schema."""
    cls: Any = model
    field = None
    for part in loc:
        if isinstance(part, int) or cls is None or not hasattr(cls, "model_fields"):
            cls = Event if part == "events" or cls is Event else None
            continue
        field = cls.model_fields.get(part)
        if field is None:
            return f"allowed keys: {', '.join(sorted(cls.model_fields))}"
        ann = field.annotation
        cls = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else (Event if part == "events" else None)
    if field is None:
        return ""
    lo = hi = None
    for m in field.metadata:
        lo = getattr(m, "ge", lo)
        hi = getattr(m, "le", hi)
    unit = (field.json_schema_extra or {}).get("unit", "") if isinstance(field.json_schema_extra, dict) else ""
    parts = []
    if lo is not None or hi is not None:
        parts.append(f"allowed: {lo} .. {hi}")
    if unit:
        parts.append(f"unit: {unit}")
    if field.annotation is not None and not parts:
        parts.append(f"allowed type: {getattr(field.annotation, '__name__', field.annotation)}")
    return "; ".join(parts)


def format_validation_error(exc: ValidationError, label: str) -> str:
    lines = [f"scenario {label}: {exc.error_count()} invalid value(s)"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        value = err.get("input")
        value_txt = repr(value) if not isinstance(value, dict) else "{...}"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            parent = _allowed(Scenario, loc[:-1] + ("__none__",)) if len(loc) > 1 else \
                f"allowed keys: {', '.join(sorted(Scenario.model_fields))}"
            lines.append(f"  {key} = {value_txt}: unknown key; {parent}")
        else:
            allowed = _allowed(Scenario, loc)
            lines.append(f"  {key} = {value_txt}: {msg}" + (f" ({allowed})" if allowed else ""))
    return "\n".join(lines)


def load_scenario(source: str | Path = "historical", **overrides: Any) -> Scenario:
    """Load and validate a scenario: a built-in name (``"historical"``) or a TOML path.

    ``overrides`` are dotted keys, e.g. ``load_scenario("historical", **{"run.scale": 5000})``.
    Raises :class:`ScenarioError` naming the key, the value and what is allowed.
    """
    data, label = _resolve(source)
    for dotted, value in overrides.items():
        node = data
        *head, last = dotted.split(".")
        for part in head:
            node = node.setdefault(part, {})
        node[last] = value
    return validate_scenario(data, label)


def validate_scenario(data: dict[str, Any], label: str = "<dict>") -> Scenario:
    try:
        scen = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, label)) from None
    return scen


def parameter_table(scenario: Scenario) -> list[dict[str, Any]]:
    """Every scalar parameter of a scenario: key, value, unit, allowed range and source."""
    rows = []
    for section, field in Scenario.model_fields.items():
        model = field.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or section == "calibration":
            continue
        values = getattr(scenario, section)
        for name, f in model.model_fields.items():
            extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
            lo = next((m.ge for m in f.metadata if getattr(m, "ge", None) is not None), None)
            hi = next((m.le for m in f.metadata if getattr(m, "le", None) is not None), None)
            rows.append({"key": f"{section}.{name}", "value": getattr(values, name), "unit": extra.get("unit", ""),
                         "allowed": "" if lo is None and hi is None else f"{lo} .. {hi}",
                         "source": extra.get("source", f.description or "")})
    return rows
