"""Liquidation of isolated positions.

The liquidation price is :func:`bot.sim.margin.liquidation_price_for` with the position's
isolated wallet and the bracket of its notional, the same function ``positions()`` reports, so
the price shown beforehand is the price at which the position is closed.

When the mark price reaches it, the position is closed at exactly that price. What is left of
the isolated margin at that point (the maintenance margin, by construction of the formula) is
lost, as on Binance: the liquidation clearance fee (``liquidation_fee_rate`` of the notional,
1.25 % by default, Binance's rate for small caps) is charged first, capped by the remaining
margin, and any rest also goes to the insurance fund. The whole amount is booked as one
``INSURANCE_CLEAR`` income, so ``wallet == deposits + sum(income)`` still holds and the user
loses the isolated margin, never more.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.enums import OrderSide
from bot.core.instrument import Instrument
from bot.sim.account import Account, Position
from bot.sim.margin import liquidation_price_for
from bot.sim.models import IncomeType, SimFill, SimIncome


def position_liquidation_price(instrument: Instrument, pos: Position) -> float:
    """Liquidation price of an isolated position (0.0 when it cannot be liquidated)."""
    return liquidation_price_for(instrument, pos.side_name, pos.entry, abs(pos.qty), pos.iso_wallet)


@dataclass(frozen=True, slots=True)
class Liquidation:
    fill: SimFill
    price: float
    fee: float  # clearance fee part of the cleared margin
    insurance_clear: SimIncome  # amount = -(margin left after closing at ``price``)


def liquidate(account: Account, instrument: Instrument, pos: Position, order_id: int, price: float,
              fee_rate: float, ts_ms: int) -> Liquidation:
    """Close ``pos`` at ``price`` and clear its remaining isolated margin."""
    quantity = abs(pos.qty)
    iso_wallet = pos.iso_wallet
    exit_side = OrderSide.SELL if pos.qty > 0 else OrderSide.BUY
    fill = account.apply_fill(instrument, order_id, exit_side, quantity, price, 0.0, False, pos.leverage, ts_ms)
    remaining = iso_wallet + fill.realized_pnl
    fee = min(fee_rate * quantity * price, max(remaining, 0.0))
    clear = account.book(instrument.symbol, IncomeType.INSURANCE_CLEAR, -remaining, ts_ms, fill.trade_id)
    return Liquidation(fill, price, fee, clear)
