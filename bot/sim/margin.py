"""Margin arithmetic of Binance USDⓈ-M, one-way position mode.

These functions are the single source of truth for liquidation prices and funding amounts:
the simulated exchange, the emulator's ``positionRisk``, the risk manager's liquidation buffer
and the reports all call them.
"""

from __future__ import annotations

from typing import Literal

from bot.core.instrument import Instrument

SideName = Literal["long", "short"]


def _side_sign(side: str) -> int:
    value = str(side).lower()
    if value == "long":
        return 1
    if value == "short":
        return -1
    raise ValueError(f"side must be 'long' or 'short', got {side!r}")


def liquidation_price(
    side: SideName | str,
    entry_price: float,
    quantity: float,
    wallet_balance: float,
    maint_margin_rate: float,
    maint_amount: float,
    other_maint_margin: float = 0.0,
    other_unrealized_pnl: float = 0.0,
) -> float:
    """Binance's one-way-mode liquidation price.

    ``LP = (WB - TMM1 + UPNL1 + cum - s*Q*EP) / (Q*MMR - s*Q)`` with ``s`` = +1 long, -1 short.
    Isolated margin: ``wallet_balance`` is the position's isolated wallet and the two
    ``other_*`` terms are zero. Cross margin: ``wallet_balance`` is the account's wallet and
    ``other_*`` are the maintenance margin and unrealised P&L of every other position.

    Returns 0.0 when the position cannot be liquidated (a long backed by more than its notional).
    """
    if quantity <= 0:
        raise ValueError(f"quantity must be positive, got {quantity}")
    if entry_price <= 0:
        raise ValueError(f"entry_price must be positive, got {entry_price}")
    sign = _side_sign(side)
    numerator = (
        wallet_balance - other_maint_margin + other_unrealized_pnl + maint_amount - sign * quantity * entry_price
    )
    denominator = quantity * maint_margin_rate - sign * quantity
    price = numerator / denominator
    return max(price, 0.0)


def liquidation_price_for(
    instrument: Instrument,
    side: SideName | str,
    entry_price: float,
    quantity: float,
    wallet_balance: float,
    other_maint_margin: float = 0.0,
    other_unrealized_pnl: float = 0.0,
) -> float:
    """:func:`liquidation_price` with the maintenance tier taken from the instrument's brackets."""
    tier = instrument.bracket_for(entry_price * quantity)
    return liquidation_price(
        side, entry_price, quantity, wallet_balance, tier.maint_margin_ratio, tier.cum,
        other_maint_margin, other_unrealized_pnl,
    )


def maintenance_margin(instrument: Instrument, notional: float) -> float:
    """``notional * MMR - cum`` of the tier holding ``notional`` (Binance's definition)."""
    tier = instrument.bracket_for(notional)
    return abs(notional) * tier.maint_margin_ratio - tier.cum


def funding_payment(side: SideName | str, quantity: float, mark_price: float, rate: float) -> float:
    """Amount the position *receives* at a settlement (negative when it pays).

    Longs pay shorts when the rate is positive: a long of 2 at mark 100 with rate 0.001
    receives ``-0.2``.
    """
    if quantity < 0:
        raise ValueError(f"quantity must be non-negative, got {quantity}")
    return -_side_sign(side) * quantity * mark_price * rate


def unrealized_pnl(side: SideName | str, quantity: float, entry_price: float, price: float) -> float:
    return _side_sign(side) * quantity * (price - entry_price)
