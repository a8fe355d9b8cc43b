"""Fill model: intrabar path, first touch (crossings and gaps), taker impact, trailing stops."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sim.fills import FillModel, bar_path, first_touch, price_at, trailing_touch


def test_bar_path_visits_nearer_extreme_first() -> None:
    assert bar_path(100, 101, 90, 95) == (100, 101, 90, 95)  # high is nearer
    assert bar_path(100, 110, 99, 105) == (100, 99, 110, 105)  # low is nearer
    assert bar_path(100, 105, 95, 100) == (100, 95, 105, 100)  # tie: low first


def test_first_touch_crossing_time_and_price() -> None:
    path = (100.0, 101.0, 90.0, 95.0)
    t, price = first_touch(path, 95.0, -1)  # falling leg 101 -> 90
    assert t == pytest.approx(1 + 6 / 11)
    assert price == 95.0
    assert price_at(path, t) == pytest.approx(95.0)
    # rising through 100.5 happens on the first leg
    assert first_touch(path, 100.5, +1) == (pytest.approx(0.5), 100.5)
    assert first_touch(path, 120.0, +1) is None


def test_first_touch_gap_returns_the_open() -> None:
    # a sell stop at 95 and a bar that opens at 92: already through at t=0, fill from the open
    assert first_touch((92.0, 96.0, 91.0, 93.0), 95.0, -1) == (0.0, 92.0)


def test_first_touch_respects_t_min() -> None:
    path = (100.0, 90.0, 110.0, 105.0)
    assert first_touch(path, 95.0, -1, t_min=0.0) == (pytest.approx(0.5), 95.0)
    # after the low, the price is rising: at t=1.5 it is 100 >= 95, no longer <= 95
    assert first_touch(path, 95.0, -1, t_min=1.5) is None
    assert first_touch(path, 95.0, -1, t_min=0.8) == (0.8, pytest.approx(92.0))


def test_strict_touch_needs_trading_through() -> None:
    path = (100.0, 99.0, 101.0, 100.0)
    assert first_touch(path, 99.0, -1, strict=True) is None  # low only touches the limit
    assert first_touch(path, 99.0, -1) == (1.0, 99.0)
    t, price = first_touch(path, 99.5, -1, strict=True)
    assert (t, price) == (pytest.approx(0.5), 99.5)


def test_single_point_path_is_a_jump() -> None:
    assert first_touch((90.0,), 95.0, -1) == (0.0, 90.0)
    assert first_touch((96.0,), 95.0, -1) is None


def test_taker_price_half_spread_and_book_walk() -> None:
    model = FillModel(spread_k=0.02, level_depth_frac=0.01)
    # bar range 10% of close at ref 1.0: spread 0.002; depth 1000 per level (volume 100k)
    # 2500 contracts: levels 0,1 full, 500 at level 2 -> weighted levels (1000*1 + 500*2)/2500 = 0.8
    expected = 1.0 + 0.001 + 0.002 * 0.8
    price = model.taker_price(+1, 1.0, 2500, 0.0001, 1.05, 0.95, 1.0, 100_000)
    assert price == pytest.approx(math.ceil(expected / 0.0001 - 1e-9) * 0.0001)
    sell = model.taker_price(-1, 1.0, 2500, 0.0001, 1.05, 0.95, 1.0, 100_000)
    assert sell == pytest.approx(math.floor((2 - expected) / 0.0001 + 1e-9) * 0.0001)
    # no volume: only the half spread (here the one-tick minimum spread)
    assert model.taker_price(+1, 1.0, 10**9, 0.001, 1.0, 1.0, 1.0, 0.0) == pytest.approx(1.001)


def test_taker_impact_is_capped_and_sell_price_positive() -> None:
    model = FillModel(max_impact_frac=0.5)
    assert model.taker_price(-1, 1.0, 10**9, 0.001, 1.1, 0.9, 1.0, 1.0) == pytest.approx(0.5)


@given(st.floats(1, 1e6), st.floats(1, 1e6))
def test_taker_offset_grows_with_size(q1: float, q2: float) -> None:
    model = FillModel()
    small, large = sorted((q1, q2))
    a = model.taker_offset(1.0, small, 0.0001, 1.1, 0.9, 1.0, 50_000)
    b = model.taker_offset(1.0, large, 0.0001, 1.1, 0.9, 1.0, 50_000)
    assert 0 < a <= b + 1e-12


def test_limit_budget() -> None:
    model = FillModel(limit_volume_frac=0.1)
    assert model.limit_budget(5_000) == 500
    assert model.limit_budget(None) == math.inf
    assert model.limit_budget(0.0) == math.inf


def test_fill_model_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="limit_volume_frac"):
        FillModel(limit_volume_frac=0.0)
    with pytest.raises(ValueError, match="spread_k"):
        FillModel(spread_k=float("nan"))


def test_trailing_sell_triggers_after_retrace_from_high() -> None:
    # long protected by a 5% trailing sell, active at once: high 110 then falls to 100
    path = (100.0, 110.0, 100.0, 102.0)
    t, price, active, extreme = trailing_touch(path, 0.0, sell=True, callback=0.05, active=True,
                                               extreme=100.0, activation=None)
    assert active and extreme == 110.0
    assert price == pytest.approx(104.5)
    assert t == pytest.approx(1 + 5.5 / 10)


def test_trailing_waits_for_activation() -> None:
    path = (100.0, 104.0, 95.0, 96.0)
    t, _, active, extreme = trailing_touch(path, 0.0, sell=True, callback=0.02, active=False,
                                           extreme=None, activation=105.0)
    assert t is None and not active and extreme is None
    # buy trailing (protecting a short): low 95, triggers at 95 * 1.02 = 96.9 on the way up
    path2 = (100.0, 95.0, 98.0, 97.0)
    t2, price2, _, ext2 = trailing_touch(path2, 0.0, sell=False, callback=0.02, active=True,
                                         extreme=100.0, activation=None)
    assert ext2 == 95.0 and price2 == pytest.approx(96.9)
    assert t2 == pytest.approx(1 + 1.9 / 3)
