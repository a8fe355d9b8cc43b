"""Carries out the stop watchdog's actions on the venue, in order, and journals them.

The watchdog (``bot.risk.stops``) decides; this module only executes: place the new stop
before cancelling the old one, close at market when a stop cannot be placed, and record
every stop move on its trade.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from loguru import logger

from bot.core.enums import ExitReason, OrderStatus, OrderType, WorkingType
from bot.execution.ids import client_order_id
from bot.execution.types import OrderRejectedError, OrderRequest, OrderState, PositionState, SubmitUnknownError
from bot.journal import Journal
from bot.risk.stops import (
    CancelOrder,
    ClosePositionAtMarket,
    ConditionalOrderInfo,
    PlaceStop,
    PlaceTakeProfit,
    PositionInfo,
    RaiseAlert,
    StopAction,
    StopWatchdog,
)
from bot.trading.book import OpenTrade, TradeBook
from bot.trading.orders import OrderRouter

#: Statuses of a stop that was answered but does not rest on the venue (not a confirmed stop).
_NOT_PLACED = (OrderStatus.REJECTED, OrderStatus.EXPIRED, OrderStatus.CANCELED)

#: How long (wall seconds) a stop or take-profit the venue confirmed is trusted to rest while the
#: open-orders read does not show it yet. Binance's query side lags its matching engine on a loaded
#: venue (an accepted order answers -2013 and is missing from openOrders for a while), and that lag
#: is in real seconds whatever the cycle length; observed lags are well under a second to a few
#: seconds. Past this, the read is believed again: an order still unseen is treated as gone.
UNSEEN_ORDER_GRACE_S = 10.0


def _without_replaced_cancels(queue: list[StopAction], symbol: str) -> list[StopAction]:
    """``queue`` minus the cancels of ``symbol``'s stops that waited on a replacement that failed."""
    return [a for a in queue if not (isinstance(a, CancelOrder) and a.after_replacement and a.symbol == symbol)]


def position_infos(positions: list[PositionState]) -> list[PositionInfo]:
    return [PositionInfo(p.symbol, p.side, p.quantity, p.entry_price, p.mark_price or p.entry_price)
            for p in positions]


def conditional_info(order: OrderState) -> ConditionalOrderInfo:
    return ConditionalOrderInfo(order_id=order.exchange_id or "", symbol=order.symbol, side=order.side,
                                type=order.type, trigger_price=order.trigger_price, quantity=order.quantity,
                                reduce_only=order.reduce_only, close_position=order.close_position)


def conditional_infos(orders: list[OrderState]) -> list[ConditionalOrderInfo]:
    return [conditional_info(o) for o in orders if o.is_conditional and o.is_open]


