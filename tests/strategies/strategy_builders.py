"""Hand-built snapshots for strategy tests (no data files, no loaders).

``Bar`` describes one hour; :func:`build` turns a list of them into snapshots the way a feed
would: the funding rate carries the ts of its settlement and stays until the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.core.enums import PositionSide
from bot.core.intents import PortfolioView, PositionView
from bot.core.timeutil import MS_PER_HOUR
from bot.market.snapshot import MISSING, Snapshot, fresh

T0 = 1_700_000_000_000 - 1_700_000_000_000 % MS_PER_HOUR
SYMBOL = "TESTUSDT"


@dataclass(frozen=True)
class Bar:
    price: float = 100.0
    settle: float | None = None  # a funding settlement at this hour
    interval: float | None = None  # funding_interval_hours field (None = MISSING)
    oi: float | None = None
    floor: float | None = None
    spot_ratio: float | None = None
    liq_long: float | None = None
    liq_short: float | None = None
    quote_volume: float | None = None


def build(bars: list[Bar], symbol: str = SYMBOL, t0: int = T0) -> list[Snapshot]:
    out = []
    rate: float | None = None
    rate_ts: int | None = None
    for i, bar in enumerate(bars):
        ts = t0 + i * MS_PER_HOUR
        if bar.settle is not None:
            rate, rate_ts = bar.settle, ts
        change = bar.price / bars[i - 24].price - 1 if i >= 24 else None
        out.append(Snapshot(
            symbol=symbol, ts=ts,
            last_price=fresh(bar.price, ts),
            price_change_24h=fresh(change, ts) if change is not None else MISSING,
            funding_rate=fresh(rate, rate_ts) if rate is not None else MISSING,
            funding_interval_hours=fresh(bar.interval, ts) if bar.interval is not None else MISSING,
            funding_floor=fresh(bar.floor, ts) if bar.floor is not None else MISSING,
            open_interest=fresh(bar.oi, ts) if bar.oi is not None else MISSING,
            spot_futures_volume_ratio=fresh(bar.spot_ratio, ts) if bar.spot_ratio is not None else MISSING,
            liq_long_notional=fresh(bar.liq_long, ts) if bar.liq_long is not None else MISSING,
            liq_short_notional=fresh(bar.liq_short, ts) if bar.liq_short is not None else MISSING,
            quote_volume=fresh(bar.quote_volume, ts) if bar.quote_volume is not None else MISSING,
        ))
    return out


def edit_last(bars: list[Bar], n: int, **changes: object) -> list[Bar]:
    """A copy of ``bars`` with ``changes`` applied to the last ``n`` bars."""
    return bars[:-n] + [replace(b, **changes) for b in bars[-n:]]


def flat() -> PortfolioView:
    return PortfolioView.of(ts=0, equity=10_000.0, positions=[])


def holding(symbol: str, side: PositionSide, strategy: str, entry_ts: int, price: float = 100.0) -> PortfolioView:
    pos = PositionView(symbol=symbol, side=side, quantity=1.0, entry_price=price, entry_ts=entry_ts,
                       strategy=strategy)
    return PortfolioView.of(ts=entry_ts, equity=10_000.0, positions=[pos])
