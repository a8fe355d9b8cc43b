"""Order-path accounting checked against numbers worked out by hand (issue 17), through the real
ccxt client against the emulator.

The engine-level comparisons elsewhere (backtest vs emulator) run both sides through the same
engine, so an accounting error shows up in both and they agree. Here every expected number is
computed in the test from the venue's own records (its fills, as ``GET /fapi/v1/userTrades`` lists
them) and Binance's published rules, never from the engine's code:

* fee of a fill = price x quantity x taker rate; the emulator charges Binance's VIP 0 USDⓈ-M
  taker rate, 0.05% (``EmulatorConfig.taker_fee``), and both the entry and the exit are market
  orders, so a round trip pays 0.0005 x (entry notional + exit notional);
* price P&L of a long = quantity x (exit price - entry price);
* funding = -(quantity x mark x rate) for a long (longs pay a positive rate; "Introduction to
  Binance Futures Funding Rates"), stated with 8 decimals as Binance's income rows do. The
  2025-03-18 08:00 BTCUSDT settlement of the bundled sample has rate 0.00002059 and settles at
  the mark 83124.8 (see tests/engine/test_funding_accounting.py for where both come from);
* net P&L = price P&L - every fee + funding.

Also here: the consecutive-loss breaker (``max_consecutive_losses`` losing trades in a row pause
new entries) and the stop-out cooldown (``cooldown_after_stop_minutes``), with a cooldown that is
not 0 as in every other engine test.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.core.enums import IntentKind, OrderSide, RiskState
from bot.core.intents import Intent, PortfolioView
from bot.core.timeutil import MS_PER_HOUR, MS_PER_MINUTE, to_ms
from bot.data.store import MarketStore
from bot.journal.reader import JournalReader
from bot.market.snapshot import Snapshot
from tests.engine import helpers

BTC, ORCA = "BTCUSDT", "ORCAUSDT"
T0 = to_ms("2025-03-18T06:00:00Z")
SETTLED = to_ms("2025-03-18T08:00:00Z")
RATE, MARK = 0.00002059, 83124.8
TAKER = 0.0005  # Binance VIP 0 USDⓈ-M taker fee, what the emulator charges


class EnterAndExit:
    """Enters long whenever flat and allowed (one intent per bar: the bar's time is its key), exits
    the whole position when told. Duck-typed like ``strategies.base.Strategy``."""

    name = "scripted"

    def __init__(self, *, stop_pct: float = 0.05, tp_pct: float | None = None, leverage: float = 3.0) -> None:
        self.stop_pct, self.tp_pct, self.leverage = stop_pct, tp_pct, leverage
        self.enter = True
        self.exit_now = False

    def decide(self, history: Sequence[Snapshot], portfolio: PortfolioView) -> list[Intent]:
        snap = history[-1]
        if portfolio.position(snap.symbol) is not None:
            if self.exit_now:
                return [Intent(IntentKind.EXIT, snap.symbol, self.name, snap.ts, 1.0, {"exit": "scripted"})]
            return []
        if not self.enter:
            return []
        return [Intent(IntentKind.ENTER_LONG, snap.symbol, self.name, snap.ts, 1.0, {},
                       stop_loss_pct=self.stop_pct, take_profit_pct=self.tp_pct, leverage=self.leverage)]


async def _emulator(sample_dir: Path, symbol: str) -> helpers.Emulator:
    return await helpers.start(MarketStore.load(sample_dir, symbols=[symbol]), T0, [symbol], max_weight=10_000_000)


async def _move(emu: helpers.Emulator, symbol: str, factor: float) -> float:
    """Move ``symbol``'s last and mark price by ``factor`` (ORCA's tick is 0.0001); returns it."""
    price = round(emu.state.exchange._state_or_raise(symbol).mark * factor, 4)
    await emu.control("price", {"symbol": symbol, "last": price, "mark": price})
    return price


async def test_a_held_trade_books_entry_and_exit_fees_and_one_funding_and_exits_whole(
        tmp_path: Path, sample_dir: Path) -> None:
    emu = await _emulator(sample_dir, BTC)
    strategy = EnterAndExit(stop_pct=0.30, tp_pct=0.30, leverage=1.0)  # the sample stays inside both
    bot = await helpers.build_engine(tmp_path, emu, [BTC], strategy)
    sim = emu.state.exchange
    try:
        await bot.engine.safe_cycle()  # 06:00: enters long
        strategy.enter = False
        pos = sim.position(BTC)
        assert pos is not None
        qty = abs(pos.quantity)
        for t in (SETTLED + 60_000, SETTLED + 30 * MS_PER_MINUTE, SETTLED + MS_PER_HOUR):
            await emu.set_time(t)  # three cycles after the 08:00 settlement: it is read three times
            assert await bot.engine.safe_cycle() is not None
        trade = bot.engine.book.get(BTC)
        funding = round(-(qty * MARK * RATE), 8)  # a long pays a positive rate
        assert funding < 0
        assert trade is not None and trade.funding == pytest.approx(funding, abs=1e-12)

        strategy.exit_now = True
        await emu.set_time(SETTLED + 2 * MS_PER_HOUR)
        await bot.engine.safe_cycle()  # the signal exit: a market sell of the whole position
        assert sim.position(BTC) is None, "a signal exit must close the whole position"
        (closed,) = bot.engine.closed_trades
    finally:
        await bot.stop()
        await emu.close()

    (buy,) = [f for f in sim.user_trades(BTC) if f.side is OrderSide.BUY]
    sells = [f for f in sim.user_trades(BTC) if f.side is OrderSide.SELL]
    assert sum(f.quantity for f in sells) == pytest.approx(qty)
    entry_fee = buy.price * buy.quantity * TAKER
    exit_fee = sum(f.price * f.quantity for f in sells) * TAKER
    exit_price = sum(f.price * f.quantity for f in sells) / qty
    pnl = qty * (exit_price - buy.price)
    assert closed["reason"] == "signal"
    assert closed["quantity"] == pytest.approx(qty)
    assert closed["fees"] == pytest.approx(entry_fee + exit_fee, rel=1e-9)
    assert closed["funding"] == pytest.approx(funding, abs=1e-12)
    assert closed["pnl"] == pytest.approx(pnl, abs=1e-6)
    assert closed["net"] == pytest.approx(pnl - entry_fee - exit_fee + funding, abs=1e-6)
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        (row,) = reader.trades()
        booked = reader.funding()
    assert float(row.fees) == pytest.approx(entry_fee + exit_fee, rel=1e-9)
    assert float(row.funding) == pytest.approx(funding, abs=1e-12)
    assert [float(r.amount) for r in booked] == [pytest.approx(funding, abs=1e-12)], "one settlement, one row"


async def _losing_round_trip(emu: helpers.Emulator, bot: helpers.EngineParts, strategy: EnterAndExit,
                             bar: int) -> None:
    """At ``bar`` enter long; then the price falls 3% (inside the 5% stop) and the strategy exits
    at market: a loss of about 3% of the notional plus both fees, whatever the bar's price."""
    await emu.set_time(bar)
    strategy.enter, strategy.exit_now = True, False
    report = await bot.engine.safe_cycle()
    assert report is not None and report.entries == 1
    await _move(emu, ORCA, 0.97)
    strategy.enter, strategy.exit_now = False, True
    report = await bot.engine.safe_cycle()
    assert report is not None and report.exits == 1


