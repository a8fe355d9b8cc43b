"""Signed account, position and order endpoints, translated 1:1 onto :class:`SimExchange`.

Parameter checks a Binance server does before the matching engine (mandatory fields, enum
values, decimals, endpoint/order-type rules) happen here; trading rules (margin, filters,
reduce-only, duplicates) are the core's and come back as ``SimError`` with Binance's code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bot.core.enums import MarginMode, OrderSide, OrderType, TimeInForce, WorkingType
from bot.core.instrument import Instrument
from bot.emulator import errors
from bot.emulator import params as P
from bot.emulator import serialize as ser
from bot.emulator.routes import Route

_SIDES = {"BUY": OrderSide.BUY, "SELL": OrderSide.SELL}
_REGULAR_TYPES = {"MARKET": OrderType.MARKET, "LIMIT": OrderType.LIMIT}
_ALGO_TYPES = {"STOP_MARKET": OrderType.STOP_MARKET, "TAKE_PROFIT_MARKET": OrderType.TAKE_PROFIT_MARKET,
               "TRAILING_STOP_MARKET": OrderType.TRAILING_STOP_MARKET}
_BINANCE_ALGO_ONLY = {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}
_TIF = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "GTX": TimeInForce.GTX}
_WORKING = {"MARK_PRICE": WorkingType.MARK_PRICE, "CONTRACT_PRICE": WorkingType.CONTRACT_PRICE}
_MARGIN = {"ISOLATED": MarginMode.ISOLATED, "CROSSED": MarginMode.CROSS, "CROSS": MarginMode.CROSS}
_INCOME_TYPES = {"REALIZED_PNL", "FUNDING_FEE", "COMMISSION", "INSURANCE_CLEAR", "TRANSFER"}
_CANCEL_ALL_DONE = {"code": 200, "msg": "The operation of cancel all open order is done."}
_SUCCESS = {"code": 200, "msg": "success"}


# -- shared parsing ---------------------------------------------------------------------------

def _side(params: dict[str, str]) -> OrderSide:
    side = _SIDES.get(P.req_str(params, "side").upper())
    if side is None:
        raise errors.invalid_enum("side", -1117)
    return side


def _position_side(params: dict[str, str]) -> None:
    value = (P.opt_str(params, "positionSide") or "BOTH").upper()
    if value != "BOTH":
        raise errors.position_side_mismatch()


def _quantity(params: dict[str, str], inst: Instrument, required: bool = True) -> float | None:
    P.check_precision(params, "quantity", inst.quantity_precision)
    value = P.opt_float(params, "quantity")
    if value is None and required:
        raise errors.mandatory("quantity")
    return value


def _price(params: dict[str, str], name: str, inst: Instrument, required: bool = False) -> float | None:
    P.check_precision(params, name, inst.price_precision)
    value = P.opt_float(params, name)
    if value is None and required:
        raise errors.mandatory(name)
    return value


def _working_type(params: dict[str, str]) -> WorkingType:
    value = _WORKING.get((P.opt_str(params, "workingType") or "CONTRACT_PRICE").upper())
    if value is None:
        raise errors.invalid_enum("workingType", -1130)
    return value


def _instrument(state: Any, params: dict[str, str]) -> Instrument:
    return state.instrument(P.opt_str(params, "symbol"))


def _opt_symbol(state: Any, params: dict[str, str]) -> str | None:
    return state.check_symbol(P.opt_str(params, "symbol"))


#: Binance's history look-up span for userTrades (max startTime..endTime span, and the default
#: "recent 7 days" when neither is sent) and income (default window only).
HISTORY_SPAN_MS = 7 * 86_400_000


def _window(rows: list[Any], ts_of: Any, params: dict[str, str], default: int, maximum: int, *,
            now_ms: int | None = None, span_ms: int | None = None, max_span_ms: int | None = None) -> list[Any]:
    """Binance windowing for history lists: startTime/endTime, then ``limit`` rows.

    ``span_ms`` (with ``now_ms``) is the window the venue applies when times are missing: neither
    sent -> the ``span_ms`` before now, only startTime -> ``span_ms`` after it, only endTime ->
    ``span_ms`` before it. ``max_span_ms`` rejects a longer startTime..endTime span with -1127
    (INVALID_INTERVAL, "More than %s hours between startTime and endTime.", Binance futures error
    codes; ccxt maps it to BadRequest). Callers passing neither keep the old, unbounded behaviour.
    """
    start = P.opt_int(params, "startTime")
    end = P.opt_int(params, "endTime")
    limit = P.limit(params, default, maximum)
    recent = start is None  # no start: the most recent ``limit`` rows, else the first from start
    if max_span_ms is not None and start is not None and end is not None and end - start > max_span_ms:
        raise errors.BinanceError(-1127, f"More than {max_span_ms // 3_600_000} hours between startTime and endTime.")
    if span_ms is not None:
        start, end = _default_span(start, end, now_ms, span_ms)
    rows = sorted(rows, key=ts_of)

    def ts(row: Any) -> int:  # ts_of may return (ts, id) to make the order total
        key = ts_of(row)
        return key[0] if isinstance(key, tuple) else key

    rows = [r for r in rows if (start is None or ts(r) >= start) and (end is None or ts(r) <= end)]
    return rows[-limit:] if recent else rows[:limit]


def _default_span(start: int | None, end: int | None, now_ms: int | None,
                  span_ms: int) -> tuple[int | None, int | None]:
    """Fill in the times Binance assumes for a history query sent with one or none of them."""
    if start is None and end is None:
        return (None, None) if now_ms is None else (now_ms - span_ms, now_ms)
    if start is None:
        return end - span_ms, end
    if end is None:
        return start, start + span_ms
    return start, end


# -- orders -----------------------------------------------------------------------------------

#: Longest order visibility lag ``/_sim/scenario`` accepts (ms of wall time).
MAX_VISIBILITY_LAG_MS = 60_000.0


class OrderVisibility:
    """Orders accepted less than ``lag_ms`` ago (wall time) are not yet visible to order queries.

    On a loaded Binance matching engine the query side lags the engine: an order that was
    accepted, and may already be filled, answers -2013 "Order does not exist." to
    ``GET /fapi/v1/order`` (ccxt: OrderNotFound) and is missing from openOrders and the algo
    order queries for a while. A bot that reads "not found" as "never placed" and resends enters
    twice. Wall time, not the replay clock: a busy engine is slow in real seconds whatever the
    replay speed. Cancels go to the matching engine, which knows the order: they are not affected.
    ``lag_ms`` is 0 (off) by default; ``/_sim/scenario {"order_visibility_lag_ms": 1500}`` sets it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.lag_ms = 0.0
        self._clock = clock
        self._accepted: dict[int, float] = {}

    def accepted(self, order_id: int) -> None:
        """Note an order's acceptance time (only while a lag is set: nothing to hide otherwise)."""
        if self.lag_ms <= 0:
            return
        now = self._clock()
        if len(self._accepted) > 10_000:  # forget orders long visible that nobody asked about
            self._accepted = {k: t for k, t in self._accepted.items() if (now - t) * 1000.0 < self.lag_ms}
        self._accepted[order_id] = now

    def visible(self, order: Any) -> bool:
        accepted = self._accepted.get(order.order_id)
        if accepted is None or self.lag_ms <= 0:
            return True
        if (self._clock() - accepted) * 1000.0 >= self.lag_ms:
            del self._accepted[order.order_id]
            return True
        return False


