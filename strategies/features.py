"""Causal, incremental features: one implementation for live trading and for backtests.

Every feature here is a small state object with ``update(snapshot) -> value``. A live engine
calls ``update`` once per new snapshot; a backtest or a recomputation runs the very same
``update`` over a whole history (:func:`run_over`). There is no vectorised second copy, so the
two paths cannot drift apart: both perform the same floating-point operations in the same
order and give bit-identical values.

Features only ever look at the snapshot being fed and at what earlier snapshots left in the
state, so nothing can see the future. Windows are measured in time (ms), not in bars, so a
missing bar shortens the evidence instead of silently stretching the window.

A value of ``None`` means "not known yet" (warm-up, missing input, a gap in the data); it is
never replaced by zero.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from bot.core.timeutil import MS_PER_HOUR
from bot.market.snapshot import Obs, Snapshot

T = TypeVar("T")


class Feature(Protocol[T]):
    """The one interface: feed snapshots oldest-first, read the value after each."""

    def update(self, snap: Snapshot) -> T: ...


def run_over(feature: Feature[T], history: Iterable[Snapshot]) -> list[T]:
    """The batch path: the same ``update`` applied to every snapshot, oldest first."""
    return [feature.update(snap) for snap in history]


def usable(obs: Obs, *, allow_stale: bool = False) -> float | None:
    """The value of an observation if it may be acted on, else ``None``.

    Prices and open interest must be FRESH (a stale price means the feed is down). A settled
    funding rate stays valid until the next settlement, so callers pass ``allow_stale=True``.
    Non-finite numbers are treated as missing.
    """
    value = obs.value
    if value is None or not math.isfinite(value):
        return None
    if obs.ok or (allow_stale and obs.known):
        return value
    return None


class FieldValue:
    """The current usable value of one snapshot field."""

    def __init__(self, field: str, *, allow_stale: bool = False) -> None:
        self.field = field
        self.allow_stale = allow_stale
        self.value: float | None = None

    def update(self, snap: Snapshot) -> float | None:
        self.value = usable(snap.get(self.field), allow_stale=self.allow_stale)
        return self.value


class Change:
    """Fractional change of a field over a time window: ``v(now) / v(now - window) - 1``.

    The reference is the latest observation at or before ``now - window``; if that is older
    than ``now - window - tolerance`` (a gap in the data) the change is unknown.
    """

    def __init__(self, field: str, window_ms: int, tolerance_ms: int = MS_PER_HOUR) -> None:
        if window_ms <= 0:
            raise ValueError(f"window_ms must be positive, got {window_ms}")
        self.field = field
        self.window_ms = window_ms
        self.tolerance_ms = tolerance_ms
        self._points: deque[tuple[int, float]] = deque()
        self.value: float | None = None

    def update(self, snap: Snapshot) -> float | None:
        current = usable(snap.get(self.field))
        points = self._points
        if current is not None:
            points.append((snap.ts, current))
        cutoff = snap.ts - self.window_ms
        # Keep exactly one point at or before the cutoff (the reference) at the front.
        while len(points) >= 2 and points[1][0] <= cutoff:
            points.popleft()
        self.value = None
        if current is not None and points:
            ref_ts, ref_value = points[0]
            if cutoff - self.tolerance_ms <= ref_ts <= cutoff and ref_value > 0:
                self.value = current / ref_value - 1.0
        return self.value


class RollingMax:
    """Maximum of a field over the last ``window_ms`` (monotonic deque, O(1) amortised)."""

    def __init__(self, field: str, window_ms: int) -> None:
        self.field = field
        self.window_ms = window_ms
        self._queue: deque[tuple[int, float]] = deque()
        self.value: float | None = None

    def update(self, snap: Snapshot) -> float | None:
        current = usable(snap.get(self.field))
        queue = self._queue
        if current is not None:
            while queue and queue[-1][1] <= current:
                queue.pop()
            queue.append((snap.ts, current))
        cutoff = snap.ts - self.window_ms
        while queue and queue[0][0] < cutoff:
            queue.popleft()
        self.value = queue[0][1] if queue else None
        return self.value


class EwmZScore:
    """Z-score of each new observation against the exponentially weighted mean and variance of
    the observations *before* it (causal), then folds the observation into the statistics.

    ``halflife`` is in units of ``weight`` (hours for funding: an 8h settlement weighs 8, a 1h
    settlement 1, so a symbol's statistics decay at the same speed in time whatever its
    settlement interval). Until ``min_obs`` observations were seen, or while the variance is
    ~0, the z-score is ``None``.
    """

    def __init__(self, halflife: float, min_obs: int) -> None:
        if halflife <= 0:
            raise ValueError(f"halflife must be positive, got {halflife}")
        self.halflife = halflife
        self.min_obs = min_obs
        self.count = 0
        self.mean = 0.0
        self.var = 0.0

    def push(self, x: float, weight: float = 1.0) -> float | None:
        z: float | None = None
        if self.count >= self.min_obs and self.var > 1e-18:
            z = (x - self.mean) / math.sqrt(self.var)
        if self.count == 0:
            self.mean = x
        else:
            alpha = 1.0 - 0.5 ** (weight / self.halflife)
            diff = x - self.mean
            incr = alpha * diff
            self.mean += incr
            self.var = (1.0 - alpha) * (self.var + diff * incr)
        self.count += 1
        return z


@dataclass(frozen=True, slots=True)
class FundingState:
    """What is known about funding at one snapshot."""

    rate: float | None  # last settled rate (fraction per settlement)
    settled_ts: int | None  # when it settled
    interval_hours: float | None  # current settlement interval
    max_recent_interval_hours: float | None  # longest interval seen within the lookback
    rate_8h: float | None  # rate rescaled to an 8h settlement (rate * 8 / interval)
    zscore: float | None  # of rate_8h against the symbol's own history (at the last settlement)
    floor: float | None  # exchange's funding floor (negative), if the feed gives it
    cap: float | None
    new_settlement: bool  # a settlement was first seen at this snapshot

    @property
    def interval_shortened(self) -> bool:
        """True when the exchange shortened the interval recently (e.g. 8h -> 1h at the cap)."""
        return (
            self.interval_hours is not None
            and self.max_recent_interval_hours is not None
            and self.interval_hours < self.max_recent_interval_hours
        )


class FundingTracker:
    """Follows settlements: the rate, the interval, whether the interval was shortened and a
    per-symbol EWM z-score of the 8h-equivalent rate (updated once per settlement, so an
    hourly feed of an 8h rate does not count it eight times; each settlement weighs its
    interval in hours, ``zscore_halflife`` is in hours).

    The interval comes from the snapshot's ``funding_interval_hours`` when present, otherwise
    from the gap between the last two settlements seen (rounded to whole hours, because
    Binance's ``fundingTime`` carries a few ms of jitter).
    """

    def __init__(self, *, interval_lookback_ms: int, zscore_halflife: float | None = None,
                 zscore_min_obs: int = 0) -> None:
        self._z = EwmZScore(zscore_halflife, zscore_min_obs) if zscore_halflife is not None else None
        self._lookback_ms = interval_lookback_ms
        self._intervals: deque[tuple[int, float]] = deque()  # (settled_ts, interval_h), monotonic max
        self._last_ts: int | None = None
        self._rate: float | None = None
        self._interval: float | None = None
        self._zscore: float | None = None
        self.value = FundingState(None, None, None, None, None, None, None, None, False)

    def update(self, snap: Snapshot) -> FundingState:
        obs = snap.funding_rate
        rate = usable(obs, allow_stale=True)
        new = False
        if rate is not None and obs.ts is not None and (self._last_ts is None or obs.ts > self._last_ts):
            new = True
            interval = usable(snap.funding_interval_hours, allow_stale=True)
            if interval is None and self._last_ts is not None:
                interval = float(max(1, round((obs.ts - self._last_ts) / MS_PER_HOUR)))
            if interval is not None and interval > 0:
                self._interval = interval
                queue = self._intervals
                while queue and queue[-1][1] <= interval:
                    queue.pop()
                queue.append((obs.ts, interval))
            self._last_ts = obs.ts
            self._rate = rate
            if self._interval is not None and self._z is not None:
                self._zscore = self._z.push(rate * 8.0 / self._interval, self._interval)
        cutoff = snap.ts - self._lookback_ms
        while len(self._intervals) > 1 and self._intervals[0][0] < cutoff:
            self._intervals.popleft()
        rate_8h = None
        if self._rate is not None and self._interval is not None:
            rate_8h = self._rate * 8.0 / self._interval
        self.value = FundingState(
            rate=self._rate,
            settled_ts=self._last_ts,
            interval_hours=self._interval,
            max_recent_interval_hours=self._intervals[0][1] if self._intervals else None,
            rate_8h=rate_8h,
            zscore=self._zscore,
            floor=usable(snap.funding_floor, allow_stale=True),
            cap=usable(snap.funding_cap, allow_stale=True),
            new_settlement=new,
        )
        return self.value


def spot_futures_ratio(snap: Snapshot) -> float | None:
    """Spot / futures 24h quote volume: the snapshot's ratio, else computed from both volumes."""
    ratio = usable(snap.spot_futures_volume_ratio, allow_stale=True)
    if ratio is not None:
        return ratio
    spot = usable(snap.spot_quote_volume_24h, allow_stale=True)
    fut = usable(snap.quote_volume_24h, allow_stale=True)
    if spot is None or fut is None or fut <= 0:
        return None
    return spot / fut


class Derived:
    """A stateless per-snapshot feature from a function (kept for a uniform interface)."""

    def __init__(self, fn: Callable[[Snapshot], float | None]) -> None:
        self._fn = fn
        self.value: float | None = None

    def update(self, snap: Snapshot) -> float | None:
        self.value = self._fn(snap)
        return self.value


def clip01(x: float) -> float:
    """Clamp to [0, 1] (strengths); NaN becomes 0."""
    if not x > 0:
        return 0.0
    return 1.0 if x > 1 else x
