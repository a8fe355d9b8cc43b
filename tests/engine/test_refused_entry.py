"""An entry the venue refuses is not sent again for the same intent (issue 11, "one intent, one
entry"), through the real ccxt client against the emulator.

Binance refuses a market buy whose counterparty price lies above the mark price times the
PERCENT_PRICE ``multiplierUp`` (1.05 here): with last 2.0 and mark 1.8, a buy fills at >= 2.0 >
1.8 * 1.05 = 1.89, so it answers -4131. A live bot cycles every minute on hourly bars, so the same
intent (same bar) comes back next cycle; resending it would reuse the client id, and the second
journal order row with that id used to make the journal flush raise and stop the loop.
"""

from __future__ import annotations

from pathlib import Path

from bot.core.enums import IntentKind
from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from bot.engine import Engine
from bot.exchange.connect import connect
from bot.execution.exchange import ExchangeExecutor
from bot.journal import Journal
from bot.journal.reader import JournalReader
from bot.market.budget import RequestBudget
from bot.market.live import LiveSource
from bot.risk.files import RiskFiles
from bot.trading.feed import LiveFeed
from tests.engine import helpers
from tests.engine.scripted import Scripted

SYM = "ORCAUSDT"
T0 = to_ms("2025-03-18T06:00:00Z")


async def test_a_refused_entry_is_not_resent_while_its_bar_lasts(tmp_path: Path, sample_dir: Path) -> None:
    store = MarketStore.load(sample_dir, symbols=[SYM])
    emu = await helpers.start(store, T0, [SYM], max_weight=10_000_000)
    settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet")
    settings.universe.symbols = [SYM]
    client = connect(settings)
    client.enableRateLimit = False
    executor = ExchangeExecutor(connect(settings), backoff_s=0.01)
    executor.client.enableRateLimit = False
    journal = Journal.open(settings.journal.url)
    engine = Engine(settings, feed=LiveFeed(LiveSource(client, settings, budget=RequestBudget(10_000_000))),
                    executor=executor, journal=journal,
                    strategies={"scripted": Scripted({SYM: (T0, IntentKind.ENTER_LONG)})},
                    risk_files=RiskFiles.from_halt_file(tmp_path / "HALT"))
    sim = emu.state.exchange
    try:
        await engine.start()
        await emu.control("price", {"symbol": SYM, "last": 2.0, "mark": 1.8})
        reports = [await engine.safe_cycle() for _ in range(3)]  # three cycles on the same bar
        await engine.shutdown("completed")
    finally:
        await client.close()
        journal.close()
        await emu.close()
    assert all(r is not None for r in reports), "the loop went on"
    assert sim.all_orders(SYM, conditional=False) == [] and sim.position(SYM) is None
    with JournalReader(settings.journal.url) as reader:
        entries = [o for o in reader.orders() if o.purpose == "entry"]
        refused = reader.events(kind="entry_not_placed")
    assert [o.status for o in entries] == ["rejected"], "sent once, refused once"
    assert len(refused) == 1 and "-4131" in refused[0].message
