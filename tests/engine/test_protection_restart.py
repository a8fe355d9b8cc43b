"""Trailing and break-even settings survive a restart (issue 11, Part 2 item 9), through the real
ccxt client against the emulator: a bot process trails a long's stop, stops, and the next
process keeps trailing it from where it was, and attributes a trailed stop hit right after the
restart to the trailing stop; a break-even trigger reached after a restart moves the stop.

Hand-worked stops (the emulator lists BTCUSDT with a price tick of 1, checked below; a long's
stop is rounded down to the tick): the trail is 2% behind the best mark, so a mark of 90001.5
puts it at 90001.5 x 0.98 = 88201.47 -> 88201, and a mark of 95003 at 95003 x 0.98 = 93102.94
-> 93102. The sample's BTCUSDT stays within 30% of the entry in these hours, so the 30% stop and
take-profit only move when the test moves the price itself.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.enums import IntentKind, OrderType, PositionSide
from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from bot.journal.reader import JournalReader
from bot.risk.stops import ProtectionPlan, TrailingSpec, advance_protection
from bot.trading.reconcile import resumed_best_price
from tests.engine import helpers
from tests.engine.restart import Bot, open_engine
from tests.engine.scripted import Scripted
from tests.risk.helpers import instrument

SYM = "BTCUSDT"
T0 = to_ms("2025-03-18T06:00:00Z")
TRAILING = {"trailing_stop_pct": 0.02, "trailing_activation_pct": 0.01}


def _stops(emu: helpers.Emulator) -> list[float]:
    """Trigger prices of the reduce-only stops resting on the venue."""
    return [o.trigger_price for o in emu.state.exchange.open_orders(SYM, conditional=True)
            if o.type is OrderType.STOP_MARKET and o.reduce_only]


async def _price(emu: helpers.Emulator, price: float) -> None:
    await emu.control("price", {"symbol": SYM, "last": price, "mark": price})


async def _entered(tmp_path: Path, emu: helpers.Emulator, strategy: Scripted, **cfg: float) -> Bot:
    bot = await open_engine(tmp_path, emu, SYM, strategy, **cfg)
    await bot.engine.safe_cycle()  # enters long, 30% stop
    strategy.held.add(SYM)  # one entry only
    assert emu.state.exchange.position(SYM) is not None
    return bot


def _strategy() -> Scripted:
    return Scripted({SYM: (T0, IntentKind.ENTER_LONG)}, stop_pct=0.30, tp_pct=0.30, leverage=1.0)


async def _trailed_then_restarted(tmp_path: Path, emu: helpers.Emulator) -> Bot:
    """A first process trails the stop to 88201 and stops; returns the restarted process."""
    assert emu.state.instrument(SYM).tick_size == 1.0  # what the hand-worked stops assume
    strategy = _strategy()
    bot = await _entered(tmp_path, emu, strategy, **TRAILING)
    try:
        await _price(emu, 90001.5)
        await bot.engine.safe_cycle()
        assert _stops(emu) == [pytest.approx(88201)]
    finally:
        await bot.stop()
    return await open_engine(tmp_path, emu, SYM, strategy, **TRAILING)


async def test_a_restarted_bot_keeps_trailing_the_stop(tmp_path: Path, sample_dir: Path) -> None:
    emu = await helpers.start(MarketStore.load(sample_dir, symbols=[SYM]), T0, [SYM], max_weight=10_000_000)
    try:
        bot = await _trailed_then_restarted(tmp_path, emu)
        try:
            await _price(emu, 95003)
            await bot.engine.safe_cycle()
            assert _stops(emu) == [pytest.approx(93102)]
        finally:
            await bot.stop()
    finally:
        await emu.close()
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        (trade,) = reader.open_trades()
        assert float(trade.current_stop) == pytest.approx(93102)
        assert [float(m.new_stop) for m in reader.stop_moves(trade.id)][1:] == [
            pytest.approx(88201), pytest.approx(93102)]


async def test_a_trailed_stop_hit_right_after_a_restart_is_a_trailing_stop_exit(tmp_path: Path,
                                                                                sample_dir: Path) -> None:
    emu = await helpers.start(MarketStore.load(sample_dir, symbols=[SYM]), T0, [SYM], max_weight=10_000_000)
    try:
        bot = await _trailed_then_restarted(tmp_path, emu)
        try:
            await _price(emu, 86000)  # through the trailed stop before the new process's first cycle
            assert emu.state.exchange.position(SYM) is None
            await bot.engine.safe_cycle()
            (closed,) = bot.engine.closed_trades
            assert closed["reason"] == "trailing_stop"
        finally:
            await bot.stop()
    finally:
        await emu.close()


async def test_a_break_even_trigger_reached_after_a_restart_moves_the_stop(tmp_path: Path,
                                                                           sample_dir: Path) -> None:
    emu = await helpers.start(MarketStore.load(sample_dir, symbols=[SYM]), T0, [SYM], max_weight=10_000_000)
    try:
        strategy = _strategy()
        bot = await _entered(tmp_path, emu, strategy, breakeven_trigger_pct=0.02)
        (entry_fill,) = emu.state.exchange.user_trades(SYM)
        initial = _stops(emu)
        await bot.stop()
        bot = await open_engine(tmp_path, emu, SYM, strategy, breakeven_trigger_pct=0.02)
        try:
            await _price(emu, round(entry_fill.price * 1.03, 1))  # 3% up: past the 2% trigger
            await bot.engine.safe_cycle()
            # break-even: the stop at the entry price, rounded up to the tick (toward profit)
            assert _stops(emu) == [math.ceil(entry_fill.price)] != initial
        finally:
            await bot.stop()
    finally:
        await emu.close()


@settings(max_examples=300, deadline=None)
@given(side=st.sampled_from([PositionSide.LONG, PositionSide.SHORT]),
       cents=st.lists(st.integers(5_000, 15_000), min_size=1, max_size=12), split=st.integers(0, 12),
       distance=st.sampled_from([0.01, 0.02, 0.035, 0.05]), activation=st.sampled_from([0.0, 0.01, 0.03]),
       breakeven=st.sampled_from([None, 0.02]), with_observations=st.booleans())
def test_a_resumed_plan_moves_the_stop_as_the_uninterrupted_one(side: PositionSide, cents: list[int], split: int,
                                                                distance: float, activation: float,
                                                                breakeven: float | None,
                                                                with_observations: bool) -> None:
    """The docstring's claim of ``resumed_best_price``: a bot restarted anywhere in a run of marks,
    knowing only the journaled stop (and, when kept, the observed marks), ends with the stop the
    uninterrupted bot has. Entry 100 with a 30% stop, tick 0.01, marks 50..150."""
    inst = instrument(tick_size=0.01)
    marks = [c / 100 for c in cents]
    trailing = TrailingSpec(distance, activation)
    start = ProtectionPlan(symbol="ORCAUSDT", side=side, entry_price=100.0, stop_price=100.0 - side.sign * 30.0,
                           trailing=trailing, breakeven_trigger_pct=breakeven)
    uninterrupted = start
    for mark in marks:
        uninterrupted = advance_protection(uninterrupted, mark, inst)
    before = start
    for mark in marks[:split]:
        before = advance_protection(before, mark, inst)
    observed = marks[:split] if with_observations else []
    resumed = ProtectionPlan(symbol="ORCAUSDT", side=side, entry_price=100.0, stop_price=before.stop_price,
                             trailing=trailing, breakeven_trigger_pct=breakeven,
                             best_price=resumed_best_price(side, before.stop_price, trailing, observed))
    if with_observations and before.best_price is not None:  # the best so far is never reset to a worse one
        assert resumed.best_price is not None and side.sign * (resumed.best_price - before.best_price) >= 0
    for mark in marks[split:]:
        resumed = advance_protection(resumed, mark, inst)
    assert resumed.stop_price == uninterrupted.stop_price
