"""Risky branches of the order path that no test executed (issue 17), through the real ccxt client
against the emulator, with faults injected on the wire (``/_sim/faults``) or the venue prepared
by hand as a person or a crashed process would leave it:

* the stop rests on the exchange straight from the entry fill, even when every positions read
  after the fill fails and the cycle is skipped;
* a stop the exchange will not take gets the position closed at market in the same cycle; when
  that close fails too, the loudest event (``stop_missing``) is journaled and the stop retried;
* reconciliation at start: a position the journal does not know is adopted and protected; stops
  protecting nothing and our stale entry orders are cancelled (another party's order is left
  alone); a side mismatch leaves it unresolved, and then nothing is traded on any symbol.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.enums import IntentKind, OrderSide, OrderType, PositionSide
from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.data.store import MarketStore
from bot.execution.exchange import ExchangeExecutor
from bot.execution.types import OrderRequest, OrderState
from bot.journal.reader import JournalReader
from tests.engine import helpers
from tests.engine.scripted import Scripted

ORCA, BTC = "ORCAUSDT", "BTCUSDT"
T0 = to_ms("2025-03-18T06:00:00Z")
TICK = 0.0001  # ORCAUSDT's price tick in the sample's exchange info
POSITIONS_5XX = {"p_5xx": 1.0, "paths": ["/fapi/v3/positionRisk"]}
ALGO_5XX = {"p_5xx": 1.0, "paths": ["/fapi/v1/algoOrder"]}
ALGO_AND_ORDER_5XX = {"p_5xx": 1.0, "paths": ["/fapi/v1/algoOrder", "/fapi/v1/order"]}
HEALTHY = {"p_5xx": 0.0, "paths": []}


class FaultsFromTheFill(ExchangeExecutor):
    """The ccxt executor, plus: once an entry has filled, ``faults`` are switched on at the
    emulator (and stay on until the test heals them)."""

    emulator: helpers.Emulator | None = None
    faults: dict = HEALTHY

    async def submit(self, request: OrderRequest) -> OrderState:
        state = await super().submit(request)
        if request.type is OrderType.MARKET and not request.reduce_only and state.filled > 0:
            assert self.emulator is not None
            await self.emulator.control("faults", self.faults)
        return state


def _url(tmp_path: Path) -> str:
    return helpers.engine_settings(tmp_path).journal.url


def _stops(emu: helpers.Emulator, symbol: str = ORCA) -> list:
    return [o for o in emu.state.exchange.open_orders(symbol, conditional=True) if o.type is OrderType.STOP_MARKET]


async def _emulator(sample_dir: Path, symbols: list[str]) -> helpers.Emulator:
    return await helpers.start(MarketStore.load(sample_dir, symbols=symbols), T0, symbols, max_weight=10_000_000)


async def _faulty_engine(tmp_path: Path, emu: helpers.Emulator, faults: dict) -> helpers.EngineParts:
    strategy = Scripted({ORCA: (T0, IntentKind.ENTER_LONG)}, tp_pct=None)
    bot = await helpers.build_engine(tmp_path, emu, [ORCA], strategy, executor_cls=FaultsFromTheFill)
    bot.executor.emulator, bot.executor.faults = emu, faults
    return bot


async def test_the_stop_rests_from_the_fill_even_when_every_read_after_it_fails(tmp_path: Path,
                                                                                sample_dir: Path) -> None:
    emu = await _emulator(sample_dir, [ORCA])
    bot = await _faulty_engine(tmp_path, emu, POSITIONS_5XX)
    sim = emu.state.exchange
    try:
        report = await bot.engine.safe_cycle()
        assert report is None, "the positions reads after the fill failed: the cycle is skipped"
        pos = sim.position(ORCA)
        assert pos is not None
        (stop,) = _stops(emu)  # placed from the fill, before any read
        assert stop.reduce_only and stop.quantity == pytest.approx(pos.quantity)
        assert stop.trigger_price < pos.entry_price
        await emu.control("faults", HEALTHY)
        assert await bot.engine.safe_cycle() is not None
        assert len(_stops(emu)) == 1, "still exactly one stop once the reads work again"
    finally:
        await bot.stop()
        await emu.close()


async def test_a_stop_the_exchange_refuses_gets_the_position_closed_at_market(tmp_path: Path,
                                                                              sample_dir: Path) -> None:
    emu = await _emulator(sample_dir, [ORCA])
    bot = await _faulty_engine(tmp_path, emu, ALGO_5XX)
    sim = emu.state.exchange
    try:
        await bot.engine.safe_cycle()  # entry fills; the stop meets a 5xx (and so do its look-ups)
        assert sim.position(ORCA) is None, "a position without a stop is closed at market at once"
        assert _stops(emu) == []
        await emu.control("faults", HEALTHY)
        await bot.engine.safe_cycle()
        assert bot.engine.book.get(ORCA) is None
        (closed,) = bot.engine.closed_trades
        assert closed["reason"] == "stop_loss"  # the close stands in for the stop
    finally:
        await bot.stop()
        await emu.close()
    with JournalReader(_url(tmp_path)) as reader:
        kinds = [e.kind for e in reader.events()]
    assert "stop_placement_failed" in kinds and "stop_missing" not in kinds


async def test_when_stop_and_close_both_fail_stop_missing_is_journaled_and_the_stop_retried(
        tmp_path: Path, sample_dir: Path) -> None:
    emu = await _emulator(sample_dir, [ORCA])
    bot = await _faulty_engine(tmp_path, emu, ALGO_AND_ORDER_5XX)
    sim = emu.state.exchange
    try:
        await bot.engine.safe_cycle()
        assert sim.position(ORCA) is not None and _stops(emu) == []  # nothing could be sent
        with JournalReader(_url(tmp_path)) as reader:
            missing = [e for e in reader.events() if e.kind == "stop_missing"]
        # one per attempt: from the fill, and again by the cycle's own watchdog pass
        assert missing and all(e.severity == "error" for e in missing)
        await emu.control("faults", HEALTHY)
        await bot.engine.safe_cycle()  # the next cycle tries the stop again
        pos = sim.position(ORCA)
        assert pos is not None
        (stop,) = _stops(emu)
        assert stop.quantity == pytest.approx(pos.quantity)
    finally:
        await bot.stop()
        await emu.close()


async def test_an_unknown_position_is_adopted_at_start_and_protected(tmp_path: Path, sample_dir: Path) -> None:
    emu = await _emulator(sample_dir, [ORCA])
    sim = emu.state.exchange
    sim.place_order(ORCA, OrderSide.BUY, OrderType.MARKET, quantity=1000)  # opened by a person
    pos = sim.position(ORCA)
    assert pos is not None
    # the fallback stop: the strategies' smallest stop distance, 5%, below a long's entry, rounded
    # down to the tick (away from the entry)
    expected_stop = pos.entry_price * 0.95
    bot = await helpers.build_engine(tmp_path, emu, [ORCA], Scripted({}))
    try:
        assert bot.engine.trading_allowed
        trade = bot.engine.book.get(ORCA)
        assert trade is not None and trade.adopted and trade.side is PositionSide.LONG
        assert trade.quantity == pytest.approx(1000)
        await bot.engine.safe_cycle()
        (stop,) = _stops(emu)
        assert stop.quantity == pytest.approx(1000)
        assert expected_stop - TICK < stop.trigger_price <= expected_stop + 1e-12
    finally:
        await bot.stop()
        await emu.close()
    with JournalReader(_url(tmp_path)) as reader:
        (row,) = reader.trades()
        recon = [e for e in reader.events() if e.kind == "reconciliation"]
    assert row.strategy == "adopted" and row.is_open
    assert [a["symbol"] for a in recon[0].data["adopted"]] == [ORCA]


async def test_an_adopted_position_brings_its_entry_fill_and_fee_into_the_journal(tmp_path: Path,
                                                                                sample_dir: Path) -> None:
    """A run killed between sending its entry and the journal's commit leaves a position only the
    venue knows (the soak found it): adopted at the next start, its fill and fee are journaled too,
    and not the fills of an earlier round trip on the same symbol."""
    emu = await _emulator(sample_dir, [ORCA])
    sim = emu.state.exchange
    sim.place_order(ORCA, OrderSide.BUY, OrderType.MARKET, quantity=500)  # an earlier round trip, closed
    sim.place_order(ORCA, OrderSide.SELL, OrderType.MARKET, quantity=500, reduce_only=True)
    sim.place_order(ORCA, OrderSide.BUY, OrderType.MARKET, quantity=1000,
                    client_order_id="db-deadbeef-0123456789-e0")  # the killed run's entry
    [entry_fill] = [t for t in sim.user_trades(ORCA) if t.quantity == 1000]
    # Binance's default USDT-M taker fee, 0.05% of the notional
    expected_fee = 1000 * entry_fill.price * 0.0005
    bot = await helpers.build_engine(tmp_path, emu, [ORCA], Scripted({}))
    try:
        trade = bot.engine.book.get(ORCA)
        assert trade is not None and trade.adopted
        assert trade.fees == pytest.approx(expected_fee)
    finally:
        await bot.stop()
        await emu.close()
    with JournalReader(_url(tmp_path)) as reader:
        (row,) = reader.trades()
        fills = reader.fills(trade_id=row.id)
    assert [(f.side, float(f.quantity), float(f.price)) for f in fills] == [("buy", 1000.0, entry_fill.price)]
    assert float(fills[0].fee) == pytest.approx(expected_fee)


async def test_orphaned_stops_and_stale_entries_are_cancelled_at_start_others_left(tmp_path: Path,
                                                                                    sample_dir: Path) -> None:
    emu = await _emulator(sample_dir, [ORCA])
    sim = emu.state.exchange
    mark = sim._state_or_raise(ORCA).mark
    # What a crashed run can leave: a stop whose position is gone, and our own entry order (prefix
    # "db-") resting; plus a person's limit order, which is not ours to touch.
    sim.place_order(ORCA, OrderSide.BUY, OrderType.MARKET, quantity=1000)
    orphan = sim.place_order(ORCA, OrderSide.SELL, OrderType.STOP_MARKET, quantity=1000,
                             trigger_price=round(mark * 0.9, 4), reduce_only=True, client_order_id="db-old00000-k-s1")
    sim.place_order(ORCA, OrderSide.SELL, OrderType.MARKET, quantity=1000, reduce_only=True)  # closed by hand
    stale = sim.place_order(ORCA, OrderSide.BUY, OrderType.LIMIT, quantity=1000, price=round(mark * 0.8, 4),
                            client_order_id="db-old00000-abcdef0123-e0")
    foreign = sim.place_order(ORCA, OrderSide.BUY, OrderType.LIMIT, quantity=1000, price=round(mark * 0.7, 4),
                              client_order_id="manual-1")
    assert sim.position(ORCA) is None and len(sim.open_orders(ORCA)) == 3
    bot = await helpers.build_engine(tmp_path, emu, [ORCA], Scripted({}))
    try:
        assert bot.engine.trading_allowed
        assert [o.client_order_id for o in sim.open_orders(ORCA)] == ["manual-1"]
    finally:
        await bot.stop()
        await emu.close()
    with JournalReader(_url(tmp_path)) as reader:
        (recon,) = [e for e in reader.events() if e.kind == "reconciliation"]
    cancelled = sorted(c["client_id"] for c in recon.data["cancelled"])
    assert cancelled == sorted([orphan.client_order_id, stale.client_order_id])
    assert foreign.client_order_id not in cancelled


async def test_unresolved_reconciliation_blocks_trading_on_every_symbol(tmp_path: Path, sample_dir: Path) -> None:
    emu = await _emulator(sample_dir, [ORCA, BTC])
    sim = emu.state.exchange
    try:
        first = await helpers.build_engine(tmp_path, emu, [ORCA], Scripted({ORCA: (T0, IntentKind.ENTER_LONG)}))
        try:
            await first.engine.safe_cycle()  # the journal holds an open long
        finally:
            await first.stop()
        pos = sim.position(ORCA)
        assert pos is not None and pos.side is PositionSide.LONG
        for order in sim.open_orders(ORCA):
            sim.cancel_order(ORCA, order_id=order.order_id)
        sim.place_order(ORCA, OrderSide.SELL, OrderType.MARKET, quantity=2 * pos.quantity)  # a person flips it
        flipped = sim.position(ORCA)
        assert flipped is not None and flipped.side is PositionSide.SHORT

        await emu.set_time(T0 + MS_PER_HOUR)
        later = Scripted({BTC: (T0 + MS_PER_HOUR, IntentKind.ENTER_LONG)})
        bot = await helpers.build_engine(tmp_path, emu, [ORCA, BTC], later)
        try:
            assert not bot.engine.trading_allowed
            for _ in range(2):
                await bot.engine.safe_cycle()
            assert sim.position(BTC) is None, "no entry anywhere while journal and exchange disagree"
            assert not bot.engine.trading_allowed
        finally:
            await bot.stop()
    finally:
        await emu.close()
    with JournalReader(_url(tmp_path)) as reader:
        recon = [e for e in reader.events() if e.kind == "reconciliation"]
    assert any("journal says long, exchange short" in u for u in recon[-1].data["unresolved"])


async def test_a_liquidation_is_recorded_as_a_liquidation_and_starts_the_cooldown(tmp_path: Path,
                                                                                  sample_dir: Path) -> None:
    """The position's stop is gone (cancelled by a person) and the market falls 50%: a 3x isolated
    long is liquidated about 33% below its entry (margin a third of the notional), so the exchange
    closes it. The trade is closed as a liquidation at the venue's forced-close price, not as a
    manual exit, and the symbol's stop-out cooldown starts (``cooldown_after_stop_minutes``)."""
    emu = await _emulator(sample_dir, [ORCA])
    sim = emu.state.exchange
    strategy = Scripted({ORCA: (T0, IntentKind.ENTER_LONG)}, tp_pct=None)
    bot = await helpers.build_engine(tmp_path, emu, [ORCA], strategy, risk={"cooldown_after_stop_minutes": 240})
    try:
        await bot.engine.safe_cycle()
        strategy.held.add(ORCA)
        pos = sim.position(ORCA)
        assert pos is not None and pos.liquidation_price > 0
        for order in sim.open_orders(ORCA, conditional=True):
            sim.cancel_order(ORCA, order_id=order.order_id, conditional=True)
        low = round(pos.entry_price * 0.5, 4)
        await emu.control("price", {"symbol": ORCA, "last": low, "mark": low})
        assert sim.position(ORCA) is None
        (forced,) = sim.force_orders(ORCA)
        await bot.engine.safe_cycle()
        (closed,) = bot.engine.closed_trades
        assert closed["reason"] == "liquidation"
        assert closed["exit_price"] == pytest.approx(forced.avg_price, abs=TICK)  # its fill, on the tick
        assert bot.engine.risk.cooldowns.blocked(ORCA, T0 + MS_PER_HOUR)
    finally:
        await bot.stop()
        await emu.close()
    with JournalReader(_url(tmp_path)) as reader:
        (trade,) = reader.trades()
    assert trade.exit_reason == "liquidation"