def _seen(state: Any, orders: list[Any]) -> list[Any]:
    """The orders the query side already knows (see :class:`OrderVisibility`)."""
    return [o for o in orders if state.visibility.visible(o)]


def new_order(state: Any, params: dict[str, str]) -> Any:
    state.order_limiter.admit()
    inst = _instrument(state, params)
    side = _side(params)
    raw_type = P.req_str(params, "type").upper()
    if raw_type in _BINANCE_ALGO_ONLY:
        raise errors.algo_required()
    otype = _REGULAR_TYPES.get(raw_type)
    if otype is None:
        raise errors.invalid_enum("orderType", -1116)
    _position_side(params)
    quantity = _quantity(params, inst)
    price = _price(params, "price", inst, required=otype is OrderType.LIMIT)
    tif = TimeInForce.GTC
    if otype is OrderType.LIMIT:
        tif = _TIF.get(P.req_str(params, "timeInForce").upper())  # type: ignore[assignment]
        if tif is None:
            raise errors.invalid_enum("timeInForce", -1115)
    elif P.opt_str(params, "price") is not None:
        raise errors.BinanceError(-1106, "Parameter 'price' sent when not required.")
    order = state.exchange.place_order(
        inst.symbol, side, otype, quantity=quantity, price=price, time_in_force=tif,
        reduce_only=P.opt_bool(params, "reduceOnly"),
        client_order_id=P.client_id(params, "newClientOrderId"),
    )
    state.visibility.accepted(order.order_id)
    return ser.regular_order(order, inst)


