"""A new SQLite journal is created from the stored head schema (``bot.journal.sqlite_head``)
instead of running Alembic's migrations (issue 12). These tests prove that the created schema
is the migrated one: every table (its columns in order, its constraints), index and trigger as
SQLite stored it, and the revision."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command

from bot.journal import Journal
from bot.journal.db import create_journal_engine
from bot.journal.fresh import create_if_empty
from bot.journal.migrate import alembic_config, head_revision, upgrade_to_head


def _normalised(sql: str | None) -> tuple[str, ...] | None:
    """A CREATE statement with its table constraints in sorted order, everything else as stored.

    Alembic's batch mode (SQLite cannot ALTER a constraint, so a migration rebuilds the table)
    writes a rebuilt table's constraints in set order, which varies from one interpreter to the
    next: two migrated journals differ there and only there. Columns keep their order."""
    if sql is None:
        return None
    if not sql.startswith("CREATE TABLE"):
        return (sql,)
    items = sql.removesuffix("\n)").split(", \n\t")
    return (*[i for i in items if not i.startswith("CONSTRAINT ")],
            *sorted(i for i in items if i.startswith("CONSTRAINT ")))


def _schema(path: Path) -> tuple[list[tuple[str, str, str, tuple[str, ...] | None]], list[str]]:
    """(every object of ``sqlite_master`` as (type, name, table, normalised sql), ``alembic_version``)."""
    conn = sqlite3.connect(path)
    try:
        objects = sorted((kind, name, table, _normalised(sql)) for kind, name, table, sql
                         in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
        versions = [v for (v,) in conn.execute("SELECT version_num FROM alembic_version")]
    finally:
        conn.close()
    return objects, versions


def _no_alembic(*_args: object, **_kwargs: object) -> str:
    raise AssertionError("Alembic ran for a new SQLite journal")


def test_a_new_sqlite_journal_has_exactly_the_migrated_schema(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    migrated, created = tmp_path / "migrated.sqlite", tmp_path / "created.sqlite"
    upgrade_to_head(f"sqlite:///{migrated}")
    monkeypatch.setattr("bot.journal.migrate.upgrade_to_head", _no_alembic)
    Journal.open(f"sqlite:///{created}").close()
    objects, versions = _schema(created)
    assert (objects, versions) == _schema(migrated)
    assert versions == [head_revision()]
    # the append-only triggers came along: UPDATE and DELETE on each of the 14 journal tables (runs,
    # run_stops, market_observations, signals, risk_decisions, trades, trade_exits, stop_moves, orders,
    # order_status, fills, funding_payments, equity_snapshots, events)
    assert sum(1 for kind, *_ in objects if kind == "trigger") == 28


def test_an_existing_journal_is_still_migrated_by_alembic(tmp_path: Path) -> None:
    old, new = tmp_path / "old.sqlite", tmp_path / "new.sqlite"
    engine = create_journal_engine(f"sqlite:///{old}")
    with engine.begin() as conn:  # a journal written before revision 0005 (the hash chain)
        cfg = alembic_config(f"sqlite:///{old}")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
    assert not create_if_empty(engine)  # not empty: left to Alembic
    engine.dispose()
    Journal.open(f"sqlite:///{old}").close()
    Journal.open(f"sqlite:///{new}").close()
    old_objects, old_versions = _schema(old)
    assert old_versions == [head_revision()]
    assert {(kind, name) for kind, name, *_ in old_objects} == {(kind, name) for kind, name, *_ in _schema(new)[0]}


def test_a_file_holding_other_tables_is_not_given_a_journal_schema(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    engine = create_journal_engine(f"sqlite:///{path}")
    try:
        assert not create_if_empty(engine)
    finally:
        engine.dispose()
    conn = sqlite3.connect(path)
    try:
        assert [name for (name,) in conn.execute("SELECT name FROM sqlite_master")] == ["notes"]
    finally:
        conn.close()


def test_a_process_that_saw_the_file_empty_but_came_second_creates_nothing(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # Two processes open one new file: both see it empty, the first creates the schema; the second
    # must find it under the write lock and leave it alone (not fail on "table already exists").
    url = f"sqlite:///{tmp_path / 'race.sqlite'}"
    Journal.open(url).close()  # the first process
    monkeypatch.setattr("bot.journal.fresh._empty", lambda engine: True)  # what the second saw
    engine = create_journal_engine(url)
    try:
        assert not create_if_empty(engine)
    finally:
        engine.dispose()
    assert _schema(tmp_path / "race.sqlite")[1] == [head_revision()]
