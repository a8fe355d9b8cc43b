"""A resumed trade gets its protection plan's best price back (``bot.trading.reconcile``).

The process that saw the best mark since entry took it with it; a restart derives it from what
the journal holds (``resumed_best_price``): the trailed stop proves ``best >= stop / (1 - d)``
for a long (``<= stop / (1 + d)`` for a short), and the marks the journal observed since the
entry are real prices the position saw. Without a best price a break-even trigger already
reached before the restart, and not yet acted on, would wait for the market to reach it again.

Hand-worked values; ORCA trades around 0.2 (prices below 1 are ordinary on this venue).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import StrategyConfig
from bot.core.enums import MarginMode, OrderType, PositionSide
from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.execution.ids import client_order_id
from bot.execution.types import PositionState
from bot.journal import Journal
from bot.risk.stops import ProtectionPlan, StopWatchdog, TrailingSpec
from bot.trading.book import TradeBook
from bot.trading.orders import OrderRouter
from bot.trading.protection import Protector
from bot.trading.reconcile import Reconciler, resumed_best_price
from tests.engine.venue_reads import VenueReads
from tests.risk.helpers import instrument

ORCA = "ORCAUSDT"
T0 = to_ms("2025-03-18T06:00:00Z")  # the long's entry
NOW = T0 + 4 * MS_PER_HOUR
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT


@pytest.mark.parametrize(("side", "stop", "trailing", "observed", "best"), [
    # a long's stop trailed 5% behind its best to 0.19: best >= 0.19 / 0.95 = 0.2
    (LONG, 0.19, TrailingSpec(0.05), [], 0.2),
    # ... and a mark of 0.23 was observed since: the more favourable, 0.23
    (LONG, 0.19, TrailingSpec(0.05), [0.21, 0.23, 0.22], 0.23),
    # a short's stop trailed 5% above its best to 0.21: best <= 0.21 / 1.05 = 0.2; a lower mark wins
    (SHORT, 0.21, TrailingSpec(0.05), [], 0.2),
    (SHORT, 0.21, TrailingSpec(0.05), [0.205, 0.19], 0.19),
    # a native trailing stop keeps its best on the exchange: only the observed marks count
    (LONG, 0.19, TrailingSpec(0.05, native=True), [], None),
    (LONG, 0.19, TrailingSpec(0.05, native=True), [0.22], 0.22),
    # no trailing (a break-even trigger only): the observed marks alone
    (LONG, 0.19, None, [0.205, 0.207], 0.207),
])
def test_resumed_best_price(side: PositionSide, stop: float, trailing: TrailingSpec | None, observed: list[float],
                            best: float | None) -> None:
    got = resumed_best_price(side, stop, trailing, observed)
    assert got == (None if best is None else pytest.approx(best, rel=1e-12))


async def _resume(tmp_path: Path, strategy: StrategyConfig, marks: list[tuple[int, float]], *,
                  side: PositionSide = LONG, trailed_to: float | None = None, take_profit: float | None = None,
                  time_stop_at: int | None = None) -> dict[str, ProtectionPlan]:
    """A position of 3000 ORCA entered at 0.20 at T0 with its stop 5% away (0.19 for a long, 0.21
    for a short; moved to ``trailed_to`` by the first run), the marks the journal observed (hour
    from T0, mark) and a DOGE mark of 0.1 and 0.3 after the entry (another symbol's, never this
    trade's); the bot restarts at NOW with the position still open. Returns the resumed plans."""
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    journal = Journal.open(url)
    journal.start_run("testnet", "cfg", "test")
    first_stop = 0.2 * (1 - side.sign * 0.05)
    trade_id = journal.record_trade_open(symbol=ORCA, side=side, strategy="scripted", entry_ts=T0, entry_price=0.2,
                                         quantity=3000, leverage=3, margin_mode=MarginMode.ISOLATED,
                                         stop_price=first_stop, take_profit_price=take_profit,
                                         time_stop_at=time_stop_at)
    journal.record_order(client_order_id=client_order_id("run00001", "k123456789", "s", 1), ts=T0 + 10, symbol=ORCA,
                         type=OrderType.STOP_MARKET, side=side.exit_order_side, quantity=3000,
                         trigger_price=first_stop, reduce_only=True, trade_id=trade_id, purpose="stop")
    if trailed_to is not None:
        journal.record_stop_move(trade_id, ts=T0 + 2 * MS_PER_HOUR, new_stop=trailed_to, old_stop=first_stop,
                                 reason="trailed")
    for hour, mark in marks:
        journal.record_observation({"ts": T0 + hour * MS_PER_HOUR, "symbol": ORCA, "mark_price": mark})
    for hour, mark in [(1, 0.1), (2, 0.3)]:
        journal.record_observation({"ts": T0 + hour * MS_PER_HOUR, "symbol": "DOGEUSDT", "mark_price": mark})
    journal.close()

    venue = VenueReads(now=NOW, instruments={ORCA: instrument(ORCA)},
                       positions_held=[PositionState(ORCA, side, 3000.0, 0.2, mark_price=0.204, ts=T0)])
    journal = Journal.open(url)
    journal.start_run("testnet", "cfg", "test")
    book, plans = TradeBook(), {}
    protector = Protector(OrderRouter(venue, journal), journal, book, StopWatchdog(venue.instruments),  # type: ignore[arg-type]
                          "run00002")
    try:
        report = await Reconciler(venue, journal, book, plans, protector,  # type: ignore[arg-type]
                                  strategies={"scripted": strategy}).run(NOW)
    finally:
        journal.close()
    assert report.resumed == [ORCA]
    return plans


async def test_a_break_even_strategys_resumed_plan_keeps_the_best_mark_observed_since_entry(tmp_path: Path) -> None:
    # A 5% break-even trigger and no trailing stop. The journal observed 0.25 an hour before the
    # entry (not this trade's), then 0.205, 0.207 and 0.203 after it: the resumed plan's best
    # price is 0.207, the most favourable since entry.
    plans = await _resume(tmp_path, StrategyConfig(enabled=True, stop_loss_pct=0.05, breakeven_trigger_pct=0.05),
                          [(-1, 0.25), (1, 0.205), (2, 0.207), (3, 0.203)])
    assert plans[ORCA] == ProtectionPlan(ORCA, LONG, 0.2, 0.19, breakeven_trigger_pct=0.05, best_price=0.207)


async def test_a_trailing_strategys_resumed_plan_keeps_its_exits_and_the_best_its_stop_proves(tmp_path: Path) -> None:
    # A 5% trailing stop, trailed from 0.19 to 0.20 by the first run; take-profit 0.24 and a time
    # stop at T0 + 8 h from the entry. No mark was journaled (observations were off). The plan
    # resumes with the journaled stop 0.20, the take-profit and time stop, the strategy's
    # trailing spec, and best price 0.20 / 0.95 = 0.2105263... (what the trailed stop proves).
    time_stop = T0 + 8 * MS_PER_HOUR
    plans = await _resume(tmp_path, StrategyConfig(enabled=True, stop_loss_pct=0.05, trailing_stop_pct=0.05), [],
                          trailed_to=0.2, take_profit=0.24, time_stop_at=time_stop)
    assert plans[ORCA] == ProtectionPlan(ORCA, LONG, 0.2, 0.2, take_profit_price=0.24, time_stop_ms=time_stop,
                                         trailing=TrailingSpec(0.05), best_price=pytest.approx(0.2 / 0.95, rel=1e-12))


async def test_a_trailing_shorts_resumed_plan_takes_the_lowest_real_mark(tmp_path: Path) -> None:
    # A short entered at 0.20, its 5% trailing stop moved from 0.21 to 0.20 by the first run:
    # that proves a best of at most 0.20 / 1.05 = 0.190476. The journal observed 0.195, 0.188
    # and 0.192 since the entry, and one mark of 0 (no real price: ignored). The lowest real
    # mark, 0.188, is more favourable than what the stop proves: the resumed best is 0.188.
    plans = await _resume(tmp_path, StrategyConfig(enabled=True, stop_loss_pct=0.05, trailing_stop_pct=0.05),
                          [(1, 0.195), (2, 0.0), (2, 0.188), (3, 0.192)], side=SHORT, trailed_to=0.2)
    assert plans[ORCA] == ProtectionPlan(ORCA, SHORT, 0.2, 0.2, trailing=TrailingSpec(0.05), best_price=0.188)
