"""A live engine whose PostgreSQL journal stalls (issue 18): the loop is not held up, new entries
stop once the journal is backlogged (one ``entries_paused`` event, entries refused with the
reason ``journal_backlogged``), an exit still goes out, nothing acknowledged is lost when the
database comes back, and entries resume (one ``entries_resumed`` event).

The cheapest faithful venue: the paper core (``SimExchange``) driven over the bundled sample's
hourly bars, as a backtest does, but with the engine's live journaling (a flush every cycle).
The stall: another session holds ``LOCK TABLE events IN ACCESS EXCLUSIVE MODE``
(``tests/journal/stall.py``), so the writer's first batch with an event hangs and everything
after it queues.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from bot.core.enums import IntentKind
from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.data.clock import SimClock
from bot.data.store import MarketStore
from bot.engine import Engine
from bot.execution.paper import PaperExecutor
from bot.journal import Journal
from bot.journal.reader import JournalReader
from bot.market.replay import ReplaySource
from bot.risk.memory_files import MemoryRiskFiles
from bot.sim.driver import MarketDriver
from bot.sim.exchange import SimExchange
from bot.trading.feed import ReplayFeed
from tests.engine import helpers
from tests.engine.scripted import Scripted
from tests.journal.stall import stalled

ORCA, BTC = "ORCAUSDT", "BTCUSDT"
T1 = to_ms("2025-03-18T12:00:00Z")  # BTC short entry (journal healthy)
T2, T3 = T1 + MS_PER_HOUR, T1 + 2 * MS_PER_HOUR  # stalled: BTC exits at T2, ORCA asks to enter at both
T4 = T1 + 3 * MS_PER_HOUR  # the journal caught up: ORCA enters
BOUND = 100  # the smallest bound the settings accept


class _PaperVenue:
    """The paper core stepped over the sample's hourly bars: ``cycle(t)`` moves the market to ``t``
    and runs one engine cycle there."""

    def __init__(self, sample_dir: Path, tmp_path: Path, journal: Journal, strategy: Scripted, *,
                 live: bool) -> None:
        store = MarketStore.load(sample_dir, symbols=[ORCA, BTC])
        settings = helpers.engine_settings(tmp_path)
        settings.journal.flush_wait_s = 0.2  # a live cycle waits this long for a stalled journal, then goes on
        instruments = {s: store[s].instrument for s in (ORCA, BTC)}
        self.sim = SimExchange(instruments, balance=10_000.0, seed=0)
        self.clock = SimClock(T1 - MS_PER_HOUR)
        self.driver = MarketDriver(self.sim, store, [ORCA, BTC], self.clock)
        source = ReplaySource(store)
        source.prepare([ORCA, BTC])
        # live: a flush every cycle and after trades; not live: a backtest's batched journaling
        self.engine = Engine(settings, feed=ReplayFeed(source, [ORCA, BTC]),
                             executor=PaperExecutor(self.sim, instruments, self.clock.now_ms), journal=journal,
                             strategies={"scripted": strategy}, risk_files=MemoryRiskFiles.create(),
                             flush_every_cycle=live, flush_on_trades=live)

    async def cycle(self, t: int):
        self.clock.set(t)
        self.driver.advance_to(t)
        return await self.engine.cycle(t)


async def test_a_stalled_journal_pauses_entries_but_not_exits_and_loses_nothing(tmp_path: Path, sample_dir: Path,
                                                                                pg_url: str) -> None:
    journal = Journal.open(pg_url, batch_size=50, flush_interval_ms=5, max_pending=BOUND)
    strategy = Scripted({BTC: (T1, IntentKind.ENTER_SHORT), ORCA: (T2, IntentKind.ENTER_LONG)}, exits={BTC: T2})
    venue = _PaperVenue(sample_dir, tmp_path, journal, strategy, live=True)
    engine, sim, cycle = venue.engine, venue.sim, venue.cycle
    acknowledged: list[str] = []
    try:
        await engine.start()
        assert (await cycle(T1)).entries == 1 and sim.position(BTC) is not None
        strategy.held.add(BTC)  # its position existed: the script does not ask again after the exit
        with stalled(pg_url, "events") as stall:
            # the queue fills past its bound while every insert waits on the lock
            acknowledged += [journal.record_event("filler", f"row {i}") for i in range(BOUND + 1)]
            assert journal.health().backlogged
            stalled_reports = [await cycle(T2), await cycle(T3)]
            assert not stall.expired, "the trading loop waited for the stalled database"
            assert sim.position(BTC) is None, "the exit went out while the journal was stalled"
            assert sim.position(ORCA) is None, "no new position while the journal is backlogged"
            assert engine.journal_backlogged
            stall.release()
            journal.flush(timeout=30)
        assert [r.exits for r in stalled_reports] == [1, 0]
        assert [r.entries for r in stalled_reports] == [0, 0] and [r.rejected for r in stalled_reports] == [1, 1]
        assert (await cycle(T4)).entries == 1 and sim.position(ORCA) is not None, "entries resume"
        assert not engine.journal_backlogged
        await engine.shutdown("completed")
    finally:
        journal.close()

    engine_db = sa.create_engine(pg_url)
    try:
        with engine_db.connect() as conn:
            stored = set(conn.execute(sa.text("SELECT id FROM events WHERE kind = 'filler'")).scalars())
    finally:
        engine_db.dispose()
    assert stored == set(acknowledged) and len(stored) == BOUND + 1, "an acknowledged row is missing"
    with JournalReader(pg_url) as reader:
        paused, resumed = reader.events(kind="entries_paused"), reader.events(kind="entries_resumed")
        refused = [d for d in reader.risk_decisions() if d.reason_code == "journal_backlogged"]
        trades = {t.symbol: t for t in reader.trades()}
    assert len(paused) == 1 and len(resumed) == 1, "one message when entries pause, one when they resume"
    assert "no new entries until it catches up" in paused[0].message
    assert [(d.symbol, d.verdict) for d in refused] == [(ORCA, "rejected"), (ORCA, "rejected")]
    assert trades[BTC].exit_reason == "signal", "the exit made during the stall is journaled"
    assert trades[ORCA].is_open


async def test_a_backtest_waits_for_its_journal_instead_of_refusing_entries(tmp_path: Path,
                                                                           sample_dir: Path) -> None:
    """Simulated time must trade the same however fast the disk is: a backtest whose journal is
    backlogged waits for it (the market does not move meanwhile) and enters as it would have."""
    # batches of 10,000 rows or every 10 s: without a flush, nothing is committed during the test
    journal = Journal.open(f"sqlite:///{tmp_path / 'bt.sqlite'}", batch_size=10_000, flush_interval_ms=10_000,
                           max_pending=BOUND)
    venue = _PaperVenue(sample_dir, tmp_path, journal, Scripted({BTC: (T1, IntentKind.ENTER_SHORT)}), live=False)
    try:
        await venue.engine.start()
        for i in range(BOUND + 1):
            journal.record_event("filler", f"row {i}")
        assert journal.health().backlogged
        assert (await venue.cycle(T1)).entries == 1 and venue.sim.position(BTC) is not None
        assert not journal.health().backlogged and not venue.engine.journal_backlogged
        await venue.engine.shutdown("completed")
    finally:
        journal.close()
    with JournalReader(f"sqlite:///{tmp_path / 'bt.sqlite'}") as reader:
        assert reader.events(kind="entries_paused") == []
        assert [(d.symbol, d.verdict) for d in reader.risk_decisions() if d.verdict == "rejected"] == []
