"""``SimExchange``: the simulated Binance USDⓈ-M account behind the paper executor and the emulator.

Scope: one-way position mode, isolated margin, USDT wallet. Cross margin and hedge mode are
refused with a :class:`SimError` rather than simulated approximately.

Market input arrives as closed bars (``on_bar``; ``ts_ms`` is the bar's OPEN time, as in
``SymbolHistory.ts``; the bar is over at ``ts_ms + fill_model.bar_ms``), funding settlements
(``on_funding``) and ticks (``set_price``). Resting orders, stops and liquidations are
processed along the intrabar path described in :mod:`bot.sim.fills`, in the order the path
reaches them. Market orders placed between bars fill at once at the current reference price
(last close or latest tick) plus the modelled spread and impact.

Ids: regular orders count from 1, algo (conditional) orders from ``ALGO_ID_START``, so an id
names one order whichever list it is in. Events produced by requests (``place_order``,
``cancel_order`` ...) are queued and returned by :meth:`SimExchange.drain_events`; events
produced by market input are returned by the call that caused them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from loguru import logger

from bot.core.enums import MarginMode, OrderSide, OrderStatus, OrderType, PositionSide, TimeInForce, WorkingType
from bot.core.instrument import Instrument
from bot.sim import errors as E
from bot.sim import funding as funding_mod
from bot.sim.account import Account, Position
from bot.sim.errors import SimError
from bot.sim.fills import FillModel, Path, bar_path, first_touch, price_at, trailing_touch
from bot.sim.liquidation import liquidate, position_liquidation_price
from bot.sim.margin import maintenance_margin, unrealized_pnl
from bot.sim.models import EventKind, IncomeType, SimBalance, SimEvent, SimFill, SimIncome, SimPosition
from bot.sim.orders import SimOrder
from bot.sim.validation import check_order_shape

ALGO_ID_START = 1_000_000_000_000
DEFAULT_LEVERAGE = 20
#: Binance's PERCENT_PRICE filter (``multiplierUp``/``multiplierDown`` around the mark price), as
#: the emulator's exchangeInfo advertises it for every symbol.
PERCENT_PRICE_UP = 1.05
PERCENT_PRICE_DOWN = 0.95
_EPS = 1e-9

#: ``exchangeInfo`` ``status`` values of a symbol's life (Binance USDⓈ-M "Exchange Information":
#: PENDING_TRADING, TRADING, ..., SETTLING, CLOSE). The simulator uses the three a delisting walks.
TRADING = "TRADING"
SETTLING = "SETTLING"
CLOSE = "CLOSE"
#: How long a delisted symbol shows SETTLING before CLOSE, unless the caller says otherwise.
SETTLING_MS = 3_600_000
#: Client order ids Binance gives the orders it sends itself (USDⓈ-M user data stream, "Event:
#: Order Update": ``autoclose-`` liquidation, ``adl_autoclose`` ADL, ``settlement_autoclose-``
#: settlement order for delisting or delivery).
ADL_CLIENT_ID = "adl_autoclose"
SETTLEMENT_CLIENT_PREFIX = "settlement_autoclose-"
#: Binance USDⓈ-M error codes for orders on a symbol that is not TRADING.
OPENING_STATUS_INVALID = -4140  # INVALID_OPENING_POSITION_STATUS
SYMBOL_CLOSED = -4141  # SYMBOL_ALREADY_CLOSED


class _SymbolState:
    """Per-symbol market and order state, in plain attributes for the ``on_bar`` fast path."""

    __slots__ = ("active", "algo", "close", "high", "inst", "last", "leverage", "low", "margin_mode",
                 "mark", "orders", "settlement", "volume")

    def __init__(self, inst: Instrument) -> None:
        self.inst = inst
        self.last: float | None = None
        self.mark: float | None = None
        self.high = 0.0
        self.low = 0.0
        self.close = 0.0
        self.volume = 0.0
        self.active = False  # a position or resting orders exist: bars need the slow path
        self.orders: list[SimOrder] = []  # resting regular (limit) orders
        self.algo: list[SimOrder] = []  # resting conditional orders
        self.leverage = min(DEFAULT_LEVERAGE, max(b.initial_leverage for b in inst.brackets))
        self.margin_mode = MarginMode.ISOLATED
        #: a scheduled delisting: (settle at ms, delivery price, CLOSE from ms, settled yet)
        self.settlement: list | None = None


class SimExchange:
    """A deterministic simulated futures exchange (see the module docstring)."""

    def __init__(self, instruments: Mapping[str, Instrument], balance: float = 10_000.0,
                 maker_fee: float = 0.0002, taker_fee: float = 0.0005, seed: int = 0, *,
                 fill_model: FillModel | None = None) -> None:
        for name, fee in (("maker_fee", maker_fee), ("taker_fee", taker_fee)):
            if not (isinstance(fee, int | float) and math.isfinite(fee) and 0 <= fee < 0.1):
                raise ValueError(f"{name} must be a fraction in [0, 0.1), got {fee!r}")
        if not instruments:
            raise ValueError("SimExchange needs at least one instrument")
        self.instruments = dict(instruments)
        self.maker_fee = float(maker_fee)
        self.taker_fee = float(taker_fee)
        self.seed = seed  # the model is deterministic and uses no randomness; kept for the contract
        self.fill_model = fill_model or FillModel()
        #: Reject MARKET orders whose fill price lies outside the PERCENT_PRICE band (-4131), as
        #: Binance does in fast markets. On by default; tests that need a wild fill switch it off.
        self.percent_price_check = True
        self.account = Account(balance)
        self.now_ms = 0
        self._state: dict[str, _SymbolState] = {s: _SymbolState(i) for s, i in self.instruments.items()}
        self._reset_orders()

    def _reset_orders(self) -> None:
        self._orders: dict[int, SimOrder] = {}
        self._history: list[SimOrder] = []
        #: (symbol, is_conditional, client id) -> the most recent order that used the id.
        self._by_client: dict[tuple[str, bool, str], SimOrder] = {}
        self._force: list[SimOrder] = []
        self._pending: list[SimEvent] = []
        self._next_order_id = 1
        self._next_algo_id = ALGO_ID_START
        self._seq = 0
        self._bad_rows = 0
        self._adl: list[SimOrder] = []
        #: symbols whose scheduled delisting has not been settled yet (checked as time moves)
        self._due_symbols: set[str] = {s for s, st in getattr(self, "_state", {}).items()
                                       if st.settlement is not None and not st.settlement[3]}

    # ================================================================ market input
    def on_bar(self, symbol: str, ts_ms: int, o: float, h: float, l: float, c: float,  # noqa: E741
               volume: float, mark_o: float | None = None, mark_h: float | None = None,
               mark_l: float | None = None, mark_c: float | None = None) -> list[SimEvent]:
        """Replay one closed bar (``ts_ms`` = open time). Malformed bars are skipped with a warning."""
        st = self._state.get(symbol)
        if st is None:
            raise SimError(E.BAD_SYMBOL, f"Invalid symbol: {symbol!r}.")
        if st.settlement is not None and not st.settlement[3]:  # a delisting is due: around this bar
            end = ts_ms + self.fill_model.bar_ms
            events = self._settle_due(st, end - 1)  # settled before the bar closes: the bar is after it
            events += self._apply_bar(st, symbol, ts_ms, o, h, l, c, volume, mark_o, mark_h, mark_l, mark_c)
            return events + self._settle_due(st, end)  # at the bar's close: the bar first (as funding)
        return self._apply_bar(st, symbol, ts_ms, o, h, l, c, volume, mark_o, mark_h, mark_l, mark_c)

    def _apply_bar(self, st: _SymbolState, symbol: str, ts_ms: int, o: float, h: float, l: float,  # noqa: E741
                   c: float, volume: float, mark_o: float | None, mark_h: float | None, mark_l: float | None,
                   mark_c: float | None) -> list[SimEvent]:
        if not (0.0 < l <= o <= h and l <= c <= h):  # also false for NaN
            self._warn_bad(symbol, ts_ms, f"bar o={o} h={h} l={l} c={c}")
            return []
        end = ts_ms + self.fill_model.bar_ms
        if end > self.now_ms:
            self.now_ms = end
        if not volume >= 0.0:
            volume = 0.0
        mark_ok = mark_c is not None and mark_c > 0.0
        if not st.active:  # fast path: nothing can happen to this symbol
            st.last = c
            st.mark = mark_c if mark_ok else c
            st.high = h
            st.low = l
            st.close = c
            st.volume = volume
            return []
        last_path = bar_path(o, h, l, c)
        if (mark_ok and mark_o is not None and mark_h is not None and mark_l is not None
                and 0.0 < mark_l <= mark_o <= mark_h and mark_l <= mark_c <= mark_h):  # type: ignore[operator]
            mark_path = bar_path(mark_o, mark_h, mark_l, mark_c)  # type: ignore[arg-type]
        else:
            mark_path = (mark_c,) * 4 if mark_ok else last_path  # type: ignore[assignment]
        st.high, st.low, st.close, st.volume = h, l, c, volume
        events = self._run_path(st, ts_ms, self.fill_model.bar_ms, last_path, mark_path, volume)
        st.last = c
        st.mark = mark_path[-1]
        return events

    def advance_time(self, ts_ms: int) -> None:
        """Move the exchange clock forward without a market event: orders placed and fills made
        from now on carry this time (the driver calls it as its clock moves between bars).
        A delisting due by then is settled (see :meth:`schedule_settlement`)."""
        if ts_ms > self.now_ms:
            self.now_ms = int(ts_ms)
        if self._due_symbols:
            for symbol in sorted(self._due_symbols):
                self._pending += self._settle_due(self._state[symbol], self.now_ms)

    def set_price(self, symbol: str, ts_ms: int, last: float, mark: float | None = None) -> list[SimEvent]:
        """A price tick (control API / paper). A jump: stops crossed by it fill from the new price."""
        st = self._state_or_raise(symbol)
        if not (isinstance(last, int | float) and last > 0 and math.isfinite(last)):
            raise SimError(E.MANDATORY_PARAM, f"last price must be a positive number, got {last!r}")
        if mark is None:
            mark = last
        elif not (isinstance(mark, int | float) and mark > 0 and math.isfinite(mark)):
            raise SimError(E.MANDATORY_PARAM, f"mark price must be a positive number, got {mark!r}")
        if ts_ms > self.now_ms:
            self.now_ms = ts_ms
        settled = self._settle_due(st, ts_ms) if st.settlement is not None else []
        if st.last is None:
            st.high = st.low = st.close = float(last)
        events: list[SimEvent] = settled
        if st.active:
            events += self._run_path(st, ts_ms, 0, (float(last),), (float(mark),), None)
        st.last = float(last)
        st.mark = float(mark)
        return events

    def on_funding(self, symbol: str, ts_ms: int, rate: float, mark_price: float | None = None) -> list[SimEvent]:
        """Settle funding for the symbol's position at ``mark_price`` (default: current mark)."""
        st = self._state_or_raise(symbol)
        if ts_ms > self.now_ms:
            self.now_ms = ts_ms
        settled = self._settle_due(st, ts_ms) if st.settlement is not None else []
        if settled:
            self._pending += settled
        mark = mark_price if mark_price is not None and mark_price > 0 else st.mark
        if not (isinstance(rate, int | float) and math.isfinite(rate)) or mark is None or not mark > 0:
            self._warn_bad(symbol, ts_ms, f"funding rate={rate} mark={mark}")
            return []
        income = funding_mod.settle(self.account, symbol, ts_ms, float(rate), float(mark))
        if income is None:
            return []
        events = [SimEvent(EventKind.FUNDING, symbol, ts_ms,
                           {"income": income, "rate": float(rate), "mark_price": float(mark)})]
        # Funding moved the isolated wallet, hence the liquidation price: check it now.
        return events + self._liquidation_check(st)

    def _liquidation_check(self, st: _SymbolState) -> list[SimEvent]:
        """Liquidate at once if the position is already beyond its liquidation price at the
        current mark (after funding, or a taker fill with a large impact away from the mark)."""
        if st.mark is None or st.last is None or st.inst.symbol not in self.account.positions:
            return []
        return self._run_path(st, self.now_ms, 0, (st.last,), (st.mark,), None, liquidation_only=True)

    # ===================================================================== account
    def set_leverage(self, symbol: str, leverage: int) -> None:
        st = self._state_or_raise(symbol)
        self._check_not_closed(st)
        inst = st.inst
        top = max(b.initial_leverage for b in inst.brackets)
        if isinstance(leverage, bool) or not isinstance(leverage, int) or not 1 <= leverage <= top:
            raise SimError(E.INVALID_LEVERAGE, f"Leverage {leverage!r} is not valid (1..{top}).")
        pos = self.account.positions.get(symbol)
        if pos is not None and abs(pos.qty) * (st.mark or pos.entry) > inst.max_notional_for_leverage(leverage):
            raise SimError(E.MAX_POSITION_EXCEEDED)
        new_reserves = [(o, self._reserve_for(st, o, o.remaining, leverage)) for o in st.orders]
        extra = sum(r - o.reserved_margin for o, r in new_reserves)
        if extra > 0 and extra > self.account.available + _EPS:
            raise SimError(E.MARGIN_INSUFFICIENT, "Margin is insufficient. (resting orders at the new leverage)")
        for order, reserve in new_reserves:
            self.account.reserved += reserve - order.reserved_margin
            order.reserved_margin = reserve
        st.leverage = leverage

    def leverage(self, symbol: str) -> int:
        return self._state_or_raise(symbol).leverage

    def set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        st = self._state_or_raise(symbol)
        self._check_not_closed(st)
        mode = MarginMode(mode)
        if mode is st.margin_mode:
            raise SimError(E.MARGIN_TYPE_UNCHANGED)
        if symbol in self.account.positions:
            raise SimError(E.MARGIN_TYPE_POSITION)
        if st.orders or st.algo:
            raise SimError(E.MARGIN_TYPE_OPEN_ORDERS)
        raise SimError(E.UNSUPPORTED, "Cross margin is not supported by the simulated exchange; use ISOLATED.")

    def margin_mode(self, symbol: str) -> MarginMode:
        return self._state_or_raise(symbol).margin_mode

    def set_position_mode(self, dual: bool) -> None:
        if dual:
            raise SimError(E.POSITION_SIDE_UNCHANGED,
                           "Hedge mode (dualSidePosition=true) is not supported: the simulator is one-way only.")
        raise SimError(E.POSITION_SIDE_UNCHANGED)

    def set_wallet_balance(self, amount: float) -> None:
        """Deposit or withdraw so that the wallet equals ``amount`` (locked margin stays)."""
        if not (isinstance(amount, int | float) and math.isfinite(amount) and amount >= 0):
            raise SimError(E.MANDATORY_PARAM, f"wallet balance must be a number >= 0, got {amount!r}")
        try:
            self.account.adjust_deposit(float(amount) - self.account.wallet)
        except ValueError as exc:
            raise SimError(E.MARGIN_INSUFFICIENT, f"Margin is insufficient. ({exc})") from exc

    def transfer(self, amount: float, ts_ms: int | None = None, asset: str = "USDT") -> SimIncome:
        """Transfer ``amount`` into (+) or out of (-) the futures wallet (issue 11, "money moving").

        Books a ``TRANSFER`` income row (Binance lists transfers in ``GET /fapi/v1/income``) at
        ``ts_ms`` (default: the exchange's clock). An outgoing transfer beyond the available
        balance is refused, as Binance's wallet transfer refuses it: -5002 "You have insufficient
        balance." (Binance wallet API error codes); the account is left unchanged.
        """
        if not (isinstance(amount, int | float) and math.isfinite(amount) and amount != 0):
            raise SimError(E.MANDATORY_PARAM, f"transfer amount must be a finite non-zero number, got {amount!r}")
        try:
            return self.account.transfer(float(amount), self.now_ms if ts_ms is None else int(ts_ms), asset)
        except ValueError as exc:
            raise SimError(-5002, f"You have insufficient balance. ({exc})") from exc

    def reset(self, balance: float) -> None:
        """Fresh account: no positions, orders or history; market prices are kept."""
        self.account.reset(balance)
        for st in self._state.values():
            st.orders.clear()
            st.algo.clear()
            st.active = False
            st.leverage = min(DEFAULT_LEVERAGE, max(b.initial_leverage for b in st.inst.brackets))
            st.margin_mode = MarginMode.ISOLATED
        self._reset_orders()

    # ============================================= closes the exchange makes: ADL and delisting
    def auto_deleverage(self, symbol: str, price: float | None = None, ts_ms: int | None = None) -> SimOrder | None:
        """Close the whole position in ``symbol`` by auto-deleveraging, as Binance's ADL does.

        Binance closes a profitable position against a liquidated one at the latter's bankruptcy
        price when the insurance fund cannot take it. The order it reports (``forceOrders`` with
        ``autoCloseType=ADL``) carries client id ``adl_autoclose``; the fill is in ``userTrades``
        and its P&L in the income history as ``REALIZED_PNL``. No commission is booked (an
        assumption: the documentation names none for ADL). ``price`` defaults to the current mark
        price, the simulator's stand-in for a counterparty it does not have. The symbol's resting
        reduce-only limit orders expire with the position; its stops and take-profits stay open
        (orphaned), as on the venue, for the owner to cancel. None when there is no position.
        """
        st = self._state_or_raise(symbol)
        pos = self.account.positions.get(symbol)
        if pos is None:
            return None
        fill_price = self._system_price(st, price)
        ts = self.now_ms if ts_ms is None else max(int(ts_ms), self.now_ms)
        order, events = self._system_close(st, pos, fill_price, ts, ADL_CLIENT_ID)
        self._adl.append(order)
        self._pending += events + self._after_position_change(st, ts)
        logger.warning("sim: {} position auto-deleveraged at {:.8g}", symbol, fill_price)
        return order

    def schedule_settlement(self, symbol: str, delivery_price: float, at_ms: int,
                            settling_ms: int = SETTLING_MS) -> list[SimEvent]:
        """Delist ``symbol`` at ``at_ms``: from then it is SETTLING, from ``at_ms + settling_ms`` CLOSE.

        At ``at_ms`` (as soon as the market clock reaches it) the symbol's open orders are
        cancelled and its position is closed at ``delivery_price`` by an order with client id
        ``settlement_autoclose-...`` (Binance's prefix for "settlement order for delisting or
        delivery"); the fill is in ``userTrades`` and its P&L an income ``REALIZED_PNL`` row,
        without commission (an assumption). New orders are refused from ``at_ms`` on: -4140
        while SETTLING, -4141 "Symbol is closed." once CLOSE. A time already passed settles now.
        """
        st = self._state_or_raise(symbol)
        if not (isinstance(delivery_price, int | float) and math.isfinite(delivery_price) and delivery_price > 0):
            raise SimError(E.MANDATORY_PARAM, f"delivery price must be a positive number, got {delivery_price!r}")
        if st.settlement is not None and st.settlement[3]:
            raise SimError(SYMBOL_CLOSED, "Symbol is closed.")
        at = int(at_ms)
        st.settlement = [at, float(delivery_price), at + max(int(settling_ms), 0), False]
        self._due_symbols.add(symbol)
        return self._settle_due(st, self.now_ms)

    def symbol_status(self, symbol: str, now_ms: int | None = None) -> str:
        """``TRADING``, ``SETTLING`` or ``CLOSE`` at ``now_ms`` (default: the exchange's clock)."""
        st = self._state_or_raise(symbol)
        if st.settlement is None:
            return TRADING
        now = self.now_ms if now_ms is None else now_ms
        at, _, close_at, _ = st.settlement
        return TRADING if now < at else SETTLING if now < close_at else CLOSE

    def _settle_due(self, st: _SymbolState, upto_ms: int) -> list[SimEvent]:
        """Carry out the symbol's delisting if it is due by ``upto_ms`` (once)."""
        plan = st.settlement
        if plan is None or plan[3] or plan[0] > upto_ms:
            return []
        plan[3] = True
        self._due_symbols.discard(st.inst.symbol)
        at, price = plan[0], plan[1]
        events: list[SimEvent] = []
        for order in [*st.orders, *st.algo]:  # Binance: "canceled as the symbol is delisted"
            self._close_order(st, order, OrderStatus.CANCELED, at)
            events.append(SimEvent(EventKind.ORDER_UPDATE, st.inst.symbol, at, {"order": order}))
        pos = self.account.positions.get(st.inst.symbol)
        if pos is not None:
            _, closed = self._system_close(st, pos, price, at, SETTLEMENT_CLIENT_PREFIX + "{ts}-{oid}")
            events += closed
        logger.warning("sim: {} delisted at {} (delivery price {:.8g})", st.inst.symbol, at, price)
        return events

    def _system_price(self, st: _SymbolState, price: float | None) -> float:
        if price is None:
            price = st.mark if st.mark is not None else st.last
        if not (isinstance(price, int | float) and math.isfinite(price) and price > 0):
            raise SimError(E.NEW_ORDER_REJECTED, f"NEW_ORDER_REJECTED: no price for {st.inst.symbol}.")
        return float(price)

    def _system_close(self, st: _SymbolState, pos: Position, price: float, ts: int,
                      client_id: str) -> tuple[SimOrder, list[SimEvent]]:
        """Close ``pos`` at ``price`` with an order the exchange sends itself (no commission);
        ``client_id`` may hold ``{ts}`` and ``{oid}`` (settlement ids are unique, ADL's is fixed)."""
        qty = abs(pos.qty)
        side = OrderSide.SELL if pos.qty > 0 else OrderSide.BUY
        oid = self._next_order_id
        self._next_order_id += 1
        self._seq += 1
        order = SimOrder(oid, client_id.format(ts=ts, oid=oid), st.inst.symbol, side, OrderType.LIMIT, qty, price,
                         None, TimeInForce.IOC, True, False, WorkingType.CONTRACT_PRICE, ts, seq=self._seq)
        fill = self.account.apply_fill(st.inst, oid, side, qty, price, 0.0, False, pos.leverage, ts)
        order.add_fill(qty, price, ts)
        self._register(order, by_client=False)
        self._refresh_active(st)
        return order, [SimEvent(EventKind.FILL, st.inst.symbol, ts, {"fill": fill, "order": order}),
                       SimEvent(EventKind.ORDER_UPDATE, st.inst.symbol, ts, {"order": order})]

    def _check_trading(self, st: _SymbolState) -> None:
        """Refuse a new order on a symbol that is not TRADING, with Binance's code."""
        status = self.symbol_status(st.inst.symbol)
        if status == SETTLING:
            raise SimError(OPENING_STATUS_INVALID, "Invalid symbol status for opening position.")
        if status == CLOSE:
            raise SimError(SYMBOL_CLOSED, "Symbol is closed.")

    def _check_not_closed(self, st: _SymbolState) -> None:
        if st.settlement is not None and self.symbol_status(st.inst.symbol) == CLOSE:
            raise SimError(SYMBOL_CLOSED, "Symbol is closed.")

    # ====================================================================== orders
    def place_order(self, symbol: str, side: OrderSide, type: OrderType, quantity: float | None = None,
                    price: float | None = None, trigger_price: float | None = None,
                    time_in_force: TimeInForce = TimeInForce.GTC, reduce_only: bool = False,
                    close_position: bool = False, working_type: WorkingType = WorkingType.CONTRACT_PRICE,
                    client_order_id: str | None = None, callback_rate: float | None = None,
                    activation_price: float | None = None) -> SimOrder:
        """Validate and accept an order (raising :class:`SimError` as Binance would)."""
        st = self._state_or_raise(symbol)
        if st.settlement is not None:
            self._check_trading(st)
        inst = st.inst
        side, otype = OrderSide(side), OrderType(type)
        tif, wtype = TimeInForce(time_in_force), WorkingType(working_type)
        qty, price, trigger_price, activation_price = check_order_shape(
            inst, otype, quantity, price, trigger_price, close_position, reduce_only, callback_rate,
            activation_price)
        if client_order_id is not None:
            self._check_client_id(symbol, client_order_id)
        if st.last is None or st.mark is None:
            raise SimError(E.NEW_ORDER_REJECTED, f"NEW_ORDER_REJECTED: no market price for {symbol} yet.")
        pos = self.account.positions.get(symbol)
        if reduce_only and not otype.is_conditional and (pos is None or pos.sign == side.sign):
            raise SimError(E.REDUCE_ONLY_REJECTED)
        if not (reduce_only or close_position):
            ref = price or trigger_price or activation_price or st.last
            if qty * ref < inst.min_notional - _EPS:
                raise SimError(E.MIN_NOTIONAL, f"Order's notional must be no smaller than {inst.min_notional:g} "
                                               f"(unless you choose reduce only).")
        if otype.is_conditional:
            return self._accept_conditional(st, side, otype, qty, trigger_price, reduce_only, close_position,
                                            wtype, client_order_id, callback_rate, activation_price)
        if otype is OrderType.MARKET:
            self._check_percent_price(st, side)
            order = self._new_order(st, side, otype, qty, None, None, tif, reduce_only, False, wtype,
                                    client_order_id, register=False)
            events = self._taker_fill(st, order, qty, st.last, self.now_ms)
            self._register(order)
            self._pending += events + self._liquidation_check(st)
            return order
        return self._accept_limit(st, side, qty, price, tif, reduce_only, wtype, client_order_id)  # type: ignore[arg-type]

    def _check_client_id(self, symbol: str, client_order_id: str) -> None:
        """-4116 only while an OPEN order on the symbol carries the id (regular or algo).

        Binance USDⓈ-M documents ``newClientOrderId`` and ``clientAlgoId`` as "a unique id among
        open orders": once the order is filled, cancelled or expired the id can be sent again and
        makes a new order. Refusing every reuse (as this simulator once did) hides the duplicate
        entry a bot makes when it resends an order that had already filled. Regular and algo
        orders are checked together: stricter than a separate check per kind, never looser.
        """
        if not isinstance(client_order_id, str) or not 1 <= len(client_order_id) <= 36:
            raise SimError(E.MANDATORY_PARAM, "client_order_id must be a string of 1..36 characters.")
        for conditional in (False, True):
            order = self._by_client.get((symbol, conditional, client_order_id))
            if order is not None and order.is_open:
                raise SimError(E.DUPLICATE_CLIENT_ID)

    def _check_percent_price(self, st: _SymbolState, side: OrderSide) -> None:
        """-4131 when a MARKET order's best counterparty price is outside the PERCENT_PRICE band.

        Binance rejects a market order whose counterparty price is beyond ``mark * multiplierUp``
        (buys) or below ``mark * multiplierDown`` (sells) with -4131 "The counterparty's best price
        does not meet the PERCENT_PRICE filter limit." (error-code list of the USDⓈ-M API; ccxt maps
        it to OperationRejected). As the message says, the price checked is the best counterparty
        price: the synthetic book's top level (last price plus or minus half the modelled spread),
        not the size-dependent fill price, so a large order is not refused for its own impact.
        """
        if not self.percent_price_check or st.mark is None or st.last is None:
            return
        ref = st.last
        half = self.fill_model.spread(ref, st.inst.tick_size, st.high or ref, st.low or ref, st.close or ref) / 2
        price = ref + half if side is OrderSide.BUY else ref - half
        if (side is OrderSide.BUY and price > st.mark * PERCENT_PRICE_UP + _EPS) or (
                side is OrderSide.SELL and price < st.mark * PERCENT_PRICE_DOWN - _EPS):
            raise SimError(E.PERCENT_PRICE)

    def cancel_order(self, symbol: str, order_id: int | None = None, client_order_id: str | None = None,
                     conditional: bool | None = None) -> SimOrder:
        st = self._state_or_raise(symbol)
        order = self._lookup(symbol, order_id, client_order_id, E.UNKNOWN_ORDER, conditional)
        if not order.is_open:
            raise SimError(E.UNKNOWN_ORDER)
        self._close_order(st, order, OrderStatus.CANCELED, self.now_ms)
        self._pending.append(SimEvent(EventKind.ORDER_UPDATE, symbol, self.now_ms, {"order": order}))
        return order

    def cancel_all(self, symbol: str, conditional: bool = False) -> list[SimOrder]:
        st = self._state_or_raise(symbol)
        canceled = list(st.algo if conditional else st.orders)
        for order in canceled:
            self._close_order(st, order, OrderStatus.CANCELED, self.now_ms)
            self._pending.append(SimEvent(EventKind.ORDER_UPDATE, symbol, self.now_ms, {"order": order}))
        return canceled

    def get_order(self, symbol: str, order_id: int | None = None, client_order_id: str | None = None,
                  conditional: bool | None = None) -> SimOrder:
        """An order by id, or the most recent one with ``client_order_id`` (ids can be reused once
        closed); ``conditional`` limits the search to regular (False) or algo (True) orders."""
        self._state_or_raise(symbol)
        return self._lookup(symbol, order_id, client_order_id, E.NO_SUCH_ORDER, conditional)

    def open_orders(self, symbol: str | None = None, conditional: bool | None = None) -> list[SimOrder]:
        states = [self._state_or_raise(symbol)] if symbol is not None else list(self._state.values())
        out: list[SimOrder] = []
        for st in states:
            if conditional is not True:
                out += st.orders
            if conditional is not False:
                out += st.algo
        return sorted(out, key=lambda o: o.seq)

    def all_orders(self, symbol: str | None = None, conditional: bool | None = None) -> list[SimOrder]:
        if symbol is not None:
            self._state_or_raise(symbol)
        return [o for o in self._history
                if (symbol is None or o.symbol == symbol)
                and (conditional is None or o.is_conditional == conditional)]

    def drain_events(self) -> list[SimEvent]:
        """Events caused by requests (fills of market orders, cancels) since the last call."""
        events, self._pending = self._pending, []
        return events

    # ============================================================= account queries
    def position(self, symbol: str) -> SimPosition | None:
        st = self._state_or_raise(symbol)
        pos = self.account.positions.get(symbol)
        return None if pos is None else self._position_view(st, pos)

    def positions(self) -> list[SimPosition]:
        return [self._position_view(self._state[s], p) for s, p in sorted(self.account.positions.items())]

    def balance(self) -> SimBalance:
        upnl = im = mm = 0.0
        for view in self.positions():
            upnl += view.unrealized_pnl
            im += view.initial_margin
            mm += view.maint_margin
        wallet = self.account.wallet
        return SimBalance(wallet, upnl, wallet + upnl, self.account.available, im + self.account.reserved, mm)

    def user_trades(self, symbol: str, start_ms: int | None = None, end_ms: int | None = None,
                    limit: int | None = None) -> list[SimFill]:
        self._state_or_raise(symbol)
        rows = [f for f in self.account.fills if f.symbol == symbol]
        return _window(rows, start_ms, end_ms, limit)

    def income(self, symbol: str | None = None, income_type: IncomeType | str | None = None,
               start_ms: int | None = None, end_ms: int | None = None, limit: int | None = None) -> list[SimIncome]:
        kind = IncomeType(income_type) if income_type is not None else None
        rows = [i for i in self.account.incomes_since(start_ms)
                if (symbol is None or i.symbol == symbol) and (kind is None or i.income_type is kind)]
        return _window(rows, start_ms, end_ms, limit)

    def force_orders(self, symbol: str | None = None, start_ms: int | None = None, end_ms: int | None = None,
                     limit: int | None = None, auto_close_type: str | None = None) -> list[SimOrder]:
        """Liquidation and ADL orders, oldest first; ``auto_close_type`` ``LIQUIDATION`` or ``ADL``
        keeps one kind (Binance ``GET /fapi/v1/forceOrders``: both kinds when it is not sent)."""
        kind = (auto_close_type or "").upper()
        pool = self._force if kind == "LIQUIDATION" else self._adl if kind == "ADL" else sorted(
            [*self._force, *self._adl], key=lambda o: o.seq)
        rows = [o for o in pool if symbol is None or o.symbol == symbol]
        return _window(rows, start_ms, end_ms, limit)

    # ================================================================== internals
    def _state_or_raise(self, symbol: str) -> _SymbolState:
        st = self._state.get(symbol)
        if st is None:
            raise SimError(E.BAD_SYMBOL, f"Invalid symbol: {symbol!r}.")
        return st

    def _warn_bad(self, symbol: str, ts_ms: int, what: str) -> None:
        self._bad_rows += 1
        logger.warning("sim: skipped malformed market data for {} at {}: {}", symbol, ts_ms, what)

    def _lookup(self, symbol: str, order_id: int | None, client_order_id: str | None, missing: int,
                conditional: bool | None = None) -> SimOrder:
        if order_id is None and client_order_id is None:
            raise SimError(E.MANDATORY_PARAM, "Either orderId or origClientOrderId must be sent.")
        if order_id is not None:
            order = self._orders.get(order_id)
        else:
            kinds = (False, True) if conditional is None else (conditional,)
            found = [o for k in kinds if (o := self._by_client.get((symbol, k, client_order_id or ""))) is not None]
            order = max(found, key=lambda o: o.seq) if found else None
        if order is None or order.symbol != symbol or (conditional is not None and order.is_conditional != conditional):
            raise SimError(missing)
        return order

    def _refresh_active(self, st: _SymbolState) -> None:
        st.active = bool(st.orders or st.algo) or st.inst.symbol in self.account.positions

    def _new_order(self, st: _SymbolState, side: OrderSide, otype: OrderType, qty: float, price: float | None,
                   trigger: float | None, tif: TimeInForce, reduce_only: bool, close_position: bool,
                   wtype: WorkingType, client_order_id: str | None, *, conditional: bool = False,
                   callback_rate: float | None = None, activation_price: float | None = None,
                   register: bool = True) -> SimOrder:
        if conditional:
            oid = self._next_algo_id
            self._next_algo_id += 1
        else:
            oid = self._next_order_id
            self._next_order_id += 1
        self._seq += 1
        order = SimOrder(oid, client_order_id or f"sim-{oid}", st.inst.symbol, side, otype, qty, price, trigger,
                         tif, reduce_only, close_position, wtype, self.now_ms, is_conditional=conditional,
                         callback_rate=callback_rate, activation_price=activation_price, seq=self._seq)
        if register:
            self._register(order)
        return order

    def _register(self, order: SimOrder, by_client: bool = True) -> None:
        """Make an accepted order visible to lookups and history (never a rejected request)."""
        self._orders[order.order_id] = order
        self._history.append(order)
        if by_client:  # the most recent order with an id answers look-ups by that id (Binance)
            self._by_client[(order.symbol, order.is_conditional, order.client_order_id)] = order

    def _close_order(self, st: _SymbolState, order: SimOrder, status: OrderStatus, ts_ms: int) -> None:
        """Move a resting order to a terminal state and release what it held."""
        order.transition(status, ts_ms)
        if order.reserved_margin:
            self.account.reserved -= order.reserved_margin
            order.reserved_margin = 0.0
        book = st.algo if order.is_conditional else st.orders
        if order in book:
            book.remove(order)
        self._refresh_active(st)

    # ----------------------------------------------------------------- margin
    def _reserve_for(self, st: _SymbolState, order: SimOrder, qty: float, leverage: int) -> float:
        """Initial margin + maker fee a resting limit holds for the part that would open a position."""
        if order.reduce_only or order.price is None:
            return 0.0
        _, opening = self.account.split(st.inst.symbol, order.side.sign, qty)
        return opening * order.price / leverage + qty * order.price * self.maker_fee

    def _check_margin(self, st: _SymbolState, side: OrderSide, qty: float, price: float, fee_rate: float,
                      released_reserve: float = 0.0) -> None:
        """Raise -2027 / -2019 unless the account can carry ``qty`` more at ``price``."""
        symbol = st.inst.symbol
        closing, opening = self.account.split(symbol, side.sign, qty)
        if opening <= 0:
            return
        pos = self.account.positions.get(symbol)
        same = abs(pos.qty) if pos is not None and pos.sign == side.sign else 0.0
        if (same + opening) * price > st.inst.max_notional_for_leverage(st.leverage) + _EPS:
            raise SimError(E.MAX_POSITION_EXCEEDED)
        freed = released_reserve
        if pos is not None and closing > 0:
            freed += pos.iso_wallet * closing / abs(pos.qty) + pos.sign * closing * (price - pos.entry)
        need = opening * price / st.leverage + qty * price * fee_rate
        if self.account.available + freed < need - _EPS:
            raise SimError(E.MARGIN_INSUFFICIENT)

    # ------------------------------------------------------------------ fills
    def _taker_fill(self, st: _SymbolState, order: SimOrder, qty: float, ref: float, ts_ms: int,
                    cap: float | None = None) -> list[SimEvent]:
        """Execute ``qty`` of ``order`` as taker around ``ref``; raises SimError before any change."""
        inst = st.inst
        price = self._taker_price(st, order.side, qty, ref)
        if cap is not None:
            price = min(price, cap) if order.side is OrderSide.BUY else max(price, cap)
        self._check_margin(st, order.side, qty, price, self.taker_fee)
        fee = qty * price * self.taker_fee
        fill = self.account.apply_fill(inst, order.order_id, order.side, qty, price, fee, False, st.leverage, ts_ms)
        order.add_fill(qty, price, ts_ms)
        return [SimEvent(EventKind.FILL, inst.symbol, ts_ms, {"fill": fill, "order": order}),
                SimEvent(EventKind.ORDER_UPDATE, inst.symbol, ts_ms, {"order": order}),
                *self._after_position_change(st, ts_ms)]

    def _taker_price(self, st: _SymbolState, side: OrderSide, qty: float, ref: float) -> float:
        """The price a taker order of ``qty`` pays around ``ref`` on the synthetic book."""
        bar_close = st.close or ref
        high, low = (st.high, st.low) if st.close else (ref, ref)
        return self.fill_model.taker_price(side.sign, ref, qty, st.inst.tick_size, high, low, bar_close, st.volume)

    def _after_position_change(self, st: _SymbolState, ts_ms: int) -> list[SimEvent]:
        """Binance expires resting reduce-only orders once the position is flat."""
        events: list[SimEvent] = []
        if st.inst.symbol not in self.account.positions:
            for order in [o for o in st.orders if o.reduce_only]:
                self._close_order(st, order, OrderStatus.EXPIRED, ts_ms)
                events.append(SimEvent(EventKind.ORDER_UPDATE, st.inst.symbol, ts_ms, {"order": order}))
        self._refresh_active(st)
        return events

    def _accept_limit(self, st: _SymbolState, side: OrderSide, qty: float, price: float, tif: TimeInForce,
                      reduce_only: bool, wtype: WorkingType, client_order_id: str | None) -> SimOrder:
        inst = st.inst
        ref = st.last
        assert ref is not None
        half = self.fill_model.spread(ref, inst.tick_size, st.high or ref, st.low or ref, st.close or ref) / 2
        marketable = price >= ref + half if side is OrderSide.BUY else price <= ref - half
        if marketable and tif is TimeInForce.GTX:
            raise SimError(E.POST_ONLY_REJECTED)
        if marketable:
            order = self._new_order(st, side, OrderType.LIMIT, qty, price, None, tif, reduce_only, False, wtype,
                                    client_order_id, register=False)
            events = self._taker_fill(st, order, qty, ref, self.now_ms, cap=price)
            self._register(order)
            self._pending += events + self._liquidation_check(st)
            return order
        if tif is TimeInForce.IOC:
            order = self._new_order(st, side, OrderType.LIMIT, qty, price, None, tif, reduce_only, False, wtype,
                                    client_order_id)
            order.transition(OrderStatus.EXPIRED, self.now_ms)
            self._pending.append(SimEvent(EventKind.ORDER_UPDATE, inst.symbol, self.now_ms, {"order": order}))
            return order
        order = self._new_order(st, side, OrderType.LIMIT, qty, price, None, tif, reduce_only, False, wtype,
                                client_order_id, register=False)
        if not reduce_only:
            self._check_margin(st, side, qty, price, self.maker_fee)
        reserve = self._reserve_for(st, order, qty, st.leverage)
        if reserve > self.account.available + _EPS:
            raise SimError(E.MARGIN_INSUFFICIENT)
        self._register(order)
        order.reserved_margin = reserve
        self.account.reserved += reserve
        st.orders.append(order)
        st.active = True
        self._pending.append(SimEvent(EventKind.ORDER_UPDATE, inst.symbol, self.now_ms, {"order": order}))
        return order

    def _accept_conditional(self, st: _SymbolState, side: OrderSide, otype: OrderType, qty: float,
                            trigger: float | None, reduce_only: bool, close_position: bool, wtype: WorkingType,
                            client_order_id: str | None, callback_rate: float | None,
                            activation_price: float | None) -> SimOrder:
        current = st.mark if wtype is WorkingType.MARK_PRICE else st.last
        assert current is not None
        if trigger is not None:
            direction = side.sign if otype is OrderType.STOP_MARKET else -side.sign
            if (current - trigger) * direction >= 0:
                raise SimError(E.WOULD_IMMEDIATELY_TRIGGER)
        order = self._new_order(st, side, otype, qty, None, trigger, TimeInForce.GTC, reduce_only, close_position,
                                wtype, client_order_id, conditional=True, callback_rate=callback_rate,
                                activation_price=activation_price)
        if otype is OrderType.TRAILING_STOP_MARKET and activation_price is None:
            order.trail_active, order.trail_extreme = True, current
        st.algo.append(order)
        st.active = True
        self._pending.append(SimEvent(EventKind.ORDER_UPDATE, st.inst.symbol, self.now_ms, {"order": order}))
        return order

    # ------------------------------------------------------------ path engine
    def _run_path(self, st: _SymbolState, ts0: int, span_ms: int, last_path: Path, mark_path: Path,
                  volume: float | None, liquidation_only: bool = False) -> list[SimEvent]:
        """Process liquidations, triggers and limit fills in the order the path reaches them."""
        events: list[SimEvent] = []
        symbol = st.inst.symbol
        legs = max(len(last_path) - 1, 1)
        touched: set[int] = set()
        budget = self.fill_model.limit_budget(volume)
        t_now = 0.0

        def since(order: SimOrder | None = None, ms: int = 0) -> float:
            """Path time from which ``order`` (or a position changed at ``ms``) can be reached: not
            before it existed. The emulator replays closed bars, so an order placed mid-bar (live
            clock) meets that bar's path later; without this a stop placed at 04:41 could fill
            at 04:38, before its entry, and a position opened at 04:41 be liquidated at 04:38.
            A backtest places orders at a bar's close, before the next path: always ``t_now``."""
            at = order.created_ms if order is not None else ms
            if span_ms <= 0 or at <= ts0:
                return t_now
            return max(t_now, min(float(legs), (at - ts0) * legs / span_ms))

        while True:
            best: tuple[float, int, int] | None = None
            action: tuple[str, object, float] | None = None
            pos = self.account.positions.get(symbol)
            if pos is not None:
                lp = position_liquidation_price(st.inst, pos)
                if lp > 0:
                    hit = first_touch(mark_path, lp, -pos.sign, since(ms=pos.updated_ms))
                    if hit is not None:
                        best, action = (hit[0], 0, 0), ("liq", pos, lp)
            if not liquidation_only:
                for algo in st.algo:
                    if algo.order_id in touched:
                        continue
                    path = mark_path if algo.working_type is WorkingType.MARK_PRICE else last_path
                    if algo.type is OrderType.TRAILING_STOP_MARKET:
                        t, price, _, _ = trailing_touch(path, since(algo), algo.side is OrderSide.SELL,
                                                        algo.callback_rate or 0.0, algo.trail_active,
                                                        algo.trail_extreme, algo.activation_price)
                        hit = None if t is None else (t, price)
                    else:
                        direction = algo.side.sign if algo.type is OrderType.STOP_MARKET else -algo.side.sign
                        hit = first_touch(path, algo.trigger_price or 0.0, direction, since(algo))
                    if hit is not None and (best is None or (hit[0], 1, algo.seq) < best):
                        best, action = (hit[0], 1, algo.seq), ("algo", algo, hit[1])
                for order in st.orders:
                    if order.order_id in touched or order.price is None:
                        continue
                    hit = first_touch(last_path, order.price, -order.side.sign, since(order), strict=True)
                    if hit is not None and (best is None or (hit[0], 2, order.seq) < best):
                        best, action = (hit[0], 2, order.seq), ("limit", order, order.price)
            if best is None or action is None:
                break
            t_now = best[0]
            ts = ts0 + int(span_ms * t_now / legs)
            kind, obj, price = action
            if kind == "liq":
                events += self._liquidate(st, obj, price, ts)  # type: ignore[arg-type]
                continue
            assert isinstance(obj, SimOrder)
            ts = max(ts, obj.created_ms)  # int() above may floor it just before the order existed
            touched.add(obj.order_id)
            if kind == "algo":
                ref = price
                if obj.working_type is WorkingType.MARK_PRICE:
                    last_now = price_at(last_path, t_now)
                    ref = max(ref, last_now) if obj.side is OrderSide.BUY else min(ref, last_now)
                events += self._trigger(st, obj, ref, ts)
            else:
                events += self._fill_resting_limit(st, obj, budget, ts)
        if not liquidation_only:
            self._advance_trailing(st, last_path, mark_path)
        return events

    def _advance_trailing(self, st: _SymbolState, last_path: Path, mark_path: Path) -> None:
        for algo in st.algo:
            if algo.type is OrderType.TRAILING_STOP_MARKET:
                path = mark_path if algo.working_type is WorkingType.MARK_PRICE else last_path
                _, _, algo.trail_active, algo.trail_extreme = trailing_touch(
                    path, 0.0, algo.side is OrderSide.SELL, algo.callback_rate or 0.0, algo.trail_active,
                    algo.trail_extreme, algo.activation_price)

    def _trigger(self, st: _SymbolState, algo: SimOrder, ref: float, ts: int) -> list[SimEvent]:
        """A conditional order's trigger was reached: send its MARKET order."""
        symbol = st.inst.symbol
        pos = self.account.positions.get(symbol)
        reducing = algo.reduce_only or algo.close_position
        events = [SimEvent(EventKind.TRIGGER, symbol, ts, {"order": algo, "reference_price": ref})]
        if reducing and (pos is None or pos.sign == algo.side.sign):
            self._close_order(st, algo, OrderStatus.EXPIRED, ts)
            logger.info("sim: {} {} triggered with no position to reduce: expired", symbol, algo.order_id)
            return [*events, SimEvent(EventKind.ORDER_UPDATE, symbol, ts, {"order": algo})]
        qty = algo.quantity
        if reducing:
            assert pos is not None
            qty = abs(pos.qty) if algo.close_position else min(qty, abs(pos.qty))
        if algo.close_position:
            algo.quantity = qty
        child = self._new_order(st, algo.side, OrderType.MARKET, qty, None, None, TimeInForce.GTC, reducing,
                                algo.close_position, algo.working_type, algo.client_order_id, register=False)
        child.created_ms = child.updated_ms = ts
        child.history[0] = (OrderStatus.NEW, ts)
        self._register(child, by_client=False)
        algo.actual_order_id = child.order_id
        try:
            events += self._taker_fill(st, child, qty, ref, ts)
        except SimError as exc:
            child.transition(OrderStatus.REJECTED, ts)
            self._close_order(st, algo, OrderStatus.EXPIRED, ts)
            logger.warning("sim: triggered order {} on {} rejected: {}", algo.order_id, symbol, exc)
            return [*events, SimEvent(EventKind.ORDER_UPDATE, symbol, ts, {"order": child}),
                    SimEvent(EventKind.ORDER_UPDATE, symbol, ts, {"order": algo})]
        algo.add_fill(qty if not algo.close_position else algo.quantity, child.avg_price, ts)
        if algo.is_open:  # reduce-only clamp filled less than ordered: the algo order is done anyway
            algo.transition(OrderStatus.EXPIRED, ts)
        self._close_order_book_only(st, algo)
        return [*events, SimEvent(EventKind.ORDER_UPDATE, symbol, ts, {"order": algo})]

    def _close_order_book_only(self, st: _SymbolState, order: SimOrder) -> None:
        book = st.algo if order.is_conditional else st.orders
        if order in book:
            book.remove(order)
        self._refresh_active(st)

    def _fill_resting_limit(self, st: _SymbolState, order: SimOrder, budget: float, ts: int) -> list[SimEvent]:
        inst = st.inst
        symbol = inst.symbol
        qty = min(order.remaining, budget)
        if order.reduce_only:
            pos = self.account.positions.get(symbol)
            if pos is None or pos.sign == order.side.sign:
                self._close_order(st, order, OrderStatus.EXPIRED, ts)
                return [SimEvent(EventKind.ORDER_UPDATE, symbol, ts, {"order": order})]
            qty = min(qty, abs(pos.qty))
        qty = inst.round_qty(qty)
        if qty <= 0:
            return []
        price = order.price
        assert price is not None
        release = order.reserved_margin * qty / order.remaining if order.remaining > 0 else 0.0
        try:
            self._check_margin(st, order.side, qty, price, self.maker_fee, released_reserve=release)
        except SimError as exc:
            self._close_order(st, order, OrderStatus.EXPIRED, ts)
            logger.warning("sim: resting order {} on {} expired at fill time: {}", order.order_id, symbol, exc)
            return [SimEvent(EventKind.ORDER_UPDATE, symbol, ts, {"order": order})]
        order.reserved_margin -= release
        self.account.reserved -= release
        fee = qty * price * self.maker_fee
        fill = self.account.apply_fill(inst, order.order_id, order.side, qty, price, fee, True, st.leverage, ts)
        order.add_fill(qty, price, ts)
        if not order.is_open:
            self.account.reserved -= order.reserved_margin
            order.reserved_margin = 0.0
            self._close_order_book_only(st, order)
        return [SimEvent(EventKind.FILL, symbol, ts, {"fill": fill, "order": order}),
                SimEvent(EventKind.ORDER_UPDATE, symbol, ts, {"order": order}),
                *self._after_position_change(st, ts)]

    def _liquidate(self, st: _SymbolState, pos: Position, price: float, ts: int) -> list[SimEvent]:
        symbol = st.inst.symbol
        events: list[SimEvent] = []
        for order in [*st.orders, *st.algo]:  # Binance cancels the symbol's open orders first
            self._close_order(st, order, OrderStatus.EXPIRED, ts)
            events.append(SimEvent(EventKind.ORDER_UPDATE, symbol, ts, {"order": order}))
        qty = abs(pos.qty)
        side = OrderSide.SELL if pos.qty > 0 else OrderSide.BUY
        oid = self._next_order_id
        self._next_order_id += 1
        self._seq += 1
        order = SimOrder(oid, f"autoclose-{ts}-{oid}", symbol, side, OrderType.LIMIT, qty, price, None,
                         TimeInForce.IOC, True, False, WorkingType.CONTRACT_PRICE, ts, seq=self._seq)
        result = liquidate(self.account, st.inst, pos, oid, price, self.fill_model.liquidation_fee_rate, ts)
        order.add_fill(qty, price, ts)
        self._register(order, by_client=False)
        self._force.append(order)
        self._refresh_active(st)
        logger.warning("sim: {} {} position of {} liquidated at {:.8g} (margin lost {:.8g})", symbol,
                       pos.side_name, qty, price, -result.insurance_clear.amount)
        events += [
            SimEvent(EventKind.FILL, symbol, ts, {"fill": result.fill, "order": order}),
            SimEvent(EventKind.LIQUIDATION, symbol, ts, {
                "order": order, "fill": result.fill, "liquidation_price": price,
                "liquidation_fee": result.fee, "insurance_clear": result.insurance_clear}),
        ]
        return events

    def _position_view(self, st: _SymbolState, pos: Position) -> SimPosition:
        mark = st.mark if st.mark is not None else pos.entry
        qty = abs(pos.qty)
        upnl = unrealized_pnl(pos.side_name, qty, pos.entry, mark)
        notional = pos.qty * mark
        return SimPosition(
            symbol=pos.symbol, side=PositionSide.LONG if pos.qty > 0 else PositionSide.SHORT, quantity=qty,
            entry_price=pos.entry, mark_price=mark, unrealized_pnl=upnl,
            liquidation_price=position_liquidation_price(st.inst, pos), margin_mode=st.margin_mode,
            leverage=st.leverage, isolated_margin=pos.iso_wallet + upnl,
            maint_margin=maintenance_margin(st.inst, notional), initial_margin=abs(notional) / st.leverage,
            notional=notional, updated_ms=pos.updated_ms, isolated_wallet=pos.iso_wallet)


def _window(rows: list, start_ms: int | None, end_ms: int | None, limit: int | None) -> list:
    """Filter by ``ts_ms``/``updated_ms`` window; ``limit`` keeps the earliest rows when
    ``start_ms`` is given and the most recent ones otherwise (Binance's behaviour)."""
    def ts(row: object) -> int:
        return getattr(row, "ts_ms", None) or getattr(row, "updated_ms", 0)

    out = [r for r in rows if (start_ms is None or ts(r) >= start_ms) and (end_ms is None or ts(r) <= end_ms)]
    if limit is not None:
        if limit <= 0:
            raise SimError(E.MANDATORY_PARAM, f"limit must be positive, got {limit}")
        out = out[:limit] if start_ms is not None else out[-limit:]
    return out
