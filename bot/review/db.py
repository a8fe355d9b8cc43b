"""Read-only access to the journal for reports and the dashboard.

Review code must never change the journal, not even by accident (a stray ORM flush, a PRAGMA that
switches the journal mode), so the database itself enforces it:

* SQLite is opened through a ``file:...?mode=ro`` URI and with ``PRAGMA query_only=ON``; any
  INSERT/UPDATE/DDL fails with "attempt to write a readonly database". We also avoid
  :func:`bot.journal.db.create_journal_engine`, whose connect hook sets ``journal_mode=WAL``.
* PostgreSQL sessions start with ``default_transaction_read_only=on``.

The schema is *not* migrated here (that is a write); a journal without tables gets an error that
says to run ``derivbot journal migrate``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.journal.db import normalise_url, sqlite_path
from bot.journal.errors import JournalError

REQUIRED_TABLES = ("runs", "trades", "trade_exits", "equity_snapshots")


def open_readonly(url: str) -> Engine:
    """An engine on the journal at ``url`` that cannot write. Raises :class:`JournalError` with
    the fix when the URL is wrong, the file is missing or the schema has not been created."""
    text = normalise_url(url)
    path = sqlite_path(text)
    if text.startswith("sqlite"):
        if path is None:
            raise JournalError("an in-memory SQLite journal cannot be reviewed; give the journal file")
        engine = _sqlite_readonly(path)
    else:
        engine = sa.create_engine(
            text,
            connect_args={"connect_timeout": 10,
                          "options": "-c timezone=UTC -c default_transaction_read_only=on"},
            pool_pre_ping=True,
        )
    _check_schema(engine, url)
    return engine


def _sqlite_readonly(path: Path) -> Engine:
    if not path.is_file():
        raise JournalError(f"journal file {path} does not exist; pass --journal sqlite:///PATH of an existing "
                           "journal (the bot creates it on its first run)")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)

    engine = sa.create_engine("sqlite://", creator=connect)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA query_only=ON")
        finally:
            cursor.close()

    return engine


def _check_schema(engine: Engine, url: str) -> None:
    try:
        names = set(sa.inspect(engine).get_table_names())
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise JournalError(f"cannot read the journal: {exc.orig}") from None
    missing = [t for t in REQUIRED_TABLES if t not in names]
    if missing:
        engine.dispose()
        raise JournalError(f"the journal has no {', '.join(missing)} table(s): create the schema with "
                           "`derivbot journal migrate --journal URL` (or run the bot once)")
