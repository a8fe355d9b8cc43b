"""Funding accounting across restarts and exits (issue 11, Part 2 item 9), through the real ccxt
client against the emulator:

* funding settled while the bot was down is booked when it starts again, on the trade, once
  (a further restart books it no second time);
* a trade that exited while the bot was down is closed by the reconciliation with its funding;
* the settlement just before a stop-out belongs to the trade the stop closed.

Expected amounts are hand-worked with Binance's formula, funding = position notional x rate,
notional = quantity x mark price at the settlement, paid by longs when the rate is positive
("Introduction to Binance Futures Funding Rates"). The numbers come from the bundled sample
(bot/data/sample, BTCUSDT): the 2025-03-18 08:00 settlement has rate 0.00002059
(``BTC_USDT_USDT-1h-funding_rate.feather``, ``open`` of that row), and the sample keeps no mark
with it, so the venue settles at the mark of the bar that closed at 08:00: 83124.8 (the
``close`` of the 07:00 row of ``BTC_USDT_USDT-1h-mark.feather``). The quantity is the
position's, read from the venue. Binance states income amounts with 8 decimals (``"income":
"-0.00684616"``), so the expected amount is rounded to 8 places.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.enums import IntentKind
from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from bot.journal import Journal
from bot.journal.reader import JournalReader
from tests.engine import helpers
from tests.engine.restart import open_engine
from tests.engine.scripted import Scripted

SYM = "BTCUSDT"
T0 = to_ms("2025-03-18T06:00:00Z")
SETTLED = to_ms("2025-03-18T08:00:00Z")
RATE = 0.00002059
MARK = 83124.8


def _strategy() -> Scripted:
    """Long at T0 with a 30% stop and take-profit: the sample stays well inside both."""
    return Scripted({SYM: (T0, IntentKind.ENTER_LONG)}, stop_pct=0.30, tp_pct=0.30, leverage=1.0)


def _funding(quantity: float) -> float:
    """What a long of ``quantity`` receives at the 08:00 settlement: -(quantity x mark x rate), as
    the venue states it (8 decimals)."""
    return round(-(quantity * MARK * RATE), 8)


async def _emulator(sample_dir: Path) -> helpers.Emulator:
    return await helpers.start(MarketStore.load(sample_dir, symbols=[SYM]), T0, [SYM], max_weight=10_000_000)


async def _enter(tmp_path: Path, emu: helpers.Emulator, strategy: Scripted) -> float:
    """A first process enters long and stops; returns the position's quantity."""
    bot = await open_engine(tmp_path, emu, SYM, strategy)
    try:
        await bot.engine.safe_cycle()
        strategy.held.add(SYM)  # one entry only
        pos = emu.state.exchange.position(SYM)
        assert pos is not None
        return abs(pos.quantity)
    finally:
        await bot.stop()


def _url(tmp_path: Path) -> str:
    return helpers.engine_settings(tmp_path).journal.url


async def test_funding_paid_while_down_is_booked_on_start_once(tmp_path: Path, sample_dir: Path) -> None:
    emu = await _emulator(sample_dir)
    try:
        strategy = _strategy()
        quantity = await _enter(tmp_path, emu, strategy)
        await emu.set_time(SETTLED + 3_600_000)  # down over the 08:00 settlement, the position held
        expected = _funding(quantity)
        assert expected < 0  # a long pays a positive rate

        bot = await open_engine(tmp_path, emu, SYM, strategy)
        try:
            trade = bot.engine.book.get(SYM)
            assert trade is not None and trade.funding == pytest.approx(expected, abs=1e-12)
            await bot.engine.safe_cycle()
        finally:
            await bot.stop()
        bot = await open_engine(tmp_path, emu, SYM, strategy)  # a second restart: nothing booked twice
        try:
            await bot.engine.safe_cycle()
            trade = bot.engine.book.get(SYM)
            assert trade is not None and trade.funding == pytest.approx(expected, abs=1e-12)
        finally:
            await bot.stop()
    finally:
        await emu.close()
    with JournalReader(_url(tmp_path)) as reader:
        (view,) = reader.trades()
        rows = reader.funding()
    assert [(r.trade_id, r.ts.isoformat(), float(r.amount)) for r in rows] == [
        (view.id, "2025-03-18T08:00:00+00:00", pytest.approx(expected, abs=1e-12))]
    assert rows[0].income_id is not None