async def test_two_losing_trades_in_a_row_pause_new_entries(tmp_path: Path, sample_dir: Path) -> None:
    """``max_consecutive_losses = 2``: after the second loss the breaker is PAUSED and the third
    entry is refused (hand-worked: each loss is ~3% of a ~2,000 USDT notional, ~60 USDT, far
    inside the 3% daily loss limit of a 10,000 USDT account, so only this breaker can act)."""
    emu = await _emulator(sample_dir, ORCA)
    strategy = EnterAndExit()
    bot = await helpers.build_engine(tmp_path, emu, [ORCA], strategy,
                                     risk={"max_consecutive_losses": 2, "pause_after_losses_minutes": 720})
    sim = emu.state.exchange
    try:
        await _losing_round_trip(emu, bot, strategy, T0)
        assert bot.engine.breaker.state is RiskState.ACTIVE, "one loss is below the limit of two"
        await _losing_round_trip(emu, bot, strategy, T0 + MS_PER_HOUR)
        assert [t["net"] < 0 for t in bot.engine.closed_trades] == [True, True]
        assert bot.engine.breaker.state is RiskState.PAUSED

        await emu.set_time(T0 + 2 * MS_PER_HOUR)
        strategy.enter, strategy.exit_now = True, False
        report = await bot.engine.safe_cycle()
        assert report is not None and report.entries == 0
        assert sim.position(ORCA) is None, "a paused bot takes no new entry"
    finally:
        await bot.stop()
        await emu.close()


async def test_a_stop_out_starts_the_cooldown_and_it_ends_on_time(tmp_path: Path, sample_dir: Path) -> None:
    """``cooldown_after_stop_minutes = 240``: the stop fills at 06:00, so the symbol takes no entry
    until 10:00 (06:00 + 240 min); the 07:00 entry is refused, the 11:00 one is placed."""
    emu = await _emulator(sample_dir, ORCA)
    strategy = EnterAndExit()
    bot = await helpers.build_engine(tmp_path, emu, [ORCA], strategy, risk={"cooldown_after_stop_minutes": 240})
    sim = emu.state.exchange
    try:
        await bot.engine.safe_cycle()  # 06:00: enters long with a stop 5% below
        assert sim.position(ORCA) is not None
        strategy.enter = False
        await _move(emu, ORCA, 0.92)  # 8% down: the exchange-side stop fills
        assert sim.position(ORCA) is None
        await bot.engine.safe_cycle()
        (closed,) = bot.engine.closed_trades
        assert closed["reason"] == "stop_loss" and closed["exit_ts"] == T0

        strategy.enter = True
        await emu.set_time(T0 + MS_PER_HOUR)
        report = await bot.engine.safe_cycle()
        assert report is not None and report.entries == 0 and report.rejected == 1
        assert sim.position(ORCA) is None, "inside the cooldown: no entry"

        await emu.set_time(T0 + 5 * MS_PER_HOUR)
        report = await bot.engine.safe_cycle()
        assert report is not None and report.entries == 1, "the cooldown is over at 10:00"
    finally:
        await bot.stop()
        await emu.close()
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        reasons = [d.reason_code for d in reader.risk_decisions()]
    assert "cooldown" in reasons
