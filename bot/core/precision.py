"""The one place where prices and quantities are rounded to a market's precision.

Floats carry prices through the engine (as ccxt does); rounding goes through ``Decimal``
built from the float's shortest repr so that ``0.3 // 0.1`` style artefacts never turn a
valid quantity into one step less, or a tick-aligned price into a rejected one.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_UP, Decimal
from enum import StrEnum


class Rounding(StrEnum):
    DOWN = "down"  # toward zero: quantities (never trade more than asked)
    UP = "up"  # away from zero
    NEAREST = "nearest"  # prices: to the closest tick, ties to even
    FLOOR = "floor"  # toward -inf: a long's stop should not drift up
    CEIL = "ceil"  # toward +inf: a short's stop should not drift down


_MODES = {
    Rounding.DOWN: ROUND_DOWN,
    Rounding.UP: ROUND_UP,
    Rounding.NEAREST: ROUND_HALF_EVEN,
    Rounding.FLOOR: ROUND_FLOOR,
    Rounding.CEIL: ROUND_CEILING,
}


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """Exact decimal of what a person would read: ``0.1`` becomes ``Decimal('0.1')``."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def round_to_step(value: float, step: float | Decimal, mode: Rounding) -> float:
    """Round ``value`` to a whole multiple of ``step`` (a tick size or lot step)."""
    step_d = to_decimal(step)
    if step_d <= 0:
        raise ValueError(f"step must be positive, got {step}")
    units = (to_decimal(value) / step_d).quantize(Decimal(1), rounding=_MODES[mode])
    return float(units * step_d)


def round_price(price: float, tick_size: float | Decimal, mode: Rounding = Rounding.NEAREST) -> float:
    return round_to_step(price, tick_size, mode)


def round_quantity(quantity: float, step_size: float | Decimal, mode: Rounding = Rounding.DOWN) -> float:
    return round_to_step(quantity, step_size, mode)


def is_multiple(value: float, step: float | Decimal) -> bool:
    step_d = to_decimal(step)
    return (to_decimal(value) % step_d) == 0


def decimals_of(step: float | Decimal) -> int:
    """Number of decimal places a step implies: 0.001 -> 3, 1 -> 0, 0.5 -> 1."""
    exponent = to_decimal(step).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def format_step(value: float, step: float | Decimal) -> str:
    """Format a rounded value with exactly the decimals of its step, as exchanges print it."""
    places = decimals_of(step)
    return f"{to_decimal(value):.{places}f}"
