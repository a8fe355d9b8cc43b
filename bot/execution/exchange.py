"""Executor for a real exchange, its demo venue, or our emulator — all through ccxt.

Submission is at most once: the client order id is derived from run and intent; a request is
resent only after a refusal that proves it never executed (429/418, -1015, -1021); after a
timeout, a 5xx or a dropped response the order is looked up by that id with backoff and, if
still unknown, reported as unknown, never resent, so one intent never becomes two entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Any

import ccxt.async_support as ccxt
from loguru import logger

from bot.core.enums import MarginMode, OrderStatus, OrderType
from bot.core.instrument import Instrument, ccxt_symbol_to_id, id_to_ccxt_symbol
from bot.core.precision import format_step
from bot.core.text import one_line, shorten
from bot.exchange.connect import endpoint_family
from bot.execution.base import Executor
from bot.execution.ccxt_map import (
    balance_from_ccxt,
    fill_from_ccxt,
    instrument_from_ccxt,
    order_from_ccxt,
    position_from_ccxt,
)
from bot.execution.fees import FeeConverter
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
from bot.market.budget import RetryPolicy, retry_after_seconds

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
#: How long one exchangeInfo read answers :meth:`ExchangeExecutor.symbol_status` (seconds).
SYMBOL_STATUS_TTL_S = 60.0
_UNKNOWN_OUTCOME = (ccxt.OperationFailed, ccxt.ExchangeNotAvailable)
#: Refusals that prove the order never reached Binance's matching engine, so sending the same
#: request again cannot make a second order: HTTP 429/418 (request-weight limit, ban, and the
#: -1015 ORDERS limit, ccxt DDoSProtection), -1003/-1015 at HTTP 400 (RateLimitExceeded) and
#: -1021 timestamp outside recvWindow (InvalidNonce), all checked before the order is processed.
_NOT_EXECUTED = (ccxt.DDoSProtection, ccxt.RateLimitExceeded, ccxt.InvalidNonce)
#: Start-up calls: attempts before giving up, and the longest Retry-After waited out (a 418 ban
#: of minutes is better reported than slept through).
START_ATTEMPTS = 6
START_MAX_WAIT_S = 60.0
#: Binance userTrades: the longest startTime..endTime span and the largest page (USDⓈ-M
#: "Account Trade List": 7 days, limit max 1000).
USER_TRADES_SPAN_MS = 7 * 24 * 3_600_000
USER_TRADES_PAGE = 1000
#: The settlement asset of the positions the bot trades; others (USDC-margined, coin pairs) are not its.
SETTLE_ASSET = "USDT"
HEDGE_MODE_REFUSAL = (
    "the account is in hedge (dual-side) position mode: derivbot trades one-way mode only and will not "
    "switch it (another bot or you may rely on hedge mode); switch to one-way mode in Binance's futures "
    "preferences (Position Mode) with no open positions or orders, or use another (sub-)account")
MULTI_ASSETS_REFUSAL = (
    "the account is in Multi-Assets mode: derivbot sizes and protects positions against a single USDT "
    "wallet with isolated margin, which Multi-Assets mode does not allow (Binance -4168); switch the account "
    "to Single-Asset mode in Binance's futures preferences (Asset Mode), or use another (sub-)account")


class StartupError(RuntimeError):
    """Start-up refused (an account mode the bot cannot trade safely) or failed after its retries.

    The message is one line that names what failed or what to change on the account; the CLI
    prints it as is and exits 1.
    """


class SetupError(OrderRejectedError):
    """A symbol's margin type / leverage could not be set: that entry is skipped, the loop goes on."""


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
        self._foreign_reported: set[str] = set()
        #: (monotonic time read, symbol -> exchangeInfo status), see :meth:`symbol_status`
        self._statuses: tuple[float, dict[str, str]] | None = None
        #: values fees paid in BNB (or any asset but USDT) in USDT at the fill time
        self.fees = FeeConverter(client, attempts=max(1, min(max_attempts, 3)), backoff_s=backoff_s)
        #: -1021 answers that were healed by a time resync (see :func:`install_clock_resync`)
        self.clock_resyncs = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Load markets and check the account can be traded, surviving transient venue errors.

        Clock: against Binance (and its demo venue) ccxt's ``adjustForTimeDifference`` makes
        ``load_markets`` sync with ``/fapi/v1/time`` (ccxt reference §5); the emulator's market clock
        may run accelerated, so there the client signs with its own clock, which the emulator
        accepts (docs/architecture.md, "Time checks in the emulator"). Either way a -1021 answer
        resyncs and resends once (:func:`install_clock_resync`).

        Account modes are read, never changed: hedge mode and Multi-Assets mode are refused with
        a message that says what to change (issue 11, items 6 and 10).
        """
        install_clock_resync(self.client, self)
        if endpoint_family(self.client) != "emulator":
            self.client.options["adjustForTimeDifference"] = True
        markets = await self._start_call("load the markets", lambda: self.client.load_markets())
        brackets: dict[str, list[dict[str, Any]]] = {}
        try:
            raw = await self._start_call("read the leverage brackets",
                                         lambda: self.client.fapiPrivateGetLeverageBracket())
            brackets = {row["symbol"]: row["brackets"] for row in raw}
        except (ccxt.BaseError, StartupError) as exc:  # public-only clients (paper data) have no keys
            logger.info("leverage brackets unavailable ({}); using default tiers", type(exc).__name__)
        for market in markets.values():
            if market.get("linear") and market.get("swap"):
                self._instruments[market["id"]] = instrument_from_ccxt(market, brackets.get(market["id"]))
        await self._check_account_modes()

    async def _check_account_modes(self) -> None:
        """Refuse hedge mode and Multi-Assets mode instead of switching the account silently.

        Binance: ``GET /fapi/v1/positionSide/dual`` (ccxt ``fetch_position_mode`` -> ``hedged``)
        and ``GET /fapi/v1/multiAssetsMargin`` (``{"multiAssetsMargin": bool}``). Changing either
        affects every bot and person trading the account, so the user decides.
        """
        mode = await self._start_call("read the position mode (GET /fapi/v1/positionSide/dual)",
                                      lambda: self.client.fetch_position_mode())
        if mode.get("hedged"):
            raise StartupError(HEDGE_MODE_REFUSAL)
        assets = await self._start_call("read the asset mode (GET /fapi/v1/multiAssetsMargin)",
                                        lambda: self.client.fapiPrivateGetMultiAssetsMargin())
        if str((assets or {}).get("multiAssetsMargin")).lower() == "true":
            raise StartupError(MULTI_ASSETS_REFUSAL)

    async def _start_call(self, what: str, call: Any) -> Any:
        """Run a start-up call, retrying 429/418/5xx/timeouts with jittered exponential backoff.

        A 429/418 waits what its ``Retry-After`` header says (Binance's rate-limit rules; the
        header is read with ``bot.market.budget.retry_after_seconds``, the backoff is
        ``RetryPolicy.backoff``: one policy for the whole bot). After :data:`START_ATTEMPTS`,
        or when asked to wait longer than :data:`START_MAX_WAIT_S`, a :class:`StartupError`
        names what failed. Errors that retrying cannot fix (bad keys, refusals) propagate at once.
        """
        policy = RetryPolicy(max_attempts=START_ATTEMPTS, base_delay_s=self.backoff_s, max_wait_s=START_MAX_WAIT_S)
        for attempt in range(1, policy.max_attempts + 1):
            try:
                return await call()
            except _UNKNOWN_OUTCOME as exc:
                delay = policy.backoff(attempt, self._rng)
                if isinstance(exc, ccxt.DDoSProtection):
                    advised = retry_after_seconds(getattr(self.client, "last_response_headers", None))
                    delay = advised if advised is not None else delay * 4
                if attempt == policy.max_attempts or delay > policy.max_wait_s:
                    why = f"asked to wait {delay:.0f}s" if delay > policy.max_wait_s else f"{attempt} attempts"
                    raise StartupError(f"start-up could not {what} ({why}; last error {type(exc).__name__}: "
                                       f"{_short(exc)})") from exc
                logger.warning("start-up: {} failed ({}), retry {} in {:.2f}s", what, type(exc).__name__,
                               attempt, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

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
        """Set the symbol's margin type and leverage before an entry.

        Any failure (-4168 Multi-Assets, -4047/-4048 open orders or position, -4028 leverage, a
        5xx) raises :class:`SetupError` (an ``OrderRejectedError``) with a message that says what
        to change, so the caller skips that entry and the loop goes on (issue 11, item 6).
        """
        if self._setup_done.get(symbol) == (leverage, margin_mode):
            return
        try:
            await self._apply_symbol_setup(symbol, leverage, margin_mode)
        except ccxt.BaseError as exc:
            raise SetupError(setup_error_message(symbol, leverage, margin_mode, exc), _code(exc)) from exc

    async def _apply_symbol_setup(self, symbol: str, leverage: int, margin_mode: MarginMode) -> None:
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
        """Place ``request`` at most once: one intent, one order (issue 11, Part 2 item 2).

        Binance accepts a client id again once its order is filled, cancelled or expired ("a
        unique id among open orders"), so resending after an unknown outcome (timeout, 5xx,
        dropped response) makes a second order whenever the first one had already filled. The
        request is therefore sent again only after a refusal that proves it never executed
        (:data:`_NOT_EXECUTED`); any other outcome is resolved by :meth:`_resolve_unknown`, which
        looks the order up and, if it stays unknown, raises :class:`SubmitUnknownError` instead of
        resending.
        """
        ccxt_type, amount, price, params = self._params(request)
        market = id_to_ccxt_symbol(request.symbol)
        last_error: Exception | None = None
        for attempt in range(self.max_attempts):
            try:
                raw = await self.client.create_order(market, ccxt_type, request.side.value, amount, price, params)
            except _NOT_EXECUTED as exc:
                last_error = exc
                logger.warning("order {} refused before execution ({}); sending it again after a pause",
                               request.client_id, type(exc).__name__)
                await self._sleep(attempt, exc)
                continue
            except ccxt.InvalidOrder as exc:
                if _code(exc) == -4116 or "duplicated" in str(exc).lower():
                    # An OPEN order already carries this id: ours, from an earlier attempt.
                    return await self._resolve_unknown(request, exc)
                raise OrderRejectedError(str(exc), _code(exc)) from exc
            except (ccxt.InsufficientFunds, ccxt.BadRequest, ccxt.AuthenticationError, ccxt.PermissionDenied) as exc:
                raise OrderRejectedError(str(exc), _code(exc)) from exc
            except _UNKNOWN_OUTCOME as exc:
                return await self._resolve_unknown(request, exc)
            except ccxt.ExchangeError as exc:
                raise OrderRejectedError(str(exc), _code(exc)) from exc
            state = order_from_ccxt(raw)
            state.client_id = state.client_id or request.client_id
            return state
        raise OrderRejectedError(f"order {request.client_id} not placed: the venue refused all {self.max_attempts} "
                                 f"attempts before execution ({type(last_error).__name__}: {last_error})"[:300],
                                 _code(last_error) if last_error else None)

    async def _resolve_unknown(self, request: OrderRequest, exc: Exception) -> OrderState:
        """The order may or may not be on the venue: find it by client id, never send it again.

        Up to ``max_attempts`` look-ups with the jittered exponential backoff of :meth:`_sleep`
        (a bounded wait: about ``backoff_s * 2**max_attempts`` in all, at most 10 s per pause).
        A -2013 "Order does not exist." is not proof of absence: under load Binance shows an
        accepted order to queries only after a while. If it is still not found, the outcome is
        reported as unknown (:class:`SubmitUnknownError`): the caller reconciles from positions
        and fills, and a resend could only make a second order.
        """
        logger.warning("order {} outcome unknown ({}): looking it up, it will not be resent",
                       request.client_id, type(exc).__name__)
        for attempt in range(self.max_attempts):
            await self._sleep(attempt, exc)
            found = await self._find_quietly(request)
            if found is not None:
                logger.info("order {} found on the venue after an unknown outcome", request.client_id)
                return found
        raise SubmitUnknownError(f"order {request.client_id}: outcome unknown ({type(exc).__name__}) and not found "
                                 f"by {self.max_attempts} look-ups; not resent, it may have executed")

    async def _find_quietly(self, request: OrderRequest) -> OrderState | None:
        """A look-up by client id; a failed one counts as "not found yet" (the caller looks again)."""
        try:
            return await self.find_order(request.symbol, request.client_id, request.is_conditional)
        except _UNKNOWN_OUTCOME as exc:
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
        """The account's USDT-settled positions. Others (a USDC-margined position the user holds in
        the same account) are not the bot's: reported once, never booked (issue 11, item 6)."""
        raw = await self._retry(lambda: self.client.fetch_positions())
        out = []
        for row in self._own_settlement(raw):
            try:
                pos = position_from_ccxt(row)
            except (KeyError, ValueError, TypeError) as exc:
                logger.warning("skipping malformed position row {}: {}", row.get("symbol"), exc)
                continue
            if pos is not None:
                out.append(pos)
        return out

    def _own_settlement(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Drop rows settled in another asset than USDT (``BTC/USDC:USDC``), logging each symbol once."""
        own = []
        for row in rows:
            symbol = str(row.get("symbol") or "")
            settle = symbol.rpartition(":")[2] if ":" in symbol else SETTLE_ASSET
            if settle.upper() == SETTLE_ASSET:
                own.append(row)
            elif symbol not in self._foreign_reported:
                self._foreign_reported.add(symbol)
                logger.warning("ignoring the {} position: it settles in {}, derivbot trades {}-settled contracts "
                               "only and did not open it", symbol, settle, SETTLE_ASSET)
        return own

    async def balance(self) -> BalanceState:
        raw = await self._retry(lambda: self.client.fetch_balance())
        return balance_from_ccxt(raw)

    async def fills(self, symbol: str, since_ms: int | None = None) -> list[FillState]:
        """The account's trades on ``symbol`` from ``since_ms`` to now, however long ago that is.

        Binance's userTrades (USDⓈ-M "Account Trade List") answers at most 7 days per query
        (startTime..endTime <= 7 days; none sent = the last 7 days; ccxt caps a since older than 7
        days at since + 7 days) and pages forward by ``fromId``, which cannot be combined with
        times. So: walk 7-day windows from ``since_ms`` until the first trade, then page by id to
        now. A window reaching now with a short page is complete: one query for a recent order; a
        trade held 9 days costs three.
        """
        market = id_to_ccxt_symbol(symbol)
        if since_ms is None:
            raw = await self._retry(lambda: self.client.fetch_my_trades(market))
            return await self.fees.convert([fill_from_ccxt(t) for t in raw])
        first, complete = await self._first_trades_page(market, since_ms)
        rows = {str(t.get("id")): t for t in first}
        page = first
        while not complete:
            from_id = max(int(t["id"]) for t in page) + 1
            page = await self._retry(lambda f=from_id: self.client.fetch_my_trades(
                market, None, USER_TRADES_PAGE, {"fromId": f}))
            rows.update((str(t.get("id")), t) for t in page)
            complete = len(page) < USER_TRADES_PAGE
        fills = [fill_from_ccxt(t) for t in rows.values()]
        fills = sorted((f for f in fills if f.ts >= since_ms), key=lambda f: (f.ts, int(f.trade_id)))
        return await self.fees.convert(fills)

    async def _first_trades_page(self, market: str, since_ms: int) -> tuple[list[dict[str, Any]], bool]:
        """The first non-empty 7-day window of trades at or after ``since_ms``, and whether it is
        all there is (it reaches now and is not a full page; an empty answer means no trades)."""
        now = await self.now_ms()
        start = since_ms
        while True:  # a window may end in the future: a fill landing while we read is not cut off
            end = start + USER_TRADES_SPAN_MS
            page = await self._retry(lambda s=start, e=end: self.client.fetch_my_trades(
                market, s, USER_TRADES_PAGE, {"endTime": e}))
            if page or end >= now:
                return page, end >= now and len(page) < USER_TRADES_PAGE
            start = end + 1

    async def income(self, since_ms: int | None = None, income_type: str | None = None) -> list[IncomeState]:
        params: dict[str, Any] = {}
        if since_ms is not None:
            params["startTime"] = since_ms
        if income_type:
            params["incomeType"] = income_type
        raw = await self._retry(lambda: self.client.fapiPrivateGetIncome(params))
        out = []
        for row in raw:
            if not self._own_wallet(row):
                continue
            symbol = row.get("symbol") or None
            out.append(IncomeState(income_id=str(row.get("tranId")), symbol=symbol,
                                   income_type=str(row.get("incomeType")), amount=float(row.get("income", 0)),
                                   ts=int(row.get("time", 0)), info=dict(row)))
        return out

    def _own_wallet(self, row: dict[str, Any]) -> bool:
        """Whether an income row moved the USDT wallet. Rows in USDC (a USDC-margined position's P&L,
        fees and funding, USDC transfers) or BNB (fees paid in BNB: their USDT value is booked from
        the fills) are not the bot's wallet: dropped, each asset reported once (issue 11, item 6)."""
        asset = str(row.get("asset") or SETTLE_ASSET).upper()
        if asset == SETTLE_ASSET:
            return True
        if asset not in self._foreign_reported:
            self._foreign_reported.add(asset)
            logger.info("income rows in {} are left out: derivbot books the {} wallet only (fees paid in BNB are "
                        "valued from the fills)", asset, SETTLE_ASSET)
        return False

    async def liquidations(self, symbol: str, since_ms: int | None = None) -> list[OrderState]:
        # no autoCloseType: Binance answers liquidations and ADL closes both (forceOrders docs)
        params: dict[str, Any] = {"symbol": symbol}
        if since_ms is not None:
            params["startTime"] = since_ms
        raw = await self._retry(lambda: self.client.fapiPrivateGetForceOrders(params))
        out = []
        for row in raw:
            parsed = self.client.parse_order(row)
            out.append(order_from_ccxt(parsed))
        return out

    async def symbol_status(self, symbol: str, *, fresh: bool = False) -> str | None:
        """``exchangeInfo``'s status of ``symbol``: ccxt's markets are loaded once and would not
        show a delisting. None when the read fails or the symbol is unknown.

        One ``exchangeInfo`` read (every symbol of the venue, hundreds of KB on Binance) serves
        every symbol for :data:`SYMBOL_STATUS_TTL_S`: the engine asks per entry intent, and a
        delisting is announced days ahead, so a minute-old status loses nothing while a read per
        intent would weigh on the trading loop (a refused entry is handled anyway). ``fresh``
        reads now: attributing a vanished position to a settlement needs the status of this moment.
        """
        now = time.monotonic()
        if fresh or self._statuses is None or now - self._statuses[0] > SYMBOL_STATUS_TTL_S:
            try:
                info = await self._retry(lambda: self.client.fapiPublicGetExchangeInfo())
            except ccxt.BaseError as exc:
                logger.warning("exchangeInfo read failed ({}): {} status unknown", type(exc).__name__, symbol)
                return None
            rows = info.get("symbols", []) if isinstance(info, dict) else []
            self._statuses = (now, {str(r.get("symbol")): str(r.get("status") or r.get("contractStatus") or "")
                                    for r in rows if isinstance(r, dict) and r.get("symbol")})
        return self._statuses[1].get(symbol) or None

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


def setup_error_message(symbol: str, leverage: int, margin_mode: MarginMode, exc: Exception) -> str:
    """One line saying why a symbol's set-up failed and what to change (Binance error codes)."""
    code = _code(exc)
    wanted = f"{margin_mode.value} margin / leverage {leverage}"
    hints = {
        -4168: "the account is in Multi-Assets mode, where isolated margin is not allowed: switch it to "
               "Single-Asset mode in Binance's futures preferences",
        -4047: "the margin type cannot change while the symbol has open orders: cancel them on Binance",
        -4048: "the margin type cannot change while the symbol has a position: close it on Binance",
        -4028: f"leverage {leverage} is not valid for {symbol}: lower the strategy's leverage",
    }
    hint = hints.get(code) if code is not None else None
    if hint is None:
        hint = f"{type(exc).__name__}: {_short(exc)}"
    venue = f" (Binance {code})" if code is not None else ""
    return f"{symbol}: could not set {wanted}{venue}: {hint}"


def install_clock_resync(client: Any, owner: Any = None) -> None:
    """Make every request of ``client`` survive a clock skew: on -1021 (ccxt ``InvalidNonce``,
    "Timestamp for this request is outside of the recvWindow") resync with ``load_time_difference()``
    and send that request once more, freshly signed.

    Binance rejects such a request before it reaches the matching engine, so resending is safe even
    for orders. Wrapping ``fetch2`` (ccxt's one path for every REST call) covers every caller
    without a second retry loop. Installed once per client; ``owner.clock_resyncs`` counts resyncs.
    """
    if getattr(client, "_derivbot_clock_resync", False):
        return
    original = client.fetch2
    lock = asyncio.Lock()

    async def fetch2(*args: Any, **kwargs: Any) -> Any:
        try:
            return await original(*args, **kwargs)
        except ccxt.BaseError as exc:
            if not isinstance(exc, ccxt.InvalidNonce) and _code(exc) != -1021:
                raise
            async with lock:
                offset = await client.load_time_difference()
            if owner is not None:
                owner.clock_resyncs += 1
            logger.warning("venue rejected our timestamp (-1021): clock resynced (offset {} ms), request resent",
                           offset)
            return await original(*args, **kwargs)

    client.fetch2 = fetch2
    client._derivbot_clock_resync = True


def _short(exc: Exception) -> str:
    """An exception's message on one line, cut to 160 characters."""
    return shorten(one_line(str(exc)), 160, "...")


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
