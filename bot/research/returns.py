"""Forward returns of a position opened at a decision time, net of fees and funding.

A position of notional 1 opened at the close known at ``t`` (the last closed bar) and closed at
the close known at ``t + horizon`` earns::

    side * (p1 / p0 - 1)  -  2 * taker_fee  +  funding received over (t, t + horizon]

Funding uses the real settlements with :func:`bot.sim.margin.funding_payment`'s convention
(positive = received; longs pay when the rate is positive) on quantity ``1 / p0`` at the
settlement's mark price (the recorded ``funding_mark``, else the last closed mark, else last
price). A settlement exactly at ``t`` was paid before entry; one exactly at ``t + horizon`` is
counted (the exit order is assumed to land after it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.core.enums import PositionSide
from bot.data.store import SymbolHistory
from bot.sim.margin import funding_payment

TAKER_FEE = 0.0005


@dataclass(frozen=True)
class ForwardReturns:
    """Vectorised forward-return calculator for one symbol."""

    close_ts: np.ndarray  # bar close (publication) times
    close: np.ndarray
    funding_ts: np.ndarray
    funding_cum: np.ndarray  # cumulative rate * mark, with a leading 0

    @classmethod
    def of(cls, h: SymbolHistory) -> ForwardReturns:
        close_ts = np.asarray(h.ts, dtype=np.int64) + h.bar_ms
        close = np.asarray(h.close, dtype=float)
        fts = np.asarray(h.funding_ts, dtype=np.int64)
        rate = np.asarray(h.funding_rate, dtype=float)
        mark = settlement_marks(h)
        flows = np.where(np.isfinite(rate) & np.isfinite(mark), rate * mark, 0.0)
        return cls(close_ts, close, fts, np.concatenate([[0.0], np.cumsum(flows)]))

    def price_at(self, t: np.ndarray) -> np.ndarray:
        """Close published exactly at ``t`` (NaN when that bar is missing)."""
        idx = np.searchsorted(self.close_ts, t)
        ok = (idx < len(self.close_ts))
        idx_c = np.minimum(idx, len(self.close_ts) - 1)
        hit = ok & (self.close_ts[idx_c] == t)
        return np.where(hit, self.close[idx_c], np.nan)

    def net(self, t: np.ndarray, side: PositionSide, horizon_ms: int, fee: float = TAKER_FEE) -> np.ndarray:
        """Net return per unit notional for entries at times ``t`` (NaN without a full window)."""
        t = np.asarray(t, dtype=np.int64)
        p0, p1 = self.price_at(t), self.price_at(t + horizon_ms)
        lo = np.searchsorted(self.funding_ts, t, "right")
        hi = np.searchsorted(self.funding_ts, t + horizon_ms, "right")
        paid_by_long = (self.funding_cum[hi] - self.funding_cum[lo]) / p0  # rate * mark * (1 / p0)
        funding = -side.sign * paid_by_long
        return side.sign * (p1 / p0 - 1.0) - 2.0 * fee + funding

    def funding_received(self, t: int, side: PositionSide, horizon_ms: int, marks: np.ndarray,
                         rates: np.ndarray) -> float:
        """Scalar reference of the funding term, settlement by settlement (used by tests)."""
        p0 = float(self.price_at(np.array([t]))[0])
        total = 0.0
        for ts, rate, mark in zip(self.funding_ts, rates, marks, strict=True):
            if t < ts <= t + horizon_ms and np.isfinite(rate) and np.isfinite(mark):
                total += funding_payment(side.value, 1.0 / p0, float(mark), float(rate))
        return total


def settlement_marks(h: SymbolHistory) -> np.ndarray:
    """Mark price at each settlement: recorded, else the last closed mark, else last close."""
    fts = np.asarray(h.funding_ts, dtype=np.int64)
    marks = np.full(len(fts), np.nan)
    if len(h.funding_mark) == len(fts):
        marks = np.asarray(h.funding_mark, dtype=float).copy()
    missing = ~np.isfinite(marks)
    if missing.any() and len(h.ts):
        close_ts = np.asarray(h.ts, dtype=np.int64) + h.bar_ms
        idx = np.searchsorted(close_ts, fts[missing], "right") - 1
        valid = idx >= 0
        idx_c = np.maximum(idx, 0)
        mark_close = np.asarray(h.mark_close, dtype=float) if len(h.mark_close) == len(h.ts) else None
        fallback = np.asarray(h.close, dtype=float)[idx_c]
        if mark_close is not None:
            mc = mark_close[idx_c]
            fallback = np.where(np.isfinite(mc), mc, fallback)
        marks[missing] = np.where(valid, fallback, np.nan)
    return marks
