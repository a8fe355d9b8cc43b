"""Core objects -> Binance USDⓈ-M JSON, field for field as reference §2.2/§2.3 lists them.

Numbers go out as strings formatted to the instrument's tick/step (as Binance prints them);
money amounts with 8 decimals. Enum values of the core are lower-case; Binance's are upper.
"""

from __future__ import annotations

from typing import Any

from bot.core.instrument import Instrument
from bot.core.precision import format_step

MONEY_PLACES = 8

#: Core order status -> Binance regular ``status``.
_STATUS = {"new": "NEW", "partially_filled": "PARTIALLY_FILLED", "filled": "FILLED",
           "canceled": "CANCELED", "expired": "EXPIRED", "rejected": "REJECTED"}
#: Core order status -> Binance ``algoStatus`` (a conditional order that fired is FINISHED).
_ALGO_STATUS = {"new": "NEW", "partially_filled": "TRIGGERED", "filled": "FINISHED",
                "canceled": "CANCELED", "expired": "EXPIRED", "rejected": "REJECTED"}


def enum_value(value: Any) -> str:
    return str(getattr(value, "value", value))


def upper(value: Any) -> str:
    return enum_value(value).upper()


def money(value: float | None) -> str:
    return f"{float(value or 0.0):.{MONEY_PLACES}f}"


def price(value: float | None, inst: Instrument) -> str:
    return format_step(float(value or 0.0), inst.tick_size)


def qty(value: float | None, inst: Instrument) -> str:
    return format_step(float(value or 0.0), inst.step_size)


def avg_price(value: float | None, inst: Instrument) -> str:
    """A VWAP is not tick-aligned: print it with a few more decimals than the tick."""
    places = len(format_step(0.0, inst.tick_size).split(".")[-1]) + 3 if "." in format_step(
        0.0, inst.tick_size) else 3
    return f"{float(value or 0.0):.{places}f}"


def status(order: Any) -> str:
    return _STATUS.get(enum_value(order.status).lower(), upper(order.status))


def algo_status(order: Any) -> str:
    return _ALGO_STATUS.get(enum_value(order.status).lower(), upper(order.status))


def regular_order(order: Any, inst: Instrument) -> dict[str, Any]:
    """POST/GET/DELETE /fapi/v1/order, openOrders, allOrders (reference §2.3)."""
    otype = upper(order.type)
    return {
        "orderId": int(order.order_id),
        "symbol": order.symbol,
        "status": status(order),
        "clientOrderId": order.client_order_id or "",
        "price": price(order.price, inst),
        "avgPrice": avg_price(order.avg_price, inst),
        "origQty": qty(order.quantity, inst),
        "executedQty": qty(order.filled_qty, inst),
        "cumQty": qty(order.filled_qty, inst),
        "cumQuote": money(order.cum_quote),
        "timeInForce": upper(order.time_in_force),
        "type": otype,
        "reduceOnly": bool(order.reduce_only),
        "closePosition": bool(order.close_position),
        "side": upper(order.side),
        "positionSide": "BOTH",
        "stopPrice": price(order.trigger_price, inst),
        "workingType": upper(order.working_type),
        "priceProtect": False,
        "origType": otype,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": int(order.created_ms),
        "updateTime": int(order.updated_ms),
    }


def algo_order(order: Any, inst: Instrument) -> dict[str, Any]:
    """POST/GET /fapi/v1/algoOrder, openAlgoOrders, allAlgoOrders (reference §2.3)."""
    trigger_ms = 0
    for st, ts in getattr(order, "history", []) or []:
        if enum_value(st).lower() in ("partially_filled", "filled"):
            trigger_ms = int(ts)
            break
    out: dict[str, Any] = {
        "algoId": int(order.order_id),
        "clientAlgoId": order.client_order_id or "",
        "algoType": "CONDITIONAL",
        "orderType": upper(order.type),
        "symbol": order.symbol,
        "side": upper(order.side),
        "positionSide": "BOTH",
        "timeInForce": upper(order.time_in_force),
        "quantity": qty(order.quantity, inst),
        "algoStatus": algo_status(order),
        "triggerPrice": price(order.trigger_price, inst),
        "price": price(order.price, inst),
        "icebergQuantity": None,
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": upper(order.working_type),
        "priceMatch": "NONE",
        "closePosition": bool(order.close_position),
        "priceProtect": False,
        "reduceOnly": bool(order.reduce_only),
        "createTime": int(order.created_ms),
        "updateTime": int(order.updated_ms),
        "triggerTime": trigger_ms,
        "goodTillDate": 0,
    }
    if getattr(order, "actual_order_id", None):
        out["actualOrderId"] = str(order.actual_order_id)
        out["executedQty"] = qty(order.filled_qty, inst)
        out["avgPrice"] = avg_price(order.avg_price, inst)
    if getattr(order, "callback_rate", None) is not None:
        out["callbackRate"] = f"{float(order.callback_rate) * 100:.2f}"  # core: fraction; wire: percent
    if getattr(order, "activation_price", None) is not None:
        out["activatePrice"] = price(order.activation_price, inst)
    return out


