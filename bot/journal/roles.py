"""PostgreSQL roles that make the journal's rules hold for whoever connects.

* ``derivbot_writer`` - what the bot connects as: SELECT and INSERT on the journal tables, nothing
  else (no UPDATE, DELETE, TRUNCATE, DDL). The triggers of revision 0005 refuse changes even to the
  owner; the role makes the refusal a privilege the bot simply does not have.
* ``derivbot_reader`` - what ``journal serve`` and reports connect as: SELECT only.

Both read ``alembic_version`` (the bot checks the schema revision at start). Schema changes run as
the database owner (``derivbot journal migrate``), which re-applies the grants after upgrading, so
tables added by later revisions are covered. Idempotent: existing roles are kept, grants are set
again. Passwords are set only when given (from the environment, never on a command line).
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.journal.errors import JournalError
from bot.journal.models import TABLES_IN_ORDER

WRITER_ROLE = "derivbot_writer"
READER_ROLE = "derivbot_reader"
#: environment variables ``journal migrate`` (and the docker init script) take the passwords from
WRITER_PASSWORD_ENV = "JOURNAL_WRITER_PASSWORD"
READER_PASSWORD_ENV = "JOURNAL_READER_PASSWORD"

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise JournalError(f"role name {name!r} refused: use lower-case letters, digits and _ (max 63)")
    return f'"{name}"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def setup_roles(engine: Engine, *, writer: str = WRITER_ROLE, reader: str = READER_ROLE,
                writer_password: str | None = None, reader_password: str | None = None) -> None:
    """Create (if missing) the writer and reader roles and set their grants on the journal at
    ``engine``, which must connect as the owner of the journal tables (or a superuser)."""
    if engine.dialect.name != "postgresql":
        raise JournalError("database roles exist only on PostgreSQL")
    w, r = _ident(writer), _ident(reader)
    tables = ", ".join(t.name for t in TABLES_IN_ORDER)
    with engine.begin() as conn:
        for name, password in ((writer, writer_password), (reader, reader_password)):
            conn.exec_driver_sql(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = " + _literal(name) + ") THEN "
                f"CREATE ROLE {_ident(name)} LOGIN; END IF; END $$")
            if password:
                conn.exec_driver_sql(f"ALTER ROLE {_ident(name)} LOGIN PASSWORD {_literal(password)}")
        database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
        conn.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{database}" TO {w}, {r}')
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {w}, {r}")
        conn.exec_driver_sql(f"REVOKE ALL ON {tables}, alembic_version FROM {w}, {r}")
        conn.exec_driver_sql(f"GRANT SELECT, INSERT ON {tables} TO {w}")
        conn.exec_driver_sql(f"GRANT SELECT ON {tables}, alembic_version TO {r}")
        conn.exec_driver_sql(f"GRANT SELECT ON alembic_version TO {w}")
