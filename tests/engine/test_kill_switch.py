"""`derivbot halt` (the halt file): the running bot flattens within one cycle, then stops; the
exit is journaled as a halt and the breaker stays HALTED across a restart until a reset."""

from __future__ import annotations

from pathlib import Path

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
from bot.risk.breakers import CircuitBreaker
from bot.risk.files import RiskFiles
from bot.trading.feed import LiveFeed
from tests.engine import helpers
from tests.engine.scripted import Scripted

SYMBOL = "ORCAUSDT"
T0 = to_ms("2025-03-19T05:00:00Z")


async def test_halt_file_flattens_then_stops(tmp_path: Path, sample_dir: Path) -> None:
    store = MarketStore.load(sample_dir, symbols=[SYMBOL])
    emu = await helpers.start(store, T0, [SYMBOL], max_weight=10_000_000)
    settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet")
    settings.universe.symbols = [SYMBOL]
    files = RiskFiles.from_halt_file(tmp_path / "HALT")
    client = connect(settings)
    client.enableRateLimit = False
    executor = ExchangeExecutor(connect(settings))
    executor.client.enableRateLimit = False
    journal = Journal.open(settings.journal.url)
    engine = Engine(settings, feed=LiveFeed(LiveSource(client, settings, budget=RequestBudget(10_000_000))),
                    executor=executor, journal=journal, risk_files=files,
                    strategies={"scripted": Scripted({SYMBOL: (T0, IntentKind.ENTER_LONG)}, tp_pct=None)})
    sim = emu.state.exchange
    try:
        await engine.start()
        await engine.cycle(await executor.now_ms())
        assert sim.position(SYMBOL) is not None
        files.write_halt("test", "operator pressed the kill switch")
        await emu.set_time(T0 + MS_PER_HOUR)
        await engine.cycle(await executor.now_ms())  # one cycle: flatten
        assert sim.position(SYMBOL) is None
        assert engine.breaker.state is RiskState.HALTED
        await engine.cycle(await executor.now_ms())  # the trade's exit is attributed, nothing re-enters
        assert engine._stop_reason == "kill_switch"
        assert not [o for o in sim.open_orders(SYMBOL) if o.status.value == "new"]
        await engine.shutdown("kill_switch")
    finally:
        await client.close()
        journal.close()
        await emu.close()
    with JournalReader(settings.journal.url) as reader:
        [trade] = reader.trades()
        assert trade.exit_reason == "halt"
        assert reader.events(kind="risk_state")
        assert reader.runs()[0].exit_reason == "kill_switch"
    restored, _ = CircuitBreaker.restore(settings.risk, files)
    assert restored.state is RiskState.HALTED and not restored.allows_entries
