"""Leverage caps and the liquidation buffer.

Leverage is the lowest of every cap that applies, and the code ceilings of :mod:`bot.safety`
are applied here again whatever the configuration says (defence in depth: a settings object
built without validation must not be able to raise them). Exchanges take integer leverage, so
the result is floored to a whole number, never below 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot import safety
from bot.core.enums import Mode, PositionSide
from bot.core.instrument import Instrument
from bot.sim.margin import liquidation_price_for


def mode_cap(mode: Mode) -> float:
    """Highest leverage the mode permits: 5x live, the 10x code ceiling otherwise."""
    return safety.LIVE_MAX_LEVERAGE if mode is Mode.LIVE else safety.ABSOLUTE_MAX_LEVERAGE


def default_leverage(mode: Mode, config_max: float) -> float:
    """Leverage used when the strategy does not ask for one (live: 3x at most)."""
    return min(config_max, safety.LIVE_DEFAULT_LEVERAGE) if mode is Mode.LIVE else config_max


@dataclass(frozen=True, slots=True)
class LeverageCaps:
    """Every input of the leverage choice, kept for the decision's numbers."""

    requested: float
    config_cap: float
    mode_cap: float
    code_ceiling: float

    @property
    def limit(self) -> int:
        """The lowest cap, floored to an integer and at least 1."""
        lowest = min(self.requested, self.config_cap, self.mode_cap, self.code_ceiling)
        return max(1, math.floor(lowest))

    def as_numbers(self) -> dict[str, float]:
        return {
            "requested": self.requested,
            "config_cap": self.config_cap,
            "mode_cap": self.mode_cap,
            "code_ceiling": self.code_ceiling,
        }


def leverage_caps(requested: float | None, config_max: float, mode: Mode) -> LeverageCaps:
    if requested is not None and (not math.isfinite(requested) or requested <= 0):
        raise ValueError(f"requested leverage must be a finite number > 0, got {requested!r}")
    wanted = default_leverage(mode, config_max) if requested is None else requested
    return LeverageCaps(
        requested=wanted,
        config_cap=config_max,
        mode_cap=mode_cap(mode),
        code_ceiling=safety.ABSOLUTE_MAX_LEVERAGE,
    )


def bracket_leverage(instrument: Instrument, notional: float) -> int:
    """Max leverage the instrument's bracket allows at ``notional``."""
    return instrument.max_leverage_for(notional)


@dataclass(frozen=True, slots=True)
class BufferCheck:
    """Result of the liquidation-buffer test for one (entry, stop, qty, leverage)."""

    passed: bool
    liquidation_price: float
    stop_distance: float
    liquidation_distance: float
    buffer: float

    def as_numbers(self) -> dict[str, float | bool]:
        return {
            "passed": self.passed,
            "liquidation_price": self.liquidation_price,
            "stop_distance": self.stop_distance,
            "liquidation_distance": self.liquidation_distance,
            "allowed_stop_distance": self.buffer * self.liquidation_distance,
            "buffer": self.buffer,
        }


def isolated_liquidation_price(instrument: Instrument, side: PositionSide, entry_price: float, quantity: float,
                               leverage: float) -> float:
    """Binance's isolated-margin liquidation price of a new position whose margin is
    notional / leverage, with the symbol's maintenance bracket (the one formula the risk checks,
    the engine's trade record and the simulator share)."""
    return liquidation_price_for(instrument, side.value, entry_price, quantity, entry_price * quantity / leverage)


def check_liquidation_buffer(
    instrument: Instrument,
    side: PositionSide,
    entry_price: float,
    stop_price: float,
    quantity: float,
    leverage: float,
    buffer: float,
) -> BufferCheck:
    """``|entry - stop| <= buffer * |entry - liquidation|`` with isolated margin notional/leverage.

    The stop must also sit on the loss side of the entry (below for a long, above for a short);
    a stop on the wrong side never passes.
    """
    liq = isolated_liquidation_price(instrument, side, entry_price, quantity, leverage)
    stop_distance = abs(entry_price - stop_price)
    liq_distance = abs(entry_price - liq)
    right_side = (stop_price < entry_price) if side is PositionSide.LONG else (stop_price > entry_price)
    liq_beyond = (liq < entry_price) if side is PositionSide.LONG else (liq > entry_price)
    passed = right_side and liq_beyond and stop_distance <= buffer * liq_distance
    return BufferCheck(passed, liq, stop_distance, liq_distance, buffer)
