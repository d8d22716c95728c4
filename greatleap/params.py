"""The parameter record: every scalar parameter of the scenario schema, one record per member.

Parameters travel as one structured NumPy array of shape (members,), built from the schema of
:mod:`greatleap.parameters`: field ``<section>_<name>`` holds ``scenario.<section>.<name>``
(``mortality_hunger_gamma``). Compiled kernels read ``par[m].mortality_hunger_gamma``;
place-level code reads ``params.mortality.hunger_gamma`` (an array over members).
Tables of values by year (weather, registration completeness) are not scalars: the mechanisms
that use them build their own arrays from the scenarios.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from pydantic import BaseModel

from greatleap.parameters import Scenario

_SKIP_SECTIONS = ("calibration",)


def _scalar_fields() -> list[tuple[str, str, type]]:
    """(section, name, dtype) of every int, float or bool parameter of the schema, in schema order."""
    out = []
    for section, field in Scenario.model_fields.items():
        model = field.annotation
        if section in _SKIP_SECTIONS or not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for name, f in model.model_fields.items():
            if f.annotation is bool:
                out.append((section, name, np.uint8))
            elif f.annotation is int:
                out.append((section, name, np.int64))
            elif f.annotation is float:
                out.append((section, name, np.float64))
    return out


FIELDS = _scalar_fields()
RECORD_DTYPE = np.dtype([(f"{section}_{name}", dtype) for section, name, dtype in FIELDS])


def parameter_record(scenarios: Sequence[Scenario]) -> np.ndarray:
    """One record per member with every scalar parameter (see the module docstring)."""
    rec = np.zeros(len(scenarios), RECORD_DTYPE)
    for m, scen in enumerate(scenarios):
        for section, name, _ in FIELDS:
            rec[m][f"{section}_{name}"] = getattr(getattr(scen, section), name)
    return rec


class _Section:
    def __init__(self, record: np.ndarray, section: str):
        self._record, self._section = record, section

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self._record[f"{self._section}_{name}"]
        except ValueError:
            raise AttributeError(f"no scalar parameter {self._section}.{name}") from None


class Params:
    """``params.agriculture.seed_feed_share`` -> array over members; ``params.record`` for kernels."""

    def __init__(self, scenarios: Sequence[Scenario]):
        self.scenarios = list(scenarios)
        self.record = parameter_record(self.scenarios)

    def __getattr__(self, section: str) -> _Section:
        if section.startswith("_") or section not in Scenario.model_fields:
            raise AttributeError(section)
        return _Section(self.record, section)
