"""The loop's lifecycle (issue 16, items 5 and 10): a stop request ends the pause between cycles
at once and no cycle follows it; ``max_cycles`` counts attempts, skipped ones included; a start
that fails closes its journal run row; bounds that would spin or never end are refused.

The engine runs in-process over the paper executor with an empty simulated market and a feed
that yields nothing, so every cycle is cheap and nothing leaves the process. Waits are on
conditions (the engine's counters and its ``pausing`` flag), never on fixed sleeps, and nothing
is timed: "at once" and "after the duration" are checked on a virtual event-loop clock that moves
only when the test moves it (issue 17). ``BOUND_S`` only bounds a test that would otherwise hang
on the bug it checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import ccxt.async_support as ccxt
import pytest

import bot.engine as engine_module
from bot.core.instrument import Instrument
from bot.engine import Engine, check_run_limits
from bot.execution.paper import PaperExecutor
from bot.journal import Journal
from bot.journal.reader import JournalReader
from bot.market.snapshot import Snapshot
from bot.risk.files import RiskFiles
from bot.sim.exchange import SimExchange
from tests.engine import helpers
from tests.waiting import until

#: The venue's clock in these tests (any fixed time will do: nothing trades).
NOW_MS = 1_767_182_400_000  # 2025-12-31T12:00:00Z
#: A test that needs longer than this has hung on the bug it checks.
BOUND_S = 10.0


class _EmptyFeed:
    """A feed without symbols: cycles run the whole account path but decide nothing."""

    async def snapshots(self, now: int) -> dict[str, Snapshot]:
        return {}


class _DownVenue(PaperExecutor):
    """Up for the start (its one clock read), then down: every cycle is skipped (ccxt reports a 5xx)."""

    clock_reads = 0

    async def now_ms(self) -> int:
        self.clock_reads += 1
        if self.clock_reads > 1:
            raise ccxt.ExchangeNotAvailable("binanceusdm GET http://127.0.0.1:9/fapi/v1/time 503 Service Unavailable")
        return NOW_MS


class _BadKeys(PaperExecutor):
    """A venue refusing the API key at start, as Binance does with -2015."""

    closed = False

    async def start(self) -> None:
        raise ccxt.AuthenticationError('binanceusdm {"code":-2015,"msg":"Invalid API-key, IP, or permissions for '
                                       'action."}')

    async def close(self) -> None:
        self.closed = True


def _engine(tmp_path: Path, executor_cls: type[PaperExecutor] = PaperExecutor) -> tuple[Engine, Journal]:
    settings = helpers.engine_settings(tmp_path)
    instruments = {"ORCAUSDT": Instrument("ORCAUSDT", "ORCA")}  # listed, never traded (the feed is empty)
    executor = executor_cls(SimExchange(instruments), instruments, lambda: NOW_MS)
    journal = Journal.open(settings.journal.url)
    engine = Engine(settings, feed=_EmptyFeed(), executor=executor, journal=journal, strategies={},
                    risk_files=RiskFiles.from_halt_file(tmp_path / "HALT"))
    return engine, journal


async def _cancel(task: asyncio.Task) -> None:
    """Stop a run a failing test left behind, before its journal is closed."""
    if not task.done():
        task.cancel()
    with contextlib.suppress(BaseException):
        await task


@contextlib.contextmanager
def _loop_clock(clock: _VirtualClock | None = None) -> Iterator[_VirtualClock]:
    """Replace the running event loop's clock with a virtual one that only moves when the test
    advances it: no timer (``asyncio.sleep``, ``wait_for``'s timeout) fires on its own meanwhile,
    so what ends a wait is the event the test is about, never the machine's speed."""
    loop = asyncio.get_running_loop()
    clock = clock or _VirtualClock(loop.time())
    loop.time = clock  # type: ignore[method-assign]  # the instance attribute shadows BaseEventLoop.time
    try:
        yield clock
    finally:
        del loop.time


class _VirtualClock:
    """A monotonic clock that stands still until :meth:`advance` (seconds, like ``time.monotonic``)."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:  # the engine's wall-clock fallback for its closing timestamps
        return time.time()

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def _ends_without_timers(task: asyncio.Task) -> bool:
    """Whether ``task`` ends within :data:`BOUND_S` of real time. Waited for from a thread, not with
    a loop timer: it works while :func:`_loop_clock` holds the loop's clock still."""
    done = threading.Event()
    task.add_done_callback(lambda _: done.set())
    return await asyncio.to_thread(done.wait, BOUND_S)


async def test_a_stop_request_ends_the_pause_at_once_and_no_cycle_follows(tmp_path: Path) -> None:
    """Ctrl-C during an hour-long pause: the run ends now, after exactly the one cycle it ran.

    "Now" without a stopwatch: the request comes while the engine is in its pause, and from then
    on the loop's clock stands still, so no timer can end the pause (neither the hour nor a
    poll that re-checks for a stop every few seconds): only the stop request itself can."""
    engine, journal = _engine(tmp_path)
    task = asyncio.create_task(engine.run(cycle_seconds=3600))
    try:
        await until(lambda: engine.pausing, "the engine pausing after its first cycle")
        with _loop_clock():
            engine.request_stop("sigint")
            assert await _ends_without_timers(task), "the stop request did not end the pause (the run is still asleep)"
        assert task.result() == "sigint"
        assert engine.cycles == 1, "a stop during the pause must not run another cycle"
    finally:
        await _cancel(task)
        journal.close()
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        [run] = reader.runs()
        assert run.exit_reason == "sigint" and run.stopped_at is not None
        assert len(reader.equity()) == 1  # one equity snapshot per completed cycle


async def test_a_stop_requested_before_the_first_cycle_runs_none(tmp_path: Path) -> None:
    engine, journal = _engine(tmp_path)
    try:
        engine.request_stop("sigterm")
        assert await asyncio.wait_for(engine.run(cycle_seconds=3600), BOUND_S) == "sigterm"
        assert engine.attempts == 0
    finally:
        journal.close()


async def test_skipped_cycles_count_toward_max_cycles(tmp_path: Path) -> None:
    """The venue is down: ``max_cycles=3`` means three attempts (the issue saw 33 for 8)."""
    engine, journal = _engine(tmp_path, _DownVenue)
    try:
        reason = await asyncio.wait_for(engine.run(max_cycles=3, cycle_seconds=0.01), BOUND_S)
        assert reason == "max_cycles"
        assert engine.attempts == 3 and engine.cycles == 0
    finally:
        journal.close()
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        assert len(reader.events(kind="cycle_skipped")) == 3


async def test_duration_bounds_the_pause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``duration_s=0.3`` with an hour between cycles ends 0.3 s after the start, not an hour.

    On a virtual clock shared by the engine and the event loop: the test moves it 0.3 s on while
    the engine pauses, and the run must end then, with the interval's hour not begun to pass.
    A pause that ignored the deadline would wait for a timer an hour away, which never fires."""
    engine, journal = _engine(tmp_path)
    with _loop_clock() as clock:
        monkeypatch.setattr(engine_module, "time", clock)  # the engine's deadline and pause arithmetic
        task = asyncio.create_task(engine.run(duration_s=0.3, cycle_seconds=3600))
        try:
            await until(lambda: engine.pausing, "the engine pausing after its first cycle")
            clock.advance(0.3)
            assert await _ends_without_timers(task), "the run outlived its duration (asleep for the cycle interval)"
            assert task.result() == "duration" and engine.cycles == 1
        finally:
            await _cancel(task)
            journal.close()


async def test_a_failed_start_closes_the_run_row(tmp_path: Path) -> None:
    """Bad keys at ``executor.start()``: the error propagates, the run is not left "running"."""
    engine, journal = _engine(tmp_path, _BadKeys)
    try:
        with pytest.raises(ccxt.AuthenticationError):
            await asyncio.wait_for(engine.run(max_cycles=1, cycle_seconds=0.01), BOUND_S)
        assert engine.executor.closed, "the executor's connections are released"
        assert engine.run_id is None
    finally:
        journal.close()
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        [run] = reader.runs()
        assert run.stopped_at is not None
        assert run.exit_reason == "error: start failed (AuthenticationError)"
        [event] = reader.events(kind="engine_error")
        assert event.message == ('start failed: AuthenticationError: binanceusdm {"code":-2015,"msg":"Invalid API-key, '
                                 'IP, or permissions for action."}')
        assert event.severity == "critical"
        # dated by the wall clock in milliseconds (the venue's clock may be what failed)
        assert abs((run.stopped_at - datetime.now(UTC)).total_seconds()) < 600
        assert abs((event.ts - datetime.now(UTC)).total_seconds()) < 600


class _HangingStart(PaperExecutor):
    """A venue that never answers at start: the start is cancelled (Ctrl-C, a supervisor)."""

    closed = False
    started = asyncio.Event()

    async def start(self) -> None:
        type(self).started.set()
        await asyncio.Event().wait()

    async def close(self) -> None:
        self.closed = True


async def test_a_cancelled_start_closes_the_run_row_as_cancelled_without_an_error(tmp_path: Path) -> None:
    _HangingStart.started = asyncio.Event()
    engine, journal = _engine(tmp_path, _HangingStart)
    task = asyncio.create_task(engine.run(max_cycles=1, cycle_seconds=0.01))
    try:
        await asyncio.wait_for(_HangingStart.started.wait(), BOUND_S)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert engine.executor.closed and engine.run_id is None
    finally:
        await _cancel(task)
        journal.close()
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        [run] = reader.runs()
        assert run.stopped_at is not None and run.exit_reason == "cancelled"
        assert reader.events(kind="engine_error") == []  # a cancel is not an error


@pytest.mark.parametrize(("cycle_seconds", "max_cycles", "duration_s"), [
    (-5.0, 1, None), (0.0, 1, None), (math.nan, 1, None), (math.inf, 1, None),
    (1.0, 0, None), (1.0, None, math.nan), (1.0, None, math.inf), (1.0, None, 0.0), (1.0, None, -1.0),
])
async def test_unbounded_loop_limits_are_refused_before_the_run_starts(
        tmp_path: Path, cycle_seconds: float, max_cycles: int | None, duration_s: float | None) -> None:
    """NaN/<=0 pauses spin without pausing, inf sleeps forever, NaN duration never ends."""
    engine, journal = _engine(tmp_path)
    try:
        with pytest.raises(ValueError):
            await asyncio.wait_for(engine.run(max_cycles=max_cycles, duration_s=duration_s,
                                              cycle_seconds=cycle_seconds), BOUND_S)
        assert engine.attempts == 0
    finally:
        journal.close()
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        assert reader.runs() == []


def test_sane_limits_pass() -> None:
    check_run_limits(0.05, 1, 0.5)
    check_run_limits(3600.0, None, None)
