"""Compute backends. ``get_backend("cpu")`` returns the module of compiled CPU kernels.

A backend exposes: uniform_array, normal_array, labor_and_census, person_month,
finish_month, give_births, and the stream, activity and status constants. A GPU backend
(CuPy raw kernels) would be a sibling module with the same names.
"""
from __future__ import annotations

from types import ModuleType

BACKENDS = ("cpu",)


def get_backend(name: str = "cpu") -> ModuleType:
    if name == "cpu":
        from greatleap.kernels import cpu
        return cpu
    raise ValueError(f"backend {name!r} is not available; allowed: {', '.join(BACKENDS)}")
