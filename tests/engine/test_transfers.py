"""Issue 11, item 5: transfers are cash flows, not losses.

Through the real ccxt client against the emulator: a position is open, the user moves 8% of the
wallet to spot (``POST /_sim/transfer``, a ``TRANSFER`` income row as on Binance), and the next
cycles neither halt on drawdown nor flatten; the transfer is journaled once as ``cash_flow``.
``max_drawdown`` is 6% here so that the 8% transfer alone would trip it (the daily-loss limit of
3% would also read it as a loss): on the code before the fix this test halts and flattens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import RiskSettings
from bot.core.enums import IntentKind, RiskState
from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.data.store import MarketStore
from bot.engine import Engine
from bot.exchange.connect import connect
from bot.execution.exchange import ExchangeExecutor
from bot.journal import Journal
from bot.journal.reader import JournalReader
from bot.market.budget import RequestBudget
from bot.market.live import LiveSource
from bot.risk.breakers import BreakerState, CircuitBreaker
from bot.risk.files import RiskFiles
from bot.trading.feed import LiveFeed
from tests.engine import helpers
from tests.engine.scripted import Scripted

SYMBOL = "ORCAUSDT"
T0 = to_ms("2025-03-19T05:00:00Z")
SHARE = 0.08  # of the wallet, moved to spot


def _engine(settings: Any, files: RiskFiles, journal: Journal) -> tuple[Engine, Any, ExchangeExecutor]:
    client = connect(settings)
    client.enableRateLimit = False
    executor = ExchangeExecutor(connect(settings))
    executor.client.enableRateLimit = False
    engine = Engine(settings, feed=LiveFeed(LiveSource(client, settings, budget=RequestBudget(10_000_000))),
                    executor=executor, journal=journal, risk_files=files,
                    strategies={"scripted": Scripted({SYMBOL: (T0, IntentKind.ENTER_LONG)}, tp_pct=None)})
    return engine, client, executor


async def test_moving_8pct_to_spot_is_a_cash_flow_not_a_drawdown(tmp_path: Path, sample_dir: Path) -> None:
    store = MarketStore.load(sample_dir, symbols=[SYMBOL])
    emu = await helpers.start(store, T0, [SYMBOL], max_weight=10_000_000)
    settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet", max_drawdown=0.06)
    settings.universe.symbols = [SYMBOL]
    files = RiskFiles.from_halt_file(tmp_path / "HALT")
    journal = Journal.open(settings.journal.url)
    engine, client, executor = _engine(settings, files, journal)
    sim = emu.state.exchange
    try:
        await engine.start()
        await engine.cycle(await executor.now_ms())
        assert sim.position(SYMBOL) is not None
        peak_before = engine.breaker.data.peak_equity
        amount = -round(SHARE * sim.balance().wallet, 2)
        await emu.control("transfer", {"asset": "USDT", "amount": amount})
        for hour in (0, 0, 1, 2):  # two cycles at the transfer's own time: read twice, applied once
            await emu.set_time(T0 + hour * MS_PER_HOUR)
            await engine.cycle(await executor.now_ms())
            equity = sim.balance().margin_balance
            assert engine.breaker.state is RiskState.ACTIVE, engine.breaker.data.halt_numbers
            assert sim.position(SYMBOL) is not None  # not flattened
        # Hand-worked: the peak moves down by the transfer; only a new high can lift it again.
        assert engine.breaker.data.peak_equity == pytest.approx(max(peak_before + amount, equity), abs=1e-6)
        assert not engine.breaker.data.halted
        journal.flush()
        with JournalReader(settings.journal.url) as reader:
            [event] = reader.events(kind="cash_flow")
        assert event.data["amount"] == pytest.approx(amount)
        assert event.data["asset"] == "USDT"

        # Restart: a transfer made while the bot is down is found from the saved breaker state.
        await engine.shutdown("test")
        await client.close()
        restored, _ = CircuitBreaker.restore(settings.risk, files)
        peak_saved = restored.data.peak_equity
        second = -round(SHARE * sim.balance().available, 2)
        await emu.set_time(T0 + 3 * MS_PER_HOUR)
        await emu.control("transfer", {"amount": second})
        engine, client, executor = _engine(settings, files, journal)
        await engine.start()
        await emu.set_time(T0 + 4 * MS_PER_HOUR)
        await engine.cycle(await executor.now_ms())
        assert engine.breaker.state is RiskState.ACTIVE, engine.breaker.data.halt_numbers
        assert sim.position(SYMBOL) is not None
        equity = sim.balance().margin_balance
        assert engine.breaker.data.peak_equity == pytest.approx(max(peak_saved + second, equity), abs=1e-6)
        await engine.shutdown("test")
    finally:
        await client.close()
        journal.close()
        await emu.close()
    with JournalReader(settings.journal.url) as reader:
        amounts = sorted(e.data["amount"] for e in reader.events(kind="cash_flow"))
    assert amounts == pytest.approx(sorted([amount, second]))  # each transfer once, none twice


def test_breaker_cash_flow_arithmetic_hand_worked(tmp_path: Path) -> None:
    """Peak and day start 10,000; 800 to spot; equity then 9,150.

    With the cash flow: drawdown = daily loss = (9,200 - 9,150) / 9,200 = 0.54% -> ACTIVE.
    Without it: (10,000 - 9,150) / 10,000 = 8.5% -> daily loss (3%) REDUCING.
    """
    files = RiskFiles.from_halt_file(tmp_path / "HALT")
    t = to_ms("2025-03-19T05:00:00Z")
    breaker = CircuitBreaker(RiskSettings(), files)
    breaker.update(t, 10_000.0)
    assert breaker.record_transfer("7", -800.0) is True
    assert (breaker.data.peak_equity, breaker.data.day_start_equity) == (9_200.0, 9_200.0)
    assert breaker.record_transfer("7", -800.0) is False  # the same tranId read again: once only
    assert breaker.data.peak_equity == 9_200.0
    assert breaker.update(t + MS_PER_HOUR, 9_150.0) == []
    assert breaker.state is RiskState.ACTIVE
    assert (9_200.0 - 9_150.0) / breaker.data.peak_equity == pytest.approx(0.0054348, rel=1e-4)
    breaker.record_cash_flow(float("nan"))  # ignored, not a NaN baseline
    assert breaker.data.peak_equity == 9_200.0
    restored = CircuitBreaker(RiskSettings(), files, BreakerState.from_dict(breaker.data.to_dict()))
    assert restored.record_transfer("7", -800.0) is False  # a restart does not apply it twice

    plain = CircuitBreaker(RiskSettings(), files)  # the same equities with no cash flow recorded
    plain.update(t, 10_000.0)
    plain.update(t + MS_PER_HOUR, 9_150.0)
    assert plain.state is RiskState.REDUCING
