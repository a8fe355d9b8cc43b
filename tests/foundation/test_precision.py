"""Rounding to market precision: exact, idempotent, never beyond the asked direction."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.instrument import Instrument, ccxt_symbol_to_id, id_to_ccxt_symbol
from bot.core.precision import Rounding, decimals_of, format_step, is_multiple, round_price, round_quantity

steps = st.sampled_from([1.0, 0.5, 0.1, 0.01, 0.001, 0.0001, 1e-05, 1e-06, 10.0, 0.025])
values = st.floats(min_value=1e-6, max_value=1e7, allow_nan=False, allow_infinity=False)


def test_classic_float_traps() -> None:
    assert round_quantity(0.3, 0.1) == 0.3  # 0.3 / 0.1 == 2.9999999999999996 in floats
    assert round_quantity(0.29999, 0.1) == 0.2
    assert round_price(60000.123, 0.1) == 60000.1
    assert round_price(1.005, 0.01) == 1.0  # ties to even
    assert round_price(0.2351, 0.0001, Rounding.FLOOR) == 0.2351


@given(values, steps)
def test_quantity_rounding_never_exceeds_and_is_on_step(value: float, step: float) -> None:
    rounded = round_quantity(value, step)
    assert rounded <= value + 1e-12 * max(1.0, value)
    assert is_multiple(rounded, step)
    assert value - rounded < step * (1 + 1e-9)
    assert round_quantity(rounded, step) == rounded  # idempotent


@given(values, steps)
def test_floor_and_ceil_bracket_the_value(value: float, step: float) -> None:
    low = round_price(value, step, Rounding.FLOOR)
    high = round_price(value, step, Rounding.CEIL)
    assert Decimal(repr(low)) <= Decimal(repr(value)) <= Decimal(repr(high))
    assert Decimal(repr(high)) - Decimal(repr(low)) <= Decimal(repr(step))
    nearest = round_price(value, step)
    assert nearest in (low, high)


def test_formatting() -> None:
    assert decimals_of(0.001) == 3
    assert decimals_of(1) == 0
    assert format_step(0.3, 0.001) == "0.300"
    with pytest.raises(ValueError):
        round_quantity(1.0, 0)


def test_instrument_brackets_and_symbols() -> None:
    inst = Instrument(symbol="ORCAUSDT", base="ORCA")
    assert inst.ccxt_symbol == "ORCA/USDT:USDT"
    assert inst.bracket_for(4_999).bracket == 1
    assert inst.bracket_for(5_000).bracket == 2
    assert inst.bracket_for(1e12).bracket == inst.brackets[-1].bracket
    assert inst.max_leverage_for(300_000) == 5
    assert ccxt_symbol_to_id("ORCA/USDT:USDT") == "ORCAUSDT"
    assert id_to_ccxt_symbol("1000PEPEUSDT") == "1000PEPE/USDT:USDT"
    with pytest.raises(ValueError):
        id_to_ccxt_symbol("BTCUSDC")


def test_maintenance_is_continuous_across_brackets() -> None:
    inst = Instrument(symbol="X", base="X")
    for lower, upper in zip(inst.brackets, inst.brackets[1:], strict=False):
        edge = upper.notional_floor
        below = edge * lower.maint_margin_ratio - lower.cum
        above = edge * upper.maint_margin_ratio - upper.cum
        assert below == pytest.approx(above)