def new_algo_order(state: Any, params: dict[str, str]) -> Any:
    state.order_limiter.admit()
    inst = _instrument(state, params)
    algo_type = P.req_str(params, "algoType").upper()
    if algo_type != "CONDITIONAL":
        raise errors.invalid_enum("algoType", -1116)
    side = _side(params)
    otype = _ALGO_TYPES.get(P.req_str(params, "type").upper())
    if otype is None:
        raise errors.invalid_enum("orderType", -1116)
    _position_side(params)
    close_position = P.opt_bool(params, "closePosition")
    if close_position and P.opt_str(params, "quantity") is not None:
        raise errors.BinanceError(-1106, "Parameter 'quantity' sent when not required.")
    quantity = _quantity(params, inst, required=not close_position)
    trigger = _price(params, "triggerPrice", inst, required=otype is not OrderType.TRAILING_STOP_MARKET)
    callback = P.opt_float(params, "callbackRate")
    if otype is OrderType.TRAILING_STOP_MARKET and callback is None:
        raise errors.mandatory("callbackRate")
    activation = _price(params, "activatePrice", inst)
    order = state.exchange.place_order(
        inst.symbol, side, otype, quantity=quantity, trigger_price=trigger,
        reduce_only=P.opt_bool(params, "reduceOnly"), close_position=close_position,
        working_type=_working_type(params), client_order_id=P.client_id(params, "clientAlgoId"),
        callback_rate=None if callback is None else callback / 100.0, activation_price=activation,
    )
    state.visibility.accepted(order.order_id)
    return ser.algo_order(order, inst)


def _find(state: Any, symbol: str, order_id: int | None, client_id: str | None, conditional: bool,
          missing: errors.BinanceError, *, query: bool = False) -> Any:
    """Look an order up on the regular or the algo side; the other side's orders do not exist.

    A client id names the most recent order that used it (ids are unique among open orders only).
    ``query``: a read, to which an order inside its visibility lag does not exist yet.
    """
    from bot.sim.errors import SimError

    try:
        order = state.exchange.get_order(symbol, order_id=order_id, client_order_id=client_id,
                                         conditional=conditional)
    except SimError:
        raise missing from None
    if bool(order.is_conditional) != conditional or (query and not state.visibility.visible(order)):
        raise missing
    return order


def _ids(params: dict[str, str], id_name: str, client_name: str) -> tuple[int | None, str | None]:
    order_id = P.opt_int(params, id_name)
    client_id = P.opt_str(params, client_name)
    if order_id is None and client_id is None:
        raise errors.BinanceError(-1102, f"Param '{client_name}' or '{id_name}' must be sent, but both "
                                         "were empty/null!")
    return order_id, client_id


