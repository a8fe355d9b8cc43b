"""Which user trades are an unknown entry's fills (``EntryResolver``, issue 11 Part 2 item 3).

An entry whose answer was lost, or answered NEW / zero-filled by a loaded venue, is resolved from
what the venue shows: the order by client id, the position's growth, the account's user trades.
Those trades carry the order id, not the client id, and the account may hold other trades on the
same side: the previous trade's entry hours ago, a buy the user placed by hand meanwhile. The
entry's state must come from its own order's trades only, because the engine books the trade at
that price and quantity and puts the stop at the strategy's distance from that price.

Every scenario is written down by hand (``tests/engine/venue_reads.py``: reads as Binance answers
them, userTrades windowed as the venue does) and the expected state is worked out in comments.
"""

from __future__ import annotations

import pytest

from bot.core.enums import OrderSide, OrderStatus, OrderType, PositionSide
from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.execution.ids import client_order_id
from bot.execution.types import FillState, OrderRequest, OrderState, PositionState
from bot.trading.orders import EntryResolver, PendingOrder
from tests.engine.venue_reads import VenueReads
from tests.risk.helpers import instrument

SYM = "ORCAUSDT"
T = to_ms("2025-03-18T06:00:00Z")  # venue time just before the entry was sent
CID = client_order_id("run00001", "k123456789", "e", 1)


def buy(trade_id: str, order_id: str, qty: float, price: float, ts: int, side: OrderSide = OrderSide.BUY) -> FillState:
    return FillState(trade_id=trade_id, order_id=order_id, symbol=SYM, side=side, price=price, quantity=qty,
                     fee=0.0, fee_asset="USDT", maker=False, realized_pnl=0.0, ts=ts)


def long_of(qty: float, entry: float) -> PositionState:
    return PositionState(SYM, PositionSide.LONG, qty, entry, mark_price=entry, ts=T + 50)


def pending(qty: float) -> PendingOrder:
    request = OrderRequest(client_id=CID, symbol=SYM, side=OrderSide.BUY, type=OrderType.MARKET, quantity=qty)
    return PendingOrder(request, journal_id="row1", sent_ts=T)


def answered_new(qty: float) -> OrderState:
    """What a loaded venue answers for a market entry that did fill: NEW, nothing filled yet."""
    return OrderState(client_id=CID, exchange_id="600", symbol=SYM, side=OrderSide.BUY, type=OrderType.MARKET,
                      status=OrderStatus.NEW, quantity=qty, ts=T + 5, raw_status="NEW")


async def resolve(venue: VenueReads, order: PendingOrder) -> OrderState | None:
    resolver = EntryResolver(venue, attempts=1, pause_s=0.0)  # type: ignore[arg-type]
    return await resolver.resolve(order, before_signed_qty=0.0)


async def test_order_not_visible_its_fills_are_the_recent_order_matching_the_position_growth() -> None:
    # The account's user trades (ts relative to the send at T):
    #   T-2h  order 500 BUY 2.0 @ 0.2000   the previous trade's entry (closed by 501 at T-1h)
    #   T-1h  order 501 SELL 2.0 @ 0.2050
    #   T+40  order 600 BUY 1.2 @ 0.2100   our entry, two fills
    #   T+45  order 600 BUY 0.8 @ 0.2200
    #   T+50  order 601 BUY 0.3 @ 0.2300   a buy the user placed by hand meanwhile
    # The order itself is not found (-2013); the long grew from 0 to 2.3.
    # Trades from T - 60 s on: orders 600 (2.0) and 601 (0.3); 600 is nearest the growth 2.3
    # (|2.0 - 2.3| = 0.3 against |0.3 - 2.3| = 2.0). Order 500, as near (2.0), is two hours old:
    # not this entry. So: filled 2.0 at (1.2 x 0.21 + 0.8 x 0.22) / 2.0 = 0.214, order 600, at
    # its last fill T+45, and the request's own client id, side, type and quantity.
    venue = VenueReads(now=T + 1_000, instruments={SYM: instrument(SYM)}, positions_held=[long_of(2.3, 0.2143)],
                       trades=[buy("21", "500", 2.0, 0.2000, T - 2 * MS_PER_HOUR),
                               buy("22", "501", 2.0, 0.2050, T - MS_PER_HOUR, OrderSide.SELL),
                               buy("31", "600", 1.2, 0.2100, T + 40), buy("32", "600", 0.8, 0.2200, T + 45),
                               buy("33", "601", 0.3, 0.2300, T + 50)])
    state = await resolve(venue, pending(2.0))
    assert state is not None
    assert (state.status, state.filled, state.exchange_id, state.ts) == (OrderStatus.FILLED, 2.0, "600", T + 45)
    assert state.avg_price == pytest.approx(0.214, abs=1e-12)
    assert (state.client_id, state.side, state.type, state.quantity) == (CID, OrderSide.BUY, OrderType.MARKET, 2.0)
    assert state.raw_status == "FILLED"  # nothing was read from the venue about the order itself


async def test_order_answered_new_its_own_trades_win_over_a_better_matching_order() -> None:
    # The entry of 1.0 was answered NEW with order id 600 (a loaded venue; it did fill):
    #   T+40  order 600 BUY 0.4 @ 0.2100   our entry
    #   T+45  order 600 BUY 0.6 @ 0.2200
    #   T+50  order 601 BUY 1.5 @ 0.2300   the user's manual buy
    # The long grew by 2.5: order 601 (1.5) is nearer that than 600 (1.0), but the order id is
    # known, so the entry is order 600's trades alone: filled 1.0 at 0.4 x 0.21 + 0.6 x 0.22 =
    # 0.216, at T+45 (its last fill, not the answer's T+5), status FILLED. The raw status keeps
    # what the venue last said of the order ("NEW").
    venue = VenueReads(now=T + 1_000, instruments={SYM: instrument(SYM)}, positions_held=[long_of(2.5, 0.2238)],
                       trades=[buy("31", "600", 0.4, 0.2100, T + 40), buy("32", "600", 0.6, 0.2200, T + 45),
                               buy("33", "601", 1.5, 0.2300, T + 50)],
                       orders=[answered_new(1.0)])
    state = await resolve(venue, pending(1.0))
    assert state is not None
    assert (state.status, state.filled, state.exchange_id, state.ts) == (OrderStatus.FILLED, 1.0, "600", T + 45)
    assert state.avg_price == pytest.approx(0.216, abs=1e-12)
    assert (state.client_id, state.raw_status) == (CID, "NEW")


@pytest.mark.parametrize("answered", [None, answered_new(2.0)], ids=["order-not-found", "order-answered-new"])
async def test_trades_not_visible_yet_the_position_growth_is_the_fill(answered: OrderState | None) -> None:
    # The long grew from 0 to 2.0 (entry 0.214) but userTrades shows nothing yet (the query side
    # lags). The position was flat before, so all of it is this entry: filled 2.0 at the
    # position's entry price 0.214, status FILLED, whether the order was not found or was
    # answered NEW (then with its order id 600).
    venue = VenueReads(now=T + 1_000, instruments={SYM: instrument(SYM)}, positions_held=[long_of(2.0, 0.214)],
                       orders=[answered] if answered is not None else [])
    state = await resolve(venue, pending(2.0))
    assert state is not None
    assert (state.status, state.filled, state.avg_price) == (OrderStatus.FILLED, 2.0, 0.214)
    assert (state.client_id, state.side, state.type, state.quantity) == (CID, OrderSide.BUY, OrderType.MARKET, 2.0)
    assert state.exchange_id == (None if answered is None else "600")
