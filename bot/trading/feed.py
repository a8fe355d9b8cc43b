"""What the engine reads the market through: anything that yields snapshots at a time."""

from __future__ import annotations

from typing import Protocol

from bot.market.snapshot import Snapshot


class Feed(Protocol):
    """A source of snapshots. Replay and live sources both satisfy it."""

    async def snapshots(self, now_ms: int) -> dict[str, Snapshot]:
        """Snapshots of every symbol in the universe as of ``now_ms`` (no later data)."""
        ...


class ReplayFeed:
    """Adapts ``bot.market.replay.ReplaySource`` (synchronous, in-memory) to :class:`Feed`."""

    def __init__(self, source, symbols: list[str] | None = None) -> None:
        self.source = source
        self.symbols = symbols
        self._wanted = None if symbols is None else frozenset(symbols)  # asked once per symbol per bar

    async def snapshots(self, now_ms: int) -> dict[str, Snapshot]:
        snaps = self.source.snapshots(now_ms)
        wanted = self._wanted
        return {s: v for s, v in snaps.items()
                if (wanted is None or s in wanted) and v.last_price.value is not None}


class LiveFeed:
    """Adapts ``bot.market.live.LiveSource`` to :class:`Feed`.

    The decision time is the engine's (the venue clock), so an accelerated emulator and a real
    exchange are read the same way. ``always`` names symbols to deep-scan every cycle (open
    positions, configured symbols) whatever the pre-filter says.
    """

    def __init__(self, source, always=None) -> None:
        self.source = source
        self.always = always or (lambda: ())
        self.last_result = None

    async def snapshots(self, now_ms: int) -> dict[str, Snapshot]:
        self.source.clock = lambda: now_ms
        result = await self.source.scan(always=list(self.always()))
        self.last_result = result
        return {s: v for s, v in result.snapshots.items() if v.last_price.value is not None}
