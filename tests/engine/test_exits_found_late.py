"""Exits the bot learns of after the fact are booked from the venue's fills (issue 11, soak).

* A position that closed while the bot was down: the Reconciler used to close the journal trade
  without journaling its exit fill, so the journal's fills no longer matched the venue's user
  trades (the soak found 25 of 27 such trades without one).
* A take-profit whose fill is time-stamped before the bot's ``entry_ts`` (the bot's view of the
  entry; a venue clock can put a fast exit's fill earlier): ``resolve_exit`` used to drop the
  fill and book the *stop* price with no fill, a loss instead of a gain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core.enums import ExitReason, IntentKind, MarginMode, OrderSide, OrderStatus, OrderType, PositionSide
from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from bot.execution.ids import client_order_id
from bot.execution.types import FillState, OrderState
from bot.journal.reader import JournalReader
from bot.trading.book import OpenTrade
from bot.trading.exits import booked_on_other_trades, resolve_exit
from tests.engine import helpers
from tests.engine.restart import open_engine
from tests.engine.scripted import Scripted

SYM = "BTCUSDT"
T0 = to_ms("2025-03-18T06:00:00Z")


async def test_take_profit_hit_while_down_is_journaled_with_the_venues_fill(tmp_path: Path, sample_dir: Path) -> None:
    emu = await helpers.start(MarketStore.load(sample_dir, symbols=[SYM]), T0, [SYM], max_weight=10_000_000)
    try:
        bot, strategy = await _long_held(tmp_path, emu)
        await bot.stop()  # down from here
        pos = emu.state.exchange.position(SYM)
        assert pos is not None
        top = round(pos.entry_price * 1.35, 1)
        await emu.control("price", {"symbol": SYM, "last": top, "mark": top})  # the take-profit fills
        assert emu.state.exchange.position(SYM) is None
        venue = [(str(t.trade_id), t.price, t.quantity) for t in emu.state.exchange.user_trades(SYM)]
        bot = await open_engine(tmp_path, emu, SYM, strategy)  # the reconciliation closes the trade
        await bot.stop()
    finally:
        await emu.close()
    trade, fills = _the_trade_and_its_fills(tmp_path)
    journaled = sorted((f.exchange_trade_id, float(f.price), float(f.quantity)) for f in fills)
    assert len(venue) == 2, "the entry and the take-profit"
    assert journaled == sorted((tid, pytest.approx(p), pytest.approx(q)) for tid, p, q in venue)
    assert trade.exit_reason == "take_profit"
    assert float(trade.exit_price) == pytest.approx(venue[-1][1])


async def _long_held(tmp_path: Path, emu: Any) -> tuple[Any, Scripted]:
    """A bot whose first cycle went long on ``SYM`` (30% stop and take-profit, 1x): the trade is held."""
    strategy = Scripted({SYM: (T0, IntentKind.ENTER_LONG)}, stop_pct=0.30, tp_pct=0.30, leverage=1.0)
    bot = await open_engine(tmp_path, emu, SYM, strategy)
    await bot.engine.safe_cycle()
    strategy.held.add(SYM)
    return bot, strategy


def _the_trade_and_its_fills(tmp_path: Path) -> tuple[Any, list[Any]]:
    """The journal's only trade and its fills."""
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        (trade,) = reader.trades()
        return trade, reader.fills(trade_id=trade.id)


async def _kill(bot: Any) -> None:
    """The process dies: what was journaled so far is on disk, nothing is shut down or retried."""
    bot.engine.journal.flush()
    await bot.client.close()
    bot.journal.close()


class _Venue:
    """The four reads ``resolve_exit`` makes, answering as Binance would for one take-profit."""

    def __init__(self, tp_cid: str, fill: FillState) -> None:
        self.tp_cid = tp_cid
        self.fill = fill

    async def fills(self, symbol: str, since_ms: int | None = None) -> list[FillState]:
        return [self.fill] if since_ms is None or self.fill.ts >= since_ms else []

    async def liquidations(self, symbol: str, since_ms: int | None = None) -> list[OrderState]:
        return []

    async def find_order(self, symbol: str, client_id: str, conditional: bool) -> OrderState | None:
        if client_id != self.tp_cid:
            return None
        return OrderState(client_id=client_id, exchange_id="9001", symbol=symbol, side=OrderSide.SELL,
                          type=OrderType.TAKE_PROFIT_MARKET, status=OrderStatus.FILLED, quantity=0.01,
                          filled=0.01, is_conditional=True, actual_order_id="777")

    async def symbol_status(self, symbol: str, *, fresh: bool = False) -> str:
        return "TRADING"


