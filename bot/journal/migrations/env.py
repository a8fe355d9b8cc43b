"""Alembic environment of the journal. Used programmatically by :mod:`bot.journal.migrate`
(which passes an open connection in ``config.attributes["connection"]``) and by the ``alembic``
command with ``-x url=...`` when writing a new revision."""

from __future__ import annotations

from alembic import context

from bot.journal.db import create_journal_engine
from bot.journal.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
        user_module_prefix="bot.journal.types.",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no journal URL: pass -x url=sqlite:///data/journal.sqlite")
    engine = create_journal_engine(url)
    try:
        with engine.connect() as conn:
            _configure(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported for the journal")
run_migrations_online()
