"""Carries out the stop watchdog's actions on the venue, in order, and journals them.

The watchdog (``bot.risk.stops``) decides; this module only executes: place the new stop
before cancelling the old one, close at market when a stop cannot be placed, and record
every stop move on its trade.
"""

from __future__ import annotations

from loguru import logger

from bot.core.enums import ExitReason, OrderType, WorkingType
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


def position_infos(positions: list[PositionState]) -> list[PositionInfo]:
    return [PositionInfo(p.symbol, p.side, p.quantity, p.entry_price, p.mark_price or p.entry_price)
            for p in positions]


def conditional_infos(orders: list[OrderState]) -> list[ConditionalOrderInfo]:
    return [
        ConditionalOrderInfo(order_id=o.exchange_id or "", symbol=o.symbol, side=o.side, type=o.type,
                             trigger_price=o.trigger_price, quantity=o.quantity, reduce_only=o.reduce_only,
                             close_position=o.close_position)
        for o in orders if o.is_conditional and o.is_open
    ]


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
        self._seq: dict[tuple[str, str], int] = {}

    async def apply(self, actions: list[StopAction], now_ms: int) -> int:
        """Execute ``actions`` in order; returns how many orders were sent."""
        sent = 0
        queue = list(actions)
        while queue:
            action = queue.pop(0)
            trade = self.book.get(action.symbol)
            if isinstance(action, RaiseAlert):
                self.journal.record_event(action.code, f"{action.symbol}: {action.message}", severity="warning",
                                          ts=now_ms, data={"symbol": action.symbol})
            elif isinstance(action, CancelOrder):
                state = await self.router.executor.cancel(action.symbol, exchange_id=action.order_id,
                                                          conditional=True)
                journal_id = trade.order_ids.get(state.client_id) if (trade and state and state.client_id) else None
                if journal_id is not None and state is not None:
                    self.router.record_state(journal_id, state, ts=now_ms)
                self.journal.record_event("order_cancel", f"{action.symbol} {action.order_id}: {action.reason}",
                                          ts=now_ms, data={"symbol": action.symbol, "order_id": action.order_id})
            elif isinstance(action, PlaceStop):
                try:
                    await self._place_stop(action, trade, now_ms)
                    sent += 1
                except (OrderRejectedError, SubmitUnknownError) as exc:
                    queue = self.watchdog.report_failure(action, str(exc)) + queue
            elif isinstance(action, PlaceTakeProfit):
                try:
                    await self._place_take_profit(action, trade)
                    sent += 1
                except (OrderRejectedError, SubmitUnknownError) as exc:
                    logger.warning("take-profit for {} not placed: {}", action.symbol, exc)
            elif isinstance(action, ClosePositionAtMarket):
                await self.close_at_market(action.symbol, action.side, action.quantity, action.reason,
                                           detail=action.detail, trade=trade)
                sent += 1
        return sent

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
