"""The loop's lifecycle (issue 16, items 5 and 10): a stop request ends the pause between cycles
at once and no cycle follows it; ``max_cycles`` counts attempts, skipped ones included; a start
that fails closes its journal run row; bounds that would spin or never end are refused.

The engine runs in-process over the paper executor with an empty simulated market and a feed
that yields nothing, so every cycle is cheap and nothing leaves the process. Waits are on
conditions (the engine's counters), never on fixed sleeps; ``asyncio.wait_for`` only bounds a
test that would otherwise hang on the bug it checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from pathlib import Path

import ccxt.async_support as ccxt
import pytest

from bot.core.instrument import Instrument
from bot.engine import Engine, check_run_limits
from bot.execution.paper import PaperExecutor
from bot.journal import Journal
from bot.journal.reader import JournalReader
from bot.market.snapshot import Snapshot
from bot.risk.files import RiskFiles
from bot.sim.exchange import SimExchange
from tests.engine import helpers

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


async def _until(condition, timeout_s: float = BOUND_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_a_stop_request_ends_the_pause_at_once_and_no_cycle_follows(tmp_path: Path) -> None:
    """Ctrl-C during an hour-long pause: the run ends now, after exactly the one cycle it ran."""
    engine, journal = _engine(tmp_path)
    task = asyncio.create_task(engine.run(cycle_seconds=3600))
    try:
        await _until(lambda: engine.cycles == 1)
        asked = time.monotonic()
        engine.request_stop("sigint")
        done, _ = await asyncio.wait({task}, timeout=BOUND_S)
        assert done, "the stop request did not end the pause (the run is still asleep)"
        assert task.result() == "sigint"
        assert time.monotonic() - asked < 2.0
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


async def test_duration_bounds_the_pause(tmp_path: Path) -> None:
    """``duration_s=0.3`` with an hour between cycles ends after about 0.3 s, not an hour."""
    engine, journal = _engine(tmp_path)
    began = time.monotonic()
    task = asyncio.create_task(engine.run(duration_s=0.3, cycle_seconds=3600))
    try:
        done, _ = await asyncio.wait({task}, timeout=BOUND_S)
        assert done, "the run outlived its duration (asleep for the whole cycle interval)"
        assert task.result() == "duration" and engine.cycles == 1
        assert time.monotonic() - began < 0.3 + 2.0
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
        assert "-2015" in event.message


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
