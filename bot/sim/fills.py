"""The fill model: how orders execute against replayed 1h bars.

Intrabar path
    A closed bar only gives open, high, low and close, so the simulator assumes the price went
    **open -> nearer extreme -> farther extreme -> close** in straight lines (the nearer extreme is
    the one closer to the open; on a tie the low comes first, the conservative choice for longs).
    The path is parametrised by ``t`` in ``[0, 3]`` (one unit per leg). The last-price path and
    the mark-price path are built the same way and share ``t``, so stops (on last or mark),
    take-profits, limit orders and liquidations in the same bar are processed in the order the
    path reaches them. A price tick from ``set_price`` is a one-point path (a jump, no
    interpolation).

Market orders (and triggered stops)
    A synthetic book is derived from the last bar: the spread is
    ``max(tick, spread_k * (high - low) / close * ref)`` around the reference price ``ref``;
    each further level is one spread away and holds ``level_depth_frac * volume`` contracts.
    An order pays half the spread plus the volume-weighted level offset of walking that book
    (closed form, no loop), capped at ``max_impact_frac * ref``. The result is rounded to the
    tick against the taker (buys up, sells down). Without a bar (or zero volume) only the half
    spread is paid.

Limit orders
    Resting limits fill only when the last price trades **through** them (strictly below a buy,
    strictly above a sell), at the limit price, as maker. Per bar an order takes at most
    ``limit_volume_frac * volume`` contracts, so a large order fills over several bars
    (PARTIALLY_FILLED, then FILLED). A limit that is marketable on arrival takes liquidity as a
    market order would, but never at a price worse than its limit.

Triggered stops
    A stop fills from the trigger price, or from the path price when the path was already
    beyond it (a bar that opens through the stop fills from the open), plus the market impact.
    With ``MARK_PRICE`` the reference is the worse of the mark and last price at that moment.

Everything is deterministic: no randomness is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.core.precision import Rounding, round_price

Path = tuple[float, ...]


@dataclass(frozen=True, slots=True)
class FillModel:
    """Tunable parameters of the fill model (see the module docstring)."""

    spread_k: float = 0.02
    level_depth_frac: float = 0.01
    max_impact_frac: float = 0.5
    limit_volume_frac: float = 0.1
    #: Binance's liquidation clearance fee for small caps, charged on the liquidated notional.
    liquidation_fee_rate: float = 0.0125
    #: Duration of the bars passed to ``on_bar`` (``ts_ms`` is the bar's open time).
    bar_ms: int = 3_600_000

    def __post_init__(self) -> None:
        for name in ("spread_k", "level_depth_frac", "max_impact_frac", "limit_volume_frac",
                     "liquidation_fee_rate"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"FillModel.{name} must be a finite number >= 0, got {value!r}")
        if not 0 < self.limit_volume_frac <= 1:
            raise ValueError(f"FillModel.limit_volume_frac must be in (0, 1], got {self.limit_volume_frac}")
        if self.bar_ms <= 0:
            raise ValueError(f"FillModel.bar_ms must be positive, got {self.bar_ms}")

    def spread(self, ref: float, tick: float, high: float, low: float, close: float) -> float:
        rel_range = (high - low) / close if close > 0 and high >= low else 0.0
        return max(tick, self.spread_k * rel_range * ref)

    def taker_offset(self, ref: float, quantity: float, tick: float, high: float, low: float,
                     close: float, volume: float) -> float:
        """Average distance from ``ref`` a taker pays for ``quantity`` (half spread + book walk)."""
        spread = self.spread(ref, tick, high, low, close)
        offset = spread / 2
        depth = self.level_depth_frac * volume
        if depth > 0 and quantity > 0:
            full_levels = math.floor(quantity / depth)
            rest = quantity - full_levels * depth
            weighted_levels = depth * full_levels * (full_levels - 1) / 2 + full_levels * rest
            offset += spread * weighted_levels / quantity
        return min(offset, self.max_impact_frac * ref)

    def taker_price(self, side_sign: int, ref: float, quantity: float, tick: float, high: float,
                    low: float, close: float, volume: float) -> float:
        """Average fill price of a taker order, rounded to the tick against the taker."""
        offset = self.taker_offset(ref, quantity, tick, high, low, close, volume)
        if side_sign > 0:
            return round_price(ref + offset, tick, Rounding.CEIL)
        return max(round_price(ref - offset, tick, Rounding.FLOOR), tick)

    def limit_budget(self, volume: float | None) -> float:
        """Most contracts a resting limit order may take from one bar (``inf`` without volume)."""
        if volume is None or not volume > 0:
            return math.inf
        return self.limit_volume_frac * volume


def bar_path(o: float, h: float, l: float, c: float) -> Path:  # noqa: E741 - OHLC naming
    """open -> nearer extreme -> farther extreme -> close (low first on a tie)."""
    if h - o < o - l:
        return (o, h, l, c)
    return (o, l, h, c)


def price_at(path: Path, t: float) -> float:
    """Price on the piecewise-linear ``path`` at parameter ``t``."""
    last = len(path) - 1
    if t <= 0 or last == 0:
        return path[0]
    if t >= last:
        return path[last]
    i = int(t)
    frac = t - i
    return path[i] + (path[i + 1] - path[i]) * frac


def first_touch(path: Path, level: float, direction: int, t_min: float = 0.0,
                strict: bool = False) -> tuple[float, float] | None:
    """First ``t >= t_min`` where the path reaches ``level``.

    ``direction`` +1 looks for ``price >= level`` (rising through it), -1 for ``price <= level``.
    With ``strict`` the path must go strictly beyond the level (limit orders); the returned time
    is still the moment it reached the level. Returns ``(t, price)``: ``price`` is ``level`` for
    a crossing, or the path price at ``t_min`` when the path was already beyond the level (a gap).
    """
    start = price_at(path, t_min)
    diff = (start - level) * direction
    if diff > 0 or (diff == 0 and not strict):
        return t_min, start
    last = len(path) - 1
    i = min(int(t_min), last)
    a = start
    while i < last:
        b = path[i + 1]
        db = (b - level) * direction
        if db > 0 or (db == 0 and not strict):
            seg_start = max(t_min, float(i))
            span = b - a
            frac = (level - a) / span if span != 0 else 0.0
            frac = min(max(frac, 0.0), 1.0)
            return seg_start + (i + 1 - seg_start) * frac, level
        a = b
        i += 1
    return None


def trailing_touch(path: Path, t_min: float, sell: bool, callback: float, active: bool,
                   extreme: float | None, activation: float | None
                   ) -> tuple[float | None, float, bool, float | None]:
    """Walk a trailing stop along ``path`` from ``t_min``.

    A sell trailing stop (protecting a long) activates when the price reaches ``activation``
    (at once when ``None``), tracks the highest price since, and triggers when the price falls
    to ``extreme * (1 - callback)``; a buy trailing stop mirrors it. Returns
    ``(t or None, trigger price, active, extreme)`` with the state at the trigger or path end.
    """
    d = 1 if sell else -1

    def better(x: float, y: float) -> float:
        return max(x, y) if sell else min(x, y)

    def level_of(ext: float) -> float:
        return ext * (1 - callback) if sell else ext * (1 + callback)

    a = price_at(path, t_min)
    if not active and (activation is None or (a - activation) * d >= 0):
        active, extreme = True, a
    if active:
        extreme = a if extreme is None else better(extreme, a)
        if (a - level_of(extreme)) * d <= 0:
            return t_min, a, active, extreme
    last = len(path) - 1
    i = min(int(t_min), last)
    while i < last:
        b = path[i + 1]
        seg_start = max(t_min, float(i))
        if not active:
            if activation is not None and (b - activation) * d >= 0:
                active, extreme = True, b
            a, i = b, i + 1
            continue
        assert extreme is not None
        if (b - a) * d >= 0:  # moving in the position's favour: the stop follows
            extreme = better(extreme, b)
        else:
            level = level_of(extreme)
            if (b - level) * d <= 0:
                span = b - a
                frac = min(max((level - a) / span, 0.0), 1.0) if span != 0 else 0.0
                return seg_start + (i + 1 - seg_start) * frac, level, active, extreme
        a, i = b, i + 1
    return None, 0.0, active, extreme
