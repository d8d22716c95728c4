"""Compute backends. ``get_backend("cpu")`` returns the module of compiled CPU loops.

A backend exposes ``census``, ``live``, ``finish_month`` and ``give_births``: loops over people,
reductions and slot allocation around the person-level rules of :mod:`greatleap.lifecycle`,
which every backend compiles from the same source. It holds no model rule of its own.
"""
from __future__ import annotations

from types import ModuleType

BACKENDS = ("cpu",)


def get_backend(name: str = "cpu") -> ModuleType:
    if name == "cpu":
        from greatleap.kernels import cpu
        return cpu
    raise ValueError(f"backend {name!r} is not available; allowed: {', '.join(BACKENDS)}")
