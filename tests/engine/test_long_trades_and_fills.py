"""Accounting through the real ccxt client against the emulator (issue 11, part 2 item 9, in part):

* a trade held 9 days whose take-profit fills on day 9: Binance's userTrades answers at most 7
  days per query (USDⓈ-M "Account Trade List"; ccxt caps an old ``since`` at since + 7 days), so
  the bot must page to find the exit fill. Expected values are the venue's own records (the
  emulator's user trades): reason ``take_profit``, the take-profit fill's price, and fees = the
  entry fill's commission + the exit fill's commission;
* fills are journaled once: an entry and a scripted market exit make two venue trades, and the
  journal holds exactly those two (by the venue's trade id), not the exit again when the vanished
  position is attributed.

BTCUSDT from 2025-03-18: it stays within +-10% for these 9 days of the bundled sample, so a 30%
stop and a 30% take-profit rest until the test moves the price itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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

SYM = "BTCUSDT"
T0 = to_ms("2025-03-18T06:00:00Z")
DAY = 24 * MS_PER_HOUR


async def _engine(tmp_path: Path, emu: helpers.Emulator, strategy: Scripted) -> tuple[Engine, Any, Journal]:
    settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet")
    settings.universe.symbols = [SYM]
    cfg = settings.strategies["scripted"]
    cfg.stop_loss_pct, cfg.take_profit_pct = strategy.stop_pct, strategy.tp_pct
    client = connect(settings)
    client.enableRateLimit = False
    executor = ExchangeExecutor(connect(settings), backoff_s=0.01, max_attempts=2)
    executor.client.enableRateLimit = False
    journal = Journal.open(settings.journal.url)
    engine = Engine(settings, feed=LiveFeed(LiveSource(client, settings, budget=RequestBudget(10_000_000))),
                    executor=executor, journal=journal, strategies={"scripted": strategy},
                    risk_files=RiskFiles.from_halt_file(tmp_path / "HALT"))
    await engine.start()
    return engine, client, journal


async def _run(tmp_path: Path, sample_dir: Path, strategy: Scripted, script: Any) -> list[Any]:
    """Start emulator and engine, run ``script(engine, emu)``, shut down; the venue's fills."""
    emu = await helpers.start(MarketStore.load(sample_dir, symbols=[SYM]), T0, [SYM], max_weight=10_000_000)
    engine, client, journal = await _engine(tmp_path, emu, strategy)
    try:
        await script(engine, emu)
        await engine.shutdown("completed")
        return list(emu.state.exchange.user_trades(SYM))
    finally:
        await client.close()
        journal.close()
        await emu.close()
        await engine.executor.client.close()


async def test_take_profit_filled_on_day_9_is_booked_at_its_fill(tmp_path: Path, sample_dir: Path) -> None:
    strategy = Scripted({SYM: (T0, IntentKind.ENTER_LONG)}, stop_pct=0.30, tp_pct=0.30, leverage=1.0)

    async def script(engine: Engine, emu: helpers.Emulator) -> None:
        await engine.safe_cycle()  # enters long, stop -30%, take-profit +30%
        strategy.held.add(SYM)  # one entry only: no re-entry once the position is gone
        pos = emu.state.exchange.position(SYM)
        assert pos is not None
        await emu.set_time(T0 + 9 * DAY)
        assert emu.state.exchange.position(SYM) is not None, "the sample must not reach stop or take-profit"
        top = round(pos.entry_price * 1.35, 1)
        await emu.control("price", {"symbol": SYM, "last": top, "mark": top})  # the take-profit fills
        assert emu.state.exchange.position(SYM) is None
        await engine.safe_cycle()  # the position is gone: attribute the exit

    venue = await _run(tmp_path, sample_dir, strategy, script)
    entry, exit_fill = venue  # the venue's two trades: hand-checked order (buy, then the sell)
    assert exit_fill.ts_ms - entry.ts_ms > 7 * DAY
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        (trade,) = reader.trades()
        fills = reader.fills(trade_id=trade.id)
    assert trade.exit_reason == "take_profit"
    assert float(trade.exit_price) == pytest.approx(exit_fill.price)
    assert float(trade.fees) == pytest.approx(entry.fee + exit_fill.fee)
    assert sorted(f.exchange_trade_id for f in fills) == sorted(str(f.trade_id) for f in venue)


async def test_entry_and_market_exit_are_journaled_once(tmp_path: Path, sample_dir: Path) -> None:
    strategy = Scripted({SYM: (T0, IntentKind.ENTER_LONG)}, stop_pct=0.30, tp_pct=0.30, leverage=1.0,
                        exits={SYM: T0 + 2 * MS_PER_HOUR})

    async def script(engine: Engine, emu: helpers.Emulator) -> None:
        await engine.safe_cycle()  # entry
        strategy.held.add(SYM)  # one entry only: no re-entry once the position is gone
        await emu.set_time(T0 + 2 * MS_PER_HOUR)
        await engine.safe_cycle()  # the scripted market exit, attributed as the position is gone
        assert emu.state.exchange.position(SYM) is None
        await emu.set_time(T0 + 3 * MS_PER_HOUR)
        await engine.safe_cycle()  # and a quiet cycle after it

    venue = await _run(tmp_path, sample_dir, strategy, script)
    assert len(venue) == 2  # one entry fill, one exit fill on the venue
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        (trade,) = reader.trades()
        fills = reader.fills()
    assert trade.exit_ts is not None
    assert sorted(f.exchange_trade_id for f in fills) == sorted(str(f.trade_id) for f in venue)
    assert float(trade.fees) == pytest.approx(sum(f.fee for f in venue))


def test_a_fill_journaled_before_a_restart_is_not_journaled_again(tmp_path: Path) -> None:
    """The run after a crash sees the exit's venue fill again (attribution of the vanished
    position): the journal knows it holds that fill for the trade, by symbol + venue trade id."""
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    fill = {"ts": T0, "symbol": SYM, "side": "sell", "price": 84000, "quantity": 0.003, "fee": 0.126,
            "fee_asset": "USDT", "is_maker": False}
    with Journal.open(url) as journal:
        journal.start_run("testnet", "cfg", "test")
        trade = journal.record_trade_open(symbol=SYM, side="long", strategy="scripted", entry_ts=T0,
                                          entry_price=83000, quantity=0.003, leverage=1, margin_mode="isolated")
        order = journal.record_order(client_order_id="x1", ts=T0, symbol=SYM, type="market", side="sell",
                                     quantity=0.003, trade_id=trade)
        assert journal.record_fill(order, once=True, exchange_trade_id=7, trade_id=trade, **fill) is not None
        assert journal.record_fill(order, once=True, exchange_trade_id=7, trade_id=trade, **fill) is None  # same run
    with Journal.open(url) as journal:  # the restarted process
        journal.start_run("testnet", "cfg", "test")
        assert journal.record_fill(order, once=True, exchange_trade_id="7", trade_id=trade, **fill) is None
        assert journal.record_fill(order, once=True, exchange_trade_id=8, trade_id=trade, **fill) is not None
    with JournalReader(url) as reader:
        assert sorted(f.exchange_trade_id for f in reader.fills(trade_id=trade)) == ["7", "8"]
