"""The background writer: turns queued rows into batched INSERT transactions.

Why a thread: a database commit (an fsync on SQLite, a network round trip on PostgreSQL) must
never stall the trading loop. ``submit`` only appends to an in-memory queue; one writer thread
drains it in FIFO order, at most ``batch_size`` rows per transaction, waiting at most
``flush_interval_ms`` after the oldest queued row before committing a partial batch.

Failure policy (no row is ever dropped silently):

* transient errors (connection lost, database locked, disk full) - the same batch is retried
  with capped exponential backoff until it commits; ``health().retrying`` is true meanwhile;
* permanent errors (constraint violation, bad value) - the batch is replayed row by row in its
  own transactions so one bad row cannot take good rows down with it; each row that still fails
  is logged at ERROR with its content and kept in ``health().failed``;
* ``close()`` that cannot reach the database within its timeout moves the remaining rows to
  ``failed`` (and logs them) instead of hanging forever.

Bound (issue 18): the queue is never cut and ``submit`` never waits, so a slow or unreachable
database cannot stall the trading loop nor lose an acknowledged row. Instead, once more than
``max_pending`` rows are uncommitted the writer reports itself *backlogged* (``health()``), and
the engine stops opening positions until it has caught up; it counts as caught up again only
at half the bound or below (hysteresis: one pause and one resume message per stall, not one per
row around the threshold).

Every row gets its place in its table's hash chain (:mod:`bot.journal.chain`) in the transaction
that inserts it. Rows of one batch are inserted table by table in foreign-key order (parents
first), which keeps references valid inside a batch and lets SQLAlchemy use one multi-row INSERT
per table.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from loguru import logger
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.journal.chain import chain_rows, lock_chains
from bot.journal.convert import jsonable, utc_now
from bot.journal.db import SQLITE_BEGIN_OPTION
from bot.journal.errors import AppendOnlyViolation, JournalClosedError, JournalWriteError
from bot.journal.models import TABLES_IN_ORDER

_TABLE_RANK = {table.name: rank for rank, table in enumerate(TABLES_IN_ORDER)}
_FORBIDDEN_PREFIXES = ("UPDATE", "DELETE", "TRUNCATE", "DROP", "ALTER", "REPLACE", "UPSERT")
#: rows queued but not committed beyond which the writer is backlogged (``JournalSettings.max_pending``)
DEFAULT_MAX_PENDING = 10_000
_PERMANENT_SQLITE_MESSAGES = ("no such table", "no such column", "has no column", "constraint failed")


@dataclass(frozen=True, slots=True)
class FailedRow:
    """A row that could not be committed, kept so that nobody can mistake it for written."""

    seq: int
    table: str
    row_id: str | None
    error: str
    row: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WriterHealth:
    """State of the writer for status pages and alerts. ``ok`` means: alive, not retrying, not
    backlogged, and no row in the error state.

    ``holding`` is how many queued rows the writer thread is deliberately holding back right now,
    parked until the batch fills, the flush interval of the oldest row ends or a flush asks for
    them (0 while it writes, retries, or has nothing queued). It makes batching observable: a
    status page sees rows waiting by design rather than stuck, and a test can see "the writer has
    the rows and chose to wait" as a state instead of sleeping and hoping nothing committed.
    """

    ok: bool
    alive: bool
    pending: int
    #: more than ``max_pending`` rows were uncommitted, and not yet back to half of that
    backlogged: bool
    max_pending: int
    #: seconds the oldest uncommitted row has waited (0.0 when nothing is pending)
    lag_s: float
    holding: int
    written: int
    batches: int
    retries: int
    retrying: bool
    failed: tuple[FailedRow, ...]
    last_error: str | None
    last_commit_at: datetime | None


@dataclass(slots=True)
class _Item:
    seq: int
    table: sa.Table
    row: dict[str, Any]
    enqueued: float = field(default_factory=time.monotonic)


def install_append_only_guard(engine: Engine) -> None:
    """Make the engine refuse any statement that would change or remove history.

    Installed on the writer's engine: even a future bug cannot UPDATE or DELETE journal rows
    through it. (Migrations and tests use their own engines.)
    """

    @event.listens_for(engine, "before_cursor_execute")
    def _guard(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if head in _FORBIDDEN_PREFIXES:
            raise AppendOnlyViolation(f"the journal is append-only; refused: {statement[:80]!r}")


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying unchanged: the database was unreachable or busy, not the data wrong."""
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
            message = str(exc.orig).lower()
            return not any(text in message for text in _PERMANENT_SQLITE_MESSAGES)
        return False
    return isinstance(exc, sa.exc.DisconnectionError | sa.exc.TimeoutError | ConnectionError)


