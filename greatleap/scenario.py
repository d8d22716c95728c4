"""Scenario files: TOML loading, overlays (``extends = "historical"``) and clear errors for bad input.

The schema (every parameter with unit, allowed range and source) is :mod:`greatleap.parameters`.
An overlay resolves the same way from a file and from a Python dict: the base is loaded, the
overlay's tables are merged into it and its events appended (or, with ``replace_events = true``,
substituted). A resolved scenario has ``extends = None``.

``extends`` may name a built-in scenario or a TOML file inside an allowed folder: the folder of
the scenario file being loaded, the working directory, or a folder listed in the environment
variable ``GREATLEAP_SCENARIO_PATH`` (``os.pathsep``-separated). A dict given to
:func:`validate_scenario` may extend only built-ins, listed folders and its ``base_dir``.
"""
from __future__ import annotations

import copy
import os
import re
import tomllib
import typing
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from greatleap.levers import parse_month
from greatleap.parameters import Event, Scenario

BUILTIN = resources.files("greatleap") / "scenarios"
ROOTS_ENV = "GREATLEAP_SCENARIO_PATH"
MAX_BYTES = 5_000_000  # a scenario or targets file larger than this is not a scenario


class ScenarioError(ValueError):
    """A scenario (or CLI argument) is invalid. The message names key, value and what is allowed."""


class ScenarioWarning(UserWarning):
    """A scenario is valid but part of it has no effect (e.g. events after the run's end)."""


def builtin_names() -> list[str]:
    return sorted(p.name[:-5] for p in BUILTIN.iterdir() if p.name.endswith(".toml"))


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr`` of a value, cut to ``limit`` characters; tables shown as {key=value, ...}."""
    if isinstance(value, dict):
        text = "{" + ", ".join(f"{k}={v!r}" for k, v in value.items()) + "}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ------------------------------------------------------------------ reading TOML safely
def read_text(path: Path, label: str, error: type[Exception] = ScenarioError) -> str:
    """The text of a user file: UTF-8 (a byte-order mark is accepted), not binary, not huge."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise error(f"{label}: {size:,} bytes; allowed: a text file up to {MAX_BYTES:,} bytes")
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"{label}: cannot read ({exc.strerror or exc}); allowed: a readable file") from None
    return decode_text(raw, label, error)


def decode_text(raw: bytes, label: str, error: type[Exception] = ScenarioError) -> str:
    nul = raw.find(b"\0")
    if nul >= 0:
        raise error(f"{label}: binary data (NUL byte at position {nul}); allowed: a UTF-8 text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{label}: not UTF-8 text (byte {raw[exc.start]:#04x} at position {exc.start}); "
                    f"allowed: a UTF-8 text file") from None


def parse_toml(text: str, label: str, error: type[Exception] = ScenarioError) -> dict[str, Any]:
    """Parse TOML; a syntax error names the line and its text, a duplicate key says so."""
    text = text.removeprefix("\ufeff")
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise error(f"{label}: malformed TOML: nested too deeply; allowed: tables and arrays nested a few levels") from None
    except tomllib.TOMLDecodeError as exc:
        reason = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", reason)
        where = ""
        if m:
            lines = text.splitlines()
            n = int(m.group(1))
            line = lines[n - 1].strip() if 0 < n <= len(lines) else ""
            where = f" at line {n}: {short_repr(line, 60)}"
            reason = reason[:m.start()].strip()
        if "overwrite" in reason or "twice" in reason:
            raise error(f"{label}: malformed TOML: key or table defined twice{where}; allowed: each key once") from None
        raise error(f"{label}: malformed TOML{where}: {reason}; allowed: TOML (key = value, [table], [[events]])") from None


# ------------------------------------------------------------------ overlays
def allowed_roots(*extra: str | Path) -> list[Path]:
    """Folders an ``extends`` may read from: the built-ins, ``GREATLEAP_SCENARIO_PATH``, and ``extra``."""
    roots = [Path(str(BUILTIN)).resolve()]
    roots += [Path(p).resolve() for p in os.environ.get(ROOTS_ENV, "").split(os.pathsep) if p]
    roots += [Path(p).resolve() for p in extra]
    return roots


