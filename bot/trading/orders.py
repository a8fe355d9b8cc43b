"""The journaled order path: every order is written to the journal before it is sent, and
its outcome (status, fills, latency, requested vs filled price) right after.

If the process dies between the two, the journal still holds the order with its client id,
and reconciliation finds it on the venue by that id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from loguru import logger

from bot.execution.base import Executor
from bot.execution.types import OrderRejectedError, OrderRequest, OrderState, SubmitUnknownError
from bot.journal import Journal

#: How far before sending we look for an order's fills (they are matched by order id): a margin
#: for the venue's clock against the time we read just before sending.
FILL_LOOKBACK_MS = 60_000


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    state: OrderState
    journal_id: str
    latency_ms: int
    sent_ts: int  # venue time just before sending


class OrderRouter:
    def __init__(self, executor: Executor, journal: Journal) -> None:
        self.executor = executor
        self.journal = journal
        self.submitted = 0

    async def place(self, request: OrderRequest, *, purpose: str, trade_id: str | None = None,
                    signal_id: str | None = None, requested_price: float | None = None,
                    record_fills: bool = True) -> PlacedOrder:
        """Journal, submit (idempotently), journal the outcome and any immediate fills.

        Entries pass ``record_fills=False``: their fills belong to a trade row that exists only
        once the fill is known, so the engine records them right after opening the trade.
        """
        venue_ts = await self.executor.now_ms()
        journal_id = self.journal.record_order(
            client_order_id=request.client_id, ts=venue_ts, symbol=request.symbol, type=request.type,
            side=request.side, quantity=request.quantity, price=request.price, trigger_price=request.trigger_price,
            reduce_only=request.reduce_only, close_position=request.close_position, trade_id=trade_id,
            signal_id=signal_id, purpose=purpose,
        )
        started = time.perf_counter()
        self.submitted += 1
        try:
            state = await self.executor.submit(request)
        except OrderRejectedError as exc:
            self.journal.record_order_status(journal_id, ts=venue_ts, status="rejected",
                                             raw_status=f"code {exc.code}" if exc.code else "rejected")
            self.journal.record_event("order_rejected", f"{request.client_id} {request.symbol}: {exc}",
                                      severity="warning", ts=venue_ts,
                                      data={"client_order_id": request.client_id, "code": exc.code})
            raise
        except SubmitUnknownError as exc:
            self.journal.record_event("order_unknown", str(exc), severity="error", ts=venue_ts,
                                      data={"client_order_id": request.client_id})
            raise
        latency_ms = int((time.perf_counter() - started) * 1000)
        self.record_state(journal_id, state, ts=state.ts or venue_ts)
        if record_fills and state.filled > 0 and not request.is_conditional:
            await self.record_fills(journal_id, state, since_ms=venue_ts - FILL_LOOKBACK_MS, trade_id=trade_id,
                                    requested_price=requested_price, latency_ms=latency_ms)
        return PlacedOrder(state, journal_id, latency_ms, venue_ts)

    def record_state(self, journal_id: str, state: OrderState, *, ts: int) -> None:
        self.journal.record_order_status(
            journal_id, ts=ts, status=state.status, filled_qty=state.filled, avg_price=state.avg_price,
            exchange_order_id=state.exchange_id, raw_status=state.raw_status,
        )

    async def record_fills(self, journal_id: str, state: OrderState, *, since_ms: int, trade_id: str | None,
                           requested_price: float | None = None, latency_ms: int | None = None,
                           order_ids: set[str] | None = None) -> list:
        """Journal the venue's fills of ``state`` (or of any exchange id in ``order_ids``)."""
        wanted = order_ids or ({state.exchange_id} if state.exchange_id else set())
        if state.actual_order_id:
            wanted.add(state.actual_order_id)
        fills = [f for f in await self.executor.fills(state.symbol, since_ms) if f.order_id in wanted]
        if not fills and state.filled > 0:
            logger.warning("venue reports {} filled for {} but no trade rows yet", state.filled, state.client_id)
        for fill in fills:
            self.journal.record_fill(
                journal_id, ts=fill.ts, symbol=fill.symbol, side=fill.side, price=fill.price, quantity=fill.quantity,
                fee=fill.fee, fee_asset=fill.fee_asset, is_maker=fill.maker, exchange_trade_id=fill.trade_id,
                requested_price=requested_price, latency_ms=latency_ms, trade_id=trade_id,
            )
        return fills
