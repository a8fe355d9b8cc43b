"""Forward returns (fees, funding sign, windows) and statistics on hand-built histories."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.enums import PositionSide
from bot.core.timeutil import MS_PER_HOUR
from bot.data.store import SymbolHistory
from bot.research.returns import ForwardReturns
from bot.research.stats import Summary, dedupe, random_times, seeded_rng

H = MS_PER_HOUR
T0 = 1_700_000_000_000 - 1_700_000_000_000 % H


def history(closes: list[float], funding: list[tuple[int, float, float]]) -> SymbolHistory:
    """Bars opening at T0 + i h (so closing at T0 + (i+1) h); funding (hour, rate, mark)."""
    n = len(closes)
    ts = T0 + np.arange(n, dtype=np.int64) * H
    c = np.asarray(closes, dtype=float)
    return SymbolHistory(
        symbol="TESTUSDT", ts=ts, open=c, high=c, low=c, close=c, volume=np.ones(n), quote_volume=c,
        mark_open=c, mark_high=c, mark_low=c, mark_close=c,
        funding_ts=np.asarray([T0 + h * H for h, _, _ in funding], dtype=np.int64),
        funding_rate=np.asarray([r for _, r, _ in funding], dtype=float),
        funding_mark=np.asarray([m for _, _, m in funding], dtype=float))


def test_long_receives_negative_funding_and_pays_fees() -> None:
    h = history([100.0] * 10, [(3, -0.01, 100.0), (5, -0.02, 110.0)])
    fwd = ForwardReturns.of(h)
    t = np.array([T0 + 1 * H])  # close of bar 0 is known at T0 + 1h
    # price flat; funding at 3h and 5h lie in (1h, 5h]: receive 1% * 100/100 + 2% * 110/100
    long = fwd.net(t, PositionSide.LONG, 4 * H)[0]
    assert long == pytest.approx(-0.001 + 0.01 + 0.022)
    short = fwd.net(t, PositionSide.SHORT, 4 * H)[0]
    assert short == pytest.approx(-0.001 - 0.01 - 0.022)


def test_settlement_window_is_half_open() -> None:
    h = history([100.0] * 10, [(2, 0.01, 100.0), (4, 0.01, 100.0)])
    fwd = ForwardReturns.of(h)
    # entry at 2h (paid before entry, excluded), exit at 4h (included)
    assert fwd.net(np.array([T0 + 2 * H]), PositionSide.LONG, 2 * H)[0] == pytest.approx(-0.001 - 0.01)


def test_price_move_and_missing_window() -> None:
    h = history([100.0, 110.0, 121.0], [])
    fwd = ForwardReturns.of(h)
    t = np.array([T0 + 1 * H, T0 + 2 * H, T0 + 3 * H])
    got = fwd.net(t, PositionSide.LONG, H)
    assert got[0] == pytest.approx(0.1 - 0.001)
    assert got[1] == pytest.approx(0.1 - 0.001)
    assert math.isnan(got[2])  # no bar closes at 4h: no full window
    assert fwd.net(t[:1], PositionSide.SHORT, H)[0] == pytest.approx(-0.1 - 0.001)


@settings(max_examples=40, deadline=None)
@given(closes=st.lists(st.floats(1.0, 1000.0), min_size=30, max_size=30),
       rates=st.lists(st.floats(-0.02, 0.02), min_size=10, max_size=10),
       entry=st.integers(1, 20), horizon=st.integers(1, 9), long=st.booleans())
def test_vectorised_funding_equals_funding_payment(closes, rates, entry, horizon, long) -> None:
    funding = [(2 + 3 * i, r, closes[2 + 3 * i]) for i, r in enumerate(rates)]
    h = history(closes, funding)
    fwd = ForwardReturns.of(h)
    side = PositionSide.LONG if long else PositionSide.SHORT
    t = T0 + entry * H
    got = fwd.net(np.array([t]), side, horizon * H)[0]
    p0, p1 = closes[entry - 1], closes[entry - 1 + horizon]
    expected = side.sign * (p1 / p0 - 1) - 0.001 + fwd.funding_received(
        t, side, horizon * H, h.funding_mark, h.funding_rate)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_summary_values() -> None:
    s = Summary.of(np.array([0.02, -0.01, 0.03, 0.0, np.nan]))
    assert (s.n, s.hit_rate) == (4, 0.5)
    assert s.mean == pytest.approx(0.01) and s.median == pytest.approx(0.01)
    sd = np.std([0.02, -0.01, 0.03, 0.0], ddof=1)
    assert s.t_stat == pytest.approx(0.01 / (sd / 2))
    assert math.isnan(Summary.of(np.array([0.5])).t_stat)
    assert Summary.of(np.array([])).n == 0


def test_dedupe_keeps_one_entry_per_episode() -> None:
    times = np.array([0, 1, 2, 3, 4, 9, 10], dtype=np.int64) * H
    assert list(dedupe(times, 4 * H) // H) == [0, 4, 9]
    assert list(dedupe(times, H) // H) == [0, 1, 2, 3, 4, 9, 10]


def test_random_baseline_is_seeded_and_sized() -> None:
    cands = np.arange(100, dtype=np.int64) * H
    a = random_times(cands, 10, seeded_rng(7, "s", "long", "X", "test", 4))
    b = random_times(cands, 10, seeded_rng(7, "s", "long", "X", "test", 4))
    c = random_times(cands, 10, seeded_rng(8, "s", "long", "X", "test", 4))
    assert list(a) == list(b) and list(a) != list(c)
    assert len(set(a)) == 10 and set(a) <= set(cands)
    assert len(random_times(cands[:3], 5, seeded_rng(1))) == 5  # more than candidates: with replacement
