"""position_size: the formula, rounding down, the notional cap, bad input, and the budget."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import safety
from bot.core.precision import is_multiple
from bot.risk.sizing import position_size, risk_per_unit


def test_formula_without_fees_or_step() -> None:
    # 10_000 * 0.01 = 100 at risk; 2 per unit -> 50 units
    assert position_size(10_000, 100.0, 98.0, 0.01) == pytest.approx(50.0, rel=1e-12)


def test_fees_enlarge_the_denominator() -> None:
    # per unit: |100-98| + 0.0005*(100+98) = 2.099 -> 100 / 2.099 = 47.64...
    qty = position_size(10_000, 100.0, 98.0, 0.01, lot_step=0.01, fee_rate=0.0005)
    assert qty == 47.64
    assert risk_per_unit(100.0, 98.0, 0.0005) == pytest.approx(2.099)


def test_short_stop_above_entry_sizes_the_same() -> None:
    assert position_size(10_000, 100.0, 102.0, 0.01, lot_step=1) == 50.0


def test_rounds_down_to_the_lot_step_never_up() -> None:
    # exact 33.333.. -> 33.3 with step 0.1 (nearest would also be 33.3; check 66.66.. -> 66.6)
    assert position_size(10_000, 100.0, 97.0, 0.01, lot_step=0.1) == 33.3
    assert position_size(20_000, 100.0, 97.0, 0.01, lot_step=0.1) == 66.6


def test_exactly_one_lot_and_just_below() -> None:
    # budget 1.0, 1.0 per unit: exactly one lot of 1 -> 1; a hair less budget -> 0
    assert position_size(100.0, 10.0, 9.0, 0.01, lot_step=1) == 1.0
    assert position_size(99.99, 10.0, 9.0, 0.01, lot_step=1) == 0.0


def test_max_notional_caps_and_rounds_down() -> None:
    # risk size 50 units = 5_000 notional; cap 1_234 -> 12.34 units at step 0.01
    assert position_size(10_000, 100.0, 98.0, 0.01, lot_step=0.01, max_notional=1_234) == 12.34
    # cap exactly the risk size leaves it unchanged
    assert position_size(10_000, 100.0, 98.0, 0.01, lot_step=1, max_notional=5_000) == 50.0
    assert position_size(10_000, 100.0, 98.0, 0.01, lot_step=1, max_notional=4_999.99) == 49.0


def test_no_equity_gives_zero() -> None:
    assert position_size(0.0, 100.0, 98.0, 0.01) == 0.0
    assert position_size(-5.0, 100.0, 98.0, 0.01) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"entry_price": 0.0}, "entry_price"),
        ({"stop_price": -1.0}, "stop_price"),
        ({"stop_price": 100.0}, "equals entry_price"),
        ({"risk_fraction": 0.0}, "risk_fraction"),
        ({"risk_fraction": safety.MAX_RISK_PER_TRADE * 1.0001}, "hard limit"),
        ({"entry_price": math.nan}, "entry_price"),
        ({"lot_step": 0.0}, "lot_step"),
        ({"fee_rate": -0.001}, "fee_rate"),
        ({"max_notional": -1.0}, "max_notional"),
        ({"equity": math.inf}, "equity"),
    ],
)
def test_bad_input_raises_a_clear_error(kwargs: dict, message: str) -> None:
    args = {"equity": 10_000.0, "entry_price": 100.0, "stop_price": 98.0, "risk_fraction": 0.01}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        position_size(**args)


def test_risk_fraction_at_the_hard_limit_is_allowed() -> None:
    assert position_size(10_000, 100.0, 98.0, safety.MAX_RISK_PER_TRADE, lot_step=1) == 100.0


prices = st.floats(min_value=1e-4, max_value=1e5, allow_nan=False, allow_infinity=False)
steps = st.sampled_from([None, 1.0, 0.1, 0.001, 0.00001, 10.0])


@given(
    equity=st.floats(min_value=1.0, max_value=1e8),
    entry=prices,
    stop_frac=st.floats(min_value=1e-4, max_value=0.5),
    direction=st.sampled_from([-1, 1]),
    risk=st.floats(min_value=1e-4, max_value=safety.MAX_RISK_PER_TRADE),
    step=steps,
    fee=st.sampled_from([0.0, 0.0002, 0.0005, 0.001]),
    cap=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1e7)),
)
def test_property_never_risks_more_than_the_budget(equity: float, entry: float, stop_frac: float,
                                                   direction: int, risk: float, step: float | None,
                                                   fee: float, cap: float | None) -> None:
    stop = entry * (1 + direction * stop_frac)
    if stop == entry:
        return
    qty = position_size(equity, entry, stop, risk, lot_step=step, fee_rate=fee, max_notional=cap)
    assert qty >= 0
    loss = abs(entry - stop) * qty + fee * (entry + stop) * qty
    assert loss <= equity * risk * (1 + 1e-12)
    if cap is not None:
        assert qty * entry <= cap * (1 + 1e-12)
    if step is not None:
        assert is_multiple(qty, step)
        # rounded DOWN by less than one step: one more lot would (within float resolution) break the budget or the cap
        more = qty + step
        over_budget = abs(entry - stop) * more + fee * (entry + stop) * more > equity * risk * (1 - 1e-9)
        over_cap = cap is not None and more * entry > cap * (1 - 1e-9)
        assert over_budget or over_cap
