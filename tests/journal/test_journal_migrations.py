"""Schema: migrations build it from empty, models and migrations agree, engines are configured."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bot.core.enums import ExitReason
from bot.journal.db import create_journal_engine, normalise_url
from bot.journal.errors import JournalError
from bot.journal.migrate import alembic_config, current_revision, head_revision, upgrade_to_head
from bot.journal.models import Base

EXPECTED_TABLES = {
    "runs", "run_stops", "market_observations", "signals", "risk_decisions", "trades", "trade_exits",
    "stop_moves", "orders", "order_status", "fills", "funding_payments", "equity_snapshots", "events",
}


def test_upgrade_from_empty_creates_every_table_and_is_idempotent(journal_url: str) -> None:
    assert upgrade_to_head(journal_url) == head_revision()
    assert upgrade_to_head(journal_url) == head_revision()  # second run is a no-op
    engine = create_journal_engine(journal_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
        assert tables >= EXPECTED_TABLES
        assert tables - EXPECTED_TABLES == {"alembic_version"}
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_models_and_migrations_do_not_differ(journal_url: str) -> None:
    upgrade_to_head(journal_url)
    engine = create_journal_engine(journal_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            diff = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_every_run_owned_table_has_an_indexed_run_id() -> None:
    for table in Base.metadata.sorted_tables:
        if table.name == "runs":
            continue
        assert "run_id" in table.c, table.name
        indexed = {idx.columns.values()[0].name for idx in table.indexes}
        assert "run_id" in indexed, f"{table.name}: run_id is not the leading column of an index"


def test_downgrade_to_base_and_back(journal_url: str) -> None:
    upgrade_to_head(journal_url)
    engine = create_journal_engine(journal_url)
    try:
        cfg = alembic_config(journal_url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        assert upgrade_to_head(journal_url, engine=engine) == head_revision()
        assert set(sa.inspect(engine).get_table_names()) >= EXPECTED_TABLES
    finally:
        engine.dispose()


def test_sqlite_engine_uses_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "j.sqlite"
    engine = create_journal_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert path.parent.is_dir()
    finally:
        engine.dispose()


def test_postgres_urls_are_normalised_to_psycopg3() -> None:
    assert normalise_url("postgresql://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///data/journal.sqlite") == "sqlite:///data/journal.sqlite"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql+psycopg2://u@h/db", "not a url"])
def test_unsupported_urls_are_refused_with_the_accepted_forms(url: str) -> None:
    with pytest.raises(JournalError, match=r"sqlite:///|not a database URL"):
        normalise_url(url)


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(JournalError, match="in-memory"):
        create_journal_engine("sqlite://")


def test_postgres_engine_talks_psycopg3_in_utc(pg_url: str) -> None:
    engine = create_journal_engine(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW timezone").scalar() == "UTC"
    finally:
        engine.dispose()


def test_every_exit_reason_the_engine_books_passes_the_schema_check(journal_url: str) -> None:
    """The engine books ``ExitReason`` values (ADL and settlement included, revision 0004): a value
    the migrated ``exit_reason`` check does not list would make the journal flush raise and stop
    the loop, for example when a restart finds a position the exchange auto-deleveraged."""
    upgrade_to_head(journal_url)
    engine = create_journal_engine(journal_url)
    try:
        checks = sa.inspect(engine).get_check_constraints("trade_exits")
    finally:
        engine.dispose()
    [check] = [c["sqltext"] for c in checks if "exit_reason" in c["sqltext"]]
    missing = [r.value for r in ExitReason if f"'{r.value}'" not in check]
    assert missing == []
