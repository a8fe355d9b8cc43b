"""Raw DB-API connections to a journal, bypassing the journal's engines and SQLAlchemy types:
what "someone else" connected to the database sees and can do."""

from __future__ import annotations

import sqlite3
from typing import Any


def raw_connect(url: str, *, user: str | None = None) -> Any:
    """An autocommit DB-API connection to the journal at ``url`` (as ``user`` on PostgreSQL)."""
    if url.startswith("sqlite"):
        return sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    if user is not None:
        dsn = dsn.replace("postgresql://postgres@", f"postgresql://{user}@")
    return psycopg.connect(dsn, autocommit=True)


def rows(conn: Any, sql: str) -> list[dict[str, Any]]:
    cur = conn.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def drop_triggers(conn: Any, url: str, table: str) -> None:
    """What a person with owner rights would do before editing history."""
    if url.startswith("sqlite"):
        conn.execute(f"DROP TRIGGER journal_no_update_{table}")
        conn.execute(f"DROP TRIGGER journal_no_delete_{table}")
    else:
        conn.execute(f"DROP TRIGGER journal_append_only ON {table}")
