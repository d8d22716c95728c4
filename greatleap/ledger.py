"""Ledgers: grain and people must balance every step, per place and nationally.

Grain (kg): production = eaten + canteen waste + seed/feed + storage losses + state other use
+ exports - imports + change in (commune stocks + state stock). Per place, the grain that the
people of a place ate (summed person by person in the kernels) must equal what was drawn
from its stock less waste. People: a place's census this month = last month's census + births
- deaths + people who moved in - people who moved out; nationally alive = births - deaths.
An imbalance is a bug: :class:`LedgerError` names the step, the place and the amounts.
"""
from __future__ import annotations

import numpy as np


class LedgerError(RuntimeError):
    pass


def _where(bad: np.ndarray) -> int:
    return int(np.flatnonzero(bad)[0])


def check_people_places(step: str, census: np.ndarray, expected: np.ndarray, names) -> None:
    bad = census != expected
    if bad.any():
        k = _where(bad)
        raise LedgerError(f"people ledger broken at {step}, place {names(k)}: census {census[k]} agents, "
                          f"expected {expected[k]} from last month's census, births, deaths and moves")


def check_people_national(step: str, alive_now: int, alive_before: int, births: int, deaths: int) -> None:
    if alive_now != alive_before + births - deaths:
        raise LedgerError(f"people ledger broken at {step}: alive {alive_now} != {alive_before} + births {births} "
                          f"- deaths {deaths}")


def check_grain_places(step: str, eaten_kg: np.ndarray, drawn_kg: np.ndarray, waste_kg: np.ndarray,
                       stock_kg: np.ndarray, names, rtol: float = 1e-6) -> None:
    gap = np.abs(eaten_kg - (drawn_kg - waste_kg))
    tol = rtol * np.maximum(drawn_kg, 1.0) + 1e-3
    bad = gap > tol
    if bad.any():
        k = _where(bad)
        raise LedgerError(f"grain ledger broken at {step}, place {names(k)}: people ate {eaten_kg[k]:.1f} kg "
                          f"but {drawn_kg[k] - waste_kg[k]:.1f} kg was drawn net of waste")
    neg = stock_kg < -1e-6 * np.maximum(np.abs(stock_kg).max(), 1.0)
    if neg.any():
        k = _where(neg)
        raise LedgerError(f"grain ledger broken at {step}, place {names(k)}: negative stock {stock_kg[k]:.1f} kg")


def check_grain_national(step: str, totals: dict[str, float], stocks_now: float, stocks_start: float,
                         rtol: float = 1e-8) -> None:
    uses = (totals["eaten"] + totals["waste"] + totals["seed_feed"] + totals["losses"] + totals["state_other_use"]
            + totals["exports"] - totals["imports"] + (stocks_now - stocks_start))
    if abs(totals["production"] - uses) > rtol * max(totals["production"], stocks_start, 1.0) + 1.0:
        raise LedgerError(f"national grain ledger broken at {step}: production {totals['production']:.6e} kg "
                          f"!= uses {uses:.6e} kg (eaten {totals['eaten']:.4e}, waste {totals['waste']:.4e}, "
                          f"seed/feed {totals['seed_feed']:.4e}, losses {totals['losses']:.4e}, "
                          f"exports-imports {totals['exports'] - totals['imports']:.4e}, "
                          f"stock change {stocks_now - stocks_start:.4e})")
