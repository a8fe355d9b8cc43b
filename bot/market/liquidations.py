"""Liquidations from ccxt.pro ``watch_liquidations``: a windowed aggregator and a resilient watcher.

The aggregator keeps forced orders per symbol and sums liquidated **quote notional** over a
trailing window, split by the side that was liquidated: a forced SELL closes a long (long
liquidated), a forced BUY closes a short. The watcher runs in a background task, reconnects
with jittered exponential backoff after any disconnect and marks the feed unhealthy while it
is down, so snapshots show the field STALE (had data, lost the stream) or MISSING (never
connected, or the venue has no liquidation stream, e.g. our REST-only emulator) instead of a
misleading zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loguru import logger

from bot.core.enums import Quality
from bot.core.instrument import ccxt_symbol_to_id
from bot.core.timeutil import MS_PER_HOUR
from bot.market.derive import finite
from bot.market.snapshot import MISSING, Obs


@dataclass(frozen=True, slots=True)
class Liquidation:
    symbol: str  # exchange id
    ts: int
    long_notional: float  # quote notional of longs liquidated by this order
    short_notional: float


def parse_liquidation(item: Mapping[str, Any]) -> Liquidation | None:
    """A ccxt liquidation structure -> :class:`Liquidation`; None if unusable."""
    symbol = item.get("symbol")
    ts = finite(item.get("timestamp"))
    side = str(item.get("side") or "").lower()
    notional = finite(item.get("quoteValue"))
    if notional is None:
        contracts, price = finite(item.get("contracts")), finite(item.get("price"))
        size = finite(item.get("contractSize")) or 1.0
        notional = contracts * price * size if contracts is not None and price is not None else None
    if not symbol or ts is None or notional is None or notional < 0 or side not in ("buy", "sell"):
        return None
    sid = ccxt_symbol_to_id(str(symbol))
    # A forced SELL closes a long position; a forced BUY closes a short one.
    if side == "sell":
        return Liquidation(sid, int(ts), notional, 0.0)
    return Liquidation(sid, int(ts), 0.0, notional)


class LiquidationAggregator:
    """Trailing-window sums of liquidated notional per symbol, with a health flag."""

    def __init__(self, window_ms: int = MS_PER_HOUR, max_events_per_symbol: int = 100_000) -> None:
        if window_ms <= 0:
            raise ValueError(f"liquidation window must be positive, got {window_ms} ms")
        self.window_ms = window_ms
        self._events: dict[str, deque[Liquidation]] = defaultdict(lambda: deque(maxlen=max_events_per_symbol))
        self.connected = False
        self.connected_since_ms: int | None = None  # start of the current uninterrupted stream
        self.ever_connected = False
        self.malformed = 0

    def mark_connected(self, now_ms: int) -> None:
        if not self.connected:
            self.connected_since_ms = now_ms
        self.connected = True
        self.ever_connected = True

    def mark_disconnected(self) -> None:
        self.connected = False
        self.connected_since_ms = None

    def add(self, items: Sequence[Mapping[str, Any]]) -> int:
        """Add raw ccxt liquidation dicts; malformed ones are counted and skipped. Returns added."""
        added = 0
        for item in items:
            liq = parse_liquidation(item)
            if liq is None:
                if self.malformed == 0:
                    logger.warning("liquidations: skipped a malformed event: {}", dict(item))
                self.malformed += 1
                continue
            self._events[liq.symbol].append(liq)
            added += 1
        return added

    def totals(self, symbol: str, now_ms: int) -> tuple[Obs, Obs]:
        """(long, short) liquidated notional over ``(now - window, now]`` as observations.

        FRESH only when the stream has been up for the whole window (otherwise a quiet total
        could just mean we were not listening); STALE when it is down or younger than the
        window; MISSING when it never connected.
        """
        if not self.ever_connected:
            return MISSING, MISSING
        events = self._events.get(symbol, deque())
        lo = now_ms - self.window_ms
        while events and events[0].ts <= lo - self.window_ms:  # prune far-old events
            events.popleft()
        long_sum = sum(e.long_notional for e in events if lo < e.ts <= now_ms)
        short_sum = sum(e.short_notional for e in events if lo < e.ts <= now_ms)
        full_window = self.connected and self.connected_since_ms is not None and self.connected_since_ms <= lo
        quality = Quality.FRESH if full_window else Quality.STALE
        return Obs(long_sum, now_ms, quality), Obs(short_sum, now_ms, quality)


class LiquidationWatcher:
    """Background task feeding an aggregator from ``watch(symbols)``; survives disconnects.

    ``watch`` is the client's ``watch_liquidations_for_symbols`` (or a fake in tests). Any
    exception from it counts as a disconnect: logged once per outage, then retried after a
    jittered exponential backoff capped at ``max_backoff_s``.
    """

    def __init__(
        self,
        watch: Callable[[list[str]], Awaitable[Sequence[Mapping[str, Any]]]],
        symbols: list[str],
        aggregator: LiquidationAggregator,
        clock: Callable[[], int],
        *,
        base_backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        seed: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._watch = watch
        self.symbols = symbols
        self.aggregator = aggregator
        self._clock = clock
        self._base = base_backoff_s
        self._max = max_backoff_s
        self._rng = random.Random(seed)
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0

    async def run(self) -> None:
        """Loop forever (until cancelled)."""
        failures = 0
        while True:
            try:
                items = await self._watch(self.symbols)
            except asyncio.CancelledError:
                self.aggregator.mark_disconnected()
                raise
            except Exception as exc:  # every failure of a stream is a disconnect
                was_up = self.aggregator.connected
                self.aggregator.mark_disconnected()
                failures += 1
                self.reconnects += 1
                delay = min(self._max, self._base * 2 ** min(failures - 1, 16))
                delay = self._rng.uniform(delay / 2, delay)
                if was_up or failures == 1:
                    logger.warning("liquidation stream down ({}: {}); reconnecting with backoff",
                                   type(exc).__name__, exc)
                await self._sleep(delay)
                continue
            if failures:
                logger.info("liquidation stream back after {} failed attempt(s)", failures)
            failures = 0
            self.aggregator.mark_connected(self._clock())
            self.aggregator.add(items)

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="liquidation-watcher")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def supports_liquidation_stream(client: Any) -> bool:
    """True if the ccxt client is a ccxt.pro client advertising ``watchLiquidationsForSymbols``."""
    has = getattr(client, "has", {}) or {}
    return bool(has.get("watchLiquidationsForSymbols")) and hasattr(client, "watch_liquidations_for_symbols")
