"""Pure helpers that turn raw series into snapshot fields, shared by the live and replay feeds.

Definitions (the meaning of the snapshot fields; both feeds must use these):

* a **change over a window** is ``now / then - 1`` where ``then`` is the value at exactly
  ``t_now - window`` (the bar that closed, or the sample published, one window earlier).
  If that point is missing (a gap) the change is unknown (``None``), never interpolated.
* a **quality** is FRESH when the observation is at most ``max_age_ms`` old at the decision
  time, STALE when older, MISSING when there is no value.
* **OI-weighted funding** is ``sum(rate_i * oi_notional_i) / sum(oi_notional_i)`` over the
  venues that gave both, each rate first rescaled to the primary venue's settlement interval
  (a 4h rate and an 8h rate are not comparable as-is).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence

from bot.core.enums import Quality
from bot.market.snapshot import MISSING, Obs


def finite(value: object) -> float | None:
    """``float(value)`` if it is a finite number, else None (None, "", "NaN", junk)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def observe(value: float | None, ts: int | None, now_ms: int, max_age_ms: int) -> Obs:
    """An :class:`Obs` with the quality implied by its age (a future ``ts`` counts as fresh)."""
    if value is None or ts is None or value != value:
        return MISSING
    quality = Quality.FRESH if now_ms - ts <= max_age_ms else Quality.STALE
    return Obs(float(value), int(ts), quality)


def degrade(obs: Obs) -> Obs:
    """The same observation flagged STALE (its source needed repairs)."""
    return obs if obs.value is None else Obs(obs.value, obs.ts, Quality.STALE)


def fractional_change(now: float | None, then: float | None) -> float | None:
    """``now / then - 1``; unknown if either side is unknown or ``then`` is not positive."""
    if now is None or then is None or then <= 0:
        return None
    return now / then - 1.0


def value_at(ts: Sequence[int], values: Sequence[float], t_ms: int) -> float | None:
    """The value whose timestamp is exactly ``t_ms`` (series sorted ascending), else None."""
    i = bisect_right(ts, t_ms) - 1
    if i >= 0 and ts[i] == t_ms:
        return values[i]
    return None


def window_change(ts: Sequence[int], values: Sequence[float], window_ms: int) -> tuple[float | None, int | None]:
    """Change of the last value against the value exactly ``window_ms`` earlier, and its time."""
    if not ts:
        return None, None
    then = value_at(ts, values, ts[-1] - window_ms)
    return fractional_change(values[-1], then), ts[-1]


def rescale_rate(rate: float, from_interval_h: float | None, to_interval_h: float | None) -> float:
    """A per-settlement rate expressed per ``to_interval_h`` (unchanged if an interval is unknown)."""
    if not from_interval_h or not to_interval_h:
        return rate
    return rate * (to_interval_h / from_interval_h)


def oi_weighted_funding(venues: Iterable[tuple[float | None, float | None]]) -> float | None:
    """OI-notional-weighted mean of ``(rate, oi_notional)`` pairs; None if no usable venue."""
    num = den = 0.0
    for rate, notional in venues:
        if rate is None or notional is None or notional <= 0:
            continue
        num += rate * notional
        den += notional
    return num / den if den > 0 else None
