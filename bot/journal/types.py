"""Column types that make SQLite and PostgreSQL store the same values the same way.

* :class:`UTCDateTime` - ``timestamptz`` on PostgreSQL; on SQLite an ISO text without offset that
  is always UTC. Both return tz-aware UTC datetimes and both refuse naive datetimes on write.
* :class:`Money` - exact decimals. PostgreSQL ``NUMERIC`` without precision keeps every digit;
  SQLite has no decimal type (its NUMERIC affinity silently turns ``'0.1'`` into a double), so the
  value is stored as TEXT there and comes back as the same ``Decimal``.
* :class:`JSONData` - JSON where Python ``None`` is SQL NULL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: journal times must be tz-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)  # stored as UTC text; the offset is implied
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Exact decimal numbers (prices, quantities, fees, P&L, rates)."""

    impl = sa.Numeric(asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            value = Decimal(repr(value))
        elif not isinstance(value, Decimal):
            value = Decimal(value)
        if not value.is_finite():
            raise ValueError(f"non-finite number {value} refused")
        if dialect.name == "sqlite":
            return str(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value
        if isinstance(value, float):
            return Decimal(repr(value))
        return Decimal(value)


class JSONData(TypeDecorator[Any]):
    """JSON document; ``None`` is stored as SQL NULL, not the JSON literal ``null``."""

    impl = sa.JSON(none_as_null=True)
    cache_ok = True
