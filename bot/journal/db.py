"""Engines for the journal database: SQLite (one file, WAL) or PostgreSQL (psycopg 3).

SQLite settings and why:

* ``journal_mode=WAL`` - readers (status, dashboard) never block the writer and vice versa.
* ``synchronous=FULL`` - a committed batch survives power loss, not only a process crash; the
  batching writer amortises the fsync over many rows.
* ``foreign_keys=ON`` - SQLite ignores foreign keys unless asked, per connection.
* ``busy_timeout`` - a second process (``derivbot journal migrate``, a report) holding the lock
  makes us wait instead of failing with "database is locked".
* Transactions are begun explicitly (the pysqlite driver's own implicit-BEGIN logic is switched
  off; the writer's are ``BEGIN IMMEDIATE``, see ``SQLITE_BEGIN_OPTION``),
  so a batch really is one transaction and DDL in migrations is transactional.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from bot.journal.errors import JournalError

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: execution option: ``engine.execution_options(journal_sqlite_begin="IMMEDIATE")`` makes SQLite
#: transactions take the write lock at BEGIN (ignored on PostgreSQL)
SQLITE_BEGIN_OPTION = "journal_sqlite_begin"


def normalise_url(url: str) -> str:
    """Map the URLs users write to the driver we ship: ``postgresql://`` and ``postgres://`` use
    psycopg 3; ``sqlite:///`` stays. Anything else is refused with the accepted forms."""
    text = str(url).strip()
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://"):]
    if text.startswith("postgresql://"):
        text = "postgresql+psycopg://" + text[len("postgresql://"):]
    try:
        parsed = make_url(text)
    except sa.exc.ArgumentError as exc:
        raise JournalError(f"journal URL is not a database URL: {exc}") from None
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise JournalError(
            f"unsupported journal URL scheme {parsed.drivername!r}: use sqlite:///path/to/file.sqlite "
            "or postgresql://user@host:5432/dbname"
        )
    return text


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (``None`` for in-memory or non-SQLite URLs)."""
    parsed = make_url(normalise_url(url))
    if not parsed.drivername.startswith("sqlite"):
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def create_journal_engine(url: str, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, **kwargs: Any) -> Engine:
    """Engine configured for the journal. For SQLite the parent directory is created and
    ``busy_timeout_ms`` is how long a statement waits for another process's lock."""
    text = normalise_url(url)
    parsed = make_url(text)
    if parsed.drivername.startswith("sqlite"):
        path = sqlite_path(text)
        if path is None:
            raise JournalError("in-memory SQLite cannot hold a journal (nothing would survive); use a file")
        path.parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
        connect_args.update(kwargs.pop("connect_args", {}))
        engine = sa.create_engine(text, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    connect_args = {"connect_timeout": 10, "options": "-c timezone=UTC"}
    connect_args.update(kwargs.pop("connect_args", {}))
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(text, connect_args=connect_args, **kwargs)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see module doc)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # the writer's connections ask for IMMEDIATE: it reads the tail of a hash chain and
        # appends after it, so it must hold the write lock from the first read on
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")
