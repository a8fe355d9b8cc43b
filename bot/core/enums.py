"""Enumerations shared by every layer.

Values are the lower-case strings stored in the journal and shown to users, so
renaming a member is a schema change.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """How orders reach a market: simulated in-process, an exchange test venue, or real money."""

    PAPER = "paper"
    TESTNET = "testnet"
    LIVE = "live"


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is PositionSide.LONG else -1

    @property
    def opposite(self) -> PositionSide:
        return PositionSide.SHORT if self is PositionSide.LONG else PositionSide.LONG

    @property
    def entry_order_side(self) -> OrderSide:
        return OrderSide.BUY if self is PositionSide.LONG else OrderSide.SELL

    @property
    def exit_order_side(self) -> OrderSide:
        return OrderSide.SELL if self is PositionSide.LONG else OrderSide.BUY


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    TAKE_PROFIT_MARKET = "take_profit_market"
    TRAILING_STOP_MARKET = "trailing_stop_market"

    @property
    def is_conditional(self) -> bool:
        """Conditional orders rest until a trigger price is crossed (Binance's algo orders)."""
        return self in (
            OrderType.STOP_MARKET,
            OrderType.TAKE_PROFIT_MARKET,
            OrderType.TRAILING_STOP_MARKET,
        )


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    GTX = "GTX"  # post-only: rejected if it would take liquidity


class OrderStatus(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def is_terminal(self) -> bool:
        return self in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED)


class WorkingType(StrEnum):
    """Which price triggers a conditional order."""

    MARK_PRICE = "MARK_PRICE"
    CONTRACT_PRICE = "CONTRACT_PRICE"


class MarginMode(StrEnum):
    ISOLATED = "isolated"
    CROSS = "cross"


class ExitReason(StrEnum):
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    TRAILING_STOP = "trailing_stop"
    TIME_STOP = "time_stop"
    SIGNAL = "signal"
    LIQUIDATION = "liquidation"
    MANUAL = "manual"
    RECONCILE = "reconcile"
    HALT = "halt"
    #: closed by the exchange's auto-deleveraging (forceOrders ``autoCloseType=ADL``).
    ADL = "adl"
    #: settled at the delivery price because the symbol left trading (delisting).
    SETTLEMENT = "settlement"


class Quality(StrEnum):
    """How much a snapshot field can be trusted."""

    FRESH = "fresh"
    STALE = "stale"
    MISSING = "missing"


class IntentKind(StrEnum):
    ENTER_LONG = "enter_long"
    ENTER_SHORT = "enter_short"
    EXIT = "exit"
    NONE = "none"


class RiskState(StrEnum):
    """Circuit-breaker state of the account (see bot.risk)."""

    ACTIVE = "active"
    PAUSED = "paused"  # after N consecutive losses, until a time
    REDUCING = "reducing"  # daily loss limit hit: exits only until the next UTC day
    HALTED = "halted"  # drawdown or kill switch: flat, until a person resets
