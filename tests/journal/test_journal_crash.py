"""Crash safety: a writer SIGKILLed mid-run loses nothing it had acknowledged with flush()."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from bot.journal.db import create_journal_engine
from bot.journal.migrate import upgrade_to_head

CHILD = Path(__file__).with_name("crash_child.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
WANTED_ACKS = 500


def _read_acks(proc: subprocess.Popen[str], wanted: int, timeout: float) -> list[tuple[str, str]]:
    """Collect acknowledged ids from the child's stdout via a reader thread (so a hung child
    cannot hang the test)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    acks: list[tuple[str, str]] = []
    deadline = time.monotonic() + timeout
    while len(acks) < wanted and (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        if line.startswith("ACK "):
            order_id, fill_id = line.split()[1:3]
            acks.append((order_id, fill_id))
    proc.send_signal(signal.SIGKILL)  # mid-run: the child is always between writes and flushes
    proc.wait(timeout=10)
    while (line := _drain(lines)) is not None:  # lines printed before the kill were acknowledged too
        if line.startswith("ACK ") and len(line.split()) == 3:
            order_id, fill_id = line.split()[1:3]
            acks.append((order_id, fill_id))
    return acks


def _drain(lines: queue.Queue[str | None]) -> str | None:
    try:
        return lines.get(timeout=2)
    except queue.Empty:
        return None


def test_acknowledged_rows_survive_sigkill(journal_url: str) -> None:
    upgrade_to_head(journal_url)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen([sys.executable, str(CHILD), journal_url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT)
    try:
        acks = _read_acks(proc, WANTED_ACKS, timeout=60)
        assert proc.stderr is not None
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert len(acks) >= WANTED_ACKS, f"child acknowledged only {len(acks)} rows; stderr: {err[-2000:]}"

    engine = create_journal_engine(journal_url)
    try:
        with engine.connect() as conn:
            orders = set(conn.execute(sa.text("SELECT id FROM orders")).scalars())
            fills = set(conn.execute(sa.text("SELECT id FROM fills")).scalars())
            statuses = set(conn.execute(sa.text("SELECT order_id FROM order_status")).scalars())
            if engine.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            orphans = conn.execute(sa.text(
                "SELECT count(*) FROM fills f LEFT JOIN orders o ON o.id = f.order_id WHERE o.id IS NULL"
            )).scalar_one()
    finally:
        engine.dispose()
    missing_orders = [o for o, _ in acks if o not in orders]
    missing_fills = [f for _, f in acks if f not in fills]
    assert missing_orders == [] and missing_fills == []
    assert all(o in statuses for o, _ in acks)
    assert orphans == 0
    assert len(orders) >= len(acks)  # maybe more: committed but killed before printing


EXIT_WITHOUT_CLOSE = """
import sys
from bot.journal import Journal
j = Journal.open(sys.argv[1], batch_size=10_000, flush_interval_ms=10_000)
j.start_run("paper", "exit", "test")
for i in range(100):
    j.record_event("tick", f"n{i}", ts=i)
print("queued", flush=True)
"""


def test_normal_exit_without_close_still_commits_the_queue(sqlite_url: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run([sys.executable, "-c", EXIT_WITHOUT_CLOSE, sqlite_url], capture_output=True,
                          text=True, env=env, cwd=REPO_ROOT, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "queued"
    engine = create_journal_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == 100
            assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar_one() == 1
    finally:
        engine.dispose()