class UnseenOrders:
    """Protective orders the venue confirmed that an open-orders read has not shown yet.

    Without this, a stop placed right after an entry is missing from the same cycle's re-read
    on a lagging venue, the watchdog sees a bare position and places a second stop (issue 11:
    "exactly one covering stop"). An order is trusted as resting until a read shows it (from
    then on the read is the truth: gone from a later read means gone), until it is cancelled by
    us, or until ``grace_s`` of wall time passed without a read showing it.
    """

    def __init__(self, grace_s: float = UNSEEN_ORDER_GRACE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace_s = grace_s
        self._clock = clock
        self._orders: dict[str, tuple[ConditionalOrderInfo, float]] = {}
        self._client_ids: dict[str, str] = {}

    def placed(self, order: OrderState) -> None:
        """``order`` was confirmed resting by the venue's answer to its placement."""
        if order.exchange_id and order.is_conditional and order.is_open:
            self._orders[order.exchange_id] = (conditional_info(order), self._clock())
            if order.client_id:
                self._client_ids[order.exchange_id] = order.client_id

    def missing(self, read: Iterable[ConditionalOrderInfo], held: set[str]) -> list[tuple[str, str, str]]:
        """``(exchange id, symbol, client id)`` of the trusted orders of ``held`` symbols that
        ``read`` does not list: the ones worth asking the venue about (see
        :meth:`Protector.check_unseen`)."""
        seen = {o.order_id for o in read}
        return [(order_id, info.symbol, self._client_ids[order_id]) for order_id, (info, _) in self._orders.items()
                if info.symbol in held and order_id not in seen and order_id in self._client_ids]

    def forget(self, exchange_id: str | None) -> None:
        """We cancelled it (or tried to): never trust it as resting again."""
        if exchange_id:
            self._orders.pop(exchange_id, None)
            self._client_ids.pop(exchange_id, None)

    def forget_symbol(self, symbol: str) -> None:
        """``symbol``'s trade closed or a new one opens: its earlier orders say nothing any more
        (a stop that triggered is gone even if no read ever showed it)."""
        for order_id, (info, _) in list(self._orders.items()):
            if info.symbol == symbol:
                self.forget(order_id)

    def merge(self, read: Iterable[ConditionalOrderInfo], held: set[str]) -> list[ConditionalOrderInfo]:
        """``read`` plus the confirmed orders it does not show yet, for the ``held`` symbols.

        Orders the read shows are forgotten (the read now knows them); so are orders past their
        grace. ``read`` covers the held symbols only, so other symbols' orders are left alone.
        """
        infos = list(read)
        seen = {o.order_id for o in infos}
        now = self._clock()
        for order_id, (info, placed_at) in list(self._orders.items()):
            if info.symbol not in held:
                continue
            if order_id in seen:
                self.forget(order_id)
                continue
            if now - placed_at > self.grace_s:
                self.forget(order_id)
                logger.warning("{} {} {} confirmed {:.0f} s ago never appeared in the open orders: treated as gone",
                               info.symbol, info.type.value, order_id, now - placed_at)
                continue
            infos.append(info)
        return infos

    def __len__(self) -> int:
        return len(self._orders)


class Protector:
    """Executes watchdog actions for the trades in ``book``."""

    def __init__(self, router: OrderRouter, journal: Journal, book: TradeBook, watchdog: StopWatchdog,
                 run_key: str) -> None:
        self.router = router
        self.journal = journal
        self.book = book
        self.watchdog = watchdog
        self.run_key = run_key
        #: client ids of exit orders the bot sent itself, with their reason (for exit attribution)
        self.own_exits: dict[str, ExitReason] = {}
        #: confirmed stops/take-profits a lagging open-orders read may not show yet
        self.unseen = UnseenOrders()
        self._seq: dict[tuple[str, str], int] = {}

    async def check_unseen(self, read: list[ConditionalOrderInfo], held: set[str]) -> None:
        """Ask the venue about every confirmed stop or take-profit the open-orders read does not
        list, instead of trusting it for the whole grace period.

        Not listed can mean "not visible yet" (the query side lags: the look-up answers -2013 or
        shows it resting, and the trust goes on) or "gone": triggered, cancelled or expired by the
        venue. Gone, it is forgotten at once, so the watchdog protects the position this cycle
        rather than up to ``UNSEEN_ORDER_GRACE_S`` later (the soak saw a stop that had triggered
        trusted for 15 s). A look-up that fails leaves the time-bound trust as it was.
        """
        for order_id, symbol, client_id in self.unseen.missing(read, held):
            try:
                state = await self.router.executor.find_order(symbol, client_id, conditional=True)
            except Exception as exc:  # any venue error: keep the time-bound trust
                logger.debug("look-up of unseen {} {} failed ({})", symbol, client_id, type(exc).__name__)
                continue
            if state is not None and not state.is_open:
                self.unseen.forget(order_id)
                logger.info("{} {} is {} on the venue: no longer trusted as resting", symbol, client_id,
                            state.status.value)

    async def apply(self, actions: list[StopAction], now_ms: int) -> int:
        """Execute ``actions`` in order; returns how many orders were sent.

        Never leaves a gap (issue 11): when a stop placement fails, the cancels that depended on
        it (``CancelOrder.after_replacement``) are dropped, so the old stop keeps resting; a bare
        position is closed at market instead, and if that close fails too a ``stop_missing``
        error is journaled (the next cycle tries the stop again). A failed cancel never stops
        the batch: the extra stop is found and cancelled next cycle.
        """
        sent = 0
        queue = list(actions)
        bare: dict[str, str] = {}  # symbol -> why its stop could not be placed this batch
        while queue:
            action = queue.pop(0)
            trade = self.book.get(action.symbol)
            if isinstance(action, RaiseAlert):
                self.journal.record_event(action.code, f"{action.symbol}: {action.message}",
                                          severity=action.severity, ts=now_ms, data={"symbol": action.symbol})
            elif isinstance(action, CancelOrder):
                await self._cancel(action, trade, now_ms)
            elif isinstance(action, PlaceStop):
                if not action.protected and trade is not None and trade.stop_client_id is not None:
                    # It had a confirmed stop and nothing covers it now (cancelled by hand, expired).
                    self.journal.record_event("position_unprotected", f"{action.symbol}: no stop covers the "
                                              f"position any more; placing one at {action.trigger_price}",
                                              severity="error", ts=now_ms, data={"symbol": action.symbol})
                try:
                    await self._place_stop(action, trade, now_ms)
                    sent += 1
                except (OrderRejectedError, SubmitUnknownError) as exc:
                    queue = self.watchdog.report_failure(action, str(exc)) + _without_replaced_cancels(
                        queue, action.symbol)
                    if not action.protected:
                        bare[action.symbol] = str(exc)
            elif isinstance(action, PlaceTakeProfit):
                try:
                    await self._place_take_profit(action, trade)
                    sent += 1
                except (OrderRejectedError, SubmitUnknownError) as exc:
                    logger.warning("take-profit for {} not placed: {}", action.symbol, exc)
            elif isinstance(action, ClosePositionAtMarket):
                state = await self.close_at_market(action.symbol, action.side, action.quantity, action.reason,
                                                   detail=action.detail, trade=trade)
                sent += 1
                if state is None and action.symbol in bare:
                    self._journal_stop_missing(action, bare[action.symbol], now_ms)
        return sent

    async def _cancel(self, action: CancelOrder, trade: OpenTrade | None, now_ms: int) -> None:
        """Cancel one conditional order; a failure is journaled, never raised (see :meth:`apply`)."""
        self.unseen.forget(action.order_id)
        try:
            state = await self.router.executor.cancel(action.symbol, exchange_id=action.order_id, conditional=True)
        except Exception as exc:  # any venue error: the order stays, the watchdog sees it next cycle
            logger.warning("cancel of {} {} failed ({}): retried next cycle", action.symbol, action.order_id,
                           type(exc).__name__)
            self.journal.record_event("order_cancel_failed", f"{action.symbol} {action.order_id}: {exc}",
                                      severity="warning", ts=now_ms,
                                      data={"symbol": action.symbol, "order_id": action.order_id})
            return
        journal_id = trade.order_ids.get(state.client_id) if (trade and state and state.client_id) else None
        if journal_id is not None and state is not None:
            self.router.record_state(journal_id, state, ts=now_ms)
        self.journal.record_event("order_cancel", f"{action.symbol} {action.order_id}: {action.reason}",
                                  ts=now_ms, data={"symbol": action.symbol, "order_id": action.order_id})

    def _journal_stop_missing(self, action: ClosePositionAtMarket, why: str, now_ms: int) -> None:
        """The position has no stop and could not be closed either: the loudest event we have."""
        logger.error("{} has NO protective stop: stop placement failed ({}) and the market close failed; "
                     "retrying the stop next cycle", action.symbol, why)
        self.journal.record_event(
            "stop_missing",
            f"{action.symbol}: no protective stop for {action.quantity}: stop placement failed ({why}) and "
            f"the market close failed; retrying the stop next cycle",
            severity="error", ts=now_ms, data={"symbol": action.symbol, "quantity": action.quantity})

    def _next_seq(self, key: str, role: str) -> int:
        """Every placement *attempt* gets a new client id: a retry of the same request reuses its
        id inside ``submit`` (idempotency), but a new decision must never collide with an
        earlier order, filled or rejected (Binance refuses a reused id with -4116)."""
        seq = self._seq.get((key, role), 0) + 1
        self._seq[(key, role)] = seq
        return seq

    async def _place_stop(self, action: PlaceStop, trade: OpenTrade | None, now_ms: int) -> None:
        key = trade.key if trade else f"adopt{action.symbol[:5]}"
        cid = client_order_id(self.run_key, key, "s", self._next_seq(key, "s"))
        request = OrderRequest(client_id=cid, symbol=action.symbol, side=action.side, type=action.order_type,
                               quantity=action.quantity, trigger_price=action.trigger_price, reduce_only=True,
                               working_type=WorkingType.MARK_PRICE, callback_rate=action.callback_rate_pct)
        placed = await self.router.place(request, purpose="stop", trade_id=trade.trade_id if trade else None)
        if placed.state.status in _NOT_PLACED:  # answered, but not resting: not a confirmed stop
            raise OrderRejectedError(f"stop {cid} answered {placed.state.status.value}, not resting")
        self.unseen.placed(placed.state)
        if trade is not None:
            old = trade.stop_price
            trade.stop_client_id = cid
            trade.order_ids[cid] = placed.journal_id
            if old is None or old != action.trigger_price:
                why = "initial stop" if old is None else (
                    "trailed" if trade.side.sign * (action.trigger_price - old) > 0 else action.reason)
                self.journal.record_stop_move(trade.trade_id, ts=now_ms, new_stop=action.trigger_price,
                                              old_stop=old, reason=why)
            trade.stop_price = action.trigger_price

    async def _place_take_profit(self, action: PlaceTakeProfit, trade: OpenTrade | None) -> None:
        key = trade.key if trade else f"adopt{action.symbol[:5]}"
        cid = client_order_id(self.run_key, key, "t", self._next_seq(key, "t"))
        request = OrderRequest(client_id=cid, symbol=action.symbol, side=action.side,
                               type=OrderType.TAKE_PROFIT_MARKET, quantity=action.quantity,
                               trigger_price=action.trigger_price, reduce_only=True,
                               working_type=WorkingType.MARK_PRICE)
        placed = await self.router.place(request, purpose="take_profit", trade_id=trade.trade_id if trade else None)
        if placed.state.status not in _NOT_PLACED:
            self.unseen.placed(placed.state)
        if trade is not None:
            trade.tp_client_id = cid
            trade.order_ids[cid] = placed.journal_id

    async def close_at_market(self, symbol: str, side, quantity: float, reason: ExitReason, *, detail: str = "",
                              trade: OpenTrade | None = None) -> OrderState | None:
        """Reduce-only market order for the whole position (exits always allowed)."""
        key = trade.key if trade else f"close{symbol[:5]}"
        cid = client_order_id(self.run_key, key, "x", self._next_seq(key, "x"))
        request = OrderRequest(client_id=cid, symbol=symbol, side=side, type=OrderType.MARKET, quantity=quantity,
                               reduce_only=True)
        self.own_exits[cid] = reason
        try:
            placed = await self.router.place(request, purpose=f"exit:{reason.value}",
                                             trade_id=trade.trade_id if trade else None)
        except (OrderRejectedError, SubmitUnknownError) as exc:
            self.journal.record_event("exit_failed", f"{symbol}: {reason.value} exit not placed: {exc}",
                                      severity="error", data={"symbol": symbol, "detail": detail})
            return None
        if trade is not None:
            trade.order_ids[cid] = placed.journal_id
        return placed.state