async def test_own_exit_fill_stamped_before_the_bots_entry_time_is_still_the_exit() -> None:
    key = "k123456789"
    tp_cid = client_order_id("run00001", key, "t", 1)
    entry_ts = 1_000_000
    # the take-profit's market order (id 777) filled 20 s before the bot's entry_ts
    fill = FillState(trade_id="55", order_id="777", symbol=SYM, side=OrderSide.SELL, price=110.0, quantity=0.01,
                     fee=0.0, fee_asset="USDT", maker=False, realized_pnl=0.1, ts=entry_ts - 20_000)
    trade = OpenTrade(trade_id="t1", symbol=SYM, side=PositionSide.LONG, strategy="s", entry_ts=entry_ts,
                      entry_price=100.0, quantity=0.01, leverage=1.0, margin_mode=MarginMode.ISOLATED, key=key,
                      stop_price=95.0, take_profit_price=110.0, tp_client_id=tp_cid)
    info = await resolve_exit(_Venue(tp_cid, fill), trade, now_ms=entry_ts + 60_000)  # type: ignore[arg-type]
    assert info.reason is ExitReason.TAKE_PROFIT
    assert info.price == 110.0 and info.realised_pnl == pytest.approx(0.1)  # 0.01 x (110 - 100)
    assert [f.trade_id for f in info.fills] == ["55"]


async def test_take_profit_without_any_fill_is_booked_at_its_target_not_the_stop() -> None:
    key = "k123456789"
    tp_cid = client_order_id("run00001", key, "t", 1)
    entry_ts = 1_000_000
    far_before = FillState(trade_id="55", order_id="777", symbol=SYM, side=OrderSide.SELL, price=110.0,
                           quantity=0.01, fee=0.0, fee_asset="USDT", maker=False, realized_pnl=0.1,
                           ts=entry_ts - 3_600_000)  # outside every look-back: the venue lists no fill
    trade = OpenTrade(trade_id="t1", symbol=SYM, side=PositionSide.LONG, strategy="s", entry_ts=entry_ts,
                      entry_price=100.0, quantity=0.01, leverage=1.0, margin_mode=MarginMode.ISOLATED, key=key,
                      stop_price=95.0, take_profit_price=110.0, tp_client_id=tp_cid)
    venue: Any = _Venue(tp_cid, far_before)
    info = await resolve_exit(venue, trade, now_ms=entry_ts + 60_000)
    assert info.reason is ExitReason.TAKE_PROFIT
    assert info.price == 110.0 and info.realised_pnl == pytest.approx(0.01 * (110.0 - 100.0))


async def test_exit_fill_journaled_before_a_kill_is_not_counted_twice(tmp_path: Path, sample_dir: Path) -> None:
    """The run sends its own market exit, journals the fill, and is killed before it closes the
    trade; the next run's reconciliation closes it. Fees = the entry's and the exit's commission
    as the venue charged them, once each (the soak found the exit's counted twice)."""
    emu = await helpers.start(MarketStore.load(sample_dir, symbols=[SYM]), T0, [SYM], max_weight=10_000_000)
    try:
        bot, strategy = await _long_held(tmp_path, emu)
        pos = emu.state.exchange.position(SYM)
        assert pos is not None and bot.engine.protector is not None
        await bot.engine.protector.close_at_market(SYM, OrderSide.SELL, abs(pos.quantity), ExitReason.SIGNAL,
                                                   trade=bot.engine.book.get(SYM))
        await _kill(bot)  # the exit's order and fill reached the journal, then the kill
        assert emu.state.exchange.position(SYM) is None
        commissions = [t.fee for t in emu.state.exchange.user_trades(SYM)]
        bot = await open_engine(tmp_path, emu, SYM, strategy)  # the reconciliation closes the trade
        await bot.stop()
    finally:
        await emu.close()
    trade, fills = _the_trade_and_its_fills(tmp_path)
    assert len(commissions) == 2 and all(c > 0 for c in commissions), "the entry and the exit, each charged"
    assert len(fills) == 2
    assert float(trade.fees) == pytest.approx(sum(commissions), abs=1e-8)
    assert trade.exit_reason == "signal", "the exit this bot sent, for the reason it sent it"


