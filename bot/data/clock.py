"""Clocks: the engine asks a clock for "now" instead of the OS, so one loop serves every mode.

* :class:`WallClock` — real time (live, testnet, paper on live prices).
* :class:`SimClock` — a backtest's clock, moved only by code (``advance``/``set``); it never
  runs backwards, so a replay cannot see a decision time twice out of order.
* :class:`AcceleratedClock` — real time multiplied by ``speed`` from ``start_ms`` (demo a
  historical day in minutes); based on ``time.monotonic`` so wall-clock jumps do not move it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from bot.core.timeutil import now_ms as wall_now_ms


@runtime_checkable
class Clock(Protocol):
    def now_ms(self) -> int: ...


class WallClock:
    """Real UTC time in ms."""

    def now_ms(self) -> int:
        return wall_now_ms()

    def __repr__(self) -> str:
        return "WallClock()"


class SimClock:
    """Simulated time, moved explicitly; monotonic (moving back raises ``ValueError``)."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = int(start_ms)

    def now_ms(self) -> int:
        return self._now

    def set(self, t_ms: int) -> None:
        t_ms = int(t_ms)
        if t_ms < self._now:
            raise ValueError(f"SimClock cannot move backwards: {t_ms} < {self._now}")
        self._now = t_ms

    def advance(self, delta_ms: int) -> int:
        """Move forward by ``delta_ms`` (>= 0) and return the new time."""
        if delta_ms < 0:
            raise ValueError(f"SimClock.advance needs delta_ms >= 0, got {delta_ms}")
        self._now += int(delta_ms)
        return self._now

    def __repr__(self) -> str:
        return f"SimClock({self._now})"


class AcceleratedClock:
    """``start_ms`` plus real elapsed time times ``speed`` (``speed=60``: one hour per minute)."""

    def __init__(self, start_ms: int, speed: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        if not speed > 0:
            raise ValueError(f"AcceleratedClock speed must be > 0, got {speed}")
        self.start_ms = int(start_ms)
        self.speed = float(speed)
        self._monotonic = monotonic
        self._t0 = monotonic()

    def now_ms(self) -> int:
        return self.start_ms + int((self._monotonic() - self._t0) * 1000.0 * self.speed)

    def __repr__(self) -> str:
        return f"AcceleratedClock(start_ms={self.start_ms}, speed={self.speed})"
