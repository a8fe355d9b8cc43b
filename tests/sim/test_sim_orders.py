"""The order state machine: legal lifecycles, illegal moves raise, terminal states are final."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.enums import OrderSide, OrderStatus, OrderType, TimeInForce, WorkingType
from bot.sim.errors import IllegalTransition
from bot.sim.orders import ALLOWED_TRANSITIONS, SimOrder


def _order(quantity: float = 10.0) -> SimOrder:
    return SimOrder(7, "c-7", "ORCAUSDT", OrderSide.BUY, OrderType.LIMIT, quantity, 1.0, None,
                    TimeInForce.GTC, False, False, WorkingType.CONTRACT_PRICE, created_ms=1_000)


def test_partial_then_full_fill_records_history_and_average() -> None:
    order = _order(10.0)
    order.add_fill(4.0, 1.0, 2_000)
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.remaining == pytest.approx(6.0)
    order.add_fill(6.0, 1.5, 3_000)
    assert order.status is OrderStatus.FILLED
    assert order.avg_price == pytest.approx((4 * 1.0 + 6 * 1.5) / 10)
    assert order.cum_quote == pytest.approx(13.0)
    assert order.history == [(OrderStatus.NEW, 1_000), (OrderStatus.PARTIALLY_FILLED, 2_000),
                             (OrderStatus.FILLED, 3_000)]
    assert order.updated_ms == 3_000


def test_overfill_raises_and_leaves_order_unchanged() -> None:
    order = _order(10.0)
    order.add_fill(8.0, 1.0, 2_000)
    with pytest.raises(IllegalTransition, match="exceeds remaining"):
        order.add_fill(3.0, 1.0, 3_000)
    assert order.filled_qty == pytest.approx(8.0)
    assert order.status is OrderStatus.PARTIALLY_FILLED


@pytest.mark.parametrize("terminal", [OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED,
                                      OrderStatus.REJECTED])
def test_terminal_states_are_final(terminal: OrderStatus) -> None:
    order = _order()
    if terminal is OrderStatus.FILLED:
        order.add_fill(order.quantity, 1.0, 5)
    else:
        order.transition(terminal, 5)
    for target in OrderStatus:
        with pytest.raises(IllegalTransition):
            order.transition(target, 6)
    with pytest.raises(IllegalTransition):
        order.add_fill(1.0, 1.0, 7)
    assert order.status is terminal


def test_fill_statuses_only_through_add_fill() -> None:
    order = _order()
    with pytest.raises(IllegalTransition, match="use add_fill"):
        order.transition(OrderStatus.FILLED, 2)
    with pytest.raises(IllegalTransition, match="use add_fill"):
        order.transition(OrderStatus.PARTIALLY_FILLED, 2)
    assert order.history == [(OrderStatus.NEW, 1_000)]


def test_rejected_only_from_new() -> None:
    order = _order()
    order.add_fill(1.0, 1.0, 2)
    with pytest.raises(IllegalTransition, match="partially_filled -> rejected"):
        order.transition(OrderStatus.REJECTED, 3)


def test_fill_needs_positive_quantity_and_price() -> None:
    with pytest.raises(ValueError, match="positive"):
        _order().add_fill(0.0, 1.0, 2)
    with pytest.raises(ValueError, match="positive"):
        _order().add_fill(1.0, -1.0, 2)


@given(st.lists(st.one_of(st.tuples(st.just("fill"), st.integers(1, 6)),
                          st.tuples(st.just("status"), st.sampled_from(list(OrderStatus)))), max_size=12))
def test_random_operation_sequences_keep_invariants(ops: list[tuple[str, object]]) -> None:
    order = _order(10.0)
    ts = 1_000
    for kind, arg in ops:
        ts += 1
        before = (order.status, order.filled_qty, len(order.history))
        try:
            if kind == "fill":
                order.add_fill(float(arg), 1.0, ts)  # type: ignore[arg-type]
            else:
                order.transition(arg, ts)  # type: ignore[arg-type]
        except IllegalTransition:
            # refused moves change nothing
            assert (order.status, order.filled_qty, len(order.history)) == before
            continue
        assert order.history[-1] == (order.status, ts)
        assert order.status in ALLOWED_TRANSITIONS[before[0]]
    assert 0.0 <= order.filled_qty <= order.quantity
    assert (order.status is OrderStatus.FILLED) == (order.filled_qty == order.quantity)
    statuses = [s for s, _ in order.history]
    assert statuses[0] is OrderStatus.NEW
    assert all(not s.is_terminal for s in statuses[:-1])
    assert [t for _, t in order.history] == sorted(t for _, t in order.history)
