"""The emulator clock: simulated UTC time that runs at ``speed`` x wall time, or only when stepped.

It is the server time the emulator reports (``/fapi/v1/time``), checks request timestamps
against and drives the market with. It never runs backwards: a market that has already
filled orders cannot be un-filled.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class ClockError(ValueError):
    """A clock change that cannot be honoured (going back in time, negative speed)."""


#: Fastest clock rate: a million x wall time (11.6 simulated days per second) is far beyond any
#: replay's use (the demo runs at 14,400); unbounded rates overflow the clock's int arithmetic.
MAX_SPEED = 1_000_000.0
#: Largest server-time offset a scenario may set (one day either way). Real skews are seconds to
#: minutes; anything larger only tests the same path.
MAX_SERVER_OFFSET_MS = 86_400_000


def server_wall_ms(offset_ms: int = 0) -> int:
    """The server's wall clock: the machine's UTC time plus a scenario offset.

    Binance checks a signed request's ``timestamp`` against its own server time, which a client
    whose clock drifted does not share (issue 11, item 8). The offset models that drift without
    touching the market clock: shifting the replayed market would move prices, not clocks.
    """
    return int(time.time() * 1000) + int(offset_ms)


def check_speed(speed: float) -> float:
    """A finite rate in [0, MAX_SPEED]; NaN would poison every later ``now_ms`` (issue 16)."""
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not math.isfinite(speed) \
            or not 0 <= speed <= MAX_SPEED:
        raise ClockError(f"speed must be a number within [0, {MAX_SPEED:g}], got {speed!r}")
    return float(speed)


class EmulatorClock:
    """Simulated time in ms UTC. ``speed=0`` means paused: it moves only via set/step."""

    def __init__(self, start_ms: int, speed: float = 1.0,
                 wall: Callable[[], float] = time.monotonic) -> None:
        self._wall = wall
        self._anchor_sim = int(start_ms)
        self._anchor_wall = wall()
        self._speed = check_speed(speed)

    @property
    def speed(self) -> float:
        return self._speed

    def now_ms(self) -> int:
        if self._speed == 0:
            return self._anchor_sim
        return self._anchor_sim + int((self._wall() - self._anchor_wall) * 1000.0 * self._speed)

    def request_now_ms(self) -> int:
        """The clock request timestamps are checked against.

        Equal to :meth:`now_ms` while running. While paused (stepped mode) it keeps ticking at
        wall speed from the last step, because a client synced with ``/fapi/v1/time`` signs with
        its own wall clock minus the offset: a frozen server clock would reject every request
        more than a second after the sync.
        """
        if self._speed >= 1:
            return self.now_ms()
        return self._anchor_sim + int((self._wall() - self._anchor_wall) * 1000.0)

    def set(self, t_ms: int) -> int:
        now = self.now_ms()
        if t_ms < now:
            raise ClockError(f"the clock cannot go back: now {now}, asked {t_ms}")
        self._anchor_sim = int(t_ms)
        self._anchor_wall = self._wall()
        return self._anchor_sim

    def step(self, delta_ms: int) -> int:
        if delta_ms < 0:
            raise ClockError(f"step must be >= 0 ms, got {delta_ms}")
        return self.set(self.now_ms() + int(delta_ms))

    def set_speed(self, speed: float) -> None:
        speed = check_speed(speed)
        self._anchor_sim = self.now_ms()
        self._anchor_wall = self._wall()
        self._speed = speed
