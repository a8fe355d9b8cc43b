"""Read-only records the simulated exchange hands out: fills, income rows, positions, balances
and events. They are snapshots: changing one never changes the exchange's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.core.enums import MarginMode, OrderSide, PositionSide


class IncomeType(StrEnum):
    """Binance ``incomeType`` values the simulator books."""

    REALIZED_PNL = "REALIZED_PNL"
    FUNDING_FEE = "FUNDING_FEE"
    COMMISSION = "COMMISSION"
    INSURANCE_CLEAR = "INSURANCE_CLEAR"
    TRANSFER = "TRANSFER"  # a wallet transfer in (+) or out (-): a cash flow, not P&L


class EventKind(StrEnum):
    FILL = "fill"
    ORDER_UPDATE = "order_update"
    FUNDING = "funding"
    LIQUIDATION = "liquidation"
    TRIGGER = "trigger"


@dataclass(frozen=True, slots=True)
class SimFill:
    """One execution (Binance ``userTrades`` row). ``fee`` is the positive commission paid."""

    trade_id: int
    order_id: int
    symbol: str
    side: OrderSide
    price: float
    quantity: float
    quote_qty: float
    fee: float
    fee_asset: str
    maker: bool
    realized_pnl: float
    ts_ms: int


@dataclass(frozen=True, slots=True)
class SimIncome:
    """One wallet movement (Binance ``income`` row); ``amount`` is signed (negative = paid)."""

    tran_id: int
    symbol: str
    income_type: IncomeType
    amount: float
    asset: str
    ts_ms: int
    trade_id: int | None = None


@dataclass(frozen=True, slots=True)
class SimPosition:
    """A one-way position seen at the current mark price.

    ``isolated_wallet`` is the margin held by the position; ``isolated_margin`` is Binance's
    ``isolatedMargin`` (wallet plus unrealised P&L).
    """

    symbol: str
    side: PositionSide
    quantity: float
    entry_price: float
    mark_price: float
    unrealized_pnl: float
    liquidation_price: float
    margin_mode: MarginMode
    leverage: int
    isolated_margin: float
    maint_margin: float
    initial_margin: float
    notional: float  # signed: negative for shorts
    updated_ms: int
    isolated_wallet: float = 0.0


@dataclass(frozen=True, slots=True)
class SimBalance:
    """The USDT account: ``wallet`` includes the margin locked in isolated positions."""

    wallet: float
    unrealized_pnl: float
    margin_balance: float
    available: float
    initial_margin: float
    maint_margin: float
    asset: str = "USDT"


@dataclass(frozen=True, slots=True)
class SimEvent:
    """Something that happened: ``payload`` holds the affected records (``order``, ``fill``, ...)."""

    kind: EventKind
    symbol: str
    ts_ms: int
    payload: dict[str, Any] = field(default_factory=dict)
