"""The building blocks of the scenario schema: a parameter with its unit, range and source (:func:`P`),
the strict base of every scenario table (:class:`_Section`) and the by-year tables' limits."""
from __future__ import annotations

import math
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

# The years a by-year table may name and the months a run or an event may use (the data cover 1949-1970).
DATA_YEARS = (1949, 1970)
RUN_MONTHS = ("1957-01", "1970-12")
# Allowed values of the by-year tables: (low, high, unit). Weather outside 0.2-2.0 of a normal
# harvest never happened in China 1949-1970 (the worst year, 1960, is put near 0.85-0.95).
BY_YEAR_LIMITS = {"weather": (0.2, 2.0, "harvest factor, 1 = normal"),
                  "summer_weather": (0.2, 2.0, "harvest factor, 1 = normal"),
                  "sown_area": (0.5, 1.5, "share of the 1957 grain sown area"),
                  "chemical_fertiliser": (0.0, 20.0, "Mt of nutrients applied"),
                  "death_completeness": (0.05, 1.0, "share of deaths registered"),
                  "birth_completeness": (0.05, 1.0, "share of births registered")}


def P(default: Any, lo: float | None, hi: float | None, unit: str, source: str) -> Any:
    """A parameter with its allowed range [lo, hi], unit and source (or 'calibrate')."""
    return Field(default, ge=lo, le=hi, description=f"{unit}; {source}",
                 json_schema_extra={"unit": unit, "source": source})


def _kind(annotation: Any) -> tuple[str, bool]:
    """The scalar kind of a field ('bool', 'int', 'float', 'str', 'by_year' or 'other') and whether None is allowed."""
    optional = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else annotation
    if typing.get_origin(annotation) is dict and typing.get_args(annotation) == (int, float):
        return "by_year", optional
    return {bool: "bool", int: "int", float: "float", str: "str"}.get(annotation, "other"), optional


def _by_year(name: str, value: Any) -> dict[int, float]:
    """A table by year: keys are years 1949..1970 (TOML writes them as strings), values finite numbers in range."""
    if not isinstance(value, dict):
        raise PydanticCustomError("by_year_table", "not a table; allowed: a table of year = value")
    lo, hi, unit = BY_YEAR_LIMITS.get(name, (-math.inf, math.inf, ""))
    out = {}
    for key, v in value.items():
        ctx = {"year": key, "value": v}
        year = key if isinstance(key, int) and not isinstance(key, bool) else None
        if isinstance(key, str) and key.strip().isdigit():
            year = int(key)
        if year is None or not DATA_YEARS[0] <= year <= DATA_YEARS[1]:
            raise PydanticCustomError("by_year", "not a year; allowed: years {lo_year} .. {hi_year}",
                                      {**ctx, "lo_year": DATA_YEARS[0], "hi_year": DATA_YEARS[1]})
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise PydanticCustomError("by_year", "not a number; allowed: a number {lo} .. {hi} ({unit})",
                                      {**ctx, "lo": lo, "hi": hi, "unit": unit})
        if not math.isfinite(v) or not lo <= v <= hi:
            what = "not a finite number" if not math.isfinite(v) else "out of range"
            raise PydanticCustomError("by_year", what + "; allowed: {lo} .. {hi} ({unit})",
                                      {**ctx, "lo": lo, "hi": hi, "unit": unit})
        out[year] = float(v)
    return out


class _Section(BaseModel):
    """Base of every scenario table: unknown keys, wrong types, NaN and infinity are refused.

    Types are strict: a boolean must be ``true``/``false`` (not ``"no"``), a number a number
    (not ``"1000"`` or ``true``), an integer an integer (not ``1.5``).
    """
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_types(cls, value: Any, info: ValidationInfo) -> Any:
        kind, optional = _kind(cls.model_fields[info.field_name].annotation)
        if value is None and optional:
            return value
        if kind == "by_year":
            return _by_year(info.field_name, value)
        wrong = {"bool": not isinstance(value, bool),
                 "int": isinstance(value, bool) or not isinstance(value, int),
                 "float": isinstance(value, bool) or not isinstance(value, (int, float)),
                 "str": not isinstance(value, str)}.get(kind, False)
        if wrong:
            allowed = {"bool": "true or false", "int": "an integer", "float": "a number",
                       "str": "a quoted string"}[kind]
            raise PydanticCustomError("strict_type", "wrong type ({got}); allowed: {allowed}",
                                      {"got": type(value).__name__, "allowed": allowed})
        return value
