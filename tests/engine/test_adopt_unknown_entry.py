"""An entry whose outcome is unknown is resolved within its own cycle (issue 11, Part 2 item 3),
through the real ccxt client against the emulator.

(a) The entry's response is lost (``/_sim/faults`` drops every ``POST /fapi/v1/order`` response
    after processing it) and the order stays invisible to ``GET /fapi/v1/order`` (-2013, the
    ``order_visibility_lag_ms`` scenario) for longer than the executor's look-ups last: the order
    did fill. The engine learns that from the position and user-trade diff and adopts it in the
    same cycle as the intended trade: a journal trade at the venue's real fill price, exactly one
    stop at the strategy's distance from that fill, one entry order on the venue.
(b) The entry meets a 5xx before execution (every ``/fapi/v1/order`` call answers 500): nothing
    executed, so no trade, an event saying the intent was not placed, and no second
    ``create_order`` for that intent, not even in the next cycle.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.core.enums import IntentKind, OrderStatus, OrderType
from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from bot.emulator.faults import FaultConfig
from bot.engine import Engine
from bot.exchange.connect import connect
from bot.execution.exchange import ExchangeExecutor
from bot.execution.types import OrderRequest, OrderState
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
#: Every POST /fapi/v1/order is processed, then its response is lost (the 1 s client timeout fires first).
DROP_ORDER_RESPONSES = FaultConfig(p_drop_response=1.0, hang_seconds=1.5, paths=["/fapi/v1/order"])
#: Every /fapi/v1/order call (the POST and the look-ups) answers 500 before anything executes.
ORDER_5XX = FaultConfig(p_5xx=1.0, paths=["/fapi/v1/order"])
#: The market moves 2% between the decision and the fill, so "re-based on the real fill" and
#: "the plan's reference price" give different stops (hand-worked: 2% of ~0.2 is ~40 ticks of 0.0001).
FILL_DRIFT = 1.02


class ScriptedVenue(ExchangeExecutor):
    """The ccxt executor, plus test hooks on the wire: counts entry ``create_order`` calls, moves
    the market just before the entry, and ends the visibility lag once the entry is over (the lag
    must outlast the entry's look-ups; later orders, the stop, are not what is tested here)."""

    emulator: helpers.Emulator | None = None
    drift = 1.0
    entry_sends = 0
    #: answer market orders as a loaded venue may: status NEW, nothing filled (the order did fill)
    answer_unfilled = False

    def count_sends(self) -> None:
        create = self.client.create_order

        async def counted(symbol: str, type_: str, side: str, *args: Any) -> Any:
            self.entry_sends += type_ == "market"
            return await create(symbol, type_, side, *args)

        self.client.create_order = counted

    async def submit(self, request: OrderRequest) -> OrderState:
        assert self.emulator is not None
        sim = self.emulator.state.exchange
        if request.type is OrderType.MARKET and self.drift != 1.0:
            price = round(sim._state_or_raise(request.symbol).mark * self.drift, 4)
            await self.emulator.control("price", {"symbol": request.symbol, "last": price, "mark": price})
        if request.is_conditional:
            await self.emulator.control("scenario", {"order_visibility_lag_ms": 0})
        state = await super().submit(request)
        if self.answer_unfilled and request.type is OrderType.MARKET:
            return replace(state, status=OrderStatus.NEW, filled=0.0, avg_price=None, raw_status="NEW")
        return state


async def _engine(tmp_path: Path, emu: helpers.Emulator) -> tuple[Engine, ScriptedVenue, Any, Journal]:
    settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet")
    settings.universe.symbols = [SYM]
    settings.exchange.timeout_ms = 1000  # the smallest allowed: below the 1.5 s hang of a dropped response
    client = connect(settings)
    client.enableRateLimit = False
    executor = ScriptedVenue(connect(settings), backoff_s=0.01, max_attempts=2)  # look-ups last ~0.05 s
    executor.client.enableRateLimit = False
    executor.emulator = emu
    executor.count_sends()
    journal = Journal.open(settings.journal.url)
    strategy = Scripted({SYM: (T0, IntentKind.ENTER_LONG)}, stop_pct=0.05, tp_pct=0.10)
    engine = Engine(settings, feed=LiveFeed(LiveSource(client, settings, budget=RequestBudget(10_000_000))),
                    executor=executor, journal=journal, strategies={"scripted": strategy},
                    risk_files=RiskFiles.from_halt_file(tmp_path / "HALT"))
    await engine.start()
    return engine, executor, client, journal


def _floor_tick(price: float, tick: float) -> float:
    return round(math.floor(price / tick + 1e-9) * tick, 10)


async def test_lost_entry_that_filled_is_adopted_with_its_stop_in_the_same_cycle(tmp_path: Path,
                                                                                   sample_dir: Path) -> None:
    store = MarketStore.load(sample_dir, symbols=[SYM])
    emu = await helpers.start(store, T0, [SYM], max_weight=10_000_000, faults=DROP_ORDER_RESPONSES)
    await emu.control("scenario", {"order_visibility_lag_ms": 60_000})
    engine, executor, client, journal = await _engine(tmp_path, emu)
    executor.drift = FILL_DRIFT
    sim = emu.state.exchange
    try:
        await engine.safe_cycle()  # one cycle: send, lose the answer, resolve, adopt, protect
        entries = [o for o in sim.all_orders(SYM, conditional=False)]
        stops = [o for o in sim.open_orders(SYM, conditional=True) if o.type is OrderType.STOP_MARKET]
        position = sim.position(SYM)
        fills = sim.user_trades(SYM)
        tick = executor.instrument(SYM).tick_size
        await engine.shutdown("completed")
    finally:
        await client.close()
        journal.close()
        await emu.close()

    assert executor.entry_sends == 1, "one intent, one create_order"
    assert [(o.status, o.filled_qty) for o in entries] == [(OrderStatus.FILLED, position.quantity)]
    fill_price = sum(f.price * f.quantity for f in fills) / sum(f.quantity for f in fills)
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        [trade] = reader.trades()
        [decision] = reader.risk_decisions(verdict="approved")
        [entry_row] = [o for o in reader.orders() if o.purpose == "entry"]
        trade_fills = reader.fills(trade_id=trade.id)
        events = reader.events(kind="entry_resolved")
    plan = decision.plan
    # The strategy's stop distance (from the decision's plan) moved to the venue's real fill price.
    expected_stop = _floor_tick(fill_price + (plan["stop_price"] - plan["entry_price"]), tick)
    assert abs(fill_price - plan["entry_price"]) > 10 * tick, "the fill must differ from the plan's reference"
    assert float(trade.entry_price) == fill_price
    assert float(trade.quantity) == position.quantity
    assert float(trade.initial_stop) == expected_stop
    assert trade.signal_id is not None and trade.signal_id == decision.signal_id
    assert [s.trigger_price for s in stops] == [expected_stop], "exactly one stop, from the real fill, this cycle"
    assert entry_row.status == OrderStatus.FILLED.value and float(entry_row.filled_qty) == position.quantity
    assert entry_row.exchange_order_id == str(entries[0].order_id)
    [resolved] = events
    assert resolved.severity == "warning"
    assert resolved.data == {"symbol": SYM, "client_id": entry_row.client_order_id,
                             "exchange_order_id": str(entries[0].order_id)}
    assert f"executed ({position.quantity} at {fill_price})" in resolved.message
    # the venue's own trades of that order, journaled once against the trade
    assert sorted(f.exchange_trade_id for f in trade_fills) == sorted(str(f.trade_id) for f in fills)


async def test_entry_answered_unfilled_that_did_fill_is_adopted_in_the_same_cycle(tmp_path: Path,
                                                                                     sample_dir: Path) -> None:
    store = MarketStore.load(sample_dir, symbols=[SYM])
    emu = await helpers.start(store, T0, [SYM], max_weight=10_000_000)
    engine, executor, client, journal = await _engine(tmp_path, emu)
    executor.answer_unfilled = True
    sim = emu.state.exchange
    try:
        await engine.safe_cycle()
        stops = [o for o in sim.open_orders(SYM, conditional=True) if o.type is OrderType.STOP_MARKET]
        position = sim.position(SYM)
        [fill] = sim.user_trades(SYM)
        await engine.shutdown("completed")
    finally:
        await client.close()
        journal.close()
        await emu.close()
    assert executor.entry_sends == 1
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        [trade] = reader.trades()
        [entry_row] = [o for o in reader.orders() if o.purpose == "entry"]
    assert (float(trade.entry_price), float(trade.quantity)) == (fill.price, position.quantity)
    assert len(stops) == 1 and stops[0].trigger_price == float(trade.initial_stop) < fill.price
    assert entry_row.status == OrderStatus.FILLED.value


async def test_entry_refused_before_execution_is_journaled_as_not_placed_and_never_resent(
        tmp_path: Path, sample_dir: Path) -> None:
    store = MarketStore.load(sample_dir, symbols=[SYM])
    emu = await helpers.start(store, T0, [SYM], max_weight=10_000_000, faults=ORDER_5XX)
    engine, executor, client, journal = await _engine(tmp_path, emu)
    sim = emu.state.exchange
    try:
        await engine.safe_cycle()  # the entry meets a 5xx; the look-ups too: outcome unknown
        assert executor.entry_sends == 1
        await emu.control("faults", {"p_5xx": 0.0, "paths": []})
        await engine.safe_cycle()  # the same intent again (same bar): it must not be sent a second time
        orders = sim.all_orders(SYM, conditional=None)
        position = sim.position(SYM)
        await engine.shutdown("completed")
    finally:
        await client.close()
        journal.close()
        await emu.close()

    assert executor.entry_sends == 1, "never a second create_order for the same intent"
    assert orders == [] and position is None
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        assert reader.trades() == []
        kinds = [e.kind for e in reader.events()]
        [entry_row] = [o for o in reader.orders() if o.purpose == "entry"]
        [not_executed] = reader.events(kind="entry_not_executed")
    assert kinds == ["reconciliation", "order_unknown", "entry_not_executed", "run_stop"]  # no entry_unknown:
    # the look-ups failed, but the position and user trades could be read and showed nothing
    at_the_cycle = datetime.fromtimestamp(T0 / 1000, tz=UTC)  # the venue clock stood at T0 all along
    assert (not_executed.severity, not_executed.ts) == ("warning", at_the_cycle)
    assert not_executed.data == {"symbol": SYM, "client_id": entry_row.client_order_id}
    assert f"entry {entry_row.client_order_id} did not execute" in not_executed.message
    # the entry's order row ends as the venue would have ended it: expired, nothing filled
    assert (entry_row.status, entry_row.filled_qty, entry_row.status_ts) == ("expired", 0, at_the_cycle)
    assert entry_row.raw_status == "NOT_EXECUTED (position and trades unchanged)"
