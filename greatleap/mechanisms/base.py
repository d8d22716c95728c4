"""The life cycle every mechanism follows, the month it acts in, and the series it declares.

A mechanism is a family of rules with a fixed life cycle:

- ``init(sim)``: register the columns it owns in the world's frames and build its tables from
  the scenario parameters (``sim.params``, ``sim.scenarios``, ``sim.geo``, ``sim.world``);
- one method per *phase* it acts in (listed in ``phases``), each called as
  ``method(world, month)``; the month's plan is every registered mechanism's phases, in the
  order of ``PHASES`` and, within a phase, of registration (``greatleap plan`` prints it);
- ``series()``: what it reports each month (name, unit, meaning, how to read it from the world);
  the recorder stores them and the result tables are built from them;
- ``accounts``: the grain flows it moves (the grain ledger checks their balance).

Person-level rules live in the mechanism's module as plain functions marked ``@rule``; the
person passes of the engine apply them to every person.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from greatleap.levers import LEVER_INDEX, month_label

PHASES = (
    ("prepare", "the month's settings from the levers"),
    ("census", "activities, moves, and counts of people, labor and needs per place"),
    ("produce", "field labor, harvests, steel"),
    ("report", "plans in January; reports and the centre's belief at harvests"),
    ("procure", "state procurement at harvests"),
    ("supply", "state grain: urban supply, trade, other use, relief"),
    ("distribute", "grain drawn and shared within places; storage"),
    ("hazards", "the month's pressures and probabilities for the person pass"),
    ("live", "every person's month: eating, reserve, death, pregnancy, flight, ageing"),
    ("births", "the dead leave, newborns take free slots"),
    ("account", "books: registration, postponed births, year-end, ledgers, records"),
)
PHASE_NAMES = tuple(name for name, _ in PHASES)


@dataclass(frozen=True)
class Month:
    """The month being simulated: ``t`` steps since the start; ``levers`` (members, levers, provinces)."""
    t: int
    index: int
    levers: np.ndarray
    last: bool

    @property
    def year(self) -> int:
        return self.index // 12

    @property
    def month(self) -> int:
        return self.index % 12 + 1

    @property
    def label(self) -> str:
        return month_label(self.index)

    def lever(self, name: str) -> np.ndarray:
        """The lever's value by member and province (members, provinces)."""
        return self.levers[:, LEVER_INDEX[name], :]

    def national(self, name: str) -> np.ndarray:
        """A national lever's value by member (members,)."""
        return self.levers[:, LEVER_INDEX[name], 0]


@dataclass(frozen=True)
class Series:
    """A monthly series a mechanism reports.

    ``level`` is ``national`` (``read`` returns (members,)) or ``province_sector`` (``read``
    returns per-place values (members, places), summed by province and sector). ``per_agent``
    series are counts of agents, multiplied by the persons per agent when recorded.
    """
    name: str
    unit: str
    meaning: str
    level: str
    read: Callable
    per_agent: bool = False


class Mechanism:
    """Base class: see the module docstring for the life cycle."""
    name: str = ""
    phases: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()

    def init(self, sim) -> None:
        """Register columns and build tables (called once, before the first month)."""

    def series(self) -> list[Series]:
        return []

    def describe(self, phase: str) -> str:
        """One line for the plan: the first line of the phase method's docstring."""
        doc = (getattr(type(self), phase).__doc__ or "").strip().splitlines()
        return doc[0] if doc else ""


def per_member(values: np.ndarray) -> np.ndarray:
    """Reshape an array over members (members,) to broadcast over a place axis (members, 1)."""
    return np.asarray(values)[:, None]


def by_province(values: np.ndarray, province: np.ndarray, n_provinces: int) -> np.ndarray:
    """Sum per-place values (members, places) into (members, provinces) by each place's province."""
    members = values.shape[0]
    keys = (np.arange(members)[:, None] * n_provinces + province[None, :]).ravel()
    return np.bincount(keys, values.ravel(), minlength=members * n_provinces).reshape(members, n_provinces)


def scalar_pow(base: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """``base ** exponent`` element by element with Python's (libm's) pow, the exponent by member.

    Used for per-member and per-province values (a few dozen numbers): results are then
    bit-identical to scalar arithmetic, whichever way the members are batched. ``base`` has a
    leading member axis; ``exponent`` is (members,).
    """
    base = np.asarray(base, dtype=float)
    out = np.empty_like(base)
    for m, e in enumerate(np.asarray(exponent, dtype=float).tolist()):
        row = base[m]
        out[m] = np.reshape([b ** e for b in row.ravel().tolist()], row.shape) if row.ndim else row.tolist() ** e
    return out


def uniform_or_mean(values: np.ndarray) -> np.ndarray:
    """A national summary of per-province values (members, provinces): the common value when every
    province shares it (exactly), else the mean."""
    first = values[:, :1]
    return np.where((values == first).all(axis=1), values[:, 0], values.mean(axis=1))


def member_power(base: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """``base ** exponent`` for arrays (members, ...) with one exponent per member (members,).

    Raised member by member with a scalar exponent: NumPy takes fast paths for some scalar
    exponents (0.5 is a square root), so this gives every member the same bits it would get in
    a run of its own, however members are batched.
    """
    return np.stack([base[m] ** e for m, e in enumerate(np.asarray(exponent, dtype=float).tolist())])
