"""The journal never changes history: every statement the writer sends is an INSERT."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import event

from bot.journal import AppendOnlyViolation, Journal
from bot.journal.db import create_journal_engine
from bot.journal.errors import JournalError
from bot.journal.migrate import alembic_config, current_revision, upgrade_to_head
from bot.journal.models import TABLES_IN_ORDER
from bot.journal.roles import setup_roles
from tests.cli_inprocess import derivbot
from tests.journal.raw import raw_connect, rows
from tests.journal.scenario import full_lifecycle as _full_lifecycle


def test_writer_issues_only_inserts(journal_url: str) -> None:
    j = Journal.open(journal_url, batch_size=7, flush_interval_ms=10)
    statements: list[str] = []

    @event.listens_for(j.engine, "before_cursor_execute")
    def _capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    try:
        j.start_run("paper", "h", "v")
        _full_lifecycle(j)
        j.flush()
    finally:
        j.close()
    verbs = {s.lstrip().split(None, 1)[0].upper() for s in statements}
    assert "INSERT" in verbs
    assert verbs <= {"INSERT", "BEGIN", "COMMIT", "SELECT"}, verbs  # SELECT: pool pre-ping on PostgreSQL
    assert not any(s.lstrip().upper().startswith(("UPDATE", "DELETE")) for s in statements)
    assert j.health().written == 17


def test_writer_engine_refuses_update_and_delete(journal: Journal) -> None:
    journal.flush()
    for sql in ("UPDATE runs SET mode = 'live'", "DELETE FROM runs", "  delete from events"):
        with pytest.raises(AppendOnlyViolation, match="append-only"), journal.engine.begin() as conn:
            conn.execute(sa.text(sql))
    with journal.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT mode FROM runs")).scalar_one() == "paper"


# -- enforced by the database (revision 0005), not only by the writer's engine -------------------

JOURNAL_TABLES = ("runs", "run_stops", "market_observations", "signals", "risk_decisions", "trades", "trade_exits",
                  "stop_moves", "orders", "order_status", "fills", "funding_payments", "equity_snapshots", "events")


def _counts(conn: Any) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in JOURNAL_TABLES}


def test_database_refuses_update_and_delete_from_any_connection(journal: Journal, journal_url: str) -> None:
    _full_lifecycle(journal)
    journal.flush()
    conn = raw_connect(journal_url)  # not the writer's engine: no AppendOnlyViolation guard here
    try:
        before = _counts(conn)
        assert all(before.values()), before  # every table has a row to change
        statements = [f"UPDATE {t} SET recorded_at = recorded_at" for t in JOURNAL_TABLES]
        statements += [f"DELETE FROM {t}" for t in JOURNAL_TABLES]
        if journal_url.startswith("postgresql"):
            statements += [f"TRUNCATE {t} CASCADE" for t in JOURNAL_TABLES]
        for sql in statements:
            with pytest.raises(Exception, match="append-only") as caught:
                conn.execute(sql)
            assert sql.split()[0] in str(caught.value), (sql, caught.value)
        assert _counts(conn) == before
    finally:
        conn.close()


@pytest.mark.postgres
def test_postgres_roles_insert_select_for_the_bot_select_for_serve(pg_url: str, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    writer, reader = f"derivbot_w_{suffix}", f"derivbot_r_{suffix}"
    args = ["journal", "migrate", "--journal", pg_url, "--writer-role", writer, "--reader-role", reader]
    try:
        for _ in range(2):  # idempotent: existing roles are kept, grants set again
            result = derivbot(*args)
            assert result.returncode == 0, result.stderr
            assert f"roles: {writer} (SELECT, INSERT), {reader} (SELECT)" in result.stdout
        writer_url = pg_url.replace("postgres@", f"{writer}@")
        with Journal.open(writer_url, flush_interval_ms=10) as j:  # the bot starts as the writer role
            j.start_run("paper", "h", "v")
            j.record_event("tick", "as the writer role")
            j.flush()
        bot = raw_connect(pg_url, user=writer)
        serve = raw_connect(pg_url, user=reader)
        try:
            assert bot.execute("SELECT count(*) FROM events").fetchone()[0] == 1
            for sql in ("UPDATE events SET message = 'x'", "DELETE FROM events", "TRUNCATE events",
                        "CREATE TABLE side (x int)", "ALTER TABLE events DROP COLUMN message"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match=r"permission denied|must be owner"):
                    bot.execute(sql)
            assert serve.execute("SELECT message FROM events").fetchone()[0] == "as the writer role"
            for sql in ("INSERT INTO runs (id, recorded_at, mode, config_hash, code_version, started_at) "
                        "VALUES ('x', now(), 'paper', 'h', 'v', now())", "UPDATE events SET message = 'x'",
                        "DELETE FROM events"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                    serve.execute(sql)
        finally:
            bot.close()
            serve.close()
        reader_url = pg_url.replace("postgres@", f"{reader}@")
        result = derivbot("journal", "verify", "--journal", reader_url)  # verify needs SELECT only
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        admin = raw_connect(pg_url)
        try:
            for role in (writer, reader):
                admin.execute(f'DROP OWNED BY "{role}"')
                admin.execute(f'DROP ROLE "{role}"')
        finally:
            admin.close()


def test_every_journal_table_has_its_append_only_triggers(journal_url: str) -> None:
    """A later revision that rebuilds a table (SQLite batch mode) drops its triggers: caught here."""
    upgrade_to_head(journal_url)
    conn = raw_connect(journal_url)
    try:
        if journal_url.startswith("sqlite"):
            found = {(r["tbl_name"], r["name"]) for r in
                     rows(conn, "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")}
            expected = {(t, f"journal_no_{verb}_{t}") for t in JOURNAL_TABLES for verb in ("update", "delete")}
        else:
            found = {(r["t"], r["tgname"]) for r in rows(conn, "SELECT tgrelid::regclass::text AS t, tgname "
                                                                 "FROM pg_trigger WHERE NOT tgisinternal")}
            expected = {(t, n) for t in JOURNAL_TABLES for n in ("journal_append_only", "journal_no_truncate")}
    finally:
        conn.close()
    assert expected <= found
    assert set(JOURNAL_TABLES) == {t.name for t in TABLES_IN_ORDER}


@pytest.mark.postgres
def test_docker_init_script_roles_get_their_grants_on_tables_made_later(pg_url: str, tmp_path: Path) -> None:
    """deploy/postgres/init-roles.sql runs before any table exists (docker-entrypoint-initdb.d);
    the tables the owner creates afterwards must still be INSERT/SELECT and SELECT for the roles."""
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql is not installed")
    suffix = uuid.uuid4().hex[:8]
    writer, reader = f"derivbot_w_{suffix}", f"derivbot_r_{suffix}"
    script = (Path(__file__).resolve().parents[2] / "deploy" / "postgres" / "init-roles.sql").read_text()
    (tmp_path / "init.sql").write_text(script.replace("derivbot_writer", writer).replace("derivbot_reader", reader))
    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
    env = {**os.environ, "JOURNAL_WRITER_PASSWORD": "w'1", "JOURNAL_READER_PASSWORD": "r"}
    try:
        done = subprocess.run([psql, "-d", dsn, "-v", "ON_ERROR_STOP=1", "-f", str(tmp_path / "init.sql")],
                              capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        upgrade_to_head(pg_url)  # the owner creates the tables; no grant statement runs here
        bot, serve = raw_connect(pg_url, user=writer), raw_connect(pg_url, user=reader)
        try:
            bot.execute("INSERT INTO events (id, recorded_at, ts, kind, severity, message) "
                        "VALUES ('e', now(), now(), 'k', 'info', 'm')")
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                bot.execute("DELETE FROM events")
            assert serve.execute("SELECT count(*) FROM events").fetchone()[0] == 1
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                serve.execute("INSERT INTO events (id, recorded_at, ts, kind, severity, message) "
                              "VALUES ('f', now(), now(), 'k', 'info', 'm')")
        finally:
            bot.close()
            serve.close()
    finally:
        admin = raw_connect(pg_url)
        try:
            for role in (writer, reader):
                admin.execute(f'DROP OWNED BY "{role}"')
                admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        finally:
            admin.close()


@pytest.mark.postgres
def test_the_writer_role_cannot_migrate_and_says_who_must(pg_url: str) -> None:
    engine = create_journal_engine(pg_url)
    suffix = uuid.uuid4().hex[:8]
    writer, reader = f"derivbot_w_{suffix}", f"derivbot_r_{suffix}"
    try:
        cfg = alembic_config(pg_url)
        with engine.begin() as conn:  # a journal one revision behind the code
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0004")
        setup_roles(engine, writer=writer, reader=reader)
        with pytest.raises(JournalError, match=r"run `derivbot journal migrate` as the database owner"):
            Journal.open(pg_url.replace("postgres@", f"{writer}@"))
        assert current_revision(engine) == "0004"
    finally:
        engine.dispose()
        admin = raw_connect(pg_url)
        try:
            for role in (writer, reader):
                admin.execute(f'DROP OWNED BY "{role}"')
                admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        finally:
            admin.close()
