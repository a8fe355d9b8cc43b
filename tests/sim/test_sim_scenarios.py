"""Scenarios on hand-built bars: stops (with gaps), take-profits, liquidation, funding, trailing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.core.enums import OrderSide, OrderStatus, OrderType, PositionSide, WorkingType
from bot.sim.exchange import SimExchange
from bot.sim.margin import funding_payment, liquidation_price_for
from bot.sim.models import EventKind, IncomeType

from .conftest import HOUR, SYMBOL

BUY, SELL = OrderSide.BUY, OrderSide.SELL
STOP, TP = OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET
Make = Callable[..., SimExchange]


def _long(ex: SimExchange, qty: float = 1000) -> None:
    ex.place_order(SYMBOL, BUY, OrderType.MARKET, qty)
    ex.drain_events()


def test_stop_loss_triggers_inside_the_bar_at_the_trigger_plus_impact(make_ex: Make) -> None:
    ex = make_ex()
    _long(ex)
    stop = ex.place_order(SYMBOL, SELL, STOP, trigger_price=0.95, close_position=True)
    events = ex.on_bar(SYMBOL, HOUR, 1.0, 1.01, 0.90, 0.92, 100_000)
    # path 1.0 -> 1.01 -> 0.90 -> 0.92: 0.95 is reached on the second leg
    assert [e.kind for e in events][:2] == [EventKind.TRIGGER, EventKind.FILL]
    fill = events[1].payload["fill"]
    # spread = 0.02 * (0.11 / 0.92) * 0.95 = 0.00227; half of it, depth 1000/level covers all
    assert fill.price == 0.948
    assert fill.quantity == 1000
    assert fill.ts_ms == HOUR + int(HOUR * (1 + 6 / 11) / 3)
    assert stop.status is OrderStatus.FILLED and stop.quantity == 1000
    child = ex.get_order(SYMBOL, order_id=stop.actual_order_id)
    assert child.type is OrderType.MARKET and not child.is_conditional and child.status is OrderStatus.FILLED
    assert child in ex.all_orders(SYMBOL, conditional=False)
    assert ex.position(SYMBOL) is None
    assert ex.open_orders() == []


def test_stop_loss_gap_fills_from_the_open(make_ex: Make) -> None:
    ex = make_ex(leverage=3)  # at 10x the 0.90 open would be beyond the liquidation price
    _long(ex)
    ex.place_order(SYMBOL, SELL, STOP, 1000, trigger_price=0.95, reduce_only=True)
    events = ex.on_bar(SYMBOL, HOUR, 0.90, 0.93, 0.88, 0.91, 100_000)  # opens through the stop
    fill = next(e.payload["fill"] for e in events if e.kind is EventKind.FILL)
    assert fill.ts_ms == HOUR
    assert fill.price < 0.90  # the open, minus the half spread: worse than the trigger
    assert fill.price == pytest.approx(0.899)
    assert fill.realized_pnl == pytest.approx(1000 * (0.899 - 1.001))


def test_take_profit_and_stop_in_the_same_bar_follow_the_path(make_ex: Make) -> None:
    ex = make_ex()
    _long(ex)
    sl = ex.place_order(SYMBOL, SELL, STOP, trigger_price=0.95, close_position=True)
    tp = ex.place_order(SYMBOL, SELL, TP, trigger_price=1.05, close_position=True)
    # high (1.06) is nearer to the open than the low (0.90): the TP is reached first
    ex.on_bar(SYMBOL, HOUR, 1.0, 1.06, 0.90, 0.95, 100_000)
    assert tp.status is OrderStatus.FILLED
    assert sl.status is OrderStatus.EXPIRED  # no position left when the low is reached
    assert ex.user_trades(SYMBOL)[-1].price < 1.05


def test_mark_price_stop_uses_the_mark_path(make_ex: Make) -> None:
    ex = make_ex()
    _long(ex)
    stop = ex.place_order(SYMBOL, SELL, STOP, trigger_price=0.95, close_position=True,
                          working_type=WorkingType.MARK_PRICE)
    # last price dips to 0.94 but the mark only to 0.96: no trigger
    ex.on_bar(SYMBOL, HOUR, 1.0, 1.0, 0.94, 0.99, 100_000, 1.0, 1.0, 0.96, 0.99)
    assert stop.status is OrderStatus.NEW
    ex.on_bar(SYMBOL, 2 * HOUR, 0.99, 0.99, 0.97, 0.97, 100_000, 0.99, 0.99, 0.949, 0.97)
    assert stop.status is OrderStatus.FILLED


def test_liquidation_at_the_reported_price(make_ex: Make) -> None:
    ex = make_ex(balance=1_000, leverage=10)
    _long(ex)
    before = ex.position(SYMBOL)
    assert before is not None and before.leverage == 10
    reported = before.liquidation_price
    inst = ex.instruments[SYMBOL]
    assert reported == pytest.approx(liquidation_price_for(inst, "long", 1.001, 1000, 100.1))
    assert 0.90 < reported < 0.92
    wallet_before = ex.balance().wallet
    ex.on_bar(SYMBOL, HOUR, 1.0, 1.0, 0.95, 0.96, 100_000)  # not yet
    assert ex.position(SYMBOL) is not None
    events = ex.on_bar(SYMBOL, 2 * HOUR, 0.96, 0.97, 0.88, 0.89, 100_000)
    liq = next(e for e in events if e.kind is EventKind.LIQUIDATION)
    assert liq.payload["liquidation_price"] == reported
    assert ex.position(SYMBOL) is None
    (force,) = ex.force_orders(SYMBOL)
    assert force.client_order_id.startswith("autoclose-")
    assert force.avg_price == reported and force.filled_qty == 1000 and force.side is SELL
    clear = ex.income(SYMBOL, IncomeType.INSURANCE_CLEAR)
    assert len(clear) == 1
    realized = 1000 * (reported - 1.001)
    assert clear[0].amount == pytest.approx(-(100.1 + realized))
    # the whole isolated margin is lost, nothing more
    assert ex.balance().wallet == pytest.approx(wallet_before - 100.1)
    assert 0 < liq.payload["liquidation_fee"] <= -clear[0].amount
    assert ex.balance().available == pytest.approx(ex.balance().wallet)


def test_liquidation_before_a_farther_stop_in_the_same_bar(make_ex: Make) -> None:
    ex = make_ex(balance=1_000, leverage=10)
    _long(ex)
    lp = ex.position(SYMBOL).liquidation_price  # type: ignore[union-attr]
    stop = ex.place_order(SYMBOL, SELL, STOP, trigger_price=0.85, close_position=True)
    ex.on_bar(SYMBOL, HOUR, 1.0, 1.0, 0.80, 0.82, 100_000)
    assert ex.force_orders()[0].avg_price == lp
    assert stop.status is OrderStatus.EXPIRED  # canceled by the liquidation
    assert ex.user_trades(SYMBOL)[-1].price == lp


def test_funding_sign_and_amount_each_settlement(make_ex: Make) -> None:
    ex = make_ex()
    _long(ex)
    iso0 = ex.position(SYMBOL).isolated_wallet  # type: ignore[union-attr]
    lp0 = ex.position(SYMBOL).liquidation_price  # type: ignore[union-attr]
    ev = ex.on_funding(SYMBOL, HOUR, 0.001, mark_price=1.02)  # positive rate: the long pays
    assert ev[0].kind is EventKind.FUNDING
    assert ev[0].payload["income"].amount == pytest.approx(-1000 * 1.02 * 0.001)
    ex.on_funding(SYMBOL, 2 * HOUR, -0.02)  # capped negative rate at the current mark 1.0: receives
    rows = ex.income(SYMBOL, IncomeType.FUNDING_FEE)
    assert [r.amount for r in rows] == pytest.approx([-1.02, 20.0])
    assert rows[1].amount == pytest.approx(funding_payment("long", 1000, 1.0, -0.02))
    pos = ex.position(SYMBOL)
    assert pos is not None and pos.isolated_wallet == pytest.approx(iso0 - 1.02 + 20.0)
    assert pos.liquidation_price < lp0  # more margin, farther liquidation
    # a short receives when the rate is positive
    ex.place_order(SYMBOL, SELL, OrderType.MARKET, 2000)
    assert ex.position(SYMBOL).side is PositionSide.SHORT  # type: ignore[union-attr]
    ex.on_funding(SYMBOL, 3 * HOUR, 0.0005, mark_price=1.0)
    assert ex.income(SYMBOL, IncomeType.FUNDING_FEE)[-1].amount == pytest.approx(1000 * 1.0 * 0.0005)
    # flat: nothing is booked
    ex.place_order(SYMBOL, BUY, OrderType.MARKET, 1000, reduce_only=True)
    assert ex.on_funding(SYMBOL, 4 * HOUR, 0.01) == []
    assert len(ex.income(SYMBOL, IncomeType.FUNDING_FEE)) == 3


def test_funding_that_drains_the_margin_liquidates(make_ex: Make) -> None:
    ex = make_ex(balance=1_000, leverage=10)
    _long(ex)
    events = ex.on_funding(SYMBOL, HOUR, 0.095)  # takes 95 of the 100.1 isolated margin
    assert events[0].kind is EventKind.FUNDING
    assert any(e.kind is EventKind.LIQUIDATION for e in events)
    assert ex.position(SYMBOL) is None


def test_set_price_tick_jumps_through_a_stop(make_ex: Make) -> None:
    ex = make_ex()
    _long(ex)
    ex.place_order(SYMBOL, SELL, STOP, trigger_price=0.95, close_position=True)
    assert ex.set_price(SYMBOL, HOUR, 0.97) == []
    events = ex.set_price(SYMBOL, HOUR + 1_000, 0.93)
    fill = next(e.payload["fill"] for e in events if e.kind is EventKind.FILL)
    assert fill.price < 0.93 and fill.ts_ms == HOUR + 1_000


def test_entry_stop_without_margin_expires_and_child_is_rejected(make_ex: Make) -> None:
    ex = make_ex(balance=50, leverage=1)
    stop = ex.place_order(SYMBOL, BUY, STOP, 40, trigger_price=1.1)
    ex.set_wallet_balance(10)
    ex.on_bar(SYMBOL, HOUR, 1.0, 1.2, 1.0, 1.15, 100_000)
    assert stop.status is OrderStatus.EXPIRED
    child = ex.get_order(SYMBOL, order_id=stop.actual_order_id)
    assert child.status is OrderStatus.REJECTED
    assert ex.position(SYMBOL) is None and ex.balance().wallet == 10


def test_trailing_stop_closes_after_retrace(make_ex: Make) -> None:
    ex = make_ex()
    _long(ex)
    trail = ex.place_order(SYMBOL, SELL, OrderType.TRAILING_STOP_MARKET, 1000, reduce_only=True,
                           callback_rate=0.05)
    ex.on_bar(SYMBOL, HOUR, 1.0, 1.2, 1.0, 1.18, 100_000)  # new high 1.2, no 5% retrace
    assert trail.status is OrderStatus.NEW and trail.trail_extreme == 1.2
    ex.on_bar(SYMBOL, 2 * HOUR, 1.18, 1.19, 1.10, 1.12, 100_000)  # falls to 1.14 = 1.2 * 0.95
    assert trail.status is OrderStatus.FILLED
    assert ex.user_trades(SYMBOL)[-1].price == pytest.approx(1.139)


def test_same_inputs_give_the_same_fills(make_ex: Make) -> None:
    def run() -> list[tuple]:
        ex = make_ex(seed=7)
        ex.place_order(SYMBOL, BUY, OrderType.MARKET, 700)
        ex.place_order(SYMBOL, SELL, STOP, trigger_price=0.93, close_position=True)
        ex.place_order(SYMBOL, BUY, OrderType.LIMIT, 5_000, price=0.96)
        for i, (o, h, lo, c) in enumerate([(1.0, 1.02, 0.95, 0.97), (0.97, 0.98, 0.9, 0.91)]):
            ex.on_bar(SYMBOL, (i + 1) * HOUR, o, h, lo, c, 30_000)
        return [(f.order_id, f.price, f.quantity, f.ts_ms, f.fee) for f in ex.user_trades(SYMBOL)]

    first = run()
    assert len(first) >= 3
    assert run() == first