def get_order(state: Any, params: dict[str, str]) -> Any:
    inst = _instrument(state, params)
    oid, cid = _ids(params, "orderId", "origClientOrderId")
    return ser.regular_order(_find(state, inst.symbol, oid, cid, False, errors.order_does_not_exist(), query=True),
                             inst)


def cancel_order(state: Any, params: dict[str, str]) -> Any:
    inst = _instrument(state, params)
    oid, cid = _ids(params, "orderId", "origClientOrderId")
    order = _find(state, inst.symbol, oid, cid, False, errors.unknown_order())
    if not order.is_open:
        raise errors.unknown_order()
    order = state.exchange.cancel_order(inst.symbol, order_id=order.order_id)
    return ser.regular_order(order, inst)


def get_algo_order(state: Any, params: dict[str, str]) -> Any:
    inst = _instrument(state, params)
    oid, cid = _ids(params, "algoId", "clientAlgoId")
    return ser.algo_order(_find(state, inst.symbol, oid, cid, True, errors.order_does_not_exist(), query=True),
                          inst)


def cancel_algo_order(state: Any, params: dict[str, str]) -> Any:
    inst = _instrument(state, params)
    oid, cid = _ids(params, "algoId", "clientAlgoId")
    order = _find(state, inst.symbol, oid, cid, True, errors.unknown_order())
    if not order.is_open:
        raise errors.unknown_order()
    return ser.algo_cancel(state.exchange.cancel_order(inst.symbol, order_id=order.order_id))


def _orders_json(state: Any, orders: list[Any], conditional: bool) -> list[dict[str, Any]]:
    fmt = ser.algo_order if conditional else ser.regular_order
    return [fmt(o, state.instruments[o.symbol]) for o in orders]


def open_orders(state: Any, params: dict[str, str]) -> Any:
    orders = state.exchange.open_orders(_opt_symbol(state, params), conditional=False)
    return _orders_json(state, _seen(state, orders), False)


def open_order(state: Any, params: dict[str, str]) -> Any:
    inst = _instrument(state, params)
    oid, cid = _ids(params, "orderId", "origClientOrderId")
    order = _find(state, inst.symbol, oid, cid, False, errors.BinanceError(-2013, "Order does not exist."),
                  query=True)
    if not order.is_open:
        raise errors.BinanceError(-2013, "Order does not exist.")
    return ser.regular_order(order, inst)


def open_algo_orders(state: Any, params: dict[str, str]) -> Any:
    orders = state.exchange.open_orders(_opt_symbol(state, params), conditional=True)
    return _orders_json(state, _seen(state, orders), True)


def _all_orders(state: Any, params: dict[str, str], conditional: bool, id_name: str) -> Any:
    orders = _seen(state, state.exchange.all_orders(_opt_symbol(state, params), conditional=conditional))
    from_id = P.opt_int(params, id_name)
    if from_id is not None:
        orders = [o for o in orders if int(o.order_id) >= from_id]
    rows = _window(orders, lambda o: (o.created_ms, o.order_id), params, 500, 1000) if (
        P.opt_int(params, "startTime") is None and P.opt_int(params, "endTime") is None) else _window(
        orders, lambda o: o.created_ms, params, 500, 1000)
    return _orders_json(state, rows, conditional)


def all_orders(state: Any, params: dict[str, str]) -> Any:
    return _all_orders(state, params, False, "orderId")


def all_algo_orders(state: Any, params: dict[str, str]) -> Any:
    return _all_orders(state, params, True, "algoId")


def cancel_all(state: Any, params: dict[str, str]) -> Any:
    state.exchange.cancel_all(_instrument(state, params).symbol, conditional=False)
    return dict(_CANCEL_ALL_DONE)


def cancel_all_algo(state: Any, params: dict[str, str]) -> Any:
    state.exchange.cancel_all(_instrument(state, params).symbol, conditional=True)
    return dict(_CANCEL_ALL_DONE)


