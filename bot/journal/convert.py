"""Conversions applied to every value on its way into the journal.

They run in the caller's thread when a row is queued, so a bad value fails loudly at the call
site (with the field name) instead of poisoning a batch later in the writer thread.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar

from bot.journal.errors import JournalInputError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

E = TypeVar("E", bound=Enum)


#: random bytes fetched per ``os.urandom`` call for ids (256 ids)
_POOL_BYTES = 4096
_pool = bytearray()
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    """A forked child must not hand out the ids its parent's pool still holds."""
    global _pool
    _pool = bytearray()


os.register_at_fork(after_in_child=_forget_pool)


def new_id() -> str:
    """Client-side primary key: callers can link rows (fill -> order) before anything is written.

    A UUID4 from the operating system's randomness, as ``uuid.uuid4()``, but read 256 ids at a
    time: one ``os.urandom`` call per id released the interpreter lock ~16,000 times in a
    backtest, and each release let the journal's writer thread hold the loop up (issue 12)."""
    global _pool
    with _pool_lock:
        if len(_pool) < 16:
            _pool = bytearray(os.urandom(_POOL_BYTES))
        raw = bytes(_pool[-16:])
        del _pool[-16:]
    return str(uuid.UUID(bytes=raw, version=4))


def ms_to_datetime(ms: int) -> datetime:
    """Exact ms -> aware UTC datetime (no float division, so 1 ms never becomes 999 µs)."""
    return EPOCH + timedelta(milliseconds=int(ms))


def datetime_to_ms(value: datetime) -> int:
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_utc(value: datetime | int | None, field: str, *, required: bool = True) -> datetime | None:
    """Engine ms or an aware datetime -> aware UTC datetime. Naive datetimes are refused: their
    meaning depends on the machine's timezone, which a journal must never guess."""
    if value is None:
        if required:
            raise JournalInputError(f"{field}: a timestamp is required (ms UTC int or aware datetime)")
        return None
    if isinstance(value, bool):
        raise JournalInputError(f"{field}: a bool is not a timestamp")
    if isinstance(value, int):
        return ms_to_datetime(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise JournalInputError(
                f"{field}: naive datetime {value.isoformat()} refused; pass ms UTC or a tz-aware datetime"
            )
        return value.astimezone(UTC)
    raise JournalInputError(f"{field}: expected ms UTC int or aware datetime, got {type(value).__name__}")


def to_dec(value: float | int | str | Decimal | None, field: str, *, required: bool = True) -> Decimal | None:
    """A number -> exact Decimal. Floats go through ``repr`` so 0.1 is stored as 0.1, not as
    0.1000000000000000055511151231257827; NaN and infinities are refused (no money is NaN)."""
    if value is None:
        if required:
            raise JournalInputError(f"{field}: a number is required")
        return None
    if isinstance(value, bool):
        raise JournalInputError(f"{field}: a bool is not a number")
    try:
        if isinstance(value, Decimal):
            out = value
        elif isinstance(value, float):
            out = Decimal(repr(value))
        elif isinstance(value, int | str):
            out = Decimal(value)
        else:
            # numpy scalars and the like: go through float's shortest repr
            out = Decimal(repr(float(value)))
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise JournalInputError(f"{field}: {value!r} is not a number") from exc
    if not out.is_finite():
        raise JournalInputError(f"{field}: {value!r} is not a finite number")
    return out


def to_enum(enum_cls: type[E], value: E | str | None, field: str, *, required: bool = True) -> str | None:
    """Validate against a ``bot.core.enums`` class; returns the stored lower-case value."""
    if value is None:
        if required:
            raise JournalInputError(f"{field}: required, one of {[m.value for m in enum_cls]}")
        return None
    try:
        return enum_cls(value).value
    except ValueError:
        raise JournalInputError(
            f"{field}: {value!r} is not one of {[m.value for m in enum_cls]}"
        ) from None


def to_text(value: object, field: str, *, required: bool = True, max_len: int | None = None) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise JournalInputError(f"{field}: a non-empty string is required")
        return None
    text = value.value if isinstance(value, Enum) else str(value)
    if max_len is not None and len(text) > max_len:
        raise JournalInputError(f"{field}: longer than {max_len} characters ({len(text)})")
    return text


def jsonable(value: Any) -> Any:
    """Plain JSON data from mappings, dataclasses, enums, Decimals and datetimes.

    Non-finite floats become ``None`` (PostgreSQL's json rejects NaN, and "unknown" is the honest
    value); Decimals become strings so no precision is lost inside JSON.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        return jsonable(value.item())
    if hasattr(value, "_asdict"):  # NamedTuple (e.g. Obs)
        return jsonable(value._asdict())
    return str(value)
