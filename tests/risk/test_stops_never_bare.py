"""A failed stop move never leaves a position bare (issue 11, part 2 item 1).

The watchdog decides and the protector executes, against the simulated exchange core
in-process (``PaperExecutor`` over ``SimExchange``), with a thin executor that refuses stop
placements and market closes on demand, as Binance does under load (5xx / -2021 / -1015).

Hand-worked scenario: a long of 10 ORCA entered at 100 with its stop at 95. The mark rises to
110 and the plan trails the stop to 100. Placing the stop at 100 is refused:

* the stop at 95 must still rest (it is cancelled only once its replacement is confirmed);
* no market close is sent (the position is still protected by the old stop);
* the next cycle, with the venue healthy again, places the stop at 100 and only then cancels 95.

A position with NO stop whose stop placement and market close are both refused gets an
error event ``stop_missing`` and, the next cycle, a stop placement attempt again (not only
another market close).
"""

from __future__ import annotations

from typing import Any

from bot.core.enums import OrderSide, OrderType, PositionSide
from bot.execution.paper import PaperExecutor
from bot.execution.types import OrderRejectedError, OrderRequest, OrderState
from bot.risk.stops import PlaceStop, ProtectionPlan, StopWatchdog, TrailingSpec
from bot.sim.exchange import SimExchange
from bot.trading.book import TradeBook
from bot.trading.orders import OrderRouter
from bot.trading.protection import Protector, conditional_infos, position_infos

from .helpers import instrument

SYM = "ORCAUSDT"
T0 = 1_742_270_400_000  # 2025-03-18T04:00:00Z