# -- account ----------------------------------------------------------------------------------

def _fee(state: Any) -> float:
    return float(state.config.taker_fee)


def _account(state: Any, v2: bool) -> dict[str, Any]:
    """GET /fapi/v2|v3/account. The ``total*`` figures are the USDT wallet's ("only for USDT asset",
    USDⓈ-M "Account Information V3"); ``assets`` lists USDT, then the USDC wallet when USDC
    contracts are listed and the BNB that pays fees when there is some."""
    b = state.exchange.balance()
    now = state.now_ms()
    money = ser.money
    cross_wallet = float(b.wallet) - sum(
        float(getattr(p, "isolated_wallet", 0.0)) for p in state.exchange.positions()
        if ser.enum_value(p.margin_mode).lower() == "isolated" and state.instruments[p.symbol].quote == b.asset)
    positions = []
    for p in state.exchange.positions():
        inst = state.instruments[p.symbol]
        row = ser.position_v3(p, inst, _fee(state))
        positions.append({k: row[k] for k in ("symbol", "positionSide", "positionAmt", "isolatedMargin",
                                              "notional", "isolatedWallet", "initialMargin", "maintMargin",
                                              "updateTime")} | {"unrealizedProfit": row["unRealizedProfit"]})
        if v2:
            positions[-1] |= {"leverage": str(int(p.leverage)), "entryPrice": row["entryPrice"],
                              "isolated": ser.enum_value(p.margin_mode).lower() == "isolated"}
    return {
        "totalInitialMargin": money(b.initial_margin), "totalMaintMargin": money(b.maint_margin),
        "totalWalletBalance": money(b.wallet), "totalUnrealizedProfit": money(b.unrealized_pnl),
        "totalMarginBalance": money(b.margin_balance), "totalPositionInitialMargin": money(b.initial_margin),
        "totalOpenOrderInitialMargin": "0.00000000", "totalCrossWalletBalance": money(cross_wallet),
        "totalCrossUnPnl": money(b.unrealized_pnl), "availableBalance": money(b.available),
        "maxWithdrawAmount": money(b.available),
        "assets": [ser.asset_row(b, now, cross_wallet), *(ser.asset_row(x, now) for x in _other_assets(state))],
        "positions": positions,
    }


def _other_assets(state: Any) -> list[Any]:
    """Wallets besides USDT: USDC (its own core, see bot.emulator.margin_assets) and BNB (fees only)."""
    from bot.sim.models import SimBalance

    out = list(state.exchange.asset_balances()) if hasattr(state.exchange, "asset_balances") else []
    for asset, amount in sorted(state.exchange.account.other_wallets.items()):
        out.append(SimBalance(amount, 0.0, amount, amount, 0.0, 0.0, asset=asset))
    return out


def account_v3(state: Any, params: dict[str, str]) -> Any:
    return _account(state, v2=False)


def account_v2(state: Any, params: dict[str, str]) -> Any:
    out = _account(state, v2=True)
    out.update({"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True,
                "updateTime": 0, "multiAssetsMargin": bool(state.account.multi_assets)})
    return out


def _brackets(inst: Instrument) -> dict[str, Any]:
    return {"symbol": inst.symbol, "notionalCoef": 1.0, "brackets": [
        {"bracket": b.bracket, "initialLeverage": b.initial_leverage, "notionalCap": b.notional_cap,
         "notionalFloor": b.notional_floor, "maintMarginRatio": b.maint_margin_ratio, "cum": b.cum}
        for b in inst.brackets]}


def leverage_bracket(state: Any, params: dict[str, str]) -> Any:
    symbol = _opt_symbol(state, params)
    if symbol:
        return _brackets(state.instruments[symbol])
    return [_brackets(state.instruments[s]) for s in state.symbols]


