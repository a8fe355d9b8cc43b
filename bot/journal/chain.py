"""The hash chain that makes edits and deletions of journal rows visible (revision 0005).

Each journal table is its own chain. The writer gives every row it inserts the next
``chain_seq`` of its table (1, 2, 3, ...) and

    row_hash = sha256(prev_hash + "\\n" + canonical(row)).hexdigest()

where ``prev_hash`` is the ``row_hash`` of the row with ``chain_seq - 1`` in the same table
(64 zeros for ``chain_seq = 1``) and ``canonical(row)`` is the documented form below, so that
anyone can recompute a hash with nothing but ``hashlib`` and ``json``.

Canonical form: ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
encoded as UTF-8, where ``obj`` maps *every* column of the table except ``row_hash`` (``id`` and
``chain_seq`` included; a column not given is ``null``) to:

* Money columns: the decimal as a string of plain digits, no exponent, no trailing zeros after
  the point (``"0.1"``, ``"10"``, ``"-0.0005"``, zero is ``"0"``): ``0.10`` and ``1E+1`` are
  stored differently by SQLite (text) and PostgreSQL (numeric) but mean one value;
* UTCDateTime columns: ``"YYYY-MM-DDTHH:MM:SS.ffffffZ"`` in UTC;
* JSON columns: the JSON value itself (nested keys sorted by ``sort_keys``);
* integers, booleans, strings: themselves.

Order: ``chain_seq`` defines it, not ``recorded_at`` or insertion order. The writer is one
thread, and it reads the tail of a chain and inserts after it inside one transaction that
holds the database's write lock (SQLite ``BEGIN IMMEDIATE``; on PostgreSQL a transaction-level
advisory lock), so even a second process writing the same journal cannot fork a chain; the
unique index on ``chain_seq`` is the last line of defence.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from bot.journal.types import JSONData, Money, UTCDateTime

SEQ = "chain_seq"
HASH = "row_hash"
GENESIS = "0" * 64
#: key of the PostgreSQL advisory lock the writer holds while it extends the chains
PG_LOCK_KEY = 0x6A6F75726E616C  # "journal"


@dataclass(frozen=True, slots=True)
class Tail:
    """The last link of a table's chain: ``seq`` 0 and the genesis hash when it is empty."""

    seq: int
    hash: str


def is_chained(table: sa.Table) -> bool:
    return HASH in table.c and SEQ in table.c


def canonical_decimal(value: Any) -> str:
    dec = Decimal(repr(value)) if isinstance(value, float) else value if isinstance(value, Decimal) else Decimal(value)
    return "0" if dec == 0 else format(dec.normalize(), "f")


def canonical_datetime(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite hands back naive UTC when read without our type
        value = value.replace(tzinfo=UTC)
    elif value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    if value.year < 1000:  # strftime does not pad such a year: keep its exact text
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # the same text as strftime("%Y-%m-%dT%H:%M:%S.%fZ"), without strftime's per-call cost (the
    # writer hashes every row of a backtest's journal; strftime was a fifth of that time)
    return (f"{value.year}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:"
            f"{value.second:02d}.{value.microsecond:06d}Z")


def _as_is(value: Any) -> Any:
    return value


def _converter(column: sa.Column[Any]) -> Callable[[Any], Any]:
    """How a non-null value of ``column`` enters the canonical form (see the module docstring)."""
    kind = column.type
    if isinstance(kind, Money):
        return canonical_decimal
    if isinstance(kind, UTCDateTime):
        return canonical_datetime
    if isinstance(kind, JSONData):
        return _as_is
    if isinstance(kind, sa.Boolean):
        return bool
    if isinstance(kind, sa.Integer):
        return int
    return str


#: table -> (column name, converter) of every hashed column, sorted by name: worked out once per
#: table instead of once per column of every row
_PLANS: dict[sa.Table, tuple[tuple[str, Callable[[Any], Any]], ...]] = {}
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _plan(table: sa.Table) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    plan = _PLANS.get(table)
    if plan is None:
        plan = _PLANS[table] = tuple(sorted((c.name, _converter(c)) for c in table.columns if c.name != HASH))
    return plan


def canonical(table: sa.Table, row: Mapping[str, Any]) -> bytes:
    """The bytes a row's hash covers (see the module docstring)."""
    get = row.get
    obj = {name: None if (value := get(name)) is None else convert(value) for name, convert in _plan(table)}
    return _ENCODE(obj).encode("utf-8")


def link(prev_hash: str, table: sa.Table, row: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(table, row)).hexdigest()


def lock_chains(conn: sa.Connection) -> None:
    """Serialise chain extension across processes on PostgreSQL (released at commit). SQLite
    needs nothing here: the writer's transactions start with ``BEGIN IMMEDIATE``."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(PG_LOCK_KEY)))


def read_tail(conn: sa.Connection, table: sa.Table) -> Tail:
    seq_col, hash_col = table.c[SEQ], table.c[HASH]
    row = conn.execute(
        sa.select(seq_col, hash_col).where(seq_col.is_not(None)).order_by(seq_col.desc()).limit(1)
    ).first()
    return Tail(0, GENESIS) if row is None else Tail(int(row[0]), str(row[1]))


def chain_rows(conn: sa.Connection, items: list[tuple[sa.Table, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Copies of the rows, in order, each with its ``chain_seq`` and ``row_hash`` after the
    current tail of its table (read on ``conn``, which must hold the chain lock)."""
    tails: dict[str, Tail] = {}
    out: list[dict[str, Any]] = []
    for table, row in items:
        if not is_chained(table):
            out.append(row)
            continue
        tail = tails.get(table.name) or read_tail(conn, table)
        chained = {**row, SEQ: tail.seq + 1}
        chained[HASH] = link(tail.hash, table, chained)
        tails[table.name] = Tail(tail.seq + 1, chained[HASH])
        out.append(chained)
    return out