def algo_cancel(order: Any) -> dict[str, Any]:
    return {"algoId": int(order.order_id), "clientAlgoId": order.client_order_id or "",
            "code": "200", "msg": "success"}


def position_side_sign(position: Any) -> int:
    return 1 if enum_value(position.side).lower() == "long" else -1


def position_v3(p: Any, inst: Instrument, fee_rate: float) -> dict[str, Any]:
    """GET /fapi/v3/positionRisk row; ``notional`` and ``positionAmt`` are SIGNED."""
    sign = position_side_sign(p)
    amount = sign * float(p.quantity)
    notional = sign * abs(float(p.notional))
    isolated = enum_value(p.margin_mode).lower() == "isolated"
    # break-even: the entry moved by the round-trip taker fee (Binance's definition).
    break_even = float(p.entry_price) * (1 + sign * 2 * fee_rate)
    return {
        "symbol": p.symbol,
        "positionSide": "BOTH",
        "positionAmt": qty(amount, inst),
        "entryPrice": avg_price(p.entry_price, inst),
        "breakEvenPrice": avg_price(break_even, inst),
        "markPrice": money(p.mark_price),
        "unRealizedProfit": money(p.unrealized_pnl),
        "liquidationPrice": money(p.liquidation_price or 0.0),
        "isolatedMargin": money(p.isolated_margin if isolated else 0.0),
        "notional": money(notional),
        "marginAsset": inst.quote,
        "isolatedWallet": money(getattr(p, "isolated_wallet", 0.0) if isolated else 0.0),
        "initialMargin": money(p.initial_margin),
        "maintMargin": money(p.maint_margin),
        "positionInitialMargin": money(p.initial_margin),
        "openOrderInitialMargin": "0",
        "adl": 1,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": int(p.updated_ms),
    }


def position_v2(p: Any, inst: Instrument, fee_rate: float) -> dict[str, Any]:
    """GET /fapi/v2/positionRisk row: v3 plus leverage, marginType, maxNotionalValue."""
    row = position_v3(p, inst, fee_rate)
    isolated = enum_value(p.margin_mode).lower() == "isolated"
    for key in ("breakEvenPrice", "initialMargin", "maintMargin", "positionInitialMargin",
                "openOrderInitialMargin", "bidNotional", "askNotional", "marginAsset"):
        row.pop(key, None)
    row.update({
        "leverage": str(int(p.leverage)),
        "marginType": "isolated" if isolated else "cross",
        "isAutoAddMargin": "false",
        "maxNotionalValue": money(inst.max_notional_for_leverage(p.leverage)),
        "adl": int(row["adl"]),
    })
    return row


def user_trade(f: Any, inst: Instrument) -> dict[str, Any]:
    side = upper(f.side)
    return {
        "symbol": f.symbol,
        "id": int(f.trade_id),
        "orderId": int(f.order_id),
        "side": side,
        "price": price(f.price, inst),
        "qty": qty(f.quantity, inst),
        "realizedPnl": money(f.realized_pnl),
        "marginAsset": inst.quote,
        "quoteQty": money(f.quote_qty),
        "commission": money(f.fee),
        "commissionAsset": f.fee_asset or "USDT",
        "time": int(f.ts_ms),
        "positionSide": "BOTH",
        "buyer": side == "BUY",
        "maker": bool(f.maker),
    }


def asset_row(b: Any, update_ms: int, cross_wallet: float | None = None) -> dict[str, Any]:
    """One ``assets`` row of GET /fapi/v2|v3/account from a :class:`~bot.sim.models.SimBalance`."""
    cross = b.wallet if cross_wallet is None else cross_wallet
    return {
        "asset": b.asset, "walletBalance": money(b.wallet), "unrealizedProfit": money(b.unrealized_pnl),
        "marginBalance": money(b.margin_balance), "maintMargin": money(b.maint_margin),
        "initialMargin": money(b.initial_margin), "positionInitialMargin": money(b.initial_margin),
        "openOrderInitialMargin": "0.00000000", "crossWalletBalance": money(cross),
        "crossUnPnl": money(b.unrealized_pnl), "availableBalance": money(b.available),
        "maxWithdrawAmount": money(b.available), "updateTime": update_ms,
    }


def income(i: Any) -> dict[str, Any]:
    trade_id = getattr(i, "trade_id", None)
    return {
        "symbol": i.symbol or "",
        "incomeType": upper(i.income_type),
        "income": money(i.amount),
        "asset": i.asset or "USDT",
        "info": upper(i.income_type),
        "time": int(i.ts_ms),
        "tranId": int(i.tran_id),
        "tradeId": "" if trade_id in (None, "") else str(trade_id),
    }


def force_order(o: Any, inst: Instrument) -> dict[str, Any]:
    row = regular_order(o, inst)
    row["clientOrderId"] = o.client_order_id or f"autoclose-{o.order_id}"
    return row
