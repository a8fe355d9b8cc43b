"""Performance metrics with empyrical's definitions.

We re-implement the handful of empyrical formulas we need instead of depending on the
(unmaintained) package, and keep its conventions exactly so numbers are comparable with
pyfolio/quantstats reports users already know:

* ``returns`` are *simple* period returns (0.01 = +1%), a sequence, numpy array or pandas Series.
* NaN entries are ignored by means and deviations (``nanmean``/``nanstd``) and count as a 0%
  period when compounding, but still count as a period in ``annual_return`` -- as empyrical.
* Sharpe uses the sample standard deviation (``ddof=1``); Sortino uses the downside deviation
  ``sqrt(mean(min(r - required, 0)^2))``; both are annualised with ``sqrt(periods_per_year)``.
* Fewer than two returns give NaN for Sharpe/Sortino; an empty series gives NaN everywhere.
  A zero deviation gives ``+-inf`` when the mean excess return is non-zero and NaN when it is
  zero (0/0), exactly as empyrical's ``np.divide`` does.
* ``max_drawdown`` is a negative fraction (or 0.0); ``calmar_ratio`` is NaN without a drawdown.

Trade-based metrics (``profit_factor``, ``expectancy``, ``average_win``/``average_loss``,
``win_rate``) take per-trade net P&L amounts in quote currency.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TypeAlias

import numpy as np
import pandas as pd

ReturnsLike: TypeAlias = Sequence[float] | np.ndarray | pd.Series
RateLike: TypeAlias = float | Sequence[float] | np.ndarray | pd.Series

__all__ = [
    "annual_return",
    "average_loss",
    "average_win",
    "calmar_ratio",
    "cum_returns",
    "downside_risk",
    "drawdown_duration",
    "expectancy",
    "max_drawdown",
    "profit_factor",
    "sharpe_ratio",
    "sortino_ratio",
    "win_rate",
]


def _as_array(returns: ReturnsLike) -> np.ndarray:
    """Float64 1-D view of ``returns``; a clear error for anything else."""
    arr = np.asarray(returns.to_numpy() if isinstance(returns, pd.Series) else returns, dtype="float64")
    if arr.ndim != 1:
        raise ValueError(f"returns must be one-dimensional, got shape {arr.shape}")
    return arr


def _as_rate(rate: RateLike, n: int, name: str) -> float | np.ndarray:
    """A scalar rate, or a per-period rate series that must match the returns' length."""
    if np.isscalar(rate):
        return float(rate)  # type: ignore[arg-type]
    arr = _as_array(rate)  # type: ignore[arg-type]
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} values but returns has {n}")
    return arr


def _check_periods(periods_per_year: float) -> float:
    if not periods_per_year or periods_per_year <= 0 or not math.isfinite(periods_per_year):
        raise ValueError(f"periods_per_year must be a positive number, got {periods_per_year!r}")
    return float(periods_per_year)