def _read_source(source: Any, *, base_dir: Path | None, roots: list[Path] | None, label: str,
                 ) -> tuple[dict[str, Any], str, Path | None]:
    """(data, label, path) of a built-in name or a TOML file; ``roots`` confines files (None: any)."""
    if isinstance(source, str) and source in builtin_names():
        return parse_toml((BUILTIN / f"{source}.toml").read_text(encoding="utf-8"), source), source, None
    allowed = f"a built-in name ({', '.join(builtin_names())}) or a TOML path"
    if not isinstance(source, (str, Path)) or not str(source).strip():
        raise ScenarioError(f"{label}: extends = {short_repr(source)}; allowed: {allowed}")
    path = Path(source)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    if roots is not None and not any(path.resolve().is_relative_to(r) for r in roots):
        raise ScenarioError(f"{label}: extends = {short_repr(str(source))}: outside the folders a scenario may read; "
                            f"allowed: {allowed} inside {', '.join(str(r) for r in roots[1:]) or 'no folder'} "
                            f"(add folders to ${ROOTS_ENV})")
    if not path.is_file():
        what = "scenario" if roots is None else f"{label}: extends ="
        raise ScenarioError(f"{what} {short_repr(str(source))}: no such file and not a built-in scenario; allowed: {allowed}")
    text = read_text(path, f"scenario {path}")
    return parse_toml(text, f"scenario {path}"), str(path), path


def _merge(base: dict[str, Any], over: dict[str, Any], label: str) -> dict[str, Any]:
    replace = over.get("replace_events", False)
    if not isinstance(replace, bool):
        raise ScenarioError(f"{label}: replace_events = {short_repr(replace)}: wrong type; allowed: true or false")
    if "events" in over and not isinstance(over["events"], list):
        raise ScenarioError(f"{label}: events = {short_repr(over['events'])}: not a list; allowed: [[events]] tables")
    out = copy.deepcopy(base)
    for key, value in over.items():
        if key == "events":
            out["events"] = list(value) if replace else list(out.get("events", [])) + list(value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, label)
        elif key != "replace_events":
            out[key] = value
    if replace and "events" not in over:
        out["events"] = []
    out.pop("replace_events", None)
    return out


