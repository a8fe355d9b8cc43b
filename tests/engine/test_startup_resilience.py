"""Start-up and account set-up that survive Binance (issue 11, Part 2 items 6, 7, 8 and 10).

Each test runs the real ccxt client against the emulator on loopback (or, for the failure
counter, the engine over the paper executor). Expected behaviour is Binance's: a 429 carries
``Retry-After`` (the emulator's fault answers ``Retry-After: 1``), -1021 means the request's
timestamp is outside ``recvWindow``, -4168 is isolated margin refused under Multi-Assets mode,
-4028 an invalid leverage; hedge mode is ``{"dualSidePosition": true}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt
import pytest
from loguru import logger

from bot.core.enums import IntentKind, MarginMode
from bot.core.instrument import Instrument
from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.data.store import MarketStore
from bot.engine import FAILURES_ESCALATE_AFTER, FAILURES_ESCALATE_EVERY, Engine
from bot.exchange.connect import connect
from bot.execution.exchange import ExchangeExecutor, StartupError
from bot.execution.paper import PaperExecutor
from bot.execution.types import OrderRejectedError, PositionState
from bot.journal import Journal
from bot.journal.reader import JournalReader
from bot.market.budget import RequestBudget
from bot.market.live import LiveSource
from bot.risk.files import RiskFiles
from bot.sim.exchange import SimExchange
from bot.trading.feed import LiveFeed
from tests.engine import helpers
from tests.engine.scripted import Scripted
from tests.waiting import BOUND_S

SYMBOLS = ["ORCAUSDT", "BTCUSDT"]
T0 = to_ms("2025-03-18T06:00:00Z")
DUAL = "/fapi/v1/positionSide/dual"


@pytest.fixture(scope="module")
def store() -> Any:
    from tests.conftest import SAMPLE_DIR

    return MarketStore.load(SAMPLE_DIR, symbols=SYMBOLS)


@pytest.fixture
async def emu(store: Any) -> AsyncIterator[helpers.Emulator]:
    emulator = await helpers.start(store, T0, SYMBOLS, max_weight=10_000_000)
    try:
        yield emulator
    finally:
        await emulator.close()


def _executor(tmp_path: Path, emu: helpers.Emulator) -> ExchangeExecutor:
    settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet")
    executor = ExchangeExecutor(connect(settings), backoff_s=0.01)
    executor.client.enableRateLimit = False
    return executor


# -- item 10: hedge mode is refused, never switched -------------------------------------------

async def test_hedge_mode_account_is_refused_and_left_in_hedge_mode(tmp_path: Path, emu: helpers.Emulator) -> None:
    await emu.control("account", {"hedge_mode": True})
    executor = _executor(tmp_path, emu)
    try:
        with pytest.raises(StartupError) as caught:
            await executor.start()
    finally:
        await executor.close()
    message = str(caught.value)
    assert "hedge (dual-side) position mode" in message and "one-way" in message and "\n" not in message
    assert emu.state.account.hedge_mode is True, "start-up switched the account out of hedge mode"


# -- item 6: Multi-Assets mode refused at start; set-up failures are clear, per entry ----------

async def test_multi_assets_account_is_refused_at_start_with_what_to_change(tmp_path: Path,
                                                                           emu: helpers.Emulator) -> None:
    await emu.control("account", {"multi_assets": True})
    executor = _executor(tmp_path, emu)
    try:
        with pytest.raises(StartupError, match=r"Multi-Assets mode.*switch the account to Single-Asset mode"):
            await executor.start()
    finally:
        await executor.close()


@pytest.mark.parametrize(("account", "leverage", "needle"), [
    ({"multi_assets": True}, 3, "Binance -4168): the account is in Multi-Assets mode"),
    ({}, 100, "Binance -4028): leverage 100 is not valid for ORCAUSDT"),  # ORCA allows 50x at most
])
async def test_symbol_setup_failure_is_a_clear_rejection(tmp_path: Path, emu: helpers.Emulator,
                                                         account: dict[str, bool], leverage: int, needle: str) -> None:
    executor = _executor(tmp_path, emu)
    try:
        await executor.start()
        if account:
            await emu.control("account", account)  # switched while the bot runs
        with pytest.raises(OrderRejectedError) as caught:  # what the entry path catches and skips
            await executor.ensure_symbol_setup("ORCAUSDT", leverage, MarginMode.ISOLATED)
    finally:
        await executor.close()
    assert needle in str(caught.value)
    assert str(caught.value).startswith("ORCAUSDT: could not set isolated margin / leverage")


async def test_multi_assets_switched_on_mid_run_skips_the_entry_and_the_loop_goes_on(
        tmp_path: Path, store: Any, emu: helpers.Emulator) -> None:
    settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet")
    settings.universe.symbols = ["ORCAUSDT"]
    client = connect(settings)
    client.enableRateLimit = False
    executor = ExchangeExecutor(connect(settings), backoff_s=0.01)
    executor.client.enableRateLimit = False
    journal = Journal.open(settings.journal.url)
    strategy = Scripted({"ORCAUSDT": (T0 + MS_PER_HOUR, IntentKind.ENTER_LONG)}, tp_pct=None)
    engine = Engine(settings, feed=LiveFeed(LiveSource(client, settings, budget=RequestBudget(10_000_000))),
                    executor=executor, journal=journal, strategies={"scripted": strategy},
                    risk_files=RiskFiles.from_halt_file(tmp_path / "HALT"))
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING")
    try:
        await engine.start()
        await emu.control("account", {"multi_assets": True})
        reports = []
        for t in helpers.hours(T0 + MS_PER_HOUR, T0 + 3 * MS_PER_HOUR):
            await emu.set_time(t)
            reports.append(await engine.safe_cycle())
        await engine.shutdown("completed")
    finally:
        logger.remove(sink)
        await client.close()
        journal.close()
    assert all(r is not None for r in reports), "a set-up refusal must skip the entry, not the cycle"
    assert any("-4168" in w and "Single-Asset" in w for w in warnings), "the entry was never attempted"
    assert sum(r.entries for r in reports) == 0 and not emu.state.exchange.positions()
    assert engine.cycles == 3
    with JournalReader(settings.journal.url) as reader:  # reviewable afterwards, not only in the log
        skipped = reader.events(kind="entry_not_placed")
    # the scripted intent is retried every cycle while it has no position: one event per attempt
    assert len(skipped) == 3 and all("ORCAUSDT" in e.message and "-4168" in e.message for e in skipped)


# -- item 6: a position the bot did not open, settled in USDC, is ignored ---------------------

async def test_usdc_margined_position_is_ignored_and_reported_once(tmp_path: Path, store: Any) -> None:
    """The user holds a real BTC/USDC:USDC position in the account (opened by hand through a second
    ccxt client on the emulator's USDC-margined BTCUSDC): the bot's positions leave it out, with
    one warning however often they are read."""
    emu = await helpers.start(store, T0, SYMBOLS, max_weight=10_000_000, usdc_variants=("BTCUSDT",))
    user = connect(helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet"))
    user.enableRateLimit = False
    executor = _executor(tmp_path, emu)
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING")
    try:
        await user.create_order("BTC/USDC:USDC", "market", "buy", 0.01)
        assert [p.symbol for p in emu.state.exchange.positions()] == ["BTCUSDC"]
        await executor.start()
        first = await executor.positions()
        second = await executor.positions()
    finally:
        logger.remove(sink)
        await executor.close()
        await user.close()
        await emu.close()
    assert first == [] and second == []
    assert len([w for w in warnings if "BTC/USDC:USDC" in w]) == 1


# -- item 7: transient errors at start are retried, Retry-After honoured, bounded -------------

@pytest.mark.parametrize(("fault", "kind", "advised_s"), [("p_429", "429", 1.0), ("p_5xx", "5xx", None)])
async def test_one_transient_error_at_start_is_retried(tmp_path: Path, emu: helpers.Emulator,
                                                       fault: str, kind: str, advised_s: float | None) -> None:
    """A 429 waits its Retry-After (1 s from the emulator; the executor's own backoff is ~0.01 s);
    a 5xx has no Retry-After and waits the backoff. The wait checked is the one the executor
    announces right before it sleeps ("retry 1 in 1.00s"), not a stopwatch around the start."""
    await emu.control("faults", {fault: 1.0, "paths": [DUAL]})
    helpers.fault_once(emu, kind)
    executor = _executor(tmp_path, emu)
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(m.record["message"]), level="WARNING")
    try:
        await asyncio.wait_for(executor.start(), BOUND_S)  # a bound for a hang only
    finally:
        logger.remove(sink)
        await executor.close()
    assert emu.state.faults.counts[kind] == 1
    [retry] = [w for w in warnings if w.startswith("start-up: read the position mode")]
    waited = float(retry.rsplit(" in ", 1)[1].removesuffix("s"))
    if advised_s is not None:
        assert waited == advised_s, retry  # Retry-After, not the 0.01 s backoff
    else:
        assert waited < 1.0, retry  # the backoff: nothing advised a longer wait
    assert executor.instrument("ORCAUSDT").symbol == "ORCAUSDT"


async def test_start_gives_up_after_a_bound_with_one_line_naming_what_failed(tmp_path: Path,
                                                                            emu: helpers.Emulator) -> None:
    await emu.control("faults", {"p_5xx": 1.0, "paths": [DUAL]})
    executor = _executor(tmp_path, emu)
    try:
        with pytest.raises(StartupError) as caught:
            await asyncio.wait_for(executor.start(), 10)
    finally:
        await executor.close()
    message = str(caught.value)
    assert message.startswith("start-up could not read the position mode (GET /fapi/v1/positionSide/dual)")
    assert "6 attempts" in message and "\n" not in message
    assert emu.state.faults.counts["5xx"] == 6


# -- item 8: clock skew -----------------------------------------------------------------------

async def test_a_skewed_client_clock_is_resynced_on_1021_and_the_request_resent(tmp_path: Path,
                                                                                emu: helpers.Emulator) -> None:
    """The machine's clock runs 30 s fast: every signed request is 29 s past the 1 s Binance
    allows ahead of server time (-1021). The executor resyncs and resends; after the market clock
    jumps an hour (the emulator's clock model), the next -1021 resyncs again."""
    executor = _executor(tmp_path, emu)
    real_ms = executor.client.milliseconds
    executor.client.milliseconds = lambda: real_ms() + 30_000
    try:
        await executor.start()
        assert executor.clock_resyncs == 1
        await emu.set_time(T0 + MS_PER_HOUR)
        balance = await executor.balance()
        assert executor.clock_resyncs == 2
    finally:
        await executor.close()
    assert balance.wallet == pytest.approx(10_000.0)


async def test_time_difference_adjustment_is_on_for_binance_and_off_for_the_emulator(
        tmp_path: Path, emu: helpers.Emulator) -> None:
    """Binance's demo venue: ccxt syncs with ``/fapi/v1/time`` in ``load_markets``
    (``adjustForTimeDifference``, ccxt reference §5). The emulator: the client keeps its own clock
    (its market clock may run accelerated; docs/architecture.md). Binance is never contacted here:
    ``load_markets`` is replaced by a stub that records the option and stops the start."""
    demo = ExchangeExecutor(connect(helpers.engine_settings(tmp_path, mode="testnet")))
    seen: dict[str, Any] = {}

    async def load_markets(*args: Any, **kwargs: Any) -> Any:
        seen["adjust"] = demo.client.options.get("adjustForTimeDifference")
        raise ccxt.AuthenticationError("stubbed: no network in tests")

    demo.client.load_markets = load_markets
    try:
        with pytest.raises(ccxt.AuthenticationError):
            await demo.start()
    finally:
        await demo.close()
    assert seen == {"adjust": True}
    emulated = _executor(tmp_path, emu)
    try:
        await emulated.start()
    finally:
        await emulated.close()
    assert not emulated.client.options.get("adjustForTimeDifference")


class _SignedCallsFail(PaperExecutor):
    """The venue's clock answers (a public call) but every account read fails, e.g. -1021 forever."""

    async def positions(self) -> list[PositionState]:
        raise ccxt.InvalidNonce('binanceusdm {"code":-1021,"msg":"Timestamp for this request is outside of the '
                                'recvWindow."}')


async def test_consecutive_failed_cycles_escalate_to_an_error_event(tmp_path: Path) -> None:
    """Five failed cycles in a row journal an ``error`` event, then one every ten more: 5 and 15."""
    settings = helpers.engine_settings(tmp_path)
    instruments = {"ORCAUSDT": Instrument("ORCAUSDT", "ORCA")}
    executor = _SignedCallsFail(SimExchange(instruments), instruments, lambda: T0)
    journal = Journal.open(settings.journal.url)
    engine = Engine(settings, feed=_NoSymbols(), executor=executor, journal=journal, strategies={},
                    risk_files=RiskFiles.from_halt_file(tmp_path / "HALT"))
    engine.run_id = journal.start_run(engine.mode, settings.config_hash(), "test")
    try:
        for _ in range(15):
            assert await engine.safe_cycle() is None
        journal.flush()
    finally:
        journal.close()
    assert (FAILURES_ESCALATE_AFTER, FAILURES_ESCALATE_EVERY) == (5, 10)
    assert engine.consecutive_failures == 15
    with JournalReader(settings.journal.url) as reader:
        failing = reader.events(kind="cycles_failing")
    assert [e.severity for e in failing] == ["error", "error"]
    assert sorted(e.message.split(" ")[0] for e in failing) == ["15", "5"]
    assert "InvalidNonce" in failing[0].message


class _NoSymbols:
    async def snapshots(self, now: int) -> dict[str, Any]:
        return {}