async def test_trade_closed_while_down_keeps_its_funding(tmp_path: Path, sample_dir: Path) -> None:
    emu = await _emulator(sample_dir)
    try:
        strategy = _strategy()
        quantity = await _enter(tmp_path, emu, strategy)
        await emu.set_time(SETTLED + 30 * 60_000)  # 08:30: the 08:00 settlement paid
        pos = emu.state.exchange.position(SYM)
        assert pos is not None
        top = round(pos.entry_price * 1.35, 1)
        await emu.control("price", {"symbol": SYM, "last": top, "mark": top})  # the take-profit fills
        assert emu.state.exchange.position(SYM) is None

        bot = await open_engine(tmp_path, emu, SYM, strategy)  # the reconciliation closes the trade
        await bot.stop()
    finally:
        await emu.close()
    with JournalReader(_url(tmp_path)) as reader:
        (trade,) = reader.trades()
        rows = reader.funding(trade_id=trade.id)
    assert trade.exit_reason == "take_profit"
    assert float(trade.funding) == pytest.approx(_funding(quantity), abs=1e-12)
    assert [float(r.amount) for r in rows] == [pytest.approx(_funding(quantity), abs=1e-12)]


async def test_funding_settled_just_before_a_stop_out_belongs_to_the_trade(tmp_path: Path,
                                                                           sample_dir: Path) -> None:
    emu = await _emulator(sample_dir)
    strategy = _strategy()
    bot = await open_engine(tmp_path, emu, SYM, strategy)
    try:
        await bot.engine.safe_cycle()  # enters long
        strategy.held.add(SYM)
        pos = emu.state.exchange.position(SYM)
        assert pos is not None
        quantity = abs(pos.quantity)
        await emu.set_time(SETTLED + 30_000)  # 08:00:30, the 08:00 settlement paid
        low = round(pos.entry_price * 0.6, 1)
        await emu.control("price", {"symbol": SYM, "last": low, "mark": low})  # the stop fills
        assert emu.state.exchange.position(SYM) is None
        await bot.engine.safe_cycle()  # the position is gone: the trade closes
        (closed,) = bot.engine.closed_trades
        assert closed["reason"] == "stop_loss"
        assert closed["funding"] == pytest.approx(_funding(quantity), abs=1e-12)
        assert closed["net"] == pytest.approx(closed["pnl"] - closed["fees"] + _funding(quantity), abs=1e-12)
    finally:
        await bot.stop()
        await emu.close()
    with JournalReader(_url(tmp_path)) as reader:
        (trade,) = reader.trades()
        rows = reader.funding()
    assert float(trade.funding) == pytest.approx(_funding(quantity), abs=1e-12)
    assert [(r.trade_id, float(r.amount)) for r in rows] == [(trade.id, pytest.approx(_funding(quantity), abs=1e-12))]


def test_the_journal_knows_a_booked_settlement_after_a_restart(tmp_path: Path) -> None:
    """By income id once the id is kept; a row journaled before that (no id) by symbol and time,
    which name one settlement of a one-way-mode account."""
    url = _url(tmp_path)
    row = {"symbol": SYM, "rate": RATE, "amount": -0.00684616}
    with Journal.open(url) as journal:
        journal.start_run("testnet", "cfg", "test")
        journal.record_funding(ts=SETTLED, income_id=7001, **row)
        journal.record_funding(ts=SETTLED + 8 * 3_600_000, **row)  # an old row without its id
        assert journal.funding_journaled("7001", SYM, SETTLED)
    with Journal.open(url) as journal:  # the restarted process reads the database
        assert journal.funding_journaled(7001, SYM, SETTLED)
        assert journal.funding_journaled("7002", SYM, SETTLED + 8 * 3_600_000)  # the id-less row
        assert not journal.funding_journaled("7003", SYM, SETTLED + 16 * 3_600_000)
        assert not journal.funding_journaled("7004", "ETHUSDT", SETTLED)  # same time, another symbol
