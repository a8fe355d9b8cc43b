"""Value conversion and column types: exact decimals and tz-aware UTC on both backends."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.enums import ExitReason
from bot.journal.convert import datetime_to_ms, jsonable, ms_to_datetime, to_dec, to_enum, to_utc
from bot.journal.db import create_journal_engine
from bot.journal.errors import JournalInputError
from bot.journal.types import Money, UTCDateTime

_meta = sa.MetaData()
_probe = sa.Table(
    "probe", _meta,
    sa.Column("k", sa.Integer, primary_key=True),
    sa.Column("amount", Money()),
    sa.Column("at", UTCDateTime()),
)


@pytest.fixture
def probe_engine(journal_url: str):
    engine = create_journal_engine(journal_url)
    _meta.create_all(engine)
    yield engine
    engine.dispose()


def test_float_becomes_its_shortest_decimal() -> None:
    assert to_dec(0.1, "x") == Decimal("0.1")
    assert str(to_dec(0.1, "x")) == "0.1"
    assert to_dec(1e-8, "x") == Decimal("1E-8")
    assert to_dec(3, "x") == Decimal(3)
    assert to_dec("123.456000", "x") == Decimal("123.456000")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "abc", True, object()])
def test_non_numbers_are_refused_with_the_field_name(bad: object) -> None:
    with pytest.raises(JournalInputError, match="price"):
        to_dec(bad, "price")  # type: ignore[arg-type]


def test_required_none_is_refused_optional_none_passes() -> None:
    with pytest.raises(JournalInputError, match="fee"):
        to_dec(None, "fee")
    assert to_dec(None, "fee", required=False) is None


def test_timestamps_ms_and_aware_datetimes_become_utc() -> None:
    assert to_utc(1_700_000_000_123, "ts") == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    plus2 = timezone(timedelta(hours=2))
    converted = to_utc(datetime(2024, 1, 1, 2, 0, tzinfo=plus2), "ts")
    assert converted == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    assert converted.tzinfo is UTC


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(JournalInputError, match="naive"):
        to_utc(datetime(2024, 1, 1), "entry_ts")


def test_enum_values_are_validated() -> None:
    assert to_enum(ExitReason, "stop_loss", "exit_reason") == "stop_loss"
    assert to_enum(ExitReason, ExitReason.HALT, "exit_reason") == "halt"
    with pytest.raises(JournalInputError, match="exit_reason: 'stopped'"):
        to_enum(ExitReason, "stopped", "exit_reason")


def test_jsonable_makes_nan_null_and_keeps_decimal_digits() -> None:
    data = {"a": math.nan, "b": Decimal("0.123456789012345678901"), "c": ExitReason.SIGNAL, "d": (1, 2)}
    assert jsonable(data) == {"a": None, "b": "0.123456789012345678901", "c": "signal", "d": [1, 2]}


@given(st.integers(min_value=0, max_value=4_102_444_800_000))  # 1970 .. 2100
def test_ms_datetime_round_trip_is_exact(ms: int) -> None:
    dt = ms_to_datetime(ms)
    assert dt.tzinfo is UTC
    assert datetime_to_ms(dt) == ms


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_float_to_decimal_round_trips_to_the_same_float(x: float) -> None:
    assert float(to_dec(x, "x")) == x  # type: ignore[arg-type]


_decimals = st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e15"),
                        max_value=Decimal("1e15"), places=18)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=_decimals, ms=st.integers(min_value=0, max_value=4_102_444_800_000))
def test_money_and_time_columns_round_trip_exactly(probe_engine: sa.Engine, amount: Decimal, ms: int) -> None:
    at = ms_to_datetime(ms)
    with probe_engine.begin() as conn:
        conn.execute(_probe.delete())
        conn.execute(_probe.insert(), {"k": 1, "amount": amount, "at": at})
    with probe_engine.connect() as conn:
        got_amount, got_at = conn.execute(sa.select(_probe.c.amount, _probe.c.at)).one()
    assert isinstance(got_amount, Decimal)
    assert got_amount == amount
    assert got_at == at
    assert got_at.tzinfo is not None and got_at.utcoffset() == timedelta(0)


def test_money_keeps_more_digits_than_a_double(probe_engine: sa.Engine) -> None:
    value = Decimal("12345678.123456789012345678")  # 26 significant digits
    with probe_engine.begin() as conn:
        conn.execute(_probe.insert(), {"k": 2, "amount": value, "at": None})
    with probe_engine.connect() as conn:
        assert conn.execute(sa.select(_probe.c.amount).where(_probe.c.k == 2)).scalar_one() == value


def test_column_type_refuses_naive_datetime(probe_engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive"), probe_engine.begin() as conn:
        conn.execute(_probe.insert(), {"k": 3, "amount": None, "at": datetime(2024, 1, 1)})
