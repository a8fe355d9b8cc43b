"""Instruments derived from price history when the data carries no exchange metadata.

Replays need a tick size, a lot step and leverage brackets. Historical files do not include
Binance's ``exchangeInfo``, so they are derived from the median close ``p`` of the history:

* ``tick_size = 10 ** (floor(log10(p)) - 5)``: five significant digits below the leading one
  (ORCA ~3 -> 0.00001, BTC ~100,000 -> 1). Never coarser than the real market for small caps,
  so simulated prices are not distorted by rounding.
* ``step_size = max(10 ** (-floor(log10(p)) - 1), 0.001)``: one lot is worth 0.1-1 USDT for alts
  (ORCA ~3 -> 0.1, PIPPIN ~0.2 -> 1) and Binance's 0.001 for majors (BTC, ETH).
* Brackets: :func:`bot.core.instrument.default_brackets` (a small-cap table, 50x up to 5k
  notional) for everything except the majors in :data:`MAJORS`, which get a table shaped like
  Binance's BTCUSDT one (125x up to 50k, ... 1x above 1.2B). Using small-cap brackets for BTC
  would make the risk manager cap BTC leverage far below what the exchange allows.

When real exchange metadata exists (live, emulator), use it instead: this is a fallback.
"""

from __future__ import annotations

import math

from bot.core.instrument import Instrument, LeverageBracket, default_brackets
from bot.data.symbols import base_of

MAJORS = frozenset({"BTCUSDT", "ETHUSDT"})

#: (max leverage, notional floor, notional cap, maintenance margin ratio), Binance BTCUSDT-like.
_MAJOR_TIERS: tuple[tuple[int, float, float, float], ...] = (
    (125, 0, 50_000, 0.004),
    (100, 50_000, 600_000, 0.005),
    (75, 600_000, 3_000_000, 0.0065),
    (50, 3_000_000, 12_000_000, 0.01),
    (25, 12_000_000, 70_000_000, 0.02),
    (20, 70_000_000, 100_000_000, 0.025),
    (10, 100_000_000, 230_000_000, 0.05),
    (5, 230_000_000, 480_000_000, 0.10),
    (4, 480_000_000, 600_000_000, 0.125),
    (3, 600_000_000, 800_000_000, 0.15),
    (2, 800_000_000, 1_200_000_000, 0.25),
    (1, 1_200_000_000, 1_800_000_000, 0.50),
)


def major_brackets() -> tuple[LeverageBracket, ...]:
    """BTC-like tiers with ``cum`` computed so maintenance margin is continuous across tiers."""
    out: list[LeverageBracket] = []
    cum = 0.0
    prev_mmr = 0.0
    for i, (lev, floor, cap, mmr) in enumerate(_MAJOR_TIERS, start=1):
        cum += floor * (mmr - prev_mmr)
        out.append(LeverageBracket(i, lev, float(floor), float(cap), mmr, round(cum, 8)))
        prev_mmr = mmr
    return tuple(out)


def _decimals(step: float) -> int:
    return max(0, -round(math.log10(step)))


def derive_instrument(symbol: str, median_close: float | None, onboard_ms: int = 0) -> Instrument:
    """An :class:`Instrument` for ``symbol`` from its typical price (defaults if unknown)."""
    brackets = major_brackets() if symbol in MAJORS else default_brackets()
    if median_close is None or not math.isfinite(median_close) or median_close <= 0:
        return Instrument(symbol=symbol, base=base_of(symbol), brackets=brackets, onboard_ms=onboard_ms)
    magnitude = math.floor(math.log10(median_close))
    tick = float(f"1e{magnitude - 5}")
    step = max(float(f"1e{-magnitude - 1}"), 0.001)
    return Instrument(
        symbol=symbol, base=base_of(symbol), tick_size=tick, step_size=step, min_qty=step,
        price_precision=_decimals(tick), quantity_precision=_decimals(step),
        brackets=brackets, onboard_ms=onboard_ms,
    )