def _positions(state: Any, params: dict[str, str], v2: bool) -> Any:
    symbol = _opt_symbol(state, params)
    fmt = ser.position_v2 if v2 else ser.position_v3
    return [fmt(p, state.instruments[p.symbol], _fee(state)) for p in state.exchange.positions()
            if symbol is None or p.symbol == symbol]


def position_risk_v3(state: Any, params: dict[str, str]) -> Any:
    return _positions(state, params, v2=False)


def position_risk_v2(state: Any, params: dict[str, str]) -> Any:
    return _positions(state, params, v2=True)


def _symbol_config(state: Any, symbol: str) -> dict[str, Any]:
    inst = state.instruments[symbol]
    lev = int(state.exchange.leverage(symbol))
    mode = ser.enum_value(state.exchange.margin_mode(symbol)).lower()
    return {"symbol": symbol, "marginType": "ISOLATED" if mode == "isolated" else "CROSSED",
            "isAutoAddMargin": False, "leverage": lev,
            "maxNotionalValue": f"{inst.max_notional_for_leverage(lev):.0f}"}


def symbol_config(state: Any, params: dict[str, str]) -> Any:
    symbol = _opt_symbol(state, params)
    return [_symbol_config(state, s) for s in ([symbol] if symbol else state.symbols)]


def set_leverage(state: Any, params: dict[str, str]) -> Any:
    inst = _instrument(state, params)
    leverage = P.opt_int(params, "leverage")
    if leverage is None:
        raise errors.mandatory("leverage")
    state.exchange.set_leverage(inst.symbol, leverage)
    lev = int(state.exchange.leverage(inst.symbol))
    return {"leverage": lev, "maxNotionalValue": f"{inst.max_notional_for_leverage(lev):.0f}",
            "symbol": inst.symbol}


def set_margin_type(state: Any, params: dict[str, str]) -> Any:
    """POST /fapi/v1/marginType. In Multi-Assets mode only cross margin exists: ISOLATED answers
    -4168 (Binance error codes: "Unable to adjust to isolated-margin mode under the Multi-Assets mode.")."""
    inst = _instrument(state, params)
    mode = _MARGIN.get(P.req_str(params, "marginType").upper())
    if mode is None:
        raise errors.BinanceError(-1130, "Data sent for parameter 'marginType' is not valid.")
    if mode is MarginMode.ISOLATED and state.account.multi_assets:
        raise errors.BinanceError(-4168, "Unable to adjust to isolated-margin mode under the Multi-Assets mode.")
    state.exchange.set_margin_mode(inst.symbol, mode)
    return dict(_SUCCESS)


def get_multi_assets_mode(state: Any, params: dict[str, str]) -> Any:
    """GET /fapi/v1/multiAssetsMargin: ``{"multiAssetsMargin": bool}`` (Binance "Get Current Multi-Assets Mode")."""
    return {"multiAssetsMargin": bool(state.account.multi_assets)}


def get_position_mode(state: Any, params: dict[str, str]) -> Any:
    """GET /fapi/v1/positionSide/dual: true in hedge (dual-side) mode (Binance "Get Current Position Mode")."""
    return {"dualSidePosition": bool(state.account.hedge_mode)}


def set_position_mode(state: Any, params: dict[str, str]) -> Any:
    """POST /fapi/v1/positionSide/dual. Hedge -> one-way switches the account (Binance answers
    success; a bot that does this silently breaks whoever uses hedge mode); asking for the mode the
    account is in is -4059; hedge mode itself is not simulated (the core refuses dual=true)."""
    dual = P.opt_bool(params, "dualSidePosition")
    if P.opt_str(params, "dualSidePosition") is None:
        raise errors.mandatory("dualSidePosition")
    if state.account.hedge_mode and not dual:
        state.account.hedge_mode = False
        return dict(_SUCCESS)
    state.exchange.set_position_mode(dual)  # one-way only: the core answers -4059 either way
    if not dual:
        raise errors.no_need_to_change_position_side()
    return dict(_SUCCESS)


