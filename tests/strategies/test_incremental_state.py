"""The per-symbol incremental state of ``decide`` against recomputation from scratch.

Property tests over random histories (hypothesis) for every registered strategy: a long-lived
instance called with growing, repeated, jumped-ahead, slid or revised histories must decide
exactly what a fresh instance decides on the same history. The features themselves are
checked against brute-force definitions.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategy_builders import SYMBOL, T0, Bar, build, flat, holding

from bot.core.enums import PositionSide
from bot.core.timeutil import MS_PER_HOUR
from strategies import registry
from strategies.features import Change, EwmZScore, RollingMax, run_over

RATES = [None, None, None, 0.0001, -0.0001, 0.0015, -0.0015, -0.004, -0.01, -0.02, 0.003]


@st.composite
def bar_lists(draw, min_size: int = 5, max_size: int = 60) -> list[Bar]:
    n = draw(st.integers(min_size, max_size))
    moves = draw(st.lists(st.sampled_from([-0.1, -0.02, 0.0, 0.01, 0.03, 0.09, 0.2]), min_size=n, max_size=n))
    rates = draw(st.lists(st.sampled_from(RATES), min_size=n, max_size=n))
    oi_moves = draw(st.lists(st.sampled_from([None, -0.2, -0.03, 0.0, 0.02, 0.05]), min_size=n, max_size=n))
    bars, price, oi = [], 100.0, 1000.0
    for move, rate, oi_move in zip(moves, rates, oi_moves, strict=True):
        price *= 1 + move
        oi = oi * (1 + oi_move) if oi_move is not None else oi
        bars.append(Bar(price=price, settle=rate, oi=oi if oi_move is not None else None,
                        spot_ratio=0.1 if move == 0.2 else None))
    return bars


def portfolios(name: str):
    return [flat(), holding(SYMBOL, PositionSide.LONG, name, T0), holding(SYMBOL, PositionSide.SHORT, name, T0)]


@pytest.mark.parametrize("name", registry.names())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=bar_lists(), steps=st.lists(st.integers(0, 8), min_size=1, max_size=12), data=st.data())
def test_long_lived_state_equals_recomputation(name, bars, steps, data) -> None:
    cls = registry.get(name)
    history = build(bars)
    live = cls()
    end, fired = 1, 0
    for step in steps:
        prev_end, end = end, min(len(history), end + step)  # step 0 repeats the same call
        # a bounded buffer that slid forward but still holds the last snapshot seen
        start = data.draw(st.integers(0, prev_end - 1))
        for portfolio in portfolios(name):
            got = live.decide(history[start:end], portfolio)
            assert got == cls().decide(history[:end], portfolio)
            fired += bool(got)
    # the state's last frame equals the batch path's last frame
    assert live._advance(history) == cls().frames(history)[-1]


@pytest.mark.parametrize("name", registry.names())
def test_random_histories_do_fire(name) -> None:
    """Guard for the property tests above: the generated data exercises real decisions."""
    bars = [Bar(price=100.0 * (1.09 if i > 40 else 1.0) ** (i - 40),
                settle=0.00005 if i > 56 else -0.01 if i > 30 else 0.0015,  # funding normalises at the end
                oi=1000.0 + i * 30) for i in range(60)]
    history = build(bars)
    kinds = set()
    for k in range(1, len(history) + 1):
        for portfolio in portfolios(name):
            kinds.update(i.kind for i in registry.get(name)().decide(history[:k], portfolio))
    assert len(kinds) >= 2  # entries and exits both happen


@pytest.mark.parametrize("name", registry.names())
@settings(max_examples=30, deadline=None)
@given(bars=bar_lists(min_size=10), cut=st.integers(2, 9))
def test_revised_history_rebuilds_the_state(name, bars, cut) -> None:
    cls = registry.get(name)
    history = build(bars)
    live = cls()
    live.decide(history, flat())
    # the data behind the bars since ``cut`` changed (a corrected feed, another source): the
    # last consumed snapshot is different, so the state must be rebuilt, not reused
    revised = history[:-cut] + build([replace(b, price=b.price * 3) for b in bars[-cut:]],
                                     t0=history[-cut].ts)
    for k in (len(revised) - 1, len(revised)):
        assert live.decide(revised[:k], flat()) == cls().decide(revised[:k], flat())
        assert live._advance(revised[:k]) == cls().frames(revised[:k])[-1]


def test_state_is_per_symbol() -> None:
    cls = registry.get("short_squeeze")
    a = build([Bar(price=100.0 + i, settle=-0.01) for i in range(30)], symbol="AUSDT")
    b = build([Bar(price=100.0 * 1.05 ** i, settle=-0.01) for i in range(30)], symbol="BUSDT")
    live = cls()
    for k in range(1, 31):
        assert live.decide(a[:k], flat()) == cls().decide(a[:k], flat())
        assert live.decide(b[:k], flat()) == cls().decide(b[:k], flat())


def test_mixed_symbols_are_rejected() -> None:
    a = build([Bar()] * 3, symbol="AUSDT")
    b = build([Bar()] * 3, symbol="BUSDT", t0=a[-1].ts + MS_PER_HOUR)
    with pytest.raises(ValueError, match="mixes symbols"):
        registry.get("funding_extreme")().decide(a + b, flat())


# -- features against brute force ----------------------------------------------------------

@st.composite
def gappy_series(draw):
    n = draw(st.integers(1, 60))
    present = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    values = draw(st.lists(st.floats(1.0, 1000.0), min_size=n, max_size=n))
    return [Bar(price=v if p else float("nan")) for v, p in zip(values, present, strict=True)]


@given(bars=gappy_series(), window_h=st.integers(1, 8))
def test_change_matches_definition(bars, window_h) -> None:
    snaps = build(bars)
    got = run_over(Change("last_price", window_h * MS_PER_HOUR, tolerance_ms=0), snaps)
    for i, value in enumerate(got):
        now, then = bars[i].price, bars[i - window_h].price if i >= window_h else None
        if now != now or then is None or then != then:
            assert value is None
        else:
            assert value == pytest.approx(now / then - 1)


@given(bars=gappy_series(), window_h=st.integers(1, 8))
def test_rolling_max_matches_definition(bars, window_h) -> None:
    got = run_over(RollingMax("last_price", window_h * MS_PER_HOUR), build(bars))
    for i, value in enumerate(got):
        seen = [b.price for b in bars[max(0, i - window_h): i + 1] if b.price == b.price]
        assert value == (max(seen) if seen else None)


@given(xs=st.lists(st.floats(-0.02, 0.02), min_size=1, max_size=60), halflife=st.floats(1.0, 50.0))
def test_ewm_zscore_matches_weighted_definition(xs, halflife) -> None:
    z = EwmZScore(halflife, min_obs=3)
    alpha = 1 - 0.5 ** (1 / halflife)
    for i, x in enumerate(xs):
        got = z.push(x)
        if i < 3:
            assert got is None
            continue
        # mean/var of xs[:i] with weights (1-alpha)^k, adjust=False form
        mean, var = xs[0], 0.0
        for y in xs[1:i]:
            d = y - mean
            mean += alpha * d
            var = (1 - alpha) * (var + alpha * d * d)
        if var > 1e-18:
            assert got == pytest.approx((x - mean) / var ** 0.5, rel=1e-9, abs=1e-9)
        else:
            assert got is None
