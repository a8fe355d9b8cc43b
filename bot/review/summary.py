"""Performance summary of a part of the journal: totals, per strategy, per symbol, execution.

Definitions (they are what users compare between runs, so they are fixed and documented here):

* A trade counts once it is *closed* (has an exit). Net P&L = realised price P&L - fees + funding,
  as recorded on its exit. Open trades are counted separately and only in time in market.
* Sharpe, Sortino, max drawdown (and its duration in days), annual return and Calmar are computed
  by :mod:`bot.journal.metrics` on **daily equity returns, 365 periods a year** (crypto trades
  every day). A day's return is the change of the summed equity of the runs active that day over
  their summed equity at the start of the day; a run's first snapshot is its start-of-day value,
  so a new run's deposit is never counted as profit. Days on which no run was active are skipped.
* Per strategy / per symbol there is no separate account, so their daily return is their
  *contribution*: the day's net P&L of their trades closed that day divided by the account's
  start-of-day equity, over the same days as the total.
* Time in market is the share of the reviewed period (first to last equity snapshot or trade time)
  during which at least one of the group's trades was open.
* Slippage is signed against us: ``(fill - requested) / requested`` in basis points, times +1 for
  buys and -1 for sells, so a positive number is a cost. Latency is the journal's ``latency_ms``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from bot.journal import metrics

PERIODS_PER_YEAR = 365
MS_PER_DAY = 86_400_000


@dataclass(slots=True)
class DailyEquity:
    """Account-level daily series: ``returns`` and ``start_equity`` (start-of-day capital) share
    an index of UTC dates; ``curve`` is the equity to plot (raw snapshots for one run, a chained
    daily index for several)."""

    returns: pd.Series
    start_equity: pd.Series
    curve: pd.Series = field(default_factory=lambda: pd.Series(dtype="float64"))


def daily_equity(equity_df: pd.DataFrame) -> DailyEquity:
    """Daily returns of the summed equity of all runs in ``equity_df`` (columns run_id, ts, equity)."""
    empty = pd.Series(dtype="float64", index=pd.DatetimeIndex([], tz="UTC"))
    if equity_df.empty:
        return DailyEquity(empty, empty.copy(), empty.copy())
    df = equity_df[["run_id", "ts", "equity"]].copy()
    df["equity"] = df["equity"].astype("float64")
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    df = df.sort_values("ts", kind="stable")
    df["day"] = df["ts"].dt.floor("D")
    changes, starts = [], []
    for _, run in df.groupby("run_id", sort=False):
        close = run.groupby("day")["equity"].last()
        days = pd.date_range(close.index[0], close.index[-1], freq="D")
        close = close.reindex(days).ffill()
        prev = close.shift(1)
        prev.iloc[0] = run["equity"].iloc[0]
        changes.append(close - prev)
        starts.append(prev)
    change = pd.concat(changes, axis=1).sum(axis=1, min_count=1)
    start = pd.concat(starts, axis=1).sum(axis=1, min_count=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = (change / start).astype("float64")
    returns[~np.isfinite(returns)] = np.nan  # zero or negative capital: no meaningful return
    if df["run_id"].nunique() == 1:
        curve = df.set_index("ts")["equity"]
    else:
        curve = float(start.iloc[0]) * (1.0 + returns.fillna(0.0)).cumprod()
    return DailyEquity(returns, start, curve)


def _clean(value: float) -> float | str | None:
    """JSON-safe number: NaN -> None; +-inf -> "inf"/"-inf" (JSON has no infinity)."""
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _time_in_market(group: pd.DataFrame, span_start: pd.Timestamp, span_end: pd.Timestamp) -> float:
    total = (span_end - span_start).total_seconds()
    if group.empty or total <= 0:
        return math.nan if total <= 0 else 0.0
    starts = pd.to_datetime(group["entry_ts"], utc=True).clip(lower=span_start, upper=span_end)
    ends = pd.to_datetime(group["exit_ts"], utc=True).fillna(span_end).clip(lower=span_start, upper=span_end)
    order = np.argsort(starts.to_numpy(), kind="stable")
    busy, cur_s, cur_e = 0.0, None, None
    for s, e in zip(starts.to_numpy()[order], ends.to_numpy()[order], strict=True):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                busy += (cur_e - cur_s) / np.timedelta64(1, "s")
            cur_s, cur_e = s, e
        elif e > cur_e:
            cur_e = e
    if cur_e is not None:
        busy += (cur_e - cur_s) / np.timedelta64(1, "s")
    return busy / total


def _return_stats(returns: pd.Series) -> dict[str, Any]:
    r = returns.to_numpy(dtype="float64")
    return {
        "sharpe": metrics.sharpe_ratio(r, PERIODS_PER_YEAR),
        "sortino": metrics.sortino_ratio(r, PERIODS_PER_YEAR),
        "max_drawdown": metrics.max_drawdown(r),
        "max_drawdown_days": metrics.drawdown_duration(r),
        "annual_return": metrics.annual_return(r, PERIODS_PER_YEAR),
        "calmar": metrics.calmar_ratio(r, PERIODS_PER_YEAR),
        "days": int(r.size),
    }


def group_stats(group: pd.DataFrame, returns: pd.Series, span: tuple[pd.Timestamp, pd.Timestamp]) -> dict:
    """Trade and return statistics of one group of trades (float frame from ``queries.trades``)."""
    closed = group[group["exit_ts"].notna()]
    pnl = closed["net_pnl"].to_numpy(dtype="float64")
    stats: dict[str, Any] = {
        "trades": len(closed),
        "open_trades": int(len(group) - len(closed)),
        "wins": int((pnl > 0).sum()),
        "losses": int((pnl < 0).sum()),
        "win_rate": metrics.win_rate(pnl),
        "net_pnl": float(pnl.sum()),
        "realised_pnl": float(closed["realised_pnl"].sum()),
        "fees": float(closed["fees"].sum()),
        "funding": float(closed["funding"].sum()),
        "profit_factor": metrics.profit_factor(pnl),
        "expectancy": metrics.expectancy(pnl),
        "avg_win": metrics.average_win(pnl),
        "avg_loss": metrics.average_loss(pnl),
    }
    stats.update(_return_stats(returns))
    stats["time_in_market"] = _time_in_market(group, *span)
    return stats


def _contribution(closed: pd.DataFrame, daily: DailyEquity) -> pd.Series:
    """Daily net P&L of ``closed`` trades over the account's start-of-day equity."""
    if daily.start_equity.empty:
        return pd.Series(dtype="float64")
    days = pd.to_datetime(closed["exit_ts"], utc=True).dt.floor("D")
    pnl = closed["net_pnl"].astype("float64").groupby(days).sum()
    pnl = pnl.reindex(daily.start_equity.index, fill_value=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pnl / daily.start_equity
    out[~np.isfinite(out)] = np.nan
    return out


def execution_stats(fills_df: pd.DataFrame) -> dict[str, Any]:
    """Slippage (bps, positive = cost) and latency per mode, and live-minus-paper when both exist."""
    by_mode: dict[str, dict[str, Any]] = {}
    if not fills_df.empty:
        f = fills_df.copy()
        price = f["price"].astype("float64")
        req = f["requested_price"].astype("float64")
        sign = np.where(f["side"].astype(str) == "buy", 1.0, -1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            f["slippage_bps"] = np.where(req > 0, sign * (price - req) / req * 1e4, np.nan)
        f["latency_ms"] = pd.to_numeric(f["latency_ms"], errors="coerce")
        for mode, g in f.groupby("mode", sort=True):
            slip, lat = g["slippage_bps"].dropna(), g["latency_ms"].dropna()
            if slip.empty and lat.empty:
                continue
            by_mode[str(mode)] = {
                "fills": len(g),
                "slippage_bps_mean": float(slip.mean()) if len(slip) else math.nan,
                "slippage_bps_median": float(slip.median()) if len(slip) else math.nan,
                "latency_ms_mean": float(lat.mean()) if len(lat) else math.nan,
                "latency_ms_median": float(lat.median()) if len(lat) else math.nan,
            }
    out: dict[str, Any] = {"by_mode": by_mode, "live_minus_paper": None}
    real = "live" if "live" in by_mode else ("testnet" if "testnet" in by_mode else None)
    if "paper" in by_mode and real is not None:
        p, r = by_mode["paper"], by_mode[real]
        out["live_minus_paper"] = {
            "compared": f"{real} - paper",
            "slippage_bps_mean": r["slippage_bps_mean"] - p["slippage_bps_mean"],
            "latency_ms_mean": r["latency_ms_mean"] - p["latency_ms_mean"],
        }
    return out


def summarize(trades_df: pd.DataFrame, equity_df: pd.DataFrame, fills_df: pd.DataFrame,
              filters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole summary as plain data (floats may be NaN/inf; use :func:`to_jsonable` for JSON).

    ``trades_df``/``equity_df``/``fills_df`` are float frames (see ``queries.to_float_frame``).
    """
    daily = daily_equity(equity_df)
    times = [pd.to_datetime(equity_df["ts"], utc=True)] if not equity_df.empty else []
    if not trades_df.empty:
        times += [pd.to_datetime(trades_df["entry_ts"], utc=True),
                  pd.to_datetime(trades_df["exit_ts"], utc=True).dropna()]
    all_times = pd.concat(times) if times else pd.Series(dtype="datetime64[ns, UTC]")
    if all_times.empty:
        span = (pd.Timestamp(0, tz="UTC"), pd.Timestamp(0, tz="UTC"))
    else:
        span = (all_times.min(), all_times.max())
    total = group_stats(trades_df, daily.returns, span)
    closed = trades_df[trades_df["exit_ts"].notna()] if not trades_df.empty else trades_df

    def by(column: str) -> dict[str, dict[str, Any]]:
        if trades_df.empty:
            return {}
        return {str(key): group_stats(g, _contribution(closed[closed[column] == key], daily), span)
                for key, g in trades_df.groupby(column, sort=True)}

    return {
        "filters": {k: v for k, v in (filters or {}).items() if v is not None},
        "period": {
            "start": None if all_times.empty else span[0].to_pydatetime(),
            "end": None if all_times.empty else span[1].to_pydatetime(),
            "equity_days": int(daily.returns.size),
        },
        "total": total,
        "by_strategy": by("strategy"),
        "by_symbol": by("symbol"),
        "execution": execution_stats(fills_df),
    }


def to_jsonable(value: Any) -> Any:
    """Summary data -> JSON-safe data (NaN -> null, inf -> "inf", datetimes -> ISO strings)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float | np.floating):
        return _clean(float(value))
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    return str(value)
