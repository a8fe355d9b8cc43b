"""Stateful account limits that need memory across cycles: order rate and stop-out cooldowns.

Both are small, serialisable and driven by the engine's clock (ms), never the wall clock, so
backtests and restarts behave like live trading.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from bot.core.timeutil import MS_PER_MINUTE


class OrderRateWindow:
    """Orders sent in the last minute (a sliding window, not a fixed per-minute bucket)."""

    window_ms = MS_PER_MINUTE

    def __init__(self, max_per_minute: int) -> None:
        if max_per_minute < 1:
            raise ValueError(f"max_per_minute must be >= 1, got {max_per_minute}")
        self.max_per_minute = max_per_minute
        self._sent: deque[int] = deque()

    def _expire(self, now_ms: int) -> None:
        while self._sent and self._sent[0] <= now_ms - self.window_ms:
            self._sent.popleft()

    def count(self, now_ms: int) -> int:
        """Orders sent in ``(now - 60 s, now]``."""
        self._expire(now_ms)
        return len(self._sent)

    def allows(self, now_ms: int, orders: int = 1) -> bool:
        return self.count(now_ms) + orders <= self.max_per_minute

    def record(self, now_ms: int, orders: int = 1) -> None:
        if self._sent and now_ms < self._sent[-1]:
            now_ms = self._sent[-1]  # a clock step back must not hide orders from the window
        self._sent.extend([now_ms] * orders)
        self._expire(now_ms)

    def to_list(self) -> list[int]:
        return list(self._sent)

    def restore(self, timestamps: list[int]) -> None:
        self._sent = deque(sorted(int(t) for t in timestamps))


@dataclass
class CooldownBook:
    """When each symbol was last stopped out; entries are barred for ``cooldown_ms`` after."""

    cooldown_ms: int
    last_stop_out: dict[str, int] = field(default_factory=dict)

    def record_stop_out(self, symbol: str, ts_ms: int) -> None:
        self.last_stop_out[symbol] = max(ts_ms, self.last_stop_out.get(symbol, ts_ms))

    def until(self, symbol: str) -> int | None:
        """First ms at which the symbol may be entered again, or None if never stopped."""
        last = self.last_stop_out.get(symbol)
        return None if last is None else last + self.cooldown_ms

    def blocked(self, symbol: str, now_ms: int) -> bool:
        until = self.until(symbol)
        return until is not None and now_ms < until

    def to_dict(self) -> dict[str, Any]:
        return dict(self.last_stop_out)
