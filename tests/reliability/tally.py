"""Figures the reliability suite collects; printed at the end of the run (see conftest.py)."""
FIGURES: dict[str, dict[str, int]] = {}
PROBLEMS: dict[str, list[str]] = {}


def tally(group: str, outcome: str, detail: str | None = None) -> None:
    """Count one case of ``group`` with its ``outcome``; keep the detail of a problem."""
    FIGURES.setdefault(group, {}).setdefault(outcome, 0)
    FIGURES[group][outcome] += 1
    if detail:
        PROBLEMS.setdefault(group, []).append(detail)