class BatchWriter:
    """Queue + writer thread. Thread-safe: any thread may ``submit`` and ``flush``."""

    def __init__(self, engine: Engine, *, batch_size: int = 200, flush_interval_ms: int = 200,
                 max_pending: int = DEFAULT_MAX_PENDING, retry_backoff_s: float = 0.05,
                 max_backoff_s: float = 5.0, name: str = "journal-writer") -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if flush_interval_ms < 1:
            raise ValueError(f"flush_interval_ms must be >= 1, got {flush_interval_ms}")
        if max_pending < 2:
            raise ValueError(f"max_pending must be >= 2, got {max_pending}")
        self._engine = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        self._batch_size = batch_size
        self._interval_s = flush_interval_ms / 1000
        self._max_pending = max_pending
        self._resume_at = max_pending // 2  # backlogged until pending is back at or below this
        self._backlogged = False
        self._backoff_s = retry_backoff_s
        self._max_backoff_s = max_backoff_s
        self._cond = threading.Condition()
        self._queue: deque[_Item] = deque()
        self._seq = 0  # last seq handed out
        self._processed = 0  # every seq <= this is committed or in ``_failed``
        self._flush_target = 0
        self._reported_upto = 0
        self._in_flight = 0
        self._in_flight_since = 0.0  # when the oldest row of the batch being written was queued
        self._holding = False  # the writer thread is parked in the batch wait (see WriterHealth.holding)
        self._failed: list[FailedRow] = []
        self._written = 0
        self._batches = 0
        self._retries = 0
        self._retrying = False
        self._last_error: str | None = None
        self._last_commit_at: datetime | None = None
        self._closing = False
        self._abandon = False  # close() timed out: stop retrying, mark rows failed
        self._crashed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- producer side ------------------------------------------------------------------------

    def submit(self, table: sa.Table, row: dict[str, Any]) -> int:
        """Queue one row; returns its sequence number. Never blocks on the database."""
        with self._cond:
            if self._closing:
                raise JournalClosedError("the journal is closed; nothing more can be recorded")
            if self._crashed is not None:
                raise JournalClosedError(f"the journal writer died: {self._crashed!r}")
            self._seq += 1
            self._queue.append(_Item(self._seq, table, row))
            if not self._backlogged and len(self._queue) + self._in_flight > self._max_pending:
                self._backlogged = True
                logger.warning("journal backlogged: {} rows not yet committed (bound {}; last error: {}); "
                               "rows stay queued", len(self._queue) + self._in_flight, self._max_pending,
                               self._last_error)
            if len(self._queue) >= self._batch_size:
                self._cond.notify_all()
            elif len(self._queue) == 1:
                self._cond.notify_all()  # wake an idle writer so it starts the interval clock
            return self._seq

    def flush(self, timeout: float | None = None) -> None:
        """Block until every row submitted before this call is committed (the acknowledgement).

        Raises :class:`JournalWriteError` if some of those rows failed permanently (they stay in
        :meth:`health`), ``TimeoutError`` if ``timeout`` seconds pass first (rows stay queued), and
        :class:`JournalClosedError` if the writer thread died.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._seq
            self._flush_target = max(self._flush_target, target)
            self._cond.notify_all()
            while self._processed < target:
                if self._crashed is not None or not self._thread.is_alive():
                    raise JournalClosedError(f"the journal writer is not running ({self._crashed!r})")
                wait = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
                if wait <= 0:
                    raise TimeoutError(
                        f"journal flush timed out with {target - self._processed} rows not yet committed"
                        f" (last error: {self._last_error})"
                    )
                self._cond.wait(wait)
            failures = [f for f in self._failed if self._reported_upto < f.seq <= target]
            self._reported_upto = max(self._reported_upto, target)
        if failures:
            raise JournalWriteError(
                f"{len(failures)} journal rows could not be written (first: {failures[0].table} "
                f"{failures[0].row_id}: {failures[0].error}); see Journal.health()"
            )

    def close(self, timeout: float | None = 10.0) -> None:
        """Commit what is queued and stop the thread. If the database stays unreachable for
        ``timeout`` seconds, the remaining rows are moved to the error state and logged."""
        with self._cond:
            if self._closing and not self._thread.is_alive():
                return
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            with self._cond:
                self._abandon = True
                self._cond.notify_all()
            self._thread.join(max(5.0, self._max_backoff_s * 2))

    @property
    def backlogged(self) -> bool:
        """More than ``max_pending`` rows were uncommitted and not yet back to half of that: the
        one field of :meth:`health` the trading loop reads every cycle, without taking the lock
        or building the whole report (a bool read is atomic)."""
        return self._backlogged

    def health(self) -> WriterHealth:
        with self._cond:
            alive = self._thread.is_alive() and self._crashed is None
            pending = len(self._queue) + self._in_flight
            oldest = self._in_flight_since if self._in_flight else (self._queue[0].enqueued if self._queue else None)
            return WriterHealth(
                ok=((alive or (self._closing and pending == 0)) and not self._retrying and not self._failed
                    and not self._backlogged),
                alive=alive,
                pending=pending,
                backlogged=self._backlogged,
                max_pending=self._max_pending,
                lag_s=0.0 if oldest is None else max(0.0, time.monotonic() - oldest),
                holding=len(self._queue) if self._holding else 0,
                written=self._written,
                batches=self._batches,
                retries=self._retries,
                retrying=self._retrying,
                failed=tuple(self._failed),
                last_error=self._last_error,
                last_commit_at=self._last_commit_at,
            )

    # -- writer thread ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                self._write(batch)
                with self._cond:
                    self._in_flight = 0
                    self._processed = batch[-1].seq
                    if self._backlogged and len(self._queue) <= self._resume_at:
                        self._backlogged = False
                        logger.info("journal caught up: {} rows pending (resumes at {} or fewer)",
                                    len(self._queue), self._resume_at)
                    self._cond.notify_all()
        except BaseException as exc:  # a bug in the writer: make it loud, never a silent stop
            logger.exception("journal writer crashed; rows queued from now on are refused")
            with self._cond:
                self._crashed = exc
                self._cond.notify_all()

    def _next_batch(self) -> list[_Item] | None:
        with self._cond:
            while not self._queue:
                if self._closing:
                    return None
                self._cond.wait()
            if self._abandon:  # close() gave up on an unreachable database
                while self._queue:
                    item = self._queue.popleft()
                    self._mark_failed(item, JournalClosedError("closed before the database came back"))
                    self._processed = item.seq
                self._cond.notify_all()
                return None
            while (
                len(self._queue) < self._batch_size
                and not self._closing
                and self._flush_target <= self._processed
            ):
                remaining = self._queue[0].enqueued + self._interval_s - time.monotonic()
                if remaining <= 0:
                    break
                self._holding = True  # only visible to others while ``wait`` has released the lock
                try:
                    self._cond.wait(remaining)
                finally:
                    self._holding = False
            count = min(self._batch_size, len(self._queue))
            batch = [self._queue.popleft() for _ in range(count)]
            self._in_flight = count
            self._in_flight_since = batch[0].enqueued
            return batch

    def _write(self, batch: list[_Item]) -> None:
        error = self._commit_with_retry(batch)
        if error is None:
            return
        if len(batch) == 1 or is_transient(error):  # single row, or abandoned while unreachable
            for item in batch:
                self._mark_failed(item, error)
            return
        logger.warning("journal batch of {} rows failed ({}); retrying row by row", len(batch),
                       _describe(error))
        for item in batch:
            row_error = self._commit_with_retry([item])
            if row_error is not None:
                self._mark_failed(item, row_error)

    def _commit_with_retry(self, items: list[_Item]) -> BaseException | None:
        """Commit ``items`` in one transaction. Returns ``None`` on success or the permanent error."""
        attempt = 0
        while True:
            try:
                self._insert(items)
            except Exception as exc:
                if not is_transient(exc):
                    return exc
                with self._cond:
                    if self._abandon:
                        return exc
                    attempt += 1
                    self._retries += 1
                    self._retrying = True
                    self._last_error = _describe(exc)
                    delay = min(self._max_backoff_s, self._backoff_s * 2 ** min(attempt, 20))
                    if attempt == 1 or attempt % 10 == 0:
                        logger.warning("journal database unavailable (attempt {}): {}; retrying in {:.2f}s",
                                       attempt, _describe(exc), delay)
                    deadline = time.monotonic() + delay
                    while not self._abandon and (left := deadline - time.monotonic()) > 0:
                        self._cond.wait(left)  # close() wakes us to re-check ``_abandon``
                continue
            with self._cond:
                if self._retrying:
                    logger.info("journal database reachable again after {} attempts", attempt + 1)
                self._retrying = False
                self._written += len(items)
                self._batches += 1
                self._last_commit_at = utc_now()
            return None

    def _insert(self, items: list[_Item]) -> None:
        """One transaction: take the chain lock, hash the rows after their tables' tails (read
        again on every attempt, so a retry or another process's rows cannot fork a chain), insert."""
        with self._engine.begin() as conn:
            lock_chains(conn)
            chained = chain_rows(conn, [(item.table, item.row) for item in items])
            groups: dict[tuple[str, tuple[str, ...]], tuple[sa.Table, list[dict[str, Any]]]] = {}
            for item, row in zip(items, chained, strict=True):
                groups.setdefault((item.table.name, tuple(row)), (item.table, []))[1].append(row)
            ordered = sorted(groups.items(), key=lambda kv: _TABLE_RANK.get(kv[0][0], len(_TABLE_RANK)))
            for _key, (table, rows) in ordered:
                conn.execute(sa.insert(table), rows)

    def _mark_failed(self, item: _Item, error: BaseException) -> None:
        failed = FailedRow(item.seq, item.table.name, item.row.get("id"), _describe(error), dict(item.row))
        logger.error("journal row could not be written and is kept in the error state: table={} id={} "
                     "error={} row={}", failed.table, failed.row_id, failed.error,
                     json.dumps(jsonable(item.row), sort_keys=True))
        with self._cond:
            self._failed.append(failed)
            self._last_error = failed.error


def _describe(exc: BaseException) -> str:
    if isinstance(exc, sa.exc.StatementError) and exc.orig is not None:
        return f"{type(exc.orig).__name__}: {str(exc.orig).splitlines()[0] if str(exc.orig) else ''}"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
