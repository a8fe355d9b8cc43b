"""Translate ccxt's unified structures into our venue-neutral views.

Kept apart from the executor so the mapping rules (algo orders, signed notional, missing
fields) are tested on their own against ccxt's real parsed output.
"""

from __future__ import annotations

import math
from typing import Any

from bot.core.enums import MarginMode, OrderSide, OrderStatus, OrderType, PositionSide
from bot.core.instrument import Instrument, LeverageBracket, ccxt_symbol_to_id, default_brackets
from bot.execution.types import BalanceState, FillState, IncomeState, OrderState, PositionState

_TYPE_MAP = {
    "market": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "stop_market": OrderType.STOP_MARKET,
    "take_profit_market": OrderType.TAKE_PROFIT_MARKET,
    "trailing_stop_market": OrderType.TRAILING_STOP_MARKET,
}


def _f(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def order_from_ccxt(order: dict[str, Any]) -> OrderState:
    info = order.get("info") or {}
    conditional = "algoId" in info or "algoType" in info
    raw_type = str(info.get("orderType") or info.get("origType") or info.get("type") or order.get("type") or "")
    otype = _TYPE_MAP.get(raw_type.lower(), OrderType.MARKET if order.get("type") == "market" else OrderType.LIMIT)
    raw_status = str(info.get("algoStatus") or info.get("status") or order.get("status") or "")
    amount = _f(order.get("amount"))
    filled = _f(order.get("filled")) or 0.0
    status = _status(order.get("status"), raw_status, amount, filled)
    side = OrderSide(str(order.get("side") or info.get("side", "buy")).lower())
    return OrderState(
        client_id=order.get("clientOrderId") or info.get("clientAlgoId") or info.get("clientOrderId"),
        exchange_id=str(order["id"]) if order.get("id") is not None else None,
        symbol=ccxt_symbol_to_id(order.get("symbol") or info.get("symbol", "")),
        side=side,
        type=otype,
        status=status,
        quantity=amount,
        filled=filled,
        avg_price=_f(order.get("average")) or _f(info.get("avgPrice")) or None,
        price=_f(order.get("price")) or None,
        trigger_price=_f(order.get("triggerPrice")) or _f(info.get("triggerPrice")) or None,
        reduce_only=bool(order.get("reduceOnly") or str(info.get("reduceOnly")).lower() == "true"),
        close_position=str(info.get("closePosition")).lower() == "true",
        is_conditional=conditional,
        ts=order.get("lastUpdateTimestamp") or order.get("timestamp"),
        raw_status=raw_status,
        actual_order_id=str(info["actualOrderId"]) if info.get("actualOrderId") else None,
    )


def _status(unified: str | None, raw: str, amount: float | None, filled: float) -> OrderStatus:
    raw_upper = raw.upper()
    if raw_upper in ("TRIGGERED", "FINISHED"):
        return OrderStatus.FILLED
    if unified == "closed":
        return OrderStatus.FILLED
    if unified == "canceled":
        return OrderStatus.CANCELED
    if unified == "expired":
        return OrderStatus.EXPIRED
    if unified == "rejected":
        return OrderStatus.REJECTED
    if filled > 0 and (amount is None or filled < amount):
        return OrderStatus.PARTIALLY_FILLED
    return OrderStatus.NEW


def position_from_ccxt(pos: dict[str, Any]) -> PositionState | None:
    contracts = _f(pos.get("contracts")) or 0.0
    if contracts <= 0:
        return None
    side = pos.get("side")
    if side not in ("long", "short"):
        return None
    mode = pos.get("marginMode")
    return PositionState(
        symbol=ccxt_symbol_to_id(pos["symbol"]),
        side=PositionSide(side),
        quantity=contracts,
        entry_price=_f(pos.get("entryPrice")) or 0.0,
        mark_price=_f(pos.get("markPrice")),
        unrealized_pnl=_f(pos.get("unrealizedPnl")) or 0.0,
        liquidation_price=_f(pos.get("liquidationPrice")),
        leverage=_f(pos.get("leverage")),
        margin_mode=MarginMode(mode) if mode in ("isolated", "cross") else None,
        ts=pos.get("timestamp"),
    )


def balance_from_ccxt(balance: dict[str, Any], ts: int | None = None) -> BalanceState:
    info = balance.get("info") or {}
    wallet = _f(info.get("totalWalletBalance"))
    unrealized = _f(info.get("totalUnrealizedProfit")) or 0.0
    usdt = balance.get("USDT") or {}
    equity = _f(info.get("totalMarginBalance")) or _f(usdt.get("total")) or 0.0
    if wallet is None:
        wallet = equity - unrealized
    available = _f(info.get("availableBalance")) or _f(usdt.get("free")) or 0.0
    return BalanceState(wallet=wallet, unrealized_pnl=unrealized, equity=equity, available=available, ts=ts)


def fill_from_ccxt(trade: dict[str, Any]) -> FillState:
    info = trade.get("info") or {}
    fee = trade.get("fee") or {}
    return FillState(
        trade_id=str(trade.get("id")),
        order_id=str(trade.get("order")) if trade.get("order") is not None else None,
        symbol=ccxt_symbol_to_id(trade.get("symbol") or info.get("symbol", "")),
        side=OrderSide(str(trade.get("side")).lower()),
        price=float(trade["price"]),
        quantity=float(trade["amount"]),
        fee=_f(fee.get("cost")) or 0.0,
        fee_asset=str(fee.get("currency") or "USDT"),
        maker=trade.get("takerOrMaker") == "maker",
        realized_pnl=_f(info.get("realizedPnl")) or 0.0,
        ts=int(trade["timestamp"]),
    )


def income_from_ccxt(row: dict[str, Any]) -> IncomeState:
    info = row.get("info") or {}
    symbol = row.get("symbol") or info.get("symbol")
    return IncomeState(
        income_id=str(row.get("id") or info.get("tranId")),
        symbol=ccxt_symbol_to_id(symbol) if symbol else None,
        income_type=str(info.get("incomeType") or row.get("type") or "FUNDING_FEE"),
        amount=float(row.get("amount") if row.get("amount") is not None else info.get("income")),
        ts=int(row.get("timestamp") or info.get("time")),
        info=dict(info),
    )


def instrument_from_ccxt(market: dict[str, Any], brackets: list[dict[str, Any]] | None = None) -> Instrument:
    """Build an Instrument from a ccxt market (TICK_SIZE precision mode, as binance uses)."""
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    tick = _f(precision.get("price")) or 0.0001
    step = _f(precision.get("amount")) or 0.001
    amount_limits = limits.get("amount") or {}
    market_limits = limits.get("market") or {}
    cost_limits = limits.get("cost") or {}
    tiers = tuple(_bracket(b) for b in brackets) if brackets else default_brackets()
    return Instrument(
        symbol=market["id"],
        base=market["base"],
        quote=market.get("quote", "USDT"),
        tick_size=tick,
        step_size=step,
        min_qty=_f(amount_limits.get("min")) or step,
        max_qty=_f(amount_limits.get("max")) or 1e12,
        market_max_qty=_f(market_limits.get("max")) or _f(amount_limits.get("max")) or 1e12,
        min_notional=_f(cost_limits.get("min")) or 5.0,
        brackets=tiers,
    )


def _bracket(raw: dict[str, Any]) -> LeverageBracket:
    return LeverageBracket(
        bracket=int(raw["bracket"]),
        initial_leverage=int(raw["initialLeverage"]),
        notional_floor=float(raw["notionalFloor"]),
        notional_cap=float(raw["notionalCap"]),
        maint_margin_ratio=float(raw["maintMarginRatio"]),
        cum=float(raw["cum"]),
    )
