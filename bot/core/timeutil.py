"""UTC time helpers. Inside the engine, time is integer milliseconds since the Unix epoch (UTC),
which is what exchanges speak; ``datetime`` objects appear only at the edges (CLI, journal)
and are always timezone-aware UTC."""

from __future__ import annotations

import time
from datetime import UTC, datetime

MS_PER_SECOND = 1_000
MS_PER_MINUTE = 60_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000


def now_ms() -> int:
    """Wall-clock now in ms UTC (the live clock; simulations use their own clock)."""
    return time.time_ns() // 1_000_000


def to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def to_ms(value: datetime | str | int | float) -> int:
    """Parse a timestamp given as ms, a datetime or an ISO-8601 string into ms UTC.

    Naive datetimes and strings without an offset are taken as UTC, never local time.
    """
    if isinstance(value, bool):
        raise TypeError("a bool is not a timestamp")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def utc_day_start(ms: int) -> int:
    """Start (00:00 UTC) of the day that contains ``ms``."""
    return ms - ms % MS_PER_DAY


def iso(ms: int | None) -> str:
    if ms is None:
        return "-"
    return to_datetime(ms).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc_datetime(text: str) -> datetime:
    """An ISO-8601 date or date-time as an aware UTC ``datetime``.

    Without an offset the value is UTC, never local time, so the same filter reads the same
    journal rows on every machine; a trailing ``Z`` is accepted. Raises ``ValueError`` for text
    that is not ISO (callers turn it into their own message: a CLI error, an HTTP 400).
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
