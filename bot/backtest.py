"""Backtests: the live engine, replayed.

The same :class:`~bot.engine.Engine` runs with a replay feed, a simulated clock and the paper
executor (the simulated exchange core). Each simulated hour the market driver delivers the bars
and funding settlements that became known, then the engine cycles exactly as it would live.
Nothing here decides, sizes or fills: those are the strategies', the risk manager's and the
core's jobs.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.config import Settings
from bot.core.enums import Mode
from bot.core.timeutil import MS_PER_DAY, MS_PER_HOUR
from bot.data.clock import SimClock
from bot.data.store import MarketStore
from bot.engine import Engine
from bot.execution.paper import PaperExecutor
from bot.journal import Journal
from bot.journal import metrics as mx
from bot.market.replay import ReplaySource
from bot.risk.files import RiskFiles
from bot.sim.driver import MarketDriver
from bot.sim.exchange import SimExchange
from bot.trading.feed import ReplayFeed
from strategies.base import Strategy


@dataclass
class BacktestResult:
    start_ms: int
    end_ms: int
    symbols: list[str]
    trades: list[dict[str, Any]]
    equity: list[tuple[int, float]]
    starting_balance: float
    exposure_hours: int = 0
    hours: int = 0
    symbol_bars: int = 0  # bars replayed inside [start, end] over all symbols
    journal_url: str = ""
    stats: dict[str, Any] = field(default_factory=dict)


def _hour_ceil(ms: int) -> int:
    return -(-ms // MS_PER_HOUR) * MS_PER_HOUR


async def run_backtest(settings: Settings, store: MarketStore, strategies: dict[str, Strategy], *,
                       journal_url: str, start_ms: int | None = None, end_ms: int | None = None,
                       warmup_hours: int = 48, progress: Any = None) -> BacktestResult:
    """Replay ``store`` through the engine between ``start_ms`` and ``end_ms`` (default: all)."""
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
    feed = ReplayFeed(ReplaySource(store), symbols)
    bt_settings = settings.model_copy(update={"mode": Mode.PAPER})
    with tempfile.TemporaryDirectory(prefix="derivbot-bt-") as tmp:
        journal = Journal.open(journal_url, settings=settings.journal)
        engine = Engine(bt_settings, feed=feed, executor=executor, journal=journal, strategies=strategies,
                        record_observations="signals", risk_files=RiskFiles.from_halt_file(Path(tmp) / "HALT"),
                        flush_every_cycle=False)
        try:
            await engine.start()
            for t in range(warm_from, start, MS_PER_HOUR):  # strategies see history, nothing trades
                clock.set(t)
                driver.advance_to(t)
                await engine.observe(t)
            equity: list[tuple[int, float]] = []
            exposure_hours = 0
            hours = 0
            t = start
            while t <= end:
                clock.set(t)
                driver.advance_to(t)
                report = await engine.cycle(t)
                equity.append((t, report.equity))
                exposure_hours += bool(engine.book)
                hours += 1
                if progress is not None:
                    progress(t, start, end)
                t += MS_PER_HOUR
            await engine.shutdown("completed")
        finally:
            journal.close()
    symbol_bars = sum(int(((store[s].ts >= start - store[s].bar_ms) & (store[s].ts < end)).sum()) for s in symbols)
    result = BacktestResult(start, end, symbols, engine.closed_trades, equity, paper.starting_balance,
                            exposure_hours, hours, symbol_bars, journal_url)
    result.stats = summarize(result)
    return result


def summarize(result: BacktestResult) -> dict[str, Any]:
    """Headline numbers of a backtest: the journal report's metrics on the run's own series."""
    nets = [t["net"] for t in result.trades]
    daily = _daily_returns(result.equity)
    final = result.equity[-1][1] if result.equity else result.starting_balance
    stats: dict[str, Any] = {
        "trades": len(nets),
        "net_pnl": float(sum(nets)),
        "fees": float(sum(t["fees"] for t in result.trades)),
        "funding": float(sum(t["funding"] for t in result.trades)),
        "win_rate": mx.win_rate(nets) if nets else float("nan"),
        "profit_factor": mx.profit_factor(nets) if nets else float("nan"),
        "expectancy": mx.expectancy(nets) if nets else float("nan"),
        "sharpe": mx.sharpe_ratio(daily, 365) if len(daily) > 1 else float("nan"),
        "sortino": mx.sortino_ratio(daily, 365) if len(daily) > 1 else float("nan"),
        "max_drawdown": mx.max_drawdown(daily) if len(daily) else float("nan"),
        "calmar": mx.calmar_ratio(daily, 365) if len(daily) > 1 else float("nan"),
        "exposure": result.exposure_hours / result.hours if result.hours else 0.0,
        "final_equity": final,
        "return": final / result.starting_balance - 1,
    }
    per: dict[str, dict[str, Any]] = {}
    for trade in result.trades:
        for key in (f"strategy:{trade['strategy']}", f"symbol:{trade['symbol']}"):
            row = per.setdefault(key, {"trades": 0, "wins": 0, "net_pnl": 0.0, "fees": 0.0, "funding": 0.0})
            row["trades"] += 1
            row["wins"] += trade["net"] > 0
            row["net_pnl"] += trade["net"]
            row["fees"] += trade["fees"]
            row["funding"] += trade["funding"]
    stats["breakdown"] = per
    return stats


def _daily_returns(equity: list[tuple[int, float]]) -> np.ndarray:
    if not equity:
        return np.array([])
    closes: dict[int, float] = {}
    for ts, value in equity:
        closes[ts // MS_PER_DAY] = value
    values = np.array([closes[d] for d in sorted(closes)], dtype=float)
    if len(values) < 2:
        return np.array([])
    return values[1:] / values[:-1] - 1.0