# -- history ----------------------------------------------------------------------------------

def user_trades(state: Any, params: dict[str, str]) -> Any:
    """GET /fapi/v1/userTrades as Binance serves it (USDⓈ-M "Account Trade List", also quoted in
    ccxt's ``fetch_my_trades``): neither startTime nor endTime -> the last 7 days; the two at most
    7 days apart (-1127); ``fromId`` (trades with id >= it, no time window) cannot be combined with
    startTime/endTime (-1128 "Combination of optional parameters invalid."); ``limit`` default 500,
    max 1000; ascending by time then id. With only startTime (endTime) the 7 days after (before) it.
    """
    inst = _instrument(state, params)
    fills = state.exchange.user_trades(inst.symbol)
    from_id = P.opt_int(params, "fromId")
    timed = P.opt_int(params, "startTime") is not None or P.opt_int(params, "endTime") is not None
    if from_id is not None:
        if timed:
            raise errors.BinanceError(-1128, "Combination of optional parameters invalid.")
        rows = sorted((f for f in fills if int(f.trade_id) >= from_id), key=lambda f: (f.ts_ms, int(f.trade_id)))
        return [ser.user_trade(f, inst) for f in rows[:P.limit(params, 500, 1000)]]
    rows = _window(fills, lambda f: (f.ts_ms, int(f.trade_id)), params, 500, 1000, now_ms=state.now_ms(),
                   span_ms=HISTORY_SPAN_MS, max_span_ms=HISTORY_SPAN_MS)
    return [ser.user_trade(f, inst) for f in rows]


def income(state: Any, params: dict[str, str]) -> Any:
    """GET /fapi/v1/income as Binance serves it (USDⓈ-M "Get Income History"): neither startTime nor
    endTime -> the recent 7 days (the most recent ``limit`` rows of them); ``limit`` default 100, max
    1000; ascending by time; paging by time (the next startTime is the last row's time + 1). The
    USDⓈ-M page states no maximum startTime..endTime span (COIN-M: 1 year), so none is enforced.
    """
    symbol = _opt_symbol(state, params)
    income_type = P.opt_str(params, "incomeType")
    if income_type is not None and income_type.upper() not in _INCOME_TYPES:
        raise errors.BinanceError(-1130, "Data sent for parameter 'incomeType' is not valid.")
    rows = state.exchange.income(symbol)
    if income_type is not None:
        rows = [r for r in rows if ser.upper(r.income_type) == income_type.upper()]
    timed = P.opt_int(params, "startTime") is not None or P.opt_int(params, "endTime") is not None
    now = None if timed else state.now_ms()
    rows = _window(rows, lambda r: (r.ts_ms, r.tran_id), params, 100, 1000, now_ms=now,
                   span_ms=None if timed else HISTORY_SPAN_MS)
    return [ser.income(r) for r in rows]


def force_orders(state: Any, params: dict[str, str]) -> Any:
    symbol = _opt_symbol(state, params)
    kind = (P.opt_str(params, "autoCloseType") or "").upper() or None  # none sent: both kinds (Binance)
    if kind not in (None, "LIQUIDATION", "ADL"):
        raise errors.BinanceError(-1130, "Data sent for parameter 'autoCloseType' is not valid.")
    orders = state.exchange.force_orders(symbol, auto_close_type=kind)
    rows = _window(orders, lambda o: (o.updated_ms, o.order_id), params, 50, 100)
    return [ser.force_order(o, state.instruments[o.symbol]) for o in rows]


def get_fee_burn(state: Any, params: dict[str, str]) -> Any:
    """GET /fapi/v1/feeBurn (USDⓈ-M "Get BNB Burn Status", weight 30): ``{"feeBurn": bool}``."""
    return {"feeBurn": bool(state.account.bnb_fee)}


