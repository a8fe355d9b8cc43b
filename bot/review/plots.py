"""Charts of a journal as PNG bytes (matplotlib, Agg backend: no display needed).

* equity curve with the drawdown beneath;
* net P&L by strategy and by symbol;
* one chart per trade: price with entry, exit, stop and liquidation lines, and the funding rate
  and open interest beneath, from the journal's own market observations.

Each function returns ``bytes`` so the same picture can be written to a file, embedded in the
HTML report, or served by the dashboard.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from loguru import logger
from sqlalchemy.engine import Engine

from bot.review import queries as q
from bot.review.outfile import OutputPolicy
from bot.review.summary import daily_equity

DPI = 90


def literal(text: Any) -> str:
    """Journal text for a chart label: matplotlib reads ``$...$`` as math (a strategy or symbol
    name like ``$\\oops$`` would fail the whole chart), so dollars are escaped."""
    return str(text).replace("$", r"\$")


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def equity_png(equity_df: pd.DataFrame) -> bytes:
    """Equity (raw snapshots for one run, chained daily index for several) and its drawdown."""
    curve = daily_equity(equity_df).curve
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, height_ratios=[3, 1])
    if curve.empty:
        ax1.text(0.5, 0.5, "no equity snapshots", ha="center", va="center", transform=ax1.transAxes)
    else:
        ax1.plot(curve.index, curve.to_numpy(), color="tab:blue")
        dd = curve / curve.cummax() - 1.0
        ax2.fill_between(dd.index, dd.to_numpy() * 100, 0, color="tab:red", alpha=0.4)
    ax1.set_title("equity")
    ax1.set_ylabel("USDT")
    ax2.set_ylabel("drawdown %")
    fig.autofmt_xdate()
    return _png(fig)


def pnl_by_png(trades_df: pd.DataFrame, column: str) -> bytes:
    """Net P&L of closed trades grouped by ``column`` (strategy or symbol)."""
    closed = trades_df[trades_df["exit_ts"].notna()]
    pnl = closed.groupby(column)["net_pnl"].sum().sort_values() if not closed.empty else pd.Series(dtype=float)
    fig, ax = plt.subplots(figsize=(7, max(2.0, 0.45 * len(pnl) + 1)))
    if pnl.empty:
        ax.text(0.5, 0.5, "no closed trades", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.barh([literal(name) for name in pnl.index], pnl.to_numpy(),
                color=["tab:green" if v >= 0 else "tab:red" for v in pnl.to_numpy()])
        ax.axvline(0, color="black", linewidth=0.8)
    ax.set_title(f"net P&L by {column}")
    ax.set_xlabel("USDT")
    return _png(fig)


def trade_png(trade: dict[str, Any], obs: pd.DataFrame) -> bytes:
    """Price around one trade with its levels; funding rate and open interest beneath."""
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(9, 6), sharex=True, height_ratios=[3, 1, 1])
    title = literal(f"{trade['symbol']} {trade['side']} {trade['strategy']} ({str(trade['trade_id'])[:8]})")
    if obs.empty:
        ax1.text(0.5, 0.5, "no market observations in the journal", ha="center", va="center",
                 transform=ax1.transAxes)
    else:
        ts = pd.to_datetime(obs["ts"], utc=True)
        price = obs["last_price"].where(obs["last_price"].notna(), obs["mark_price"])
        ax1.plot(ts, price.to_numpy(), color="black", linewidth=1, label="price")
        if obs["funding_rate"].notna().any():
            ax2.plot(ts, obs["funding_rate"].to_numpy() * 100, color="tab:purple")
        if obs["open_interest"].notna().any():
            ax3.plot(ts, obs["open_interest"].to_numpy(), color="tab:orange")
    levels = (("entry_price", "tab:blue", "entry"), ("exit_price", "tab:green", "exit"),
              ("stop_price", "tab:red", "stop"), ("liquidation_price", "darkred", "liquidation"))
    for key, color, label in levels:
        value = trade.get(key)
        if value is not None and pd.notna(value):
            ax1.axhline(float(value), color=color, linestyle="--", linewidth=1, label=f"{label} {float(value):g}")
    for key in ("entry_ts", "exit_ts"):
        if trade.get(key) is not None and pd.notna(trade.get(key)):
            for ax in (ax1, ax2, ax3):
                ax.axvline(pd.Timestamp(trade[key]), color="grey", linestyle=":", linewidth=1)
    ax1.set_title(title)
    ax1.legend(loc="best", fontsize=7)
    ax2.set_ylabel("funding %")
    ax3.set_ylabel("open interest")
    fig.autofmt_xdate()
    return _png(fig)


def trade_chart(engine: Engine, trade: dict[str, Any], pad: timedelta = timedelta(hours=6)) -> bytes:
    """Chart one trade (a row of ``queries.trades``) from the observations around it."""
    start = pd.Timestamp(trade["entry_ts"]).to_pydatetime() - pad
    end_ts = trade.get("exit_ts")
    end = (pd.Timestamp(end_ts).to_pydatetime() if end_ts is not None and pd.notna(end_ts)
           else pd.Timestamp(trade["entry_ts"]).to_pydatetime() + timedelta(days=1)) + pad
    with engine.connect() as conn:
        obs = q.to_float_frame(q.observations(conn, trade["symbol"], start, end, run_id=trade["run_id"]))
    return trade_png(trade, obs)


def all_charts(engine: Engine, flt: q.ReviewFilter = q.ReviewFilter(),
               max_trades: int = 50) -> dict[str, bytes]:
    """File name -> PNG for the overview charts and the newest ``max_trades`` trades."""
    with engine.connect() as conn:
        trades = q.to_float_frame(q.trades(conn, flt))
        equity = q.to_float_frame(q.equity(conn, q.ReviewFilter(run_id=flt.run_id, since=flt.since,
                                                                mode=flt.mode)))
    charts = {
        "equity.png": equity_png(equity),
        "pnl_by_strategy.png": pnl_by_png(trades, "strategy"),
        "pnl_by_symbol.png": pnl_by_png(trades, "symbol"),
    }
    for trade in trades.tail(max_trades).to_dict("records") if max_trades else []:
        try:
            charts[f"trade_{str(trade['trade_id'])[:8]}.png"] = trade_chart(engine, trade)
        except (ValueError, TypeError) as exc:  # one odd trade must not cost the whole report
            logger.warning("skipping chart of trade {}: {}", trade["trade_id"], exc)
    return charts


def write_plots(engine: Engine, out_dir: Path, flt: q.ReviewFilter = q.ReviewFilter(),
                max_trades: int = 50, policy: OutputPolicy = OutputPolicy()) -> list[Path]:
    """Write every chart of :func:`all_charts` into ``out_dir``; returns the paths.

    Every file goes through ``policy`` (:mod:`bot.review.outfile`). All targets are checked
    before the first is written, so a refusal leaves the folder as it was."""
    charts = all_charts(engine, flt, max_trades)
    paths = [out_dir / name for name in charts]
    for path in paths:
        policy.check(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, data in zip(paths, charts.values(), strict=True):
        policy.write_bytes(path, data)
    return paths