async def test_entry_fill_a_killed_run_never_journaled_is_journaled_at_restart(tmp_path: Path,
                                                                              sample_dir: Path) -> None:
    """The run writes the trade row from the entry's answer, places the stop, then cannot read the
    entry's fills (every userTrades read answers 5xx) and is killed before the next cycle's retry.
    The next run's reconciliation journals the entry fill, as the venue lists it, with its fee on
    the trade (the soak found the fill and its fee missing from the journal)."""
    emu = await helpers.start(MarketStore.load(sample_dir, symbols=[SYM]), T0, [SYM], max_weight=10_000_000)
    strategy = Scripted({SYM: (T0, IntentKind.ENTER_LONG)}, stop_pct=0.30, tp_pct=0.30, leverage=1.0)
    try:
        bot = await open_engine(tmp_path, emu, SYM, strategy)
        await emu.control("faults", {"p_5xx": 1.0, "paths": ["/fapi/v1/userTrades"]})
        await bot.engine.safe_cycle()
        strategy.held.add(SYM)
        assert emu.state.exchange.position(SYM) is not None
        await _kill(bot)  # no shutdown: the pending fill read is never retried
        await emu.control("faults", {"p_5xx": 0.0, "paths": []})
        (venue_fill,) = emu.state.exchange.user_trades(SYM)
        bot = await open_engine(tmp_path, emu, SYM, strategy)
        resumed_fees = bot.engine.book.get(SYM).fees  # type: ignore[union-attr]
        await bot.stop()
    finally:
        await emu.close()
    _, fills = _the_trade_and_its_fills(tmp_path)
    assert [(f.exchange_trade_id, float(f.price), float(f.quantity)) for f in fills] == [
        (str(venue_fill.trade_id), pytest.approx(venue_fill.price), pytest.approx(venue_fill.quantity))]
    assert resumed_fees == pytest.approx(venue_fill.fee, abs=1e-9) and venue_fill.fee > 0


class _SettlingVenue:
    """A settled position's venue: no order of ours closed it, the symbol is SETTLING, and the
    closing-side fills since the entry are the previous trade's exit (same millisecond as this
    entry) and the settlement."""

    def __init__(self, fills: list[FillState]) -> None:
        self._fills = fills

    async def fills(self, symbol: str, since_ms: int | None = None) -> list[FillState]:
        return [f for f in self._fills if since_ms is None or f.ts >= since_ms]

    async def liquidations(self, symbol: str, since_ms: int | None = None) -> list[OrderState]:
        return []

    async def find_order(self, symbol: str, client_id: str, conditional: bool) -> OrderState | None:
        return None

    async def symbol_status(self, symbol: str, *, fresh: bool = False) -> str:
        return "SETTLING"


@pytest.mark.parametrize("earlier_run", [False, True])
async def test_a_fill_booked_on_the_previous_trade_is_not_this_trades_exit(tmp_path: Path,
                                                                           earlier_run: bool) -> None:
    """Trade A's time-stop exit (fill 55) and trade B's entry fill in the same millisecond, then
    B is settled (fill 60). B's exit is fill 60 alone: fill 55 is A's, journaled on A (by this
    process, or by the run before a restart). The soak found it journaled twice."""
    from bot.journal import Journal

    t = 1_763_000_000_000
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    journal = Journal.open(url)
    journal.start_run("testnet", "h", "0")
    a_exit = FillState(trade_id="55", order_id="801", symbol=SYM, side=OrderSide.BUY, price=524.77, quantity=2.41,
                       fee=0.63, fee_asset="USDT", maker=False, realized_pnl=-0.62, ts=t)
    settle = FillState(trade_id="60", order_id="802", symbol=SYM, side=OrderSide.BUY, price=524.63, quantity=2.39,
                       fee=0.0, fee_asset="USDT", maker=False, realized_pnl=-0.29, ts=t + 3_500)
    journal.record_trade_open(trade_id="tA", symbol=SYM, side=PositionSide.SHORT, strategy="s", entry_ts=t - 3_600_000,
                              entry_price=524.51, quantity=2.41, leverage=2, margin_mode=MarginMode.ISOLATED,
                              stop_price=530.0)
    order = journal.record_order(client_order_id="db-run00001-k000000001-x1", ts=t, symbol=SYM,
                                 type=OrderType.MARKET, side=OrderSide.BUY, quantity=2.41, trade_id="tA")
    journal.record_fill(order, ts=t, symbol=SYM, side=OrderSide.BUY, price=524.77, quantity=2.41, fee=0.63,
                        fee_asset="USDT", is_maker=False, exchange_trade_id="55", trade_id="tA", once=True)
    journal.flush()
    if earlier_run:  # a restart: this process never wrote fill 55, the database has it
        journal.close()
        journal = Journal.open(url)
    b = OpenTrade(trade_id="tB", symbol=SYM, side=PositionSide.SHORT, strategy="s", entry_ts=t, entry_price=524.51,
                  quantity=2.39, leverage=2.0, margin_mode=MarginMode.ISOLATED, key="k000000002", stop_price=530.0)
    try:
        venue: Any = _SettlingVenue([a_exit, settle])
        info = await resolve_exit(venue, b, now_ms=t + 60_000, booked_elsewhere=booked_on_other_trades(journal, b))
    finally:
        journal.close()
    assert info.reason is ExitReason.SETTLEMENT
    assert [f.trade_id for f in info.fills] == ["60"]
    assert info.price == 524.63 and info.realised_pnl == pytest.approx(-0.29)
