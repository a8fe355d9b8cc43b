"""Collect entry signals by replaying history through the strategies themselves.

No second copy of any strategy's logic: each symbol's snapshots come from
:class:`bot.market.replay.ReplaySource` and are fed, bar by bar with a growing history, to the
strategy's own ``decide`` with an empty portfolio, so what fires here is exactly what would
fire in a backtest or live.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from loguru import logger

from bot.core.enums import PositionSide
from bot.core.intents import PortfolioView
from bot.data.store import MarketStore
from bot.market.replay import ReplaySource
from bot.market.snapshot import Snapshot
from strategies import registry


@dataclass(frozen=True, slots=True)
class Signal:
    strategy: str
    symbol: str
    side: PositionSide
    ts: int  # decision time (ms): the close of the last bar known
    strength: float


@dataclass(frozen=True, slots=True)
class Collected:
    signals: list[Signal]
    #: symbol -> every decision time replayed (sorted), the population of the random baseline
    decision_times: dict[str, np.ndarray]


def tradable_symbols(store: MarketStore) -> list[str]:
    """Symbols with both price bars and funding settlements (what the strategies need)."""
    return [s for s in store.symbols if len(store[s].ts) and len(store[s].funding_ts)]


def collect(store: MarketStore, strategy_names: Iterable[str], symbols: Iterable[str] | None = None,
            step_ms: int | None = None) -> Collected:
    """Entry signals of each strategy on each symbol, with an empty portfolio throughout."""
    names = list(strategy_names)
    classes = {name: registry.get(name) for name in names}
    source = ReplaySource(store)
    flat = PortfolioView.of(0, 1.0, [])
    signals: list[Signal] = []
    times: dict[str, np.ndarray] = {}
    for symbol in symbols if symbols is not None else tradable_symbols(store):
        h = store[symbol]
        if not len(h.ts):
            logger.warning(f"research: {symbol} has no price bars; skipped")
            continue
        step = step_ms or h.bar_ms
        start, end = int(h.ts[0]) + h.bar_ms, int(h.ts[-1]) + h.bar_ms
        instances = {name: cls() for name, cls in classes.items()}
        history: list[Snapshot] = []
        for snap in source.iter_snapshots(symbol, start, end, step):
            history.append(snap)
            for name, strategy in instances.items():
                for intent in strategy.decide(history, flat):
                    if intent.side is not None:
                        signals.append(Signal(name, symbol, intent.side, intent.ts, intent.strength))
        times[symbol] = np.fromiter((s.ts for s in history), dtype=np.int64, count=len(history))
    return Collected(signals, times)
