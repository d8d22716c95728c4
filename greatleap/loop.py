"""The month's plan, built from the registered mechanisms: which part acts in which phase, in order.

The plan is data: every mechanism's phases, ordered by ``PHASES`` and, within a phase, by the
order of registration. ``greatleap plan`` prints it; ``Sim`` runs exactly this list every month
and times each step.
"""
from __future__ import annotations

from dataclasses import dataclass

from greatleap.mechanisms.base import PHASE_NAMES, PHASES, Mechanism


@dataclass(frozen=True)
class Step:
    phase: str
    mechanism: Mechanism

    @property
    def name(self) -> str:
        return f"{self.mechanism.name}.{self.phase}"

    def run(self, world, month) -> None:
        getattr(self.mechanism, self.phase)(world, month)


def build_plan(mechanisms: list[Mechanism]) -> list[Step]:
    """Every (phase, mechanism) pair, in phase order then registration order."""
    for mech in mechanisms:
        unknown = [p for p in mech.phases if p not in PHASE_NAMES]
        if unknown:
            raise ValueError(f"mechanism {mech.name!r}: unknown phase(s) {unknown}; allowed: {', '.join(PHASE_NAMES)}")
        missing = [p for p in mech.phases if not callable(getattr(mech, p, None))]
        if missing:
            raise ValueError(f"mechanism {mech.name!r} declares phase(s) {missing} but has no such method")
    names = [m.name for m in mechanisms]
    if len(set(names)) != len(names):
        raise ValueError(f"mechanism names must be unique: {names}")
    return [Step(phase, mech) for phase in PHASE_NAMES for mech in mechanisms if phase in mech.phases]


def describe_plan(plan: list[Step]) -> str:
    """The plan as text: one line per step, grouped by phase."""
    lines, k = [], 0
    meaning = dict(PHASES)
    for phase in PHASE_NAMES:
        steps = [s for s in plan if s.phase == phase]
        if not steps:
            continue
        lines.append(f"{phase}: {meaning[phase]}")
        for s in steps:
            k += 1
            lines.append(f"  {k:2d}. {s.name:<26} {s.mechanism.describe(phase)}")
    return "\n".join(lines)
