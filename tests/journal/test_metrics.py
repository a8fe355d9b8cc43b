"""Metrics against empyrical's published test values, independent numpy recomputation, and
hypothesis properties.

Source of the series and expected values: quantopian/empyrical, ``empyrical/tests/test_stats.py``
(class ``TestStats``: ``simple_benchmark``, ``positive_returns``, ``negative_returns``,
``mixed_returns``, ``flat_line_1``, ``weekly_returns``, ``monthly_returns``, ``one_return``,
``empty_returns``; methods ``test_sharpe_ratio``, ``test_sortino``, ``test_downside_risk``,
``test_annual_ret``, ``test_calmar``, ``test_max_drawdown``). empyrical's ``DAILY`` period is
252 periods a year, ``WEEKLY`` 52, ``MONTHLY`` 12. Its tests compare to 8 decimal places.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.journal import metrics as m

DAILY, WEEKLY, MONTHLY = 252, 52, 12
PLACES = 1e-8

simple_benchmark = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]) / 100
positive_returns = np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) / 100
negative_returns = np.array([0.0, -6.0, -7.0, -1.0, -9.0, -2.0, -6.0, -8.0, -5.0]) / 100
mixed_returns = np.array([np.nan, 1.0, 10.0, -4.0, 2.0, 3.0, 2.0, 1.0, -10.0]) / 100
flat_line_1 = np.array([1.0] * 9) / 100
weekly_returns = np.array([0.0, 1.0, 10.0, -4.0, 2.0, 3.0, 2.0, 1.0, -10.0]) / 100
monthly_returns = weekly_returns.copy()
one_return = np.array([1.0]) / 100
empty_returns = np.array([])


def close(a: float, b: float, tol: float = PLACES) -> bool:
    if math.isnan(b):
        return math.isnan(a)
    if math.isinf(b):
        return a == b
    return abs(a - b) < tol


# --- empyrical's published regression values ------------------------------------------------

@pytest.mark.parametrize(("returns", "rf", "expected"), [
    (empty_returns, 0.0, math.nan),
    (one_return, 0.0, math.nan),
    (mixed_returns, mixed_returns, math.nan),
    (mixed_returns, 0.0, 1.7238613961706866),
    (mixed_returns, simple_benchmark, 0.34111411441060574),
    (positive_returns, 0.0, 52.915026221291804),
    (negative_returns, 0.0, -24.406808633910085),
    (flat_line_1, 0.0, math.inf),
])
def test_sharpe_published(returns, rf, expected):
    assert close(m.sharpe_ratio(returns, DAILY, risk_free=rf), expected)


@pytest.mark.parametrize(("returns", "req", "periods", "expected"), [
    (empty_returns, 0.0, DAILY, math.nan),
    (one_return, 0.0, DAILY, math.nan),
    (mixed_returns, mixed_returns, DAILY, math.nan),
    (mixed_returns, 0.0, DAILY, 2.605531251673693),
    (mixed_returns, flat_line_1, DAILY, -1.3934779588919977),
    (positive_returns, 0.0, DAILY, math.inf),
    (negative_returns, 0.0, DAILY, -13.532743075043401),
    (simple_benchmark, 0.0, DAILY, math.inf),
    (weekly_returns, 0.0, WEEKLY, 1.1158901056866439),
    (monthly_returns, 0.0, MONTHLY, 0.53605626741889756),
])
def test_sortino_published(returns, req, periods, expected):
    assert close(m.sortino_ratio(returns, periods, required_return=req), expected)


@pytest.mark.parametrize(("returns", "req", "periods", "expected"), [
    (empty_returns, 0.0, DAILY, math.nan),
    (one_return, 0.0, DAILY, 0.0),
    (mixed_returns, mixed_returns, DAILY, 0.0),
    (mixed_returns, 0.0, DAILY, 0.60448325038829653),
    (mixed_returns, 0.1, DAILY, 1.7161730681956295),
    (weekly_returns, 0.0, WEEKLY, 0.25888650451930134),
    (weekly_returns, 0.1, WEEKLY, 0.7733045971672482),
    (monthly_returns, 0.0, MONTHLY, 0.1243650540411842),
    (monthly_returns, 0.1, MONTHLY, 0.37148351242013422),
])
def test_downside_risk_published(returns, req, periods, expected):
    assert close(m.downside_risk(returns, periods, required_return=req), expected)


@pytest.mark.parametrize(("returns", "periods", "expected"), [
    (mixed_returns, DAILY, 1.9135925373194231),
    (weekly_returns, WEEKLY, 0.24690830513998208),
    (monthly_returns, MONTHLY, 0.052242061386048144),
])
def test_annual_return_published(returns, periods, expected):
    assert close(m.annual_return(returns, periods), expected)


@pytest.mark.parametrize(("returns", "periods", "expected"), [
    (empty_returns, DAILY, math.nan),
    (one_return, DAILY, math.nan),
    (mixed_returns, DAILY, 19.135925373194233),
    (weekly_returns, WEEKLY, 2.4690830513998208),
    (monthly_returns, MONTHLY, 0.52242061386048144),
])
def test_calmar_published(returns, periods, expected):
    assert close(m.calmar_ratio(returns, periods), expected)


@pytest.mark.parametrize(("returns", "expected"), [
    (empty_returns, math.nan),
    (one_return, 0.0),
    (simple_benchmark, 0.0),
    (mixed_returns, -0.1),
    (positive_returns, 0.0),
    # "negative returns means the drawdown is just the returns": cum_returns_final = -0.36590...
    (negative_returns, float(np.prod(1 + negative_returns) - 1)),
    (np.array([10.0, -10.0, 10.0]) / 100, -0.10),
])
def test_max_drawdown_published(returns, expected):
    assert close(m.max_drawdown(returns), expected)


def test_negative_returns_drawdown_value_matches_empyrical_cum_returns():
    # empyrical's test_cum_returns lists -0.36590 as the final cumulative return (4 places).
    assert abs(m.max_drawdown(negative_returns) - (-0.36590)) < 1e-4


# --- independent recomputation by hand with numpy ----------------------------------------------

def test_sharpe_recomputed_by_hand():
    r = mixed_returns[1:]  # NaN is skipped by empyrical's nanmean/nanstd
    mean = r.sum() / r.size
    std = math.sqrt(((r - mean) ** 2).sum() / (r.size - 1))
    assert close(m.sharpe_ratio(mixed_returns, DAILY), mean / std * math.sqrt(252))
    assert close(m.sharpe_ratio(pd.Series(mixed_returns), 365), mean / std * math.sqrt(365))


def test_sortino_recomputed_by_hand():
    r = mixed_returns[1:]
    dd = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / r.size)
    assert close(m.sortino_ratio(mixed_returns, 365), r.mean() / dd * math.sqrt(365))


def test_annual_return_counts_nan_as_a_period_like_empyrical():
    growth = 1.01 * 1.10 * 0.96 * 1.02 * 1.03 * 1.02 * 1.01 * 0.90
    assert close(m.annual_return(mixed_returns, DAILY), growth ** (252 / 9) - 1)
    assert close(m.calmar_ratio(mixed_returns, DAILY), (growth ** (252 / 9) - 1) / 0.1, 1e-7)


@pytest.mark.parametrize(("returns", "expected"), [
    ([], 0),
    ([0.01, 0.02], 0),
    ([0.10, -0.10, 0.10], 2),           # peak after p1; 0.99 < 1.10 after p2; 1.089 < 1.10 -> open
    ([-0.5, 1.0, 0.1], 2),              # peak is the start; back to 1.0 at the end of p2
    ([0.1, -0.01, 0.02, -0.5, 0.0], 2),  # small dip recovers; the max one (p4) never does
    (mixed_returns, 1),
])
def test_drawdown_duration(returns, expected):
    assert m.drawdown_duration(returns) == expected


def test_trade_metrics_by_hand():
    pnls = [100.0, -50.0, 30.0, -20.0, 0.0]
    assert m.profit_factor(pnls) == pytest.approx(130.0 / 70.0)
    assert m.expectancy(pnls) == pytest.approx(60.0 / 5)
    assert m.win_rate(pnls) == pytest.approx(0.4)
    assert m.average_win(pnls) == pytest.approx(65.0)
    assert m.average_loss(pnls) == pytest.approx(-35.0)
    assert math.isinf(m.profit_factor([1.0, 2.0]))
    assert math.isnan(m.profit_factor([]))
    assert math.isnan(m.expectancy([]))
    assert math.isnan(m.average_loss([5.0]))


def test_bad_input_is_rejected_with_a_clear_error():
    with pytest.raises(ValueError, match="periods_per_year"):
        m.sharpe_ratio([0.01, 0.02], 0)
    with pytest.raises(ValueError, match="one-dimensional"):
        m.max_drawdown(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="risk_free has 2 values"):
        m.sharpe_ratio([0.01, 0.02, 0.03], 365, risk_free=[0.0, 0.0])


# --- properties ------------------------------------------------------------------------------

returns_st = st.lists(st.floats(min_value=-0.5, max_value=0.5, allow_nan=False), min_size=2, max_size=60)
pnls_st = st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(returns_st)
def test_max_drawdown_matches_bruteforce_and_is_bounded(returns):
    values = [1.0]
    for r in returns:
        values.append(values[-1] * (1 + r))
    brute = min((values[j] - max(values[: j + 1])) / max(values[: j + 1]) for j in range(len(values)))
    mdd = m.max_drawdown(returns)
    assert -1.0 <= mdd <= 0.0
    assert mdd == pytest.approx(brute, abs=1e-12)
    assert (m.drawdown_duration(returns) == 0) == (mdd == 0.0)
    assert 0 <= m.drawdown_duration(returns) <= len(returns)


@settings(max_examples=150, deadline=None)
@given(returns_st, st.floats(min_value=0.5, max_value=3.0))
def test_sharpe_is_invariant_to_scaling_and_flips_with_sign(returns, k):
    s = m.sharpe_ratio(returns, 365)
    if not math.isfinite(s) or np.std(returns) < 1e-9:
        return
    assert m.sharpe_ratio([k * r for r in returns], 365) == pytest.approx(s, rel=1e-6, abs=1e-9)
    assert m.sharpe_ratio([-r for r in returns], 365) == pytest.approx(-s, rel=1e-9, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(returns_st)
def test_annual_return_compounds_back_to_total(returns):
    # With one "year" of periods the CAGR is the total return; with half-year data it squares.
    n = len(returns)
    total = float(np.prod(1 + np.asarray(returns)))
    assert m.annual_return(returns, n) == pytest.approx(total - 1, rel=1e-9, abs=1e-12)
    assert m.annual_return(returns, 2 * n) == pytest.approx(total**2 - 1, rel=1e-9, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(pnls_st)
def test_trade_metrics_identities(pnls):
    arr = np.asarray(pnls)
    wr, aw, al, ex = m.win_rate(pnls), m.average_win(pnls), m.average_loss(pnls), m.expectancy(pnls)
    decomposed = (wr * (0 if math.isnan(aw) else aw)
                  + (arr < 0).mean() * (0 if math.isnan(al) else al))
    assert ex == pytest.approx(decomposed, rel=1e-9, abs=1e-6)
    pf = m.profit_factor(pnls)
    if (arr < 0).any() and (arr > 0).any():
        assert (pf > 1) == (arr.sum() > 0) or abs(arr.sum()) < 1e-6
