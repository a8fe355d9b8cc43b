"""Executor for a real exchange, its demo venue, or our emulator — all through ccxt.

Submission is idempotent: the client order id is derived from run and intent; after a
timeout, a 5xx, a 429 or a dropped response we look the order up by that id before any
retry, so one intent never becomes two entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import ccxt.async_support as ccxt
from loguru import logger

from bot.core.enums import MarginMode, OrderStatus, OrderType
from bot.core.instrument import Instrument, ccxt_symbol_to_id, id_to_ccxt_symbol
from bot.core.precision import format_step
from bot.execution.base import Executor
from bot.execution.ccxt_map import (
    balance_from_ccxt,
    fill_from_ccxt,
    instrument_from_ccxt,
    order_from_ccxt,
    position_from_ccxt,
)
from bot.execution.types import (
    BalanceState,
    FillState,
    IncomeState,
    OrderRejectedError,
    OrderRequest,
    OrderState,
    PositionState,
    SubmitUnknownError,
)

_CCXT_TYPE = {
    OrderType.MARKET: "market",
    OrderType.LIMIT: "limit",
    OrderType.STOP_MARKET: "STOP_MARKET",
    OrderType.TAKE_PROFIT_MARKET: "TAKE_PROFIT_MARKET",
    OrderType.TRAILING_STOP_MARKET: "TRAILING_STOP_MARKET",
}
#: Outcomes where the order may or may not exist on the venue: look it up before retrying.
#: OperationFailed is Binance's -1001/-1000 "unknown error, check the status" (HTTP 5xx) and the
#: parent of every NetworkError (timeouts, 429/418 as DDoSProtection, exchange not available).
_UNKNOWN_OUTCOME = (ccxt.OperationFailed, ccxt.ExchangeNotAvailable)


class ExchangeExecutor(Executor):
    """Trades through an async ccxt client (built by ``bot.exchange.connect``)."""

    name = "exchange"

    def __init__(self, client: Any, *, max_attempts: int = 5, backoff_s: float = 0.2, seed: int = 0) -> None:
        self.client = client
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self._instruments: dict[str, Instrument] = {}
        self._setup_done: dict[str, tuple[int, MarginMode]] = {}
        self._rng = random.Random(seed)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        markets = await self._retry(lambda: self.client.load_markets())
        brackets: dict[str, list[dict[str, Any]]] = {}
        try:
            raw = await self._retry(lambda: self.client.fapiPrivateGetLeverageBracket())
            brackets = {row["symbol"]: row["brackets"] for row in raw}
        except ccxt.BaseError as exc:  # public-only clients (paper data) have no keys
            logger.info("leverage brackets unavailable ({}); using default tiers", type(exc).__name__)
        for market in markets.values():
            if market.get("linear") and market.get("swap"):
                self._instruments[market["id"]] = instrument_from_ccxt(market, brackets.get(market["id"]))
        try:
            await self.client.set_position_mode(False)
        except ccxt.BaseError as exc:  # -4059 "No need to change position side" is fine
            if "-4059" not in str(exc) and "No need" not in str(exc):
                raise
        mode = await self.client.fetch_position_mode()
        if mode.get("hedged"):
            raise OrderRejectedError("account is in hedge (dual-side) mode; derivbot needs one-way mode")

    async def close(self) -> None:
        await self.client.close()

    def instrument(self, symbol: str) -> Instrument:
        try:
            return self._instruments[symbol]
        except KeyError:
            raise KeyError(f"{symbol} is not a USDT-margined perpetual on {self.client.id}") from None

    async def now_ms(self) -> int:
        return int(await self._retry(lambda: self.client.fetch_time()))

    # -- account set-up ----------------------------------------------------------------------

    async def ensure_symbol_setup(self, symbol: str, leverage: int, margin_mode: MarginMode) -> None:
        if self._setup_done.get(symbol) == (leverage, margin_mode):
            return
        market = id_to_ccxt_symbol(symbol)
        with contextlib.suppress(ccxt.MarginModeAlreadySet):
            await self.client.set_margin_mode(margin_mode.value, market)
        await self.client.set_leverage(leverage, market)
        configs = await self.client.fetch_leverages([market])
        config = configs.get(market) or {}
        got_mode = config.get("marginMode")
        got_leverage = config.get("longLeverage") or config.get("shortLeverage")
        if got_mode not in (None, margin_mode.value) or (got_leverage is not None and int(got_leverage) != leverage):
            raise OrderRejectedError(
                f"{symbol}: exchange reports margin {got_mode} / leverage {got_leverage}, wanted "
                f"{margin_mode.value} / {leverage}"
            )
        self._setup_done[symbol] = (leverage, margin_mode)

    # -- orders ------------------------------------------------------------------------------

    def _params(self, request: OrderRequest) -> tuple[str, float | None, float | None, dict[str, Any]]:
        inst = self.instrument(request.symbol)
        params: dict[str, Any] = {"clientOrderId": request.client_id}
        amount = None if request.close_position else request.quantity
        if amount is not None:
            amount = float(format_step(inst.round_qty(amount), inst.step_size))
        price = float(format_step(inst.round_price(request.price), inst.tick_size)) if request.price else None
        if request.type.is_conditional:
            if request.trigger_price is not None:
                params["stopPrice"] = float(format_step(inst.round_price(request.trigger_price), inst.tick_size))
            params["workingType"] = request.working_type.value
            if request.callback_rate is not None:
                params["callbackRate"] = request.callback_rate
        if request.close_position:
            params["closePosition"] = True
        elif request.reduce_only:
            params["reduceOnly"] = True
        if request.type is OrderType.LIMIT:
            params["timeInForce"] = request.time_in_force.value
        return _CCXT_TYPE[request.type], amount, price, params

    async def submit(self, request: OrderRequest) -> OrderState:
        ccxt_type, amount, price, params = self._params(request)
        market = id_to_ccxt_symbol(request.symbol)
        last_error: Exception | None = None
        for attempt in range(self.max_attempts):
            try:
                raw = await self.client.create_order(market, ccxt_type, request.side.value, amount, price, params)
                state = order_from_ccxt(raw)
                state.client_id = state.client_id or request.client_id
                return state
            except ccxt.InvalidOrder as exc:
                if "-4116" in str(exc) or "duplicated" in str(exc).lower():
                    found = await self.find_order(request.symbol, request.client_id, request.is_conditional)
                    if found is not None:
                        logger.info("order {} already on the venue: adopted, not resent", request.client_id)
                        return found
                raise OrderRejectedError(str(exc), _code(exc)) from exc
            except (ccxt.InsufficientFunds, ccxt.BadRequest, ccxt.AuthenticationError, ccxt.PermissionDenied) as exc:
                raise OrderRejectedError(str(exc), _code(exc)) from exc
            except _UNKNOWN_OUTCOME as exc:
                last_error = exc
                logger.warning("order {} outcome unknown ({}), looking it up before any retry",
                               request.client_id, type(exc).__name__)
                await self._sleep(attempt, exc)
                found = await self._find_quietly(request)
                if found is not None:
                    return found
            except ccxt.ExchangeError as exc:
                raise OrderRejectedError(str(exc), _code(exc)) from exc
        raise SubmitUnknownError(f"order {request.client_id} not confirmed after {self.max_attempts} attempts: "
                                 f"{type(last_error).__name__}")

    async def _find_quietly(self, request: OrderRequest) -> OrderState | None:
        try:
            return await self.find_order(request.symbol, request.client_id, request.is_conditional)
        except _UNKNOWN_OUTCOME as exc:
            # The caller retries the whole submission, which looks the order up again first.
            logger.warning("lookup of {} failed too ({})", request.client_id, type(exc).__name__)
            return None

    async def find_order(self, symbol: str, client_id: str, conditional: bool) -> OrderState | None:
        params: dict[str, Any] = {"clientOrderId": client_id}
        if conditional:
            params["trigger"] = True
        try:
            raw = await self.client.fetch_order(None, id_to_ccxt_symbol(symbol), params)
        except ccxt.OrderNotFound:
            return None
        state = order_from_ccxt(raw)
        state.client_id = state.client_id or client_id
        return state

    async def cancel(self, symbol: str, client_id: str | None = None, exchange_id: str | None = None,
                     conditional: bool = False) -> OrderState | None:
        params: dict[str, Any] = {"trigger": True} if conditional else {}
        if client_id and not exchange_id:
            params["clientOrderId"] = client_id
        try:
            raw = await self._retry(lambda: self.client.cancel_order(exchange_id, id_to_ccxt_symbol(symbol),
                                                                     dict(params)))
        except ccxt.OrderNotFound:
            return None
        state = order_from_ccxt(raw)  # an algo cancel answers only ids: the status is ours to set
        state.status = OrderStatus.CANCELED
        state.client_id = state.client_id or client_id
        state.exchange_id = state.exchange_id or exchange_id
        state.is_conditional = conditional
        return state

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        """Regular and conditional (algo) open orders; every symbol when ``symbol`` is None."""
        market = id_to_ccxt_symbol(symbol) if symbol else None
        regular = await self._retry(lambda: self.client.fetch_open_orders(market))
        algo = await self._retry(lambda: self.client.fetch_open_orders(market, None, None, {"trigger": True}))
        out = []
        for raw in [*regular, *algo]:
            try:
                out.append(order_from_ccxt(raw))
            except (KeyError, ValueError, TypeError) as exc:
                logger.warning("skipping malformed open order {}: {}", raw.get("id"), exc)
        return out

    async def positions(self) -> list[PositionState]:
        raw = await self._retry(lambda: self.client.fetch_positions())
        out = []
        for row in raw:
            try:
                pos = position_from_ccxt(row)
            except (KeyError, ValueError, TypeError) as exc:
                logger.warning("skipping malformed position row {}: {}", row.get("symbol"), exc)
                continue
            if pos is not None:
                out.append(pos)
        return out

    async def balance(self) -> BalanceState:
        raw = await self._retry(lambda: self.client.fetch_balance())
        return balance_from_ccxt(raw)

    async def fills(self, symbol: str, since_ms: int | None = None) -> list[FillState]:
        raw = await self._retry(lambda: self.client.fetch_my_trades(id_to_ccxt_symbol(symbol), since_ms))
        return [fill_from_ccxt(t) for t in raw]

    async def income(self, since_ms: int | None = None, income_type: str | None = None) -> list[IncomeState]:
        params: dict[str, Any] = {}
        if since_ms is not None:
            params["startTime"] = since_ms
        if income_type:
            params["incomeType"] = income_type
        raw = await self._retry(lambda: self.client.fapiPrivateGetIncome(params))
        out = []
        for row in raw:
            symbol = row.get("symbol") or None
            out.append(IncomeState(income_id=str(row.get("tranId")), symbol=symbol,
                                   income_type=str(row.get("incomeType")), amount=float(row.get("income", 0)),
                                   ts=int(row.get("time", 0)), info=dict(row)))
        return out

    async def liquidations(self, symbol: str, since_ms: int | None = None) -> list[OrderState]:
        params: dict[str, Any] = {"symbol": symbol, "autoCloseType": "LIQUIDATION"}
        if since_ms is not None:
            params["startTime"] = since_ms
        raw = await self._retry(lambda: self.client.fapiPrivateGetForceOrders(params))
        out = []
        for row in raw:
            parsed = self.client.parse_order(row)
            out.append(order_from_ccxt(parsed))
        return out

    # -- helpers -----------------------------------------------------------------------------

    async def _retry(self, call: Any) -> Any:
        """Retry a read-only call on transient errors with jittered exponential backoff."""
        for attempt in range(self.max_attempts):
            try:
                return await call()
            except _UNKNOWN_OUTCOME as exc:
                if attempt == self.max_attempts - 1:
                    raise
                await self._sleep(attempt, exc)
        raise AssertionError("unreachable")

    async def _sleep(self, attempt: int, exc: Exception) -> None:
        delay = self.backoff_s * (2**attempt) * (0.5 + self._rng.random())
        if isinstance(exc, ccxt.DDoSProtection):  # 429/418: the venue asked us to slow down
            delay = max(delay, 5 * self.backoff_s)
        await asyncio.sleep(min(delay, 10.0))


def _code(exc: Exception) -> int | None:
    text = str(exc)
    marker = '"code":'
    if marker in text:
        tail = text.split(marker, 1)[1].lstrip()
        digits = "".join(ch for ch in tail[:8] if ch in "-0123456789")
        try:
            return int(digits)
        except ValueError:
            return None
    return None


__all__ = ["ExchangeExecutor", "ccxt_symbol_to_id"]
