"""Exits re-based on the real fill, and exit attribution that only looks at the trade's own orders."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.enums import ExitReason, MarginMode, PositionSide
from bot.core.instrument import Instrument
from bot.engine import exits_for_fill
from bot.execution.ids import client_order_id, intent_key
from bot.risk.decision import OrderPlan
from bot.trading.book import OpenTrade
from bot.trading.exits import _candidates

INST = Instrument(symbol="RIVERUSDT", base="RIVER", tick_size=0.00001, step_size=0.1)


def plan(side: PositionSide, entry: float, stop_pct: float, tp_pct: float) -> OrderPlan:
    s = side.sign
    return OrderPlan("RIVERUSDT", side, 100.0, 2, entry, INST.round_price(entry * (1 - s * stop_pct)),
                     INST.round_price(entry * (1 + s * tp_pct)), MarginMode.ISOLATED, None)


def test_the_observed_case_a_long_take_profit_never_lands_below_the_fill() -> None:
    # planned at 5.2 (reference), filled at 5.83121 on a fast venue
    p = plan(PositionSide.LONG, 5.2, 0.05, 0.05)
    stop, tp = exits_for_fill(INST, p, 5.83121)
    assert stop < 5.83121 < tp
    assert tp - 5.83121 == pytest.approx(p.take_profit_price - p.entry_price, abs=2e-5)


@given(side=st.sampled_from(list(PositionSide)), entry=st.floats(0.01, 1000), stop_pct=st.floats(0.002, 0.3),
       tp_pct=st.floats(0.002, 1.0), slip=st.floats(-0.5, 0.5))
def test_exits_keep_their_distances_on_the_right_sides(side, entry, stop_pct, tp_pct, slip) -> None:
    p = plan(side, INST.round_price(entry), stop_pct, tp_pct)
    if p.entry_price <= 0 or p.stop_price <= 0:
        return
    fill = INST.round_price(p.entry_price * (1 + slip))
    if fill <= 0:
        return
    stop, tp = exits_for_fill(INST, p, fill)
    s = side.sign
    assert s * (fill - stop) > 0, "the stop is on the loss side of the fill"
    if s * (fill - (fill + p.stop_price - p.entry_price)) > 0:  # the moved stop was usable
        assert abs(abs(fill - stop) - abs(p.entry_price - p.stop_price)) <= INST.tick_size * 1.0001
    assert tp is not None and s * (tp - fill) > 0, "the take-profit is on the profit side of the fill"


def test_exit_attribution_ignores_exits_of_earlier_trades_on_the_same_symbol() -> None:
    key_old = intent_key("funding_extreme", "RIVERUSDT", 1, "enter_long")
    key_new = intent_key("funding_extreme", "RIVERUSDT", 2, "enter_long")
    own = {client_order_id("run00001", key_old, "x", 1): ExitReason.TAKE_PROFIT,
           client_order_id("run00001", key_new, "x", 1): ExitReason.SIGNAL}
    s1, s2 = (client_order_id("run00001", key_new, "s", n) for n in (1, 2))
    t1 = client_order_id("run00001", key_new, "t", 1)
    trade = OpenTrade("t", "RIVERUSDT", PositionSide.LONG, "funding_extreme", 2, 5.0, 1.0, 2, MarginMode.ISOLATED,
                      key_new, stop_client_id=s2, tp_client_id=t1,
                      order_ids={client_order_id("run00001", key_new, "e", 0): "j0", s1: "j1", t1: "j2", s2: "j3"})
    candidates = _candidates(trade, own)
    # its own exit first; then every stop and take-profit it ever had, the older stop included
    assert [c for c, _ in candidates] == [client_order_id("run00001", key_new, "x", 1), s2, s1, t1]
    assert dict(candidates)[s1] == (ExitReason.STOP_LOSS, True)
    assert dict(candidates)[t1] == (ExitReason.TAKE_PROFIT, True)
