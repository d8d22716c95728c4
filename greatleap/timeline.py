"""Policies as dated events on a timeline -> the value of every policy lever in every month.

A lever has a default (its value before any event) and an allowed range. Events set a lever to
a value from ``start`` to ``end`` (inclusive; no end = to the end of the run); later events in
the scenario file override earlier ones where they overlap, so a counterfactual overlay only
has to append events. An event may name a province (``where = "Sichuan"``): it then moves the
lever in that province only; without ``where`` it moves it everywhere. National levers (set by
the centre: ``LEVERS[name].scope == "national"``) take no ``where``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from greatleap.levers import LEVER_INDEX, LEVER_NAMES, LEVERS, parse_month

if TYPE_CHECKING:
    from greatleap.parameters import Scenario


def lever_matrix(scenario: "Scenario", provinces: list[str] | None = None) -> np.ndarray:
    """Value of every lever in every simulated month and province: (months, levers, provinces).

    ``provinces``: their names in order (default: the units of ``data/provinces_1958.csv``).
    """
    if provinces is None:
        from greatleap.data import provinces as shipped
        provinces = list(shipped().province)
    start, end = parse_month(scenario.run.start), parse_month(scenario.run.end)
    n = end - start + 1
    out = np.empty((n, len(LEVER_NAMES), len(provinces)))
    for j, name in enumerate(LEVER_NAMES):
        out[:, j, :] = LEVERS[name].default
    for ev in scenario.events:
        s = max(parse_month(ev.start), start) - start
        e = (min(parse_month(ev.end), end) if ev.end is not None else end) - start
        if e >= s:
            where = slice(None) if ev.where is None else provinces.index(ev.where)
            out[s:e + 1, LEVER_INDEX[ev.lever], where] = ev.value
    return out
