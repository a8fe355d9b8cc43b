"""The writer's bound (issue 18): against a stalled PostgreSQL, ``submit`` neither waits nor drops
a row; past ``max_pending`` uncommitted rows the writer says it is backlogged, and it says it
has caught up only at half the bound (hysteresis), once everything acknowledged is committed."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from bot.journal.convert import new_id, utc_now
from bot.journal.db import create_journal_engine
from bot.journal.migrate import upgrade_to_head
from bot.journal.models import EquitySnapshot, Event, Run
from bot.journal.writer import BatchWriter
from tests.journal.stall import stalled

BOUND = 40  # backlogged above 40 pending rows; caught up at 40 // 2 = 20 or fewer
BATCH = 20
SUBMITTED = 50  # 20 events, then 30 equity snapshots: 10 rows past the bound


def _run_row() -> dict:
    return {"id": new_id(), "recorded_at": utc_now(), "mode": "paper", "config_hash": "h", "code_version": "v",
            "started_at": utc_now(), "params": None}


def _event_row(run_id: str, i: int) -> dict:
    return {"id": new_id(), "recorded_at": utc_now(), "run_id": run_id, "ts": utc_now(), "kind": "k",
            "severity": "info", "message": f"m{i}", "data": None}


def _equity_row(run_id: str) -> dict:
    return {"id": new_id(), "recorded_at": utc_now(), "run_id": run_id, "ts": utc_now(), "wallet": "100",
            "unrealised": "0", "equity": "100", "exposure": "0", "risk_state": "active"}


def _until(condition, what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.01)


def test_a_stalled_postgres_backlogs_the_writer_without_blocking_or_losing_a_row(pg_url: str) -> None:
    upgrade_to_head(pg_url)
    engine = create_journal_engine(pg_url)
    writer = BatchWriter(engine, batch_size=BATCH, flush_interval_ms=1000, max_pending=BOUND)
    try:
        run = _run_row()
        writer.submit(Run.__table__, run)
        writer.flush(timeout=10)
        acknowledged: list[str] = []
        # The events stall is released first, the equity stall second: the queue then drains in
        # two steps, and the first step leaves it between half the bound and the bound.
        with stalled(pg_url, "events") as events_stall, stalled(pg_url, "equity_snapshots") as equity_stall:
            def submit_all() -> None:
                rows = ([(Event.__table__, _event_row(run["id"], i)) for i in range(BATCH)]  # batch 1
                        + [(EquitySnapshot.__table__, _equity_row(run["id"])) for _ in range(SUBMITTED - BATCH)])
                for table, row in rows:
                    writer.submit(table, row)
                    acknowledged.append(row["id"])

            producer = threading.Thread(target=submit_all)
            producer.start()
            producer.join(timeout=5)
            assert not producer.is_alive(), "submit waited for the stalled database"
            health = writer.health()
            # 50 rows acknowledged, none committed: one batch hangs on the lock, the rest is queued
            assert health.pending == SUBMITTED and health.written == 1
            assert health.backlogged and not health.ok and health.max_pending == BOUND
            with pytest.raises(TimeoutError, match="50 rows not yet committed"):
                writer.flush(timeout=0.2)

            events_stall.release()
            _until(lambda: writer.health().written == 1 + BATCH, "the events batch committed")
            health = writer.health()
            # 50 - 20 = 30 rows still pending: below the bound, above half of it - still backlogged
            assert health.pending == SUBMITTED - BATCH
            assert health.backlogged, "resumed before the queue was back to half the bound"
            assert health.lag_s > 0

            equity_stall.release()
            writer.flush(timeout=10)
            assert not events_stall.expired and not equity_stall.expired
        health = writer.health()
        assert not health.backlogged and health.ok and health.pending == 0 and health.lag_s == 0.0
        assert health.failed == () and health.written == 1 + SUBMITTED
        with engine.connect() as conn:
            stored = set(conn.execute(sa.text("SELECT id FROM events UNION ALL SELECT id FROM equity_snapshots"))
                         .scalars())
        assert stored == set(acknowledged), "an acknowledged row is missing"
        assert len(acknowledged) == SUBMITTED
    finally:
        writer.close()
        engine.dispose()


def test_the_bound_must_leave_room_for_hysteresis(sqlite_url: str) -> None:
    engine = create_journal_engine(sqlite_url)
    try:
        with pytest.raises(ValueError, match="max_pending must be >= 2, got 1"):
            BatchWriter(engine, max_pending=1)
    finally:
        engine.dispose()
