"""A USDC-margined position held by hand in the account the bot trades (issue 11, Part 2 item 6).

The emulator lists BTCUSDC (USDC-margined, priced from the BTCUSDT series, margined from a USDC
wallet); a second ccxt client (the user) opens a real BTC/USDC:USDC long, holds it through the
08:00 funding settlement and closes it after a 5% drop. Meanwhile the bot trades ORCAUSDT. It must
ignore the USDC position (one warning), keep trading, and none of the USDC position's P&L, fees
or funding may reach its journal or its circuit breaker: Binance's ``total*`` account figures,
which the breaker watches, are "only for USDT asset" (USDⓈ-M "Account Information V3").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from loguru import logger

from bot.core.enums import IntentKind
from bot.core.timeutil import MS_PER_HOUR, to_ms
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

T0 = to_ms("2025-03-18T06:00:00Z")
USDC_BTC = "BTC/USDC:USDC"


async def test_the_bot_trades_usdt_and_the_usdc_position_never_reaches_journal_or_breaker(
        tmp_path: Path, sample_dir: Path) -> None:
    store = MarketStore.load(sample_dir, symbols=["ORCAUSDT", "BTCUSDT"])
    emu = await helpers.start(store, T0, ["ORCAUSDT", "BTCUSDT"], max_weight=10_000_000,
                              usdc_variants=("BTCUSDT",), usdc_balance=5_000.0)
    settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet")
    settings.universe.symbols = ["ORCAUSDT"]
    user = connect(settings)
    user.enableRateLimit = False
    feed_client = connect(settings)
    feed_client.enableRateLimit = False
    executor = ExchangeExecutor(connect(settings), backoff_s=0.01, max_attempts=2)
    executor.client.enableRateLimit = False
    journal = Journal.open(settings.journal.url)
    strategy = Scripted({"ORCAUSDT": (T0, IntentKind.ENTER_LONG)}, stop_pct=0.30, tp_pct=None, leverage=1.0)
    engine = Engine(settings, feed=LiveFeed(LiveSource(feed_client, settings, budget=RequestBudget(10_000_000))),
                    executor=executor, journal=journal, strategies={"scripted": strategy},
                    risk_files=RiskFiles.from_halt_file(tmp_path / "HALT"))
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING")
    try:
        await user.create_order(USDC_BTC, "market", "buy", 0.5)  # ~41,500 USDC of BTC at 20x
        await engine.start()
        reports = [await engine.safe_cycle()]  # 06:00: the bot enters ORCAUSDT
        await emu.set_time(T0 + 2 * MS_PER_HOUR)  # 08:00: BTC funding settles on the USDC position too
        reports.append(await engine.safe_cycle())
        pos = emu.state.exchange.position("BTCUSDC")
        low = round(pos.mark_price * 0.95, 1)
        await emu.control("price", {"symbol": "BTCUSDC", "last": low, "mark": low})
        await user.create_order(USDC_BTC, "market", "sell", 0.5)  # closed at a loss of ~5%
        await emu.set_time(T0 + 3 * MS_PER_HOUR)
        reports.append(await engine.safe_cycle())
        await engine.shutdown("completed")
        usdc_rows = emu.state.exchange.income("BTCUSDC")
        usdt_wallet = emu.state.exchange.balance().wallet
    finally:
        logger.remove(sink)
        await user.close()
        await feed_client.close()
        journal.close()
        await executor.client.close()
        await emu.close()
    usdc_pnl = sum(r.amount for r in usdc_rows)
    assert {r.asset for r in usdc_rows} == {"USDC"}
    assert {r.income_type.value for r in usdc_rows} >= {"REALIZED_PNL", "COMMISSION", "FUNDING_FEE"}
    assert usdc_pnl < -1_000, "the scenario must give the USDC position a loss the breaker would see"
    assert all(r is not None for r in reports) and sum(r.entries for r in reports) == 1
    assert len([w for w in warnings if USDC_BTC in w]) == 1
    with JournalReader(settings.journal.url) as reader:
        symbols = {t.symbol for t in reader.trades()} | {f.symbol for f in reader.fills()} | {
            f.symbol for f in reader.funding()}
    assert symbols == {"ORCAUSDT"}
    breaker = engine.breaker.data
    assert breaker.state.value == "active" and breaker.consecutive_losses == 0 and not breaker.cash_flow_ids
    # the equity the breaker last saw is the USDT wallet's (plus ORCA's open P&L), untouched by USDC
    assert breaker.last_equity == pytest.approx(usdt_wallet, abs=10.0)
    assert breaker.peak_equity - breaker.last_equity < 10.0