class RecordingJournal:
    """Just enough of ``bot.journal.Journal`` for the order path: keeps events, ids for rows."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._n = 0

    def record_event(self, kind: str, message: str, *, severity: str = "info", ts: int | None = None,
                     data: dict | None = None) -> str:
        self.events.append({"kind": kind, "message": message, "severity": severity, "ts": ts, "data": data})
        return self._id()

    def _id(self, *_: Any, **__: Any) -> str:
        self._n += 1
        return f"row{self._n}"

    record_order = record_order_status = record_fill = record_stop_move = _id


class RefusingExecutor(PaperExecutor):
    """The simulated core, except that stops and/or market orders are refused while asked to."""

    refuse_stops = False
    refuse_market = False

    async def submit(self, request: OrderRequest) -> OrderState:
        if self.refuse_stops and request.type in (OrderType.STOP_MARKET, OrderType.TRAILING_STOP_MARKET):
            raise OrderRejectedError("binance -1001 internal error (test)", -1001)
        if self.refuse_market and request.type is OrderType.MARKET:
            raise OrderRejectedError("binance -1001 internal error (test)", -1001)
        return await super().submit(request)


def _setup() -> tuple[SimExchange, RefusingExecutor, RecordingJournal, StopWatchdog, Protector]:
    inst = instrument(SYM, tick_size=0.01, step_size=0.001)
    sim = SimExchange({SYM: inst}, balance=10_000.0)
    sim.set_price(SYM, T0, 100.0, 100.0)
    sim.place_order(SYM, OrderSide.BUY, OrderType.MARKET, quantity=10.0)
    executor = RefusingExecutor(sim, {SYM: inst}, clock=lambda: sim.now_ms)
    journal = RecordingJournal()
    watchdog = StopWatchdog({SYM: inst})
    protector = Protector(OrderRouter(executor, journal), journal, TradeBook(), watchdog, "testrun1")  # type: ignore[arg-type]
    return sim, executor, journal, watchdog, protector


async def _cycle(executor: RefusingExecutor, watchdog: StopWatchdog, protector: Protector,
                 plan: ProtectionPlan) -> None:
    """What ``Engine._protect`` does: read the venue, let the watchdog decide, execute."""
    positions = await executor.positions()
    orders = await executor.open_orders(SYM)
    actions = watchdog.check(position_infos(positions), conditional_infos(orders), {SYM: plan})
    await protector.apply(actions, executor.sim.now_ms)


def _resting_stops(sim: SimExchange) -> list[float]:
    return sorted(o.trigger_price for o in sim.open_orders(SYM, conditional=True)
                  if o.type is OrderType.STOP_MARKET)


async def test_failed_trailing_move_keeps_the_old_stop_then_replaces_it() -> None:
    sim, executor, journal, watchdog, protector = _setup()
    plan = ProtectionPlan(SYM, PositionSide.LONG, 100.0, 95.0, trailing=TrailingSpec(0.0909))
    await _cycle(executor, watchdog, protector, plan)
    assert _resting_stops(sim) == [95.0]

    sim.set_price(SYM, T0 + 60_000, 110.0, 110.0)
    moved = ProtectionPlan(SYM, PositionSide.LONG, 100.0, 100.0, trailing=TrailingSpec(0.0909), best_price=110.0)
    executor.refuse_stops = executor.refuse_market = True
    await _cycle(executor, watchdog, protector, moved)
    assert _resting_stops(sim) == [95.0], "the old stop must rest until its replacement is confirmed"
    assert sim.position(SYM) is not None and sim.position(SYM).quantity == 10.0, "no close: still protected"
    assert any(e["kind"] == "stop_move_failed" for e in journal.events), journal.events

    executor.refuse_stops = executor.refuse_market = False
    await _cycle(executor, watchdog, protector, moved)
    assert _resting_stops(sim) == [100.0]


async def test_failed_stop_move_still_places_the_take_profit() -> None:
    # Only the cancel of the stop at 95 waited on the move to 100; the take-profit at 120 the plan
    # now asks for does not depend on the stop, so a refused move must not drop it.
    sim, executor, _journal, watchdog, protector = _setup()
    await _cycle(executor, watchdog, protector, ProtectionPlan(SYM, PositionSide.LONG, 100.0, 95.0))
    sim.set_price(SYM, T0 + 60_000, 110.0, 110.0)
    moved = ProtectionPlan(SYM, PositionSide.LONG, 100.0, 100.0, take_profit_price=120.0,
                           trailing=TrailingSpec(0.0909), best_price=110.0)
    executor.refuse_stops = True
    await _cycle(executor, watchdog, protector, moved)
    assert _resting_stops(sim) == [95.0]
    assert [o.trigger_price for o in sim.open_orders(SYM, conditional=True)
            if o.type is OrderType.TAKE_PROFIT_MARKET] == [120.0]


async def test_bare_position_gets_a_stop_attempt_every_cycle_and_an_error_event() -> None:
    sim, executor, journal, watchdog, protector = _setup()
    plan = ProtectionPlan(SYM, PositionSide.LONG, 100.0, 95.0)
    executor.refuse_stops = executor.refuse_market = True
    await _cycle(executor, watchdog, protector, plan)
    assert _resting_stops(sim) == [] and sim.position(SYM) is not None
    missing = [e for e in journal.events if e["kind"] == "stop_missing"]
    assert missing and missing[0]["severity"] == "error", journal.events
    # at the cycle's venue time, naming the bare position: 10 ORCA
    assert (missing[0]["ts"], missing[0]["data"]) == (T0, {"symbol": SYM, "quantity": 10.0})

    # next cycle: the watchdog asks for a stop again (the close is only the escalation)
    positions = position_infos(await executor.positions())
    orders = conditional_infos(await executor.open_orders(SYM))
    assert isinstance(watchdog.check(positions, orders, {SYM: plan})[0], PlaceStop)

    executor.refuse_stops = executor.refuse_market = False
    await _cycle(executor, watchdog, protector, plan)
    assert _resting_stops(sim) == [95.0]
    assert sim.position(SYM).quantity == 10.0  # protected again, not closed


async def test_bare_position_is_closed_when_the_stop_is_refused_but_the_close_works() -> None:
    sim, executor, journal, watchdog, protector = _setup()
    executor.refuse_stops = True
    await _cycle(executor, watchdog, protector, ProtectionPlan(SYM, PositionSide.LONG, 100.0, 95.0))
    assert sim.position(SYM) is None
    failed = [e for e in journal.events if e["kind"] == "stop_placement_failed"]
    assert failed and failed[0]["severity"] == "error", journal.events
