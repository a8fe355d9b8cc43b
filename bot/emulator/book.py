"""A synthetic order book consistent with the core's fill model (:mod:`bot.sim.fills`).

There is no recorded depth. The fill model charges a market order half a spread of
``max(tick, spread_k * (high - low) / close * ref)`` plus a walk through levels one spread
apart, each holding ``level_depth_frac * volume`` contracts. This book shows exactly those
levels around the current last price, so a client that sizes an order from ``fetch_order_book``
sees the price it will get (up to tick rounding). Deterministic: same state, same book.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.instrument import Instrument
from bot.core.precision import Rounding
from bot.sim.fills import FillModel


@dataclass(frozen=True, slots=True)
class BarRange:
    """The last closed bar's range and volume (what the fill model sizes the book from)."""

    high: float
    low: float
    close: float
    volume: float


def build_book(inst: Instrument, last: float, bar: BarRange | None, depth: int,
               model: FillModel | None = None) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(bids, asks), best first, as (price, quantity); ``depth`` levels per side."""
    model = model or FillModel()
    if bar is None:
        spread = inst.tick_size
        level_qty = 0.0
    else:
        spread = model.spread(last, inst.tick_size, bar.high, bar.low, bar.close)
        level_qty = model.level_depth_frac * max(bar.volume, 0.0)
    qty = max(inst.round_qty(level_qty), inst.min_qty)
    bids: list[tuple[float, float]] = []
    asks: list[tuple[float, float]] = []
    for i in range(depth):
        offset = spread / 2 + i * spread
        bid = inst.round_price(last - offset, Rounding.FLOOR)
        ask = inst.round_price(last + offset, Rounding.CEIL)
        if bid > 0 and (not bids or bid < bids[-1][0]):
            bids.append((bid, qty))
        if not asks or ask > asks[-1][0]:
            asks.append((ask, qty))
    return bids, asks