def set_fee_burn(state: Any, params: dict[str, str]) -> Any:
    """POST /fapi/v1/feeBurn (USDⓈ-M "Toggle BNB Burn On Futures Trade", weight 1): ``feeBurn``
    "true"/"false" (mandatory); answers ``{"code": 200, "msg": "success"}``. Without a BNB price
    (BNBUSDT in the data or ``/_sim/account`` ``bnb_price``) fees stay in USDT, as they do on
    Binance when the BNB wallet cannot pay them."""
    raw = P.opt_str(params, "feeBurn")
    if raw is None:
        raise errors.mandatory("feeBurn")
    if raw.lower() not in ("true", "false"):
        raise errors.BinanceError(-1130, "Data sent for parameter 'feeBurn' is not valid.")
    state.account.bnb_fee = raw.lower() == "true"
    state.apply_fee_mode()
    return dict(_SUCCESS)


def commission_rate(state: Any, params: dict[str, str]) -> Any:
    inst = _instrument(state, params)
    return {"symbol": inst.symbol, "makerCommissionRate": f"{state.config.maker_fee:.6f}",
            "takerCommissionRate": f"{state.config.taker_fee:.6f}", "rpiCommissionRate": "0"}


def empty_list(state: Any, params: dict[str, str]) -> Any:
    """sapi wallet endpoints ccxt calls at load_markets when it has keys: nothing to report."""
    return []


ROUTES = [
    Route("POST", "/fapi/v1/order", new_order, True),
    Route("GET", "/fapi/v1/order", get_order, True),
    Route("DELETE", "/fapi/v1/order", cancel_order, True),
    Route("GET", "/fapi/v1/openOrder", open_order, True),
    Route("GET", "/fapi/v1/openOrders", open_orders, True),
    Route("GET", "/fapi/v1/allOrders", all_orders, True),
    Route("DELETE", "/fapi/v1/allOpenOrders", cancel_all, True),
    Route("POST", "/fapi/v1/algoOrder", new_algo_order, True),
    Route("GET", "/fapi/v1/algoOrder", get_algo_order, True),
    Route("DELETE", "/fapi/v1/algoOrder", cancel_algo_order, True),
    Route("GET", "/fapi/v1/openAlgoOrders", open_algo_orders, True),
    Route("GET", "/fapi/v1/allAlgoOrders", all_algo_orders, True),
    Route("DELETE", "/fapi/v1/algoOpenOrders", cancel_all_algo, True),
    Route("GET", "/fapi/v3/account", account_v3, True),
    Route("GET", "/fapi/v2/account", account_v2, True),
    Route("GET", "/fapi/v1/leverageBracket", leverage_bracket, True),
    Route("GET", "/fapi/v3/positionRisk", position_risk_v3, True),
    Route("GET", "/fapi/v2/positionRisk", position_risk_v2, True),
    Route("GET", "/fapi/v1/symbolConfig", symbol_config, True),
    Route("POST", "/fapi/v1/leverage", set_leverage, True),
    Route("POST", "/fapi/v1/marginType", set_margin_type, True),
    Route("GET", "/fapi/v1/positionSide/dual", get_position_mode, True),
    Route("GET", "/fapi/v1/multiAssetsMargin", get_multi_assets_mode, True),
    Route("POST", "/fapi/v1/positionSide/dual", set_position_mode, True),
    Route("GET", "/fapi/v1/userTrades", user_trades, True),
    Route("GET", "/fapi/v1/income", income, True),
    Route("GET", "/fapi/v1/forceOrders", force_orders, True),
    Route("GET", "/fapi/v1/commissionRate", commission_rate, True),
    Route("GET", "/fapi/v1/feeBurn", get_fee_burn, True),
    Route("POST", "/fapi/v1/feeBurn", set_fee_burn, True),
    Route("GET", "/sapi/v1/capital/config/getall", empty_list, True),
    Route("GET", "/sapi/v1/margin/allPairs", empty_list, True),
]
