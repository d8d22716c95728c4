"""Ledgers: grain and people must balance every step, per place and nationally; nothing may be NaN.

Grain (kg): production = eaten + canteen waste + seed/feed + storage losses + state other use
+ exports - imports + change in (place stocks + province granaries + the centre's stock). Per
place, the grain that the people of a place ate (summed person by person in the backend) must
equal what was drawn from its stock less waste, and no stock may be negative. People: a place's
census this month = last month's census + births - deaths + people who moved or fled in - out;
nationally alive = alive before + births - deaths. Every column of every frame must be finite.
An imbalance is a bug: :class:`LedgerError` names the step, the member, the place and the amounts.
"""
from __future__ import annotations

import numpy as np


class LedgerError(RuntimeError):
    pass


def _first(bad: np.ndarray) -> tuple[int, ...]:
    return tuple(int(k) for k in np.argwhere(bad)[0])


def check_finite(step: str, world) -> None:
    """Every float column of the places, provinces and national accounts is finite (NaN or infinity
    is a ledger violation). Person-level floats are computed from these, so they are not scanned."""
    for frame in (world.places, world.provinces, world.national):
        for name, values in frame.arrays().items():
            if values.dtype.kind == "f" and not np.isfinite(values).all():
                where = _first(~np.isfinite(values))
                raise LedgerError(f"ledger broken at {step}: {frame.kind}.{name}{list(where)} = {values[where]} "
                                  f"(NaN or infinity)")


def check_people_places(step: str, census: np.ndarray, expected: np.ndarray, names) -> None:
    bad = census != expected
    if bad.any():
        m, k = _first(bad)
        raise LedgerError(f"people ledger broken at {step}, member {m}, place {names(k)}: census {census[m, k]} "
                          f"agents, expected {expected[m, k]} from last month's census, births, deaths and moves")


def check_people_national(step: str, alive_now, alive_before, births, deaths) -> None:
    bad = alive_now != alive_before + births - deaths
    if np.any(bad):
        m = int(np.flatnonzero(bad)[0])
        raise LedgerError(f"people ledger broken at {step}, member {m}: alive {alive_now[m]} != {alive_before[m]} "
                          f"+ births {births[m]} - deaths {deaths[m]}")


def check_grain_places(step: str, eaten_kg, drawn_kg, waste_kg, stock_kg, names, rtol: float = 1e-6) -> None:
    gap = np.abs(eaten_kg - (drawn_kg - waste_kg))
    bad = gap > rtol * np.maximum(drawn_kg, 1.0) + 1e-3
    if bad.any():
        m, k = _first(bad)
        raise LedgerError(f"grain ledger broken at {step}, member {m}, place {names(k)}: people ate "
                          f"{eaten_kg[m, k]:.1f} kg but {drawn_kg[m, k] - waste_kg[m, k]:.1f} kg was drawn net of waste")
    neg = stock_kg < -1e-6 * np.maximum(np.abs(stock_kg).max(axis=1, keepdims=True), 1.0)
    if neg.any():
        m, k = _first(neg)
        raise LedgerError(f"grain ledger broken at {step}, member {m}, place {names(k)}: negative stock "
                          f"{stock_kg[m, k]:.1f} kg")


def check_grain_national(step: str, totals: dict[str, np.ndarray], stocks_now, stocks_start, rtol: float = 1e-8) -> None:
    uses = (totals["eaten"] + totals["waste"] + totals["seed_feed"] + totals["losses"] + totals["state_other_use"]
            + totals["exports"] - totals["imports"] + (stocks_now - stocks_start))
    production = totals["production"]
    bad = np.abs(production - uses) > rtol * np.maximum(np.maximum(production, stocks_start), 1.0) + 1.0
    if np.any(bad):
        m = int(np.flatnonzero(bad)[0])
        raise LedgerError(f"national grain ledger broken at {step}, member {m}: production {production[m]:.6e} kg "
                          f"!= uses {uses[m]:.6e} kg (eaten {totals['eaten'][m]:.4e}, waste {totals['waste'][m]:.4e}, "
                          f"seed/feed {totals['seed_feed'][m]:.4e}, losses {totals['losses'][m]:.4e}, "
                          f"exports-imports {totals['exports'][m] - totals['imports'][m]:.4e}, "
                          f"stock change {stocks_now[m] - stocks_start[m]:.4e})")
