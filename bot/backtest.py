"""Backtests: the live engine, replayed.

The same :class:`~bot.engine.Engine` runs with a replay feed, a simulated clock and the paper
executor (the simulated exchange core). Each simulated hour the market driver delivers the bars
and funding settlements that became known, then the engine cycles exactly as it would live.
Nothing here decides, sizes or fills: those are the strategies', the risk manager's and the
core's jobs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from bot.core.enums import Mode
from bot.core.timeutil import MS_PER_HOUR
from bot.data.clock import SimClock
from bot.data.store import MarketStore
from bot.engine import Engine
from bot.execution.paper import PaperExecutor
from bot.journal import Journal
from bot.market.replay import ReplaySource
from bot.review import service
from bot.review.db import open_readonly
from bot.review.queries import ReviewFilter
from bot.risk.memory_files import MemoryRiskFiles
from bot.sim.driver import MarketDriver
from bot.sim.exchange import SimExchange
from bot.trading.feed import ReplayFeed
from strategies.base import Strategy


@dataclass
class BacktestResult:
    start_ms: int
    end_ms: int
    symbols: list[str]
    trades: list[dict[str, Any]]  # the engine's own record of closed trades
    symbol_bars: int  # bars replayed inside [start, end] over all symbols
    journal_url: str
    #: ``derivbot journal summary`` of the run: the same numbers a user reviews afterwards
    summary: dict[str, Any] = field(default_factory=dict)
    #: seconds per phase (features, loop, journal, report): where a backtest's time goes (issue 12)
    timings: dict[str, float] = field(default_factory=dict)


def _hour_ceil(ms: int) -> int:
    return -(-ms // MS_PER_HOUR) * MS_PER_HOUR


async def run_backtest(settings: Settings, store: MarketStore, strategies: dict[str, Strategy], *,
                       journal_url: str, start_ms: int | None = None, end_ms: int | None = None,
                       warmup_hours: int = 48, progress: Any = None,
                       record_observations: str = "signals") -> BacktestResult:
    """Replay ``store`` through the engine between ``start_ms`` and ``end_ms`` (default: all).

    ``record_observations``: ``"signals"`` journals the snapshot behind each signal only;
    ``"all"`` every snapshot of every cycle (``--record observations``: large and slow).
    """
    timings: dict[str, float] = {}
    clock_start = time.perf_counter()
    symbols = [s for s in store.symbols if len(store[s].ts) > 0]
    if not symbols:
        raise ValueError("no symbol with price bars in the data")
    first = min(int(store[s].ts[0]) + int(store[s].bar_ms) for s in symbols)
    last = max(int(store[s].ts[-1]) + int(store[s].bar_ms) for s in symbols)
    start = _hour_ceil(max(start_ms or first, first))
    end = min(end_ms or last, last)
    warm_from = _hour_ceil(max(first, start - warmup_hours * MS_PER_HOUR))
    instruments = {s: store[s].instrument for s in symbols}
    paper = settings.paper
    sim = SimExchange(instruments, balance=paper.starting_balance, maker_fee=paper.maker_fee,
                      taker_fee=paper.taker_fee, seed=paper.seed)
    clock = SimClock(warm_from)
    driver = MarketDriver(sim, store, symbols, clock)
    executor = PaperExecutor(sim, instruments, clock.now_ms)
    source = ReplaySource(store)
    source.prepare(symbols)  # every symbol's derived series, once, before the loop (timed apart)
    feed = ReplayFeed(source, symbols)
    timings["features"] = time.perf_counter() - clock_start
    bt_settings = settings.model_copy(update={"mode": Mode.PAPER})
    journal = Journal.open(journal_url, settings=settings.journal)
    engine = Engine(bt_settings, feed=feed, executor=executor, journal=journal, strategies=strategies,
                    record_observations=record_observations,
                    risk_files=MemoryRiskFiles.create(),  # no operator can reach a backtest's kill switch
                    flush_every_cycle=False, flush_on_trades=False)
    try:
        loop_start = time.perf_counter()
        await engine.start()
        for t in range(warm_from, start, MS_PER_HOUR):  # strategies see history, nothing trades
            clock.set(t)
            driver.advance_to(t)
            await engine.observe(t)
        t = start
        while t <= end:
            clock.set(t)
            driver.advance_to(t)
            await engine.cycle(t)
            if progress is not None:
                progress(t, start, end)
            t += MS_PER_HOUR
        run_id = engine.run_id
        journal_start = time.perf_counter()
        timings["loop"] = journal_start - loop_start
        await engine.shutdown("completed")
    finally:
        journal.close()
    timings["journal"] = time.perf_counter() - journal_start  # the batched writes still queued
    symbol_bars = sum(int(((store[s].ts >= start - store[s].bar_ms) & (store[s].ts < end)).sum()) for s in symbols)
    result = BacktestResult(start, end, symbols, engine.closed_trades, symbol_bars, journal_url)
    report_start = time.perf_counter()
    reader = open_readonly(journal_url)
    try:
        result.summary = service.summary(reader, ReviewFilter(run_id=run_id))
    finally:
        reader.dispose()
    timings["report"] = time.perf_counter() - report_start
    result.timings = timings
    return result
