"""The protector's cancels of replaced stops, as the journal and the unseen-order trust see them.

The watchdog replaces a stop by placing the new one first and cancelling the old one only once
the new one is confirmed. The cancel is journaled: an ``order_cancel`` event (and a CANCELED
status on the stop's order row when the stop belongs to a trade of the book); a cancel the venue
refuses is an ``order_cancel_failed`` warning (the batch goes on: the extra stop is found and
cancelled next cycle). A cancelled stop is never trusted as resting again, or a lagging
open-orders read would keep counting it as protection for up to ``UNSEEN_ORDER_GRACE_S``.

The simulated exchange core in-process (``PaperExecutor`` over ``SimExchange``) and the real
journal (SQLite). Hand-worked scenario: a long of 10 ORCA entered at 100, stop at 95; the mark
rises to 110 at T0 + 60 s and the plan moves the stop to 100.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.core.enums import MarginMode, OrderSide, OrderType, PositionSide
from bot.execution.paper import PaperExecutor
from bot.execution.types import OrderState
from bot.journal import Journal
from bot.journal.reader import JournalReader
from bot.risk.stops import ProtectionPlan, StopWatchdog
from bot.sim.exchange import SimExchange
from bot.trading.book import OpenTrade, TradeBook
from bot.trading.orders import OrderRouter
from bot.trading.protection import Protector, conditional_infos, position_infos

from .helpers import instrument

SYM = "ORCAUSDT"
T0 = 1_742_270_400_000  # 2025-03-18T04:00:00Z
MOVE_TS = T0 + 60_000


class CancelRefusingExecutor(PaperExecutor):
    """The simulated core, except that cancels fail while asked to (a 5xx on DELETE /order)."""

    refuse_cancels = False

    async def cancel(self, symbol: str, client_id: str | None = None, exchange_id: str | None = None,
                     conditional: bool = False) -> OrderState | None:
        if self.refuse_cancels:
            raise RuntimeError("binance 503 service unavailable (test)")
        return await super().cancel(symbol, client_id, exchange_id, conditional)


class Bot:
    """A long of 10 at 100 on the simulated venue, its protector and journal."""

    def __init__(self, tmp_path: Path, *, in_book: bool) -> None:
        inst = instrument(SYM, tick_size=0.01, step_size=0.001)
        self.sim = SimExchange({SYM: inst}, balance=10_000.0)
        self.sim.set_price(SYM, T0, 100.0, 100.0)
        self.sim.place_order(SYM, OrderSide.BUY, OrderType.MARKET, quantity=10.0)
        self.executor = CancelRefusingExecutor(self.sim, {SYM: inst}, clock=lambda: self.sim.now_ms)
        self.url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
        self.journal = Journal.open(self.url)
        self.journal.start_run("paper", "cfg", "test")
        book = TradeBook()
        if in_book:
            trade_id = self.journal.record_trade_open(symbol=SYM, side=PositionSide.LONG, strategy="s", entry_ts=T0,
                                                      entry_price=100.0, quantity=10.0, leverage=1.0,
                                                      margin_mode=MarginMode.ISOLATED)
            book.add(OpenTrade(trade_id=trade_id, symbol=SYM, side=PositionSide.LONG, strategy="s", entry_ts=T0,
                               entry_price=100.0, quantity=10.0, leverage=1.0, margin_mode=MarginMode.ISOLATED,
                               key="k123456789"))
        self.watchdog = StopWatchdog({SYM: inst})
        self.protector = Protector(OrderRouter(self.executor, self.journal), self.journal, book, self.watchdog,
                                   "testrun1")

    async def cycle(self, stop: float) -> None:
        """What ``Engine._protect`` does: read the venue, let the watchdog decide, execute."""
        positions = await self.executor.positions()
        orders = await self.executor.open_orders(SYM)
        plan = ProtectionPlan(SYM, PositionSide.LONG, 100.0, stop)
        actions = self.watchdog.check(position_infos(positions), conditional_infos(orders), {SYM: plan})
        await self.protector.apply(actions, self.sim.now_ms)

    def stops(self) -> dict[float, str]:
        """Resting stop price -> venue order id."""
        return {o.trigger_price: str(o.order_id) for o in self.sim.open_orders(SYM, conditional=True)}

    async def move_stop_from_95_to_100(self) -> str:
        """Stop at 95, then the move to 100 at MOVE_TS; returns the 95 stop's venue order id."""
        await self.cycle(95.0)
        (old,) = self.stops().values()
        self.sim.set_price(SYM, MOVE_TS, 110.0, 110.0)
        await self.cycle(100.0)
        self.journal.flush()
        return old

    def events(self, kind: str) -> list:
        with JournalReader(self.url) as reader:
            return reader.events(kind=kind)


AT_MOVE = datetime.fromtimestamp(MOVE_TS / 1000, tz=UTC)


async def test_a_replaced_stop_is_cancelled_journaled_and_no_longer_trusted(tmp_path: Path) -> None:
    bot = Bot(tmp_path, in_book=True)
    old = await bot.move_stop_from_95_to_100()
    assert sorted(bot.stops()) == [100.0]
    (event,) = bot.events("order_cancel")
    assert (event.ts, event.data) == (AT_MOVE, {"symbol": SYM, "order_id": old})
    with JournalReader(bot.url) as reader:
        (stop_95,) = [o for o in reader.orders(symbol=SYM) if o.exchange_order_id == old]
    assert stop_95.status == "canceled"  # on the trade's own order row
    # Only the stop at 100 is still trusted as resting while a read does not show it.
    assert [o.order_id for o in bot.protector.unseen.merge([], {SYM})] == [bot.stops()[100.0]]
    bot.journal.close()


async def test_a_stop_outside_the_book_is_cancelled_without_an_order_row(tmp_path: Path) -> None:
    # A position the book does not hold (its stops carry no journal row of this run): the cancel
    # is journaled as an event only; it must not try to write a status row for no order.
    bot = Bot(tmp_path, in_book=False)
    old = await bot.move_stop_from_95_to_100()
    assert sorted(bot.stops()) == [100.0]
    (event,) = bot.events("order_cancel")
    assert (event.ts, event.data) == (AT_MOVE, {"symbol": SYM, "order_id": old})
    bot.journal.close()


async def test_a_refused_cancel_is_a_warning_and_both_stops_rest(tmp_path: Path) -> None:
    bot = Bot(tmp_path, in_book=True)
    bot.executor.refuse_cancels = True
    old = await bot.move_stop_from_95_to_100()
    assert sorted(bot.stops()) == [95.0, 100.0]  # the extra one is cancelled next cycle
    (event,) = bot.events("order_cancel_failed")
    assert (event.severity, event.ts, event.data) == ("warning", AT_MOVE, {"symbol": SYM, "order_id": old})
    assert event.message == f"{SYM} {old}: binance 503 service unavailable (test)"
    assert bot.events("order_cancel") == []
    bot.journal.close()
