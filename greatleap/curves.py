"""Lookup tables of smooth functions of a 0..1 argument (work capacity, famine amenorrhoea).

Tabulating once per run replaces a ``pow`` per person per month by a linear interpolation.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from greatleap.rules import rule

TABLE_SIZE = 1024  # resolution: TABLE_SIZE + 1 points on [0, 1]


def tabulate(fn: Callable[[float], float]) -> np.ndarray:
    """``fn`` on [0, 1] at TABLE_SIZE + 1 points, for :func:`interpolate`."""
    return np.array([fn(k / TABLE_SIZE) for k in range(TABLE_SIZE + 1)], dtype=np.float64)


@rule
def interpolate(tables, row, x):
    """Linear interpolation in row ``row`` of tables made by :func:`tabulate` (one per member);
    x is clipped to [0, 1]. (The row is an index, not a slice: a slice per person would cost a
    reference count in the compiled loops.)"""
    x = min(1.0, max(0.0, x)) * TABLE_SIZE
    k = min(int(x), TABLE_SIZE - 1)
    return tables[row, k] + (x - k) * (tables[row, k + 1] - tables[row, k])