def _resolve(data: dict[str, Any], label: str, base_dir: Path | None, roots: list[Path],
             seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """Merge ``data`` onto the chain of scenarios it extends; the result has ``extends = None``."""
    if "extends" not in data or data["extends"] is None:
        if "replace_events" in data and not seen:
            _merge({}, data, label)  # type-checks replace_events
        return {k: v for k, v in data.items() if k != "replace_events"}
    if len(seen) >= 8:
        raise ScenarioError(f"{label}: 'extends' chain deeper than 8; allowed: a short chain without cycles")
    parent = data["extends"]
    base, parent_label, path = _read_source(parent, base_dir=base_dir, roots=roots, label=label)
    ident = str(path.resolve()) if path is not None else f"builtin:{parent_label}"
    if ident in seen:
        raise ScenarioError(f"{label}: extends = {short_repr(parent)} makes a cycle; allowed: a chain without cycles")
    if not base:
        raise ScenarioError(f"scenario {parent_label}: empty file; allowed: a scenario with at least one key")
    base = _resolve(base, f"scenario {parent_label}", path.parent if path else None, roots, seen + (ident,))
    merged = _merge(base, data, label)
    merged["extends"] = None
    return merged


# ------------------------------------------------------------------ validation messages
def _locate(loc: tuple[Any, ...]) -> tuple[Any, Any]:
    """(model, field) at ``loc`` in the schema: the field's info, or the model for an unknown key."""
    cls: Any = Scenario
    field = None
    for part in loc:
        if isinstance(part, int) and field is not None:
            continue  # an index in a list of tables: stay on the item's model
        if cls is None or not hasattr(cls, "model_fields"):
            return None, field
        field = cls.model_fields.get(part)
        if field is None:
            return cls, None
        ann = field.annotation
        item = typing.get_args(ann)[0] if typing.get_origin(ann) is list else ann
        cls = item if isinstance(item, type) and issubclass(item, BaseModel) else None
    return cls, field


def _allowed(loc: tuple[Any, ...]) -> str:
    """The allowed values (range and unit) of the scalar field at ``loc``; '' for tables and lists."""
    cls, field = _locate(loc)
    if field is None or not loc or isinstance(loc[-1], int):
        return ""
    if cls is not None:  # the key holds a table or a list of tables
        name = ".".join(str(p) for p in loc)
        return f"allowed: [[{name}]] tables" if typing.get_origin(field.annotation) is list else f"allowed: a [{name}] table"
    lo = hi = None
    for m in field.metadata:
        lo = getattr(m, "ge", lo)
        hi = getattr(m, "le", hi)
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    parts = [f"allowed: {lo} .. {hi}"] if lo is not None or hi is not None else ["allowed: a finite number"] \
        if field.annotation in (float, int) else []
    if extra.get("unit"):
        parts.append(f"unit: {extra['unit']}")
    return "; ".join(parts)


def format_validation_error(exc: ValidationError, label: str, inherited_events: int = 0) -> str:
    """One line per invalid value: scenario, key, value, what is wrong and what is allowed.

    Events are numbered as in the file: the first ``inherited_events`` came from ``extends``."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        if len(loc) > 1 and loc[0] == "events" and isinstance(loc[1], int) and inherited_events:
            k = loc[1] - inherited_events
            head = f"events.{k}" if k >= 0 else f"events.{loc[1]} (inherited through extends)"
            key = ".".join([head] + [str(p) for p in loc[2:]])
        value = err.get("input")
        ctx = err.get("ctx") or {}
        if err["type"] == "by_year":
            key, value = f"{key}.{ctx['year']}", ctx["value"]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            parent, _ = _locate(loc[:-1]) if len(loc) > 1 else (Scenario, None)
            keys = ", ".join(sorted(getattr(parent, "model_fields", {}))) or "none"
            lines.append(f"scenario {label}: {key} = {short_repr(value)}: unknown key; allowed keys: {keys}")
            continue
        if err["type"] == "finite_number":
            msg = "not a finite number"
        if err["type"] == "missing":
            _, field = _locate(loc)
            kind = {float: "a number", int: "an integer", bool: "true or false", str: "a quoted string"}.get(
                getattr(field, "annotation", None), "a value")
            lines.append(f"scenario {label}: {key} is missing; allowed: {kind} (required)")
            continue
        allowed = _allowed(loc) if "allowed" not in msg or err["type"] == "strict_type" else ""
        lines.append(f"scenario {label}: {key} = {short_repr(value)}: {msg}" + (f" ({allowed})" if allowed else ""))
    return "\n".join(lines)


# ------------------------------------------------------------------ public API
def load_scenario(source: str | Path = "historical", **overrides: Any) -> Scenario:
    """Load and validate a scenario: a built-in name (``"historical"``) or a TOML path.

    ``overrides`` are dotted keys, e.g. ``load_scenario("historical", **{"run.scale": 5000})``.
    Raises :class:`ScenarioError` naming the key, the value and what is allowed; warns
    (:class:`ScenarioWarning`) when the file's own events start after the run's end.
    """
    try:
        data, label, path = _read_source(source, base_dir=None, roots=None, label="scenario")
        if not data:
            raise ScenarioError(f"scenario {label}: empty file (no keys); allowed: a scenario, e.g. "
                                f"extends = \"historical\" and the values to change")
        own_list = data.get("events") if isinstance(data.get("events"), list) else []
        own_events = [ev for ev in own_list if isinstance(ev, dict)] if path is not None else []
        extra = (path.parent, Path.cwd()) if path is not None else ()
        data = _resolve(data, f"scenario {label}", path.parent if path else None, allowed_roots(*extra))
        for dotted, value in overrides.items():
            node = data
            *head, last = dotted.split(".")
            for part in head:
                if not isinstance(node.setdefault(part, {}), dict):
                    raise ScenarioError(f"override {dotted} = {short_repr(value)}: {part!r} is not a table")
                node = node[part]
            node[last] = value
        scen = _validate(data, label, _inherited(data, own_list))
    except RecursionError:
        raise ScenarioError(f"scenario {source}: nested too deeply; allowed: tables nested a few levels") from None
    late = [ev for ev in own_events if _month_or_none(ev.get("start")) is not None
            and _month_or_none(ev.get("start")) > parse_month(scen.run.end)]
    if late:
        warnings.warn(f"scenario {label}: {len(late)} event(s) start after run.end {scen.run.end} and have no effect "
                      f"(first: {late[0].get('lever')} {late[0].get('start')})", ScenarioWarning, stacklevel=2)
    return scen


def _month_or_none(text: Any) -> int | None:
    try:
        return parse_month(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _inherited(data: dict[str, Any], own: list) -> int:
    """How many of the resolved events came from ``extends`` (they precede the file's own)."""
    events = data.get("events")
    return max(len(events) - len(own), 0) if isinstance(events, list) else 0


def _validate(data: dict[str, Any], label: str, inherited_events: int = 0) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, label, inherited_events)) from None


def validate_scenario(data: dict[str, Any], label: str = "<dict>", base_dir: str | Path | None = None) -> Scenario:
    """Validate a scenario given as a dict; ``extends`` is resolved exactly as in a file.

    A relative ``extends`` path is read from ``base_dir`` (which then becomes an allowed folder);
    without it a dict may extend only built-ins and folders in ``GREATLEAP_SCENARIO_PATH``.
    """
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario {label}: {short_repr(data)}; allowed: a table of scenario keys")
    try:
        own = data.get("events") if isinstance(data.get("events"), list) else []
        if data.get("extends") is not None or "replace_events" in data:
            base = Path(base_dir) if base_dir is not None else None
            data = _resolve(data, f"scenario {label}", base, allowed_roots(*([base] if base else [])))
        return _validate(data, label, _inherited(data, own))
    except RecursionError:
        raise ScenarioError(f"scenario {label}: nested too deeply; allowed: tables nested a few levels") from None


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


__all__ = ["Event", "Scenario", "ScenarioError", "ScenarioWarning", "builtin_names", "load_scenario",
           "validate_scenario", "parameter_table", "format_validation_error"]
