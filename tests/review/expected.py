"""Expected numbers recomputed from the scenario's raw inputs with plain Python/numpy."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np

from .journal_builder import EQUITY, TRADES, at


def closed(strategy: str | None = None, symbol: str | None = None) -> list[tuple]:
    return [t for t in TRADES if t[6] is not None and (strategy is None or t[2] == strategy)
            and (symbol is None or t[3] == symbol)]


def net(t: tuple) -> float:
    return t[10] - t[11] + t[12]


def daily_returns() -> tuple[list[float], list[float]]:
    """(returns, start-of-day equity) for days 0..5, from each run's last equity of each day."""
    rets, starts = [], []
    for points in EQUITY.values():
        closes: dict[int, float] = {}
        for ts, eq in points:
            closes[(ts - at(0, 0)).days] = eq
        prev = points[0][1]
        for day in sorted(closes):
            rets.append(closes[day] / prev - 1)
            starts.append(prev)
            prev = closes[day]
    return rets, starts


def sharpe(r: list[float]) -> float:
    a = np.asarray(r)
    return a.mean() / a.std(ddof=1) * math.sqrt(365)


def sortino(r: list[float]) -> float:
    a = np.asarray(r)
    return a.mean() * 365 / (math.sqrt(np.mean(np.minimum(a, 0) ** 2)) * math.sqrt(365))


def max_dd(r: list[float]) -> float:
    v, peak, worst = 1.0, 1.0, 0.0
    for x in r:
        v *= 1 + x
        peak = max(peak, v)
        worst = min(worst, v / peak - 1)
    return worst


def time_in_market(trades: list[tuple]) -> float:
    start, end = at(0, 0), at(5, 23)
    hours = set()
    for t in trades:
        h, stop = t[5], t[6] or end
        while h < stop:
            hours.add(h)
            h += timedelta(hours=1)
    return len(hours) / ((end - start).total_seconds() / 3600)
