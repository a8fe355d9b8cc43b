"""Whether an entry of unknown outcome executed (``EntryResolver.resolve``, issue 11 Part 2 item 3).

The engine books a trade only for an entry the venue shows executed, and never sends a second
order for the same intent: so "executed" must not miss a fill (a position with no trade and no
stop) and "not executed" must be true (an entry still open is cancelled first). The evidence, most
direct first: the order itself (by client id; Binance answers -2013 for a while after accepting
it), the symbol's position against the one held before the send, the account's user trades.

Each scenario is written down by hand (``tests/engine/venue_reads.py``) with the expected
decision worked out in its comments. The request is a market entry sent at T; three reads
(``attempts``) with no pause.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from ccxt.base.errors import ExchangeNotAvailable

from bot.core.enums import OrderSide, OrderStatus, OrderType, PositionSide
from bot.core.timeutil import to_ms
from bot.execution.ids import client_order_id
from bot.execution.types import FillState, OrderRequest, OrderState, PositionState, SubmitUnknownError
from bot.trading.orders import EntryResolver, OrderOutcomeUnknownError, OrderRouter, PendingOrder
from tests.engine.venue_reads import VenueReads
from tests.risk.helpers import instrument

ORCA, BTC = "ORCAUSDT", "BTCUSDT"
T = to_ms("2025-03-18T06:00:00Z")  # venue time just before the entry was sent
CID = client_order_id("run00001", "k123456789", "e", 1)
INSTRUMENTS = {ORCA: instrument(ORCA), BTC: instrument(BTC, tick_size=0.1, step_size=0.001, min_notional=100.0)}


def request(side: OrderSide = OrderSide.BUY, qty: float = 2.0, symbol: str = ORCA) -> PendingOrder:
    return PendingOrder(OrderRequest(client_id=CID, symbol=symbol, side=side, type=OrderType.MARKET, quantity=qty),
                        journal_id="row1", sent_ts=T)


def order(status: OrderStatus, qty: float = 2.0, *, filled: float = 0.0, avg: float | None = None,
          symbol: str = ORCA) -> OrderState:
    """The entry as the venue shows it, order id 600."""
    return OrderState(client_id=CID, exchange_id="600", symbol=symbol, side=OrderSide.BUY, type=OrderType.MARKET,
                      status=status, quantity=qty, filled=filled, avg_price=avg, ts=T + 40, raw_status=status.name)


def held(side: PositionSide, qty: float, entry: float, symbol: str = ORCA) -> PositionState:
    return PositionState(symbol, side, qty, entry, mark_price=entry, ts=T + 40)


def buy(trade_id: str, order_id: str, qty: float, price: float, ts: int) -> FillState:
    return FillState(trade_id=trade_id, order_id=order_id, symbol=ORCA, side=OrderSide.BUY, price=price, quantity=qty,
                     fee=0.0, fee_asset="USDT", maker=False, realized_pnl=0.0, ts=ts)


def venue(**reads: object) -> VenueReads:
    return VenueReads(now=T + 1_000, instruments=INSTRUMENTS, **reads)  # type: ignore[arg-type]


async def resolve(v: VenueReads, pending: PendingOrder, before: float = 0.0,
                  answered: OrderState | None = None) -> OrderState | None:
    resolver = EntryResolver(v, attempts=3, pause_s=0.0)  # type: ignore[arg-type]
    return await resolver.resolve(pending, before, answered)


async def test_answered_new_and_never_found_its_answer_names_the_order() -> None:
    # The entry of 1.0 was answered NEW with order id 600, then every look-up answers -2013.
    # Trades: order 600 bought 0.4 @ 0.21 and 0.6 @ 0.22; the user bought 1.5 (order 601) by
    # hand. The long grew by 2.5, nearer 601's 1.5 than 600's 1.0, but the answer named order
    # 600: filled 1.0 at 0.4 x 0.21 + 0.6 x 0.22 = 0.216.
    v = venue(positions_held=[held(PositionSide.LONG, 2.5, 0.2238)],
              trades=[buy("31", "600", 0.4, 0.21, T + 40), buy("32", "600", 0.6, 0.22, T + 45),
                      buy("33", "601", 1.5, 0.23, T + 50)])
    state = await resolve(v, request(qty=1.0), answered=order(OrderStatus.NEW, 1.0))
    assert state is not None and (state.exchange_id, state.filled) == ("600", 1.0)
    assert state.avg_price == pytest.approx(0.216, abs=1e-12)


async def test_filled_on_the_venue_is_executed_before_the_position_read_shows_it() -> None:
    # The look-up shows the entry of 0.5 BTC FILLED at 84,000; the position read lags (flat).
    # The order itself is the most direct evidence: executed, exactly as the venue reports it.
    v = venue(orders=[order(OrderStatus.FILLED, 0.5, filled=0.5, avg=84_000.0, symbol=BTC)])
    state = await resolve(v, request(qty=0.5, symbol=BTC))
    assert state == order(OrderStatus.FILLED, 0.5, filled=0.5, avg=84_000.0, symbol=BTC)


async def test_expired_with_nothing_filled_and_no_position_did_not_execute() -> None:
    # The venue expired the market entry unfilled (no liquidity) and the account is flat:
    # not executed, and nothing to cancel.
    v = venue(orders=[order(OrderStatus.EXPIRED)])
    assert await resolve(v, request()) is None
    assert v.cancelled == []


async def test_a_short_entry_executed_when_the_short_grew() -> None:
    # A sell of 2.0 ORCA: not found, no trades visible yet, the account went from flat to a
    # short of 2.0 at 0.214. The short grew by 2.0: executed, 2.0 at the position's 0.214.
    v = venue(positions_held=[held(PositionSide.SHORT, 2.0, 0.214)])
    state = await resolve(v, request(OrderSide.SELL))
    assert state is not None
    assert (state.status, state.filled, state.avg_price, state.side) == (OrderStatus.FILLED, 2.0, 0.214, OrderSide.SELL)


async def test_adding_to_a_held_long_the_growth_is_the_fill_but_not_the_average() -> None:
    # A long of 1.0 was held before the send (signed +1.0); it is 3.0 now, at an average of
    # 0.207 that mixes the older 1.0 in. No trades visible yet: filled 3.0 - 1.0 = 2.0, price
    # unknown (None: the engine then takes the plan's price), never the mixed average.
    v = venue(positions_held=[held(PositionSide.LONG, 3.0, 0.207)])
    state = await resolve(v, request(), before=1.0)
    assert state is not None and (state.status, state.filled, state.avg_price) == (OrderStatus.FILLED, 2.0, None)


async def test_a_held_long_that_did_not_grow_means_not_executed() -> None:
    # The long of 1.0 held before the send is still 1.0; the order is not found: not executed.
    v = venue(positions_held=[held(PositionSide.LONG, 1.0, 0.2)])
    assert await resolve(v, request(), before=1.0) is None


async def test_an_entry_of_two_steps_is_seen() -> None:
    # 0.002 BTC (two steps of 0.001; 168 USDT at 84,000, above the 100 USDT minimum): the long
    # grew from flat to 0.002, more than half a step: executed, 0.002 at the position's price.
    v = venue(positions_held=[held(PositionSide.LONG, 0.002, 84_000.0, BTC)])
    state = await resolve(v, request(qty=0.002, symbol=BTC))
    assert state is not None and (state.filled, state.avg_price) == (0.002, 84_000.0)


async def test_a_failed_look_up_decides_from_the_position() -> None:
    # The first look-up meets a 5xx (ccxt ExchangeNotAvailable); the long grew from flat to 2.0
    # at 0.214: executed, from the position (the failed read proves nothing either way).
    v = venue(positions_held=[held(PositionSide.LONG, 2.0, 0.214)], lookup_failures=[ExchangeNotAvailable("503")])
    state = await resolve(v, request())
    assert state is not None and (state.filled, state.avg_price) == (2.0, 0.214)


async def test_still_open_at_the_end_is_cancelled_and_not_executed() -> None:
    # Every look-up shows the entry NEW (a loaded venue) and the account stays flat: after three
    # reads it is cancelled on the venue (by symbol and order id), so "not executed" stays true.
    v = venue(orders=[order(OrderStatus.NEW)])
    assert await resolve(v, request()) is None
    assert [(o.symbol, o.exchange_id, o.status) for o in v.cancelled] == [(ORCA, "600", OrderStatus.CANCELED)]


async def test_filled_while_being_cancelled_is_executed() -> None:
    # NEW at every look-up, flat at every position read; then the cancel finds it FILLED (-2011,
    # the order is gone) and the long of 2.0 at 0.214 is there. Read once more: executed, 2.0 at
    # 0.214, order 600 (from its look-up).
    v = venue(orders=[order(OrderStatus.NEW)])

    def fills_first() -> None:
        v.orders[0] = replace(v.orders[0], status=OrderStatus.FILLED, filled=2.0, avg_price=0.214)
        v.positions_held.append(held(PositionSide.LONG, 2.0, 0.214))

    v.on_cancel = fills_first
    state = await resolve(v, request())
    assert state is not None
    assert (state.status, state.filled, state.avg_price, state.exchange_id) == (OrderStatus.FILLED, 2.0, 0.214, "600")
    assert v.cancelled == []


async def test_partly_filled_then_cancelled_is_executed_for_what_filled() -> None:
    # NEW at every look-up and no position visible (the read lags); the cancel answers CANCELED
    # with 0.5 of 2.0 BTC filled at 84,000. Executed for that 0.5: the cancel's answer is it.
    v = venue(orders=[order(OrderStatus.NEW, symbol=BTC)])

    def half_fills() -> None:
        v.orders[0] = replace(v.orders[0], filled=0.5, avg_price=84_000.0)

    v.on_cancel = half_fills
    state = await resolve(v, request(symbol=BTC))
    assert state is not None
    assert (state.status, state.filled, state.avg_price) == (OrderStatus.CANCELED, 0.5, 84_000.0)


async def test_cancelled_unfilled_while_the_user_bought_is_not_executed() -> None:
    # NEW at every look-up, flat throughout; at the cancel the user's own buy of 1.0 (order 601)
    # lands. The cancel answers CANCELED with nothing filled: the entry did not execute, the
    # long of 1.0 is someone else's (reconciliation adopts it).
    v = venue(orders=[order(OrderStatus.NEW)])

    def user_buys() -> None:
        v.positions_held.append(held(PositionSide.LONG, 1.0, 0.23))
        v.trades.append(buy("33", "601", 1.0, 0.23, T + 900))

    v.on_cancel = user_buys
    assert await resolve(v, request()) is None


async def test_an_unknown_outcome_keeps_the_venues_words_and_the_pending_order() -> None:
    # A timeout on the send: the error the router raises carries the cause's text (the stop and
    # exit paths journal it in their events) and what resolving needs: the journal row and the
    # venue time just before the send.
    class TimesOut(VenueReads):
        async def submit(self, req: OrderRequest) -> OrderState:
            raise SubmitUnknownError("no answer within 10 s")

    class Rows:
        def record_order(self, **_: object) -> str:
            return "row1"

        def record_event(self, *_: object, **__: object) -> str:
            return "ev1"

    router = OrderRouter(TimesOut(now=T, instruments=INSTRUMENTS), Rows())  # type: ignore[arg-type]
    with pytest.raises(OrderOutcomeUnknownError) as caught:
        await router.place(request().request, purpose="entry", record_fills=False)
    assert str(caught.value) == "no answer within 10 s"
    assert (caught.value.pending.journal_id, caught.value.pending.sent_ts) == ("row1", T)
