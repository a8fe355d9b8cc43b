"""A stalled PostgreSQL for tests: another session holds ``LOCK TABLE ... IN ACCESS EXCLUSIVE MODE``,
so every statement that touches the table (the writer reads a chain's tail before inserting)
waits - the database answers nothing, as a slow or hung server does, without an error to retry.

The lock is released by :meth:`Stall.release`, or, if a test hangs on the stall (for example the
code under test waits for the journal in the trading loop), by a timer that terminates the
locking session after ``max_s``; :attr:`Stall.expired` then tells the test that it did not get
through the stall on its own, so it fails instead of hanging forever.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


class Stall:
    def __init__(self, pg_url: str, tables: tuple[str, ...], max_s: float) -> None:
        self._dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
        self._conn = psycopg.connect(self._dsn)  # not autocommit: the lock lasts until rollback
        self._conn.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
        self._pid = self._conn.info.backend_pid
        self._released = threading.Event()
        self.expired = False
        self._timer = threading.Timer(max_s, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        if self._released.is_set():
            return
        self.expired = True
        with psycopg.connect(self._dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (self._pid,))

    def release(self) -> None:
        """End the stall: the locking transaction rolls back and the waiting statements go on."""
        if self._released.is_set():
            return
        self._released.set()
        self._timer.cancel()
        with contextlib.suppress(psycopg.Error):  # already terminated by the timer
            self._conn.rollback()
        self._conn.close()


@contextmanager
def stalled(pg_url: str, *tables: str, max_s: float = 20.0) -> Iterator[Stall]:
    """Stall every statement on ``tables`` until released (at the latest when the block ends)."""
    stall = Stall(pg_url, tables, max_s)
    try:
        yield stall
    finally:
        stall.release()
