"""Venue-neutral views of orders, positions, balances and fills.

Both executors translate their venue's objects into these, so the engine, the stop watchdog
and reconciliation have one vocabulary whatever the venue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.enums import (
    MarginMode,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    TimeInForce,
    WorkingType,
)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order the engine wants to exist. ``client_id`` makes submission idempotent."""

    client_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    quantity: float | None
    price: float | None = None
    trigger_price: float | None = None
    reduce_only: bool = False
    close_position: bool = False
    time_in_force: TimeInForce = TimeInForce.GTC
    working_type: WorkingType = WorkingType.MARK_PRICE
    callback_rate: float | None = None  # trailing stop, percent

    @property
    def is_conditional(self) -> bool:
        return self.type.is_conditional


@dataclass(slots=True)
class OrderState:
    """An order as the venue last reported it."""

    client_id: str | None
    exchange_id: str | None
    symbol: str
    side: OrderSide
    type: OrderType
    status: OrderStatus
    quantity: float | None
    filled: float = 0.0
    avg_price: float | None = None
    price: float | None = None
    trigger_price: float | None = None
    reduce_only: bool = False
    close_position: bool = False
    is_conditional: bool = False
    ts: int | None = None
    raw_status: str | None = None
    actual_order_id: str | None = None  # regular order created when a conditional one triggered

    @property
    def is_open(self) -> bool:
        return not self.status.is_terminal

    @property
    def is_protective(self) -> bool:
        """A conditional order that can only reduce a position (a stop or take-profit)."""
        return self.is_conditional and (self.reduce_only or self.close_position)


@dataclass(frozen=True, slots=True)
class PositionState:
    symbol: str
    side: PositionSide
    quantity: float
    entry_price: float
    mark_price: float | None = None
    unrealized_pnl: float = 0.0
    liquidation_price: float | None = None
    leverage: float | None = None
    margin_mode: MarginMode | None = None
    ts: int | None = None

    @property
    def notional(self) -> float:
        return self.quantity * (self.mark_price or self.entry_price)


@dataclass(frozen=True, slots=True)
class BalanceState:
    wallet: float
    unrealized_pnl: float
    equity: float  # wallet + unrealised (Binance marginBalance)
    available: float
    ts: int | None = None


@dataclass(frozen=True, slots=True)
class FillState:
    trade_id: str
    order_id: str | None
    symbol: str
    side: OrderSide
    price: float
    quantity: float
    fee: float
    fee_asset: str
    maker: bool
    realized_pnl: float
    ts: int
    client_id: str | None = None
    #: ``fee`` valued in USDT at the fill time (bot.execution.fees); None: not valued (yet)
    fee_usdt: float | None = None

    @property
    def fee_in_usdt(self) -> float:
        """What the fee cost in USDT, for trade fees and P&L: ``fee`` when paid in USDT, else its
        value at the fill time; 0 for a fee in another asset that could not be valued (a warning
        says so) -- never the BNB amount counted as if it were USDT."""
        if self.fee_usdt is not None:
            return self.fee_usdt
        return self.fee if self.fee_asset.upper() == "USDT" else 0.0


@dataclass(frozen=True, slots=True)
class IncomeState:
    """Funding, commission, realised P&L or liquidation clearance booked to the wallet."""

    income_id: str
    symbol: str | None
    income_type: str
    amount: float
    ts: int
    info: dict = field(default_factory=dict)


class SubmitUnknownError(RuntimeError):
    """The venue never confirmed an order and a lookup by client id could not find it either."""


class OrderRejectedError(RuntimeError):
    """The venue refused the order for a reason that retrying will not fix."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
