"""Restart reconciliation books the venue fills an earlier run never journaled (issue 11, soak).

Two ways a position's entry fills end up only on the venue, both found by the soak:

* the bot was killed between sending an entry and journaling anything of its trade: the
  position is unknown to the journal and is adopted; its fills are the newest ones that add up
  to the position, each venue order gets one order row (``venue-<order id>``, purpose
  ``adopted``) on the adopted trade, and their fees land on the trade;
* the bot was killed after the trade row, before the entry's fills: the trade resumes and its
  entry order's fills (found by the order's venue id) are journaled on it, with their fees.

Here the bot was down for 10 days, longer than the 7 days Binance's userTrades answers when no
start time is sent: the fills must be read from the position's own time. The venue's reads are
written down by hand (``tests/engine/venue_reads.py``); the journal is the real one (SQLite).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bot.core.enums import MarginMode, OrderSide, OrderStatus, OrderType, PositionSide
from bot.core.timeutil import MS_PER_DAY, MS_PER_HOUR, to_ms
from bot.execution.ids import client_order_id
from bot.execution.types import FillState, PositionState
from bot.journal import Journal
from bot.journal.reader import JournalReader
from bot.review import service
from bot.review.db import open_readonly
from bot.risk.stops import StopWatchdog
from bot.trading.book import TradeBook
from bot.trading.orders import OrderRouter
from bot.trading.protection import Protector
from bot.trading.reconcile import Reconciler, ReconcileReport
from tests.engine.venue_reads import VenueReads
from tests.risk.helpers import instrument

ORCA, DOGE = "ORCAUSDT", "DOGEUSDT"
T0 = to_ms("2025-03-18T06:00:00Z")  # the ORCA long's entry (its fills and the position's update time)
NOW = T0 + 10 * MS_PER_DAY  # the restart: 10 days later
KEY = "k123456789"


def fill(trade_id: str, order_id: str, symbol: str, side: OrderSide, qty: float, price: float, ts: int) -> FillState:
    """A taker fill paying 0.04% of its notional in USDT."""
    return FillState(trade_id=trade_id, order_id=order_id, symbol=symbol, side=side, price=price, quantity=qty,
                     fee=round(qty * price * 0.0004, 10), fee_asset="USDT", maker=False, realized_pnl=0.0, ts=ts)


#: ORCA's user trades: a round trip of 500 three hours before, then the long of 3000 in one
#: market order (700) that filled in two parts at T0. Fees: 500 x 0.195 x 0.0004 = 0.039,
#: 500 x 0.198 x 0.0004 = 0.0396, 1000 x 0.2 x 0.0004 = 0.08, 2000 x 0.201 x 0.0004 = 0.1608.
ORCA_TRADES = [
    fill("29", "690", ORCA, OrderSide.BUY, 500, 0.1950, T0 - 3 * MS_PER_HOUR),
    fill("30", "691", ORCA, OrderSide.SELL, 500, 0.1980, T0 - 2 * MS_PER_HOUR),
    fill("31", "700", ORCA, OrderSide.BUY, 1000, 0.2000, T0),
    fill("32", "700", ORCA, OrderSide.BUY, 2000, 0.2010, T0),
]
#: (1000 x 0.2 + 2000 x 0.201) / 3000
ORCA_ENTRY = 602.0 / 3000
#: the fees of fills 31 and 32, the ones that built the long
ORCA_ENTRY_FEES = 0.08 + 0.1608


def orca_long() -> PositionState:
    return PositionState(ORCA, PositionSide.LONG, 3000.0, ORCA_ENTRY, mark_price=0.21, leverage=3.0,
                         margin_mode=MarginMode.ISOLATED, ts=T0)


def reconciler(venue: VenueReads, journal: Journal, book: TradeBook) -> Reconciler:
    watchdog = StopWatchdog(venue.instruments)
    protector = Protector(OrderRouter(venue, journal), journal, book, watchdog, "run00002")  # type: ignore[arg-type]
    return Reconciler(venue, journal, book, {}, protector)  # type: ignore[arg-type]


async def restart(url: str, venue: VenueReads) -> tuple[ReconcileReport, TradeBook]:
    """A new process reconciles at NOW: its own journal object on the same file."""
    journal = Journal.open(url)
    journal.start_run("testnet", "cfg", "test")
    book = TradeBook()
    try:
        report = await reconciler(venue, journal, book).run(NOW)
        journal.flush()
    finally:
        journal.close()
    return report, book


async def test_positions_unknown_to_the_journal_are_adopted_with_the_fills_that_built_them(tmp_path: Path) -> None:
    # Besides the ORCA long of 3000 (T0, 10 days ago), a DOGE short of 100 opened an hour ago by
    # one sell (order 880, fee 100 x 0.17 x 0.0004 = 0.0068). Neither is in the journal.
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    venue = VenueReads(
        now=NOW, instruments={ORCA: instrument(ORCA), DOGE: instrument(DOGE, tick_size=0.00001, step_size=1.0)},
        positions_held=[orca_long(), PositionState(DOGE, PositionSide.SHORT, 100.0, 0.17, mark_price=0.17,
                                                   leverage=2.0, margin_mode=MarginMode.ISOLATED,
                                                   ts=NOW - MS_PER_HOUR)],
        trades=[*ORCA_TRADES, fill("77", "880", DOGE, OrderSide.SELL, 100, 0.17, NOW - MS_PER_HOUR)])
    report, book = await restart(url, venue)

    ids = {a["symbol"]: a["trade_id"] for a in report.adopted}
    assert sorted(ids) == [DOGE, ORCA] and ids[DOGE] != ids[ORCA]
    assert all(uuid.UUID(tid) for tid in ids.values())  # journal trade ids, one per adopted position
    # Walking back from the newest ORCA fill: 32 (2000), 31 (3000 = the position): the long is
    # fills 31 and 32 of order 700, not the round trip before it. Their fees are the trade's.
    assert book.get(ORCA).fees == pytest.approx(ORCA_ENTRY_FEES, abs=1e-12)
    assert book.get(DOGE).fees == pytest.approx(0.0068, abs=1e-12)
    with JournalReader(url) as reader:
        (order,) = reader.orders(trade_id=ids[ORCA])  # one row for the venue order, not one per fill
        fills = reader.fills(trade_id=ids[ORCA])
        (doge_order,) = reader.orders(trade_id=ids[DOGE])
    assert (order.client_order_id, order.exchange_order_id, order.purpose) == ("venue-700", "700", "adopted")
    assert (order.side, order.type, float(order.quantity)) == ("buy", "market", 3000.0)
    assert int(order.ts.timestamp() * 1000) == T0
    assert [(f.exchange_trade_id, f.order_id, float(f.quantity)) for f in fills] == \
        [("31", order.id, 1000.0), ("32", order.id, 2000.0)]
    assert (doge_order.client_order_id, doge_order.side, float(doge_order.quantity)) == ("venue-880", "sell", 100.0)
    # The review's story of the adopted trade shows the venue order with both fills on it.
    engine = open_readonly(url)
    try:
        story = service.trade_story(engine, ids[ORCA])
    finally:
        engine.dispose()
    assert [(o["client_order_id"], [f["exchange_trade_id"] for f in o["fills"]]) for o in story["orders"]] == \
        [("venue-700", ["31", "32"])]


async def test_resumed_trade_gets_the_entry_fills_a_killed_run_never_journaled(tmp_path: Path) -> None:
    # Run 1 sent the entry (order 700 on the venue), journaled its answer, the trade row and its
    # stop, and was killed before journaling the entry's fills. The bot restarts 10 days later
    # with the long still open.
    # Two days before, the same run traded DOGE (its own key): entered, stopped, closed. Its orders
    # are in the journal too, older than the ORCA trade's, and must not lend ORCA their key.
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    journal = Journal.open(url)
    journal.start_run("testnet", "cfg", "test")
    earlier = T0 - 2 * MS_PER_DAY
    journal.record_order(client_order_id=client_order_id("run00001", "kd0ge00001", "e", 1), ts=earlier, symbol=DOGE,
                         type=OrderType.MARKET, side=OrderSide.BUY, quantity=100, purpose="entry")
    doge = journal.record_trade_open(symbol=DOGE, side=PositionSide.LONG, strategy="scripted", entry_ts=earlier + 50,
                                     entry_price=0.17, quantity=100, leverage=3, margin_mode=MarginMode.ISOLATED,
                                     stop_price=0.16)
    journal.record_order(client_order_id=client_order_id("run00001", "kd0ge00001", "s", 1), ts=earlier + 60,
                         symbol=DOGE, type=OrderType.STOP_MARKET, side=OrderSide.SELL, quantity=100,
                         trigger_price=0.16, reduce_only=True, trade_id=doge, purpose="stop")
    journal.record_trade_exit(doge, exit_ts=earlier + MS_PER_HOUR, exit_price=0.16, exit_reason="stop_loss",
                              realised_pnl=-1.0, fees=0.0136)
    entry = journal.record_order(client_order_id=client_order_id("run00001", KEY, "e", 1), ts=T0 - 100, symbol=ORCA,
                                 type=OrderType.MARKET, side=OrderSide.BUY, quantity=3000, purpose="entry")
    journal.record_order_status(entry, ts=T0, status=OrderStatus.FILLED, filled_qty=3000, avg_price=ORCA_ENTRY,
                                exchange_order_id="700", raw_status="FILLED")
    trade_id = journal.record_trade_open(symbol=ORCA, side=PositionSide.LONG, strategy="scripted", entry_ts=T0,
                                         entry_price=ORCA_ENTRY, quantity=3000, leverage=3,
                                         margin_mode=MarginMode.ISOLATED, stop_price=0.19)
    stop_cid = client_order_id("run00001", KEY, "s", 1)
    journal.record_order(client_order_id=stop_cid, ts=T0 + 10, symbol=ORCA,
                         type=OrderType.STOP_MARKET, side=OrderSide.SELL, quantity=3000, trigger_price=0.19,
                         reduce_only=True, trade_id=trade_id, purpose="stop")
    journal.close()

    venue = VenueReads(now=NOW, instruments={ORCA: instrument(ORCA)}, positions_held=[orca_long()],
                       trades=list(ORCA_TRADES))
    report, book = await restart(url, venue)

    assert report.resumed == [ORCA] and report.adopted == []
    assert (book.get(ORCA).key, book.get(ORCA).stop_client_id) == (KEY, stop_cid)
    # order 700's two fills, on the entry's journal row and the trade; their fees on the trade
    assert book.get(ORCA).fees == pytest.approx(ORCA_ENTRY_FEES, abs=1e-12)
    with JournalReader(url) as reader:
        fills = reader.fills(trade_id=trade_id)
    assert [(f.exchange_trade_id, f.order_id, float(f.fee)) for f in fills] == \
        [("31", entry, pytest.approx(0.08)), ("32", entry, pytest.approx(0.1608))]