def _divide(num: float, den: float) -> float:
    """IEEE division like numpy's (x/0 -> +-inf, 0/0 -> nan) without warnings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.divide(np.float64(num), np.float64(den)))


def cum_returns(returns: ReturnsLike, starting_value: float = 0.0) -> np.ndarray:
    """Compounded cumulative return after each period (NaN periods count as 0%).

    With ``starting_value`` 0 the result is a fraction (0.05 = +5%); otherwise it is the value
    of ``starting_value`` invested at the start.
    """
    arr = _as_array(returns)
    growth = np.cumprod(1.0 + np.nan_to_num(arr, nan=0.0))
    return growth - 1.0 if starting_value == 0 else growth * starting_value


def sharpe_ratio(returns: ReturnsLike, periods_per_year: float, risk_free: RateLike = 0.0) -> float:
    """Annualised Sharpe ratio: mean(r - rf) / std(r - rf, ddof=1) * sqrt(periods_per_year)."""
    periods = _check_periods(periods_per_year)
    arr = _as_array(returns)
    if arr.shape[0] < 2:
        return math.nan
    excess = arr - _as_rate(risk_free, arr.shape[0], "risk_free")
    if np.all(np.isnan(excess)):
        return math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.nanstd(excess, ddof=1)
    return _divide(float(np.nanmean(excess)), float(std)) * math.sqrt(periods)


def downside_risk(returns: ReturnsLike, periods_per_year: float, required_return: RateLike = 0.0) -> float:
    """Annualised downside deviation: sqrt(mean(min(r - required, 0)^2)) * sqrt(periods)."""
    periods = _check_periods(periods_per_year)
    arr = _as_array(returns)
    if arr.shape[0] < 1:
        return math.nan
    diff = arr - _as_rate(required_return, arr.shape[0], "required_return")
    if np.all(np.isnan(diff)):
        return math.nan
    downside = np.minimum(diff, 0.0)  # NaN stays NaN and is skipped by nanmean
    return math.sqrt(float(np.nanmean(downside * downside))) * math.sqrt(periods)


def sortino_ratio(returns: ReturnsLike, periods_per_year: float, required_return: RateLike = 0.0) -> float:
    """Annualised Sortino ratio: mean(r - required) * periods / downside_risk."""
    periods = _check_periods(periods_per_year)
    arr = _as_array(returns)
    if arr.shape[0] < 2:
        return math.nan
    adj = arr - _as_rate(required_return, arr.shape[0], "required_return")
    if np.all(np.isnan(adj)):
        return math.nan
    annual_mean = float(np.nanmean(adj)) * periods
    return _divide(annual_mean, downside_risk(arr, periods, required_return))


def max_drawdown(returns: ReturnsLike) -> float:
    """Largest peak-to-trough fall of the compounded curve, as a negative fraction (or 0.0).

    The curve starts at 1 *before* the first return, so a loss in the first period counts.
    """
    arr = _as_array(returns)
    if arr.shape[0] < 1:
        return math.nan
    curve = np.concatenate(([1.0], cum_returns(arr, starting_value=1.0)))
    peaks = np.fmax.accumulate(curve)
    return float(np.min((curve - peaks) / peaks))


def drawdown_duration(returns: ReturnsLike) -> int:
    """Length in periods of the maximum drawdown's episode: from its peak until the curve is
    back at that peak, or until the last period when it has not recovered.

    The peak is the starting value (period 0) or the end of a period; a drawdown that begins
    in the first period and recovers at the end of period 3 lasts 3 periods. 0 without a
    drawdown (or for empty input), because "how long were we under water" is then nothing.
    """
    arr = _as_array(returns)
    if arr.shape[0] < 1:
        return 0
    curve = np.concatenate(([1.0], cum_returns(arr, starting_value=1.0)))
    peaks = np.fmax.accumulate(curve)
    dd = (curve - peaks) / peaks
    trough = int(np.argmin(dd))
    if dd[trough] >= 0:
        return 0
    peak_value = peaks[trough]
    peak = int(np.flatnonzero(curve[: trough + 1] >= peak_value)[-1])
    recovered = np.flatnonzero(curve[trough:] >= peak_value)
    end = trough + int(recovered[0]) if recovered.size else curve.shape[0] - 1
    return end - peak


def annual_return(returns: ReturnsLike, periods_per_year: float) -> float:
    """Compound annual growth rate: cumulative^(periods_per_year / n) - 1."""
    periods = _check_periods(periods_per_year)
    arr = _as_array(returns)
    if arr.shape[0] < 1:
        return math.nan
    ending = float(np.prod(1.0 + np.nan_to_num(arr, nan=0.0)))
    years = arr.shape[0] / periods
    if ending < 0:  # lost more than everything (leverage); a real power is undefined
        return math.nan
    return ending ** (1.0 / years) - 1.0


def calmar_ratio(returns: ReturnsLike, periods_per_year: float) -> float:
    """annual_return / |max_drawdown|; NaN without a drawdown or when the ratio is infinite."""
    mdd = max_drawdown(returns)
    if not mdd < 0:
        return math.nan
    ratio = annual_return(returns, periods_per_year) / abs(mdd)
    return math.nan if math.isinf(ratio) else ratio


def _pnl_array(pnls: Iterable[float]) -> np.ndarray:
    arr = np.asarray(list(pnls) if not isinstance(pnls, np.ndarray | pd.Series) else pnls, dtype="float64")
    return arr[~np.isnan(arr)]


def profit_factor(pnls: Iterable[float]) -> float:
    """Gross profit / gross loss of closed trades.

    NaN without trades or when there is neither profit nor loss; ``inf`` when nothing lost.
    """
    arr = _pnl_array(pnls)
    if arr.size == 0:
        return math.nan
    gross_win = float(arr[arr > 0].sum())
    gross_loss = abs(float(arr[arr < 0].sum()))
    return _divide(gross_win, gross_loss)


def expectancy(pnls: Iterable[float]) -> float:
    """Average net P&L per trade (= win_rate * avg_win + loss_rate * avg_loss); NaN without trades."""
    arr = _pnl_array(pnls)
    return float(arr.mean()) if arr.size else math.nan


def win_rate(pnls: Iterable[float]) -> float:
    """Fraction of trades with a strictly positive net P&L; NaN without trades."""
    arr = _pnl_array(pnls)
    return float((arr > 0).sum() / arr.size) if arr.size else math.nan


def average_win(pnls: Iterable[float]) -> float:
    """Mean P&L of winning trades; NaN when there is none."""
    arr = _pnl_array(pnls)
    wins = arr[arr > 0]
    return float(wins.mean()) if wins.size else math.nan


def average_loss(pnls: Iterable[float]) -> float:
    """Mean P&L of losing trades (a negative number); NaN when there is none."""
    arr = _pnl_array(pnls)
    losses = arr[arr < 0]
    return float(losses.mean()) if losses.size else math.nan
