"""The batching writer: never blocks callers, commits in batches, acknowledges with flush(),
retries transient errors and keeps permanently failing rows visible instead of losing them."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loguru import logger

from bot.journal import Journal, JournalClosedError, JournalWriteError
from bot.journal.convert import new_id, utc_now
from bot.journal.db import create_journal_engine
from bot.journal.migrate import upgrade_to_head
from bot.journal.models import Event, Run
from bot.journal.writer import BatchWriter, is_transient
from tests.waiting import BOUND_S, wait_until

T0 = 1_700_000_000_000


def _count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def _run_row() -> dict:
    return {"id": new_id(), "recorded_at": utc_now(), "mode": "paper", "config_hash": "h", "code_version": "v",
            "started_at": utc_now(), "params": None}


def _event_row(run_id: str | None, i: int) -> dict:
    return {"id": new_id(), "recorded_at": utc_now(), "run_id": run_id, "ts": utc_now(), "kind": "k",
            "severity": "info", "message": f"m{i}", "data": None}


def test_many_records_one_flush_full_batches(journal_url: str) -> None:
    j = Journal.open(journal_url, batch_size=100, flush_interval_ms=10_000)
    try:
        j.start_run("paper", "h", "v")
        ids = [j.record_event("tick", f"n{i}", ts=T0 + i) for i in range(1000)]
        j.flush()
        health = j.health()
        assert health.written == 1001 and health.pending == 0 and health.ok
        assert health.batches == 11  # ceil(1001 / 100): only full batches until the flush
        with j.engine.connect() as conn:
            stored = set(conn.execute(sa.text("SELECT id FROM events")).scalars())
        assert stored == set(ids)
    finally:
        j.close()


def test_rows_wait_for_a_batch_until_the_interval_or_a_flush(sqlite_url: str) -> None:
    """The writer has all 501 rows in hand and holds them back (``health().holding``): a commit per
    row would never be seen holding 501. The interval is an hour, so nothing but the flush may
    commit them however slow the machine is."""
    j = Journal.open(sqlite_url, batch_size=10_000, flush_interval_ms=3_600_000)
    try:
        j.start_run("paper", "h", "v")
        for i in range(500):
            j.record_event("tick", f"n{i}", ts=T0 + i)
        wait_until(lambda: j.health().holding == 501, "the writer holding the 501 queued rows for a batch")
        health = j.health()
        assert health.batches == 0 and health.written == 0 and health.pending == 501
        assert _count(j.engine, "events") == 0  # still queued: batching, not a commit per row
        j.flush()
        assert _count(j.engine, "events") == 500
        assert j.health().holding == 0 and j.health().batches == 1
    finally:
        j.close()


def test_partial_batch_commits_after_the_flush_interval(sqlite_url: str) -> None:
    """A lone row and no flush: the 50 ms interval alone commits it (one partial batch)."""
    j = Journal.open(sqlite_url, batch_size=10_000, flush_interval_ms=50)
    try:
        j.start_run("paper", "h", "v")
        j.record_event("tick", "one", ts=T0)
        wait_until(lambda: _count(j.engine, "events") == 1, "the partial batch committed by its interval")
        assert j.health().pending == 0
    finally:
        j.close()


def test_locked_database_does_not_block_callers_and_is_retried(tmp_path: Path) -> None:
    """Another process holds SQLite's write lock for the whole first half: every ``submit`` must
    return while it is still held (run in a thread and joined with the lock held), then the writer
    retries until the lock goes and commits everything."""
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    upgrade_to_head(url)
    engine = create_journal_engine(url, busy_timeout_ms=20)
    writer = BatchWriter(engine, batch_size=10, flush_interval_ms=5, retry_backoff_s=0.01, max_backoff_s=0.05)
    blocker = sqlite3.connect(tmp_path / "j.sqlite", isolation_level=None, timeout=0)
    run = _run_row()

    def produce() -> None:
        writer.submit(Run.__table__, run)
        for i in range(50):
            writer.submit(Event.__table__, _event_row(run["id"], i))

    producer = threading.Thread(target=produce, name="producer", daemon=True)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        producer.start()
        producer.join(BOUND_S)  # a bound for the bug only: correct submits never touch the database
        assert not producer.is_alive(), "submit waited for the locked database"
        assert blocker.in_transaction  # the lock was held all along
        assert writer.health().pending == 51 and _count(engine, "events") == 0
        wait_until(lambda: writer.health().retrying, "the writer retrying the locked database")
        with pytest.raises(TimeoutError, match="not yet committed"):
            writer.flush(timeout=0.1)  # cannot commit while the lock is held, however long it waits
        health = writer.health()
        assert health.retrying and health.retries >= 1 and not health.ok
        assert "locked" in (health.last_error or "")
        blocker.execute("ROLLBACK")
        writer.flush(timeout=BOUND_S)
        assert _count(engine, "events") == 50
        health = writer.health()
        assert health.ok and not health.retrying and health.failed == ()
    finally:
        blocker.close()
        producer.join(BOUND_S)
        writer.close()
        engine.dispose()


def test_a_bad_row_is_isolated_kept_and_reported_once(journal_url: str) -> None:
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(str(m)), level="ERROR")
    j = Journal.open(journal_url, batch_size=50, flush_interval_ms=10_000)
    try:
        j.start_run("paper", "h", "v")
        first = j.record_order(client_order_id="dup", ts=T0, symbol="AUSDT", type="market", side="buy",
                               quantity=1)
        j.record_event("before", "x", ts=T0)
        dup = j.record_order(client_order_id="dup", ts=T0, symbol="AUSDT", type="market", side="buy",
                             quantity=2)
        j.record_event("after", "y", ts=T0)
        with pytest.raises(JournalWriteError, match="1 journal rows could not be written"):
            j.flush()
        health = j.health()
        assert not health.ok
        assert [(f.table, f.row_id) for f in health.failed] == [("orders", dup)]
        assert health.failed[0].row["client_order_id"] == "dup"
        assert health.written == 4  # run, first order and both events survived the bad row
        with j.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT id FROM orders")).scalars().all() == [first]
            assert _count(j.engine, "events") == 2
        assert any("error state" in m and dup in m for m in messages)  # logged with its content
        j.record_event("later", "z", ts=T0)
        j.flush()  # an old failure is reported once, not on every later flush
        assert len(j.health().failed) == 1
    finally:
        logger.remove(sink)
        j.close()


def test_close_with_unreachable_database_keeps_rows_in_error_state() -> None:
    engine = create_journal_engine("postgresql://nobody@127.0.0.1:1/none")
    writer = BatchWriter(engine, batch_size=5, flush_interval_ms=5, retry_backoff_s=0.01, max_backoff_s=0.05)
    try:
        rows = [_event_row(None, i) for i in range(7)]
        for row in rows:
            writer.submit(Event.__table__, row)
        wait_until(lambda: writer.health().retrying, "the writer retrying the unreachable database")
        writer.close(timeout=0.2)
        health = writer.health()
        assert not health.alive and not health.ok
        assert sorted(f.row_id for f in health.failed) == sorted(r["id"] for r in rows)
        with pytest.raises(JournalClosedError):
            writer.submit(Event.__table__, _event_row(None, 99))
    finally:
        engine.dispose()


def test_transient_classification() -> None:
    locked = sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    missing = sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("no such table: runs"))
    dup = sa.exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert is_transient(locked)
    assert not is_transient(missing)
    assert not is_transient(dup)
    assert not is_transient(ValueError("bad"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batch_size=st.integers(min_value=1, max_value=20),
    ops=st.lists(st.one_of(st.integers(min_value=1, max_value=30), st.just("flush"), st.just("bad")),
                 min_size=1, max_size=12),
)
def test_every_submitted_row_is_committed_or_failed_in_order(tmp_path_factory: pytest.TempPathFactory,
                                                              batch_size: int, ops: list) -> None:
    """State machine property: whatever the interleaving of submits, flushes and bad rows,
    after a flush every good row is committed, every bad row is in ``failed``, nothing else."""
    url = f"sqlite:///{tmp_path_factory.mktemp('p') / 'j.sqlite'}"
    upgrade_to_head(url)
    engine = create_journal_engine(url)
    writer = BatchWriter(engine, batch_size=batch_size, flush_interval_ms=5)
    run = _run_row()
    writer.submit(Run.__table__, run)
    good: list[str] = []
    bad: list[str] = []
    try:
        for op in ops:
            if op == "flush":
                with contextlib.suppress(JournalWriteError):
                    writer.flush(timeout=10)
            elif op == "bad":
                row = _event_row("no-such-run", 0)  # foreign key violation: permanent
                bad.append(row["id"])
                writer.submit(Event.__table__, row)
            else:
                for i in range(op):
                    row = _event_row(run["id"], i)
                    good.append(row["id"])
                    writer.submit(Event.__table__, row)
        with contextlib.suppress(JournalWriteError):
            writer.flush(timeout=10)
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT id FROM events")).scalars().all()
        health = writer.health()
        assert sorted(stored) == sorted(good)
        assert [f.row_id for f in health.failed] == bad
        assert health.written == len(good) + 1 and health.pending == 0
    finally:
        writer.close()
        engine.dispose()


def test_postgres_connection_killed_mid_run_is_retried(pg_url: str) -> None:
    import psycopg

    j = Journal.open(pg_url, batch_size=20, flush_interval_ms=5)
    try:
        j.start_run("paper", "h", "v")
        first = [j.record_event("tick", f"a{i}", ts=T0 + i) for i in range(30)]
        j.flush()
        dbname = pg_url.rsplit("/", 1)[1]
        with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres",
                             autocommit=True) as admin:
            killed = admin.execute("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE datname = %s AND pid <> pg_backend_pid()) t", (dbname,)).fetchone()
        assert killed is not None and killed[0] >= 1  # the writer's pooled connection is gone
        second = [j.record_event("tick", f"b{i}", ts=T0 + i) for i in range(30)]
        j.flush(timeout=30)
        with j.engine.connect() as conn:
            stored = set(conn.execute(sa.text("SELECT id FROM events")).scalars())
        assert stored == set(first) | set(second)
        assert j.health().ok and j.health().failed == ()
    finally:
        j.close()
