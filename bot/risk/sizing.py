"""Fixed-fractional position sizing: risk a fixed share of equity between entry and stop.

``quantity = equity * risk_fraction / (|entry - stop| + fee_rate * (entry + stop))``: the
denominator is what one unit loses if the stop fills (price move plus the taker fee paid on
entry and on the stop's exit), so the budget covers fees too. The result is rounded *down* to
the lot step, which can only lower the loss, and a final guard removes one step in the rare
case where float arithmetic lands a hair above the budget.
"""

from __future__ import annotations

import math

from bot import safety
from bot.core.precision import Rounding, round_quantity, to_decimal


def _require_finite_positive(name: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def risk_per_unit(entry_price: float, stop_price: float, fee_rate: float = 0.0) -> float:
    """Loss of one unit stopped out at ``stop_price``, entry and exit fees included."""
    return abs(entry_price - stop_price) + fee_rate * (entry_price + stop_price)


def position_size(
    equity: float,
    entry_price: float,
    stop_price: float,
    risk_fraction: float,
    lot_step: float | None = None,
    fee_rate: float = 0.0,
    max_notional: float | None = None,
) -> float:
    """Quantity that loses at most ``equity * risk_fraction`` if the stop fills.

    Returns 0.0 when there is no equity or the budget buys less than one lot step. Raises
    ``ValueError`` for inputs that can only be a bug upstream (non-positive prices, a stop at
    the entry, a risk fraction above the hard limit :data:`bot.safety.MAX_RISK_PER_TRADE`).
    """
    _require_finite_positive("entry_price", entry_price)
    _require_finite_positive("stop_price", stop_price)
    if entry_price == stop_price:
        raise ValueError(f"stop_price equals entry_price ({entry_price}): the risk per unit would be zero")
    if not math.isfinite(risk_fraction) or not 0 < risk_fraction <= safety.MAX_RISK_PER_TRADE:
        raise ValueError(
            f"risk_fraction must be in (0, {safety.MAX_RISK_PER_TRADE}] (hard limit), got {risk_fraction!r}"
        )
    if not math.isfinite(fee_rate) or not 0 <= fee_rate < 0.01:
        raise ValueError(f"fee_rate must be in [0, 0.01), got {fee_rate!r}")
    if lot_step is not None:
        _require_finite_positive("lot_step", lot_step)
    if max_notional is not None and (math.isnan(max_notional) or max_notional < 0):
        raise ValueError(f"max_notional must be >= 0 or None, got {max_notional!r}")
    if not math.isfinite(equity):
        raise ValueError(f"equity must be finite, got {equity!r}")
    if equity <= 0:
        return 0.0

    budget = equity * risk_fraction
    per_unit = risk_per_unit(entry_price, stop_price, fee_rate)
    quantity = budget / per_unit
    if max_notional is not None:
        quantity = min(quantity, max_notional / entry_price)
    quantity = _round_down(quantity, lot_step)
    # Float guard: the product may exceed the budget by an ulp after the division.
    while quantity > 0 and per_unit * quantity > budget:
        quantity = _one_step_less(quantity, lot_step)
    if max_notional is not None:
        while quantity > 0 and quantity * entry_price > max_notional:
            quantity = _one_step_less(quantity, lot_step)
    return quantity


def _round_down(quantity: float, lot_step: float | None) -> float:
    if lot_step is None:
        return quantity
    return round_quantity(quantity, lot_step, Rounding.DOWN)


def _one_step_less(quantity: float, lot_step: float | None) -> float:
    """The next representable quantity below ``quantity`` (one lot step, or one ulp)."""
    if lot_step is None:
        return math.nextafter(quantity, 0.0)
    smaller = float(to_decimal(quantity) - to_decimal(lot_step))
    return max(round_quantity(smaller, lot_step, Rounding.DOWN), 0.0)
