"""Read-only queries that turn journal rows into pandas frames for summaries, exports and plots.

The journal is append-only, so "current" facts are reassembled here: a trade's exit is its newest
``trade_exits`` row (largest ``recorded_at``), an order's status its newest ``order_status`` row.
Money columns come back as exact ``Decimal``; :func:`to_float_frame` converts them for maths,
exports keep the exact values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.journal import models as m


@dataclass(frozen=True, slots=True)
class ReviewFilter:
    """Which part of the journal to review. ``None`` means "no restriction"."""

    run_id: str | None = None
    since: datetime | None = None
    mode: str | None = None
    strategy: str | None = None
    symbol: str | None = None


def _frame(conn: Connection, stmt: sa.Select[Any]) -> pd.DataFrame:
    result = conn.execute(stmt)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def to_float_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``df`` with Decimal columns as float64 (NaN for NULL)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object and out[col].map(lambda v: isinstance(v, Decimal)).any():
            out[col] = pd.to_numeric(out[col].map(lambda v: None if v is None else float(v)), errors="coerce")
    return out


def _run_filter(stmt: sa.Select[Any], table: sa.Table | Any, flt: ReviewFilter) -> sa.Select[Any]:
    """Restrict ``stmt`` (which selects from ``table``) to the runs the filter allows."""
    if flt.run_id is not None:
        stmt = stmt.where(table.run_id == flt.run_id)
    if flt.mode is not None:
        stmt = stmt.where(table.run_id.in_(sa.select(m.Run.id).where(m.Run.mode == flt.mode)))
    return stmt


def runs(conn: Connection) -> pd.DataFrame:
    """Runs with their stop (if any): id, mode, started_at, stopped_at, exit_reason, ..."""
    stops = _frame(conn, sa.select(m.RunStop.run_id, m.RunStop.stopped_at, m.RunStop.exit_reason,
                                   m.RunStop.recorded_at))
    df = _frame(conn, sa.select(m.Run.id.label("run_id"), m.Run.mode, m.Run.started_at, m.Run.config_hash,
                                m.Run.code_version, m.Run.params).order_by(m.Run.started_at))
    if not stops.empty:
        stops = stops.sort_values("recorded_at").drop_duplicates("run_id", keep="last").drop(
            columns="recorded_at")
        df = df.merge(stops, on="run_id", how="left")
    else:
        df["stopped_at"] = pd.NaT
        df["exit_reason"] = None
    return df


TRADE_COLUMNS: tuple[str, ...] = (
    "trade_id", "run_id", "mode", "strategy", "symbol", "side", "entry_ts", "entry_price", "quantity",
    "leverage", "margin_mode", "stop_price", "take_profit_price", "liquidation_price", "exit_ts",
    "exit_price", "exit_reason", "realised_pnl", "fees", "funding", "net_pnl",
)


def trades(conn: Connection, flt: ReviewFilter = ReviewFilter(), trade_ids: Sequence[str] | None = None,
           ) -> pd.DataFrame:
    """One row per trade with its newest exit (exit columns empty while open) and the run's mode.

    ``net_pnl = realised_pnl - fees + funding`` (the journal's sign conventions). ``since`` keeps
    trades entered at or after it.
    """
    t = m.Trade
    stmt = sa.select(
        t.id.label("trade_id"), t.run_id, m.Run.mode, t.strategy, t.symbol, t.side, t.entry_ts,
        t.entry_price, t.quantity, t.leverage, t.margin_mode, t.stop_price, t.take_profit_price,
        t.liquidation_price,
    ).join(m.Run, m.Run.id == t.run_id)
    stmt = _run_filter(stmt, t, flt)
    if flt.since is not None:
        stmt = stmt.where(t.entry_ts >= flt.since)
    if flt.strategy is not None:
        stmt = stmt.where(t.strategy == flt.strategy)
    if flt.symbol is not None:
        stmt = stmt.where(t.symbol == flt.symbol)
    if trade_ids is not None:
        stmt = stmt.where(t.id.in_(list(trade_ids)))
    df = _frame(conn, stmt.order_by(t.entry_ts, t.id))
    x = m.TradeExit
    exit_stmt = sa.select(x.trade_id, x.exit_ts, x.exit_price, x.exit_reason, x.realised_pnl, x.fees,
                          x.funding, x.recorded_at)
    exit_stmt = _run_filter(exit_stmt, x, flt)
    if trade_ids is not None:
        exit_stmt = exit_stmt.where(x.trade_id.in_(list(trade_ids)))
    exits = _frame(conn, exit_stmt)
    if exits.empty:
        for col in ("exit_ts", "exit_price", "exit_reason", "realised_pnl", "fees", "funding"):
            df[col] = None
    else:
        exits = exits.sort_values("recorded_at", kind="stable").drop_duplicates("trade_id", keep="last")
        df = df.merge(exits.drop(columns="recorded_at"), on="trade_id", how="left")
    df["net_pnl"] = [
        (r - f + fu) if isinstance(r, Decimal) else None
        for r, f, fu in zip(df["realised_pnl"], df["fees"], df["funding"], strict=True)
    ]
    return df[list(TRADE_COLUMNS)]


def equity(conn: Connection, flt: ReviewFilter = ReviewFilter()) -> pd.DataFrame:
    """Equity snapshots (run_id, ts, wallet, unrealised, equity, exposure, risk_state), oldest first."""
    e = m.EquitySnapshot
    stmt = _run_filter(sa.select(e.run_id, e.ts, e.wallet, e.unrealised, e.equity, e.exposure,
                                 e.risk_state), e, flt)
    if flt.since is not None:
        stmt = stmt.where(e.ts >= flt.since)
    return _frame(conn, stmt.order_by(e.ts, e.recorded_at))


def orders(conn: Connection, flt: ReviewFilter = ReviewFilter(), trade_id: str | None = None) -> pd.DataFrame:
    """Orders with their current status (newest ``order_status`` row)."""
    o = m.Order
    stmt = _run_filter(sa.select(
        o.id.label("order_id"), o.run_id, o.trade_id, o.signal_id, o.client_order_id, o.exchange_order_id,
        o.ts, o.symbol, o.type, o.side, o.quantity, o.price, o.trigger_price, o.reduce_only,
        o.close_position, o.purpose), o, flt)
    if flt.since is not None:
        stmt = stmt.where(o.ts >= flt.since)
    if flt.symbol is not None:
        stmt = stmt.where(o.symbol == flt.symbol)
    if trade_id is not None:
        stmt = stmt.where(o.trade_id == trade_id)
    df = _frame(conn, stmt.order_by(o.ts, o.recorded_at))
    s = m.OrderStatusRow
    st_stmt = sa.select(s.order_id, s.ts.label("status_ts"), s.status, s.filled_qty, s.avg_price,
                        s.recorded_at)
    st_stmt = st_stmt.where(s.order_id.in_(sa.select(stmt.subquery().c.order_id)))
    status = _frame(conn, st_stmt)
    if status.empty:
        for col in ("status_ts", "status", "filled_qty", "avg_price"):
            df[col] = None
        return df
    status = status.sort_values(["status_ts", "recorded_at"], kind="stable").drop_duplicates(
        "order_id", keep="last").drop(columns="recorded_at")
    return df.merge(status, on="order_id", how="left")


def order_history(conn: Connection, order_ids: Sequence[str]) -> pd.DataFrame:
    """Every status row of the given orders, oldest first."""
    s = m.OrderStatusRow
    stmt = sa.select(s.order_id, s.ts, s.status, s.filled_qty, s.avg_price, s.raw_status).where(
        s.order_id.in_(list(order_ids))).order_by(s.ts, s.recorded_at)
    return _frame(conn, stmt)


def fills(conn: Connection, flt: ReviewFilter = ReviewFilter(), trade_id: str | None = None) -> pd.DataFrame:
    """Fills joined to their run's mode; ``requested_price``/``latency_ms`` feed the slippage stats."""
    f = m.Fill
    stmt = sa.select(
        f.id.label("fill_id"), f.run_id, m.Run.mode, f.order_id, f.trade_id, f.exchange_trade_id, f.ts,
        f.symbol, f.side, f.price, f.quantity, f.fee, f.fee_asset, f.is_maker, f.requested_price,
        f.latency_ms,
    ).join(m.Run, m.Run.id == f.run_id)
    stmt = _run_filter(stmt, f, flt)
    if flt.since is not None:
        stmt = stmt.where(f.ts >= flt.since)
    if flt.symbol is not None:
        stmt = stmt.where(f.symbol == flt.symbol)
    if trade_id is not None:
        stmt = stmt.where(f.trade_id == trade_id)
    return _frame(conn, stmt.order_by(f.ts, f.recorded_at))


def funding(conn: Connection, flt: ReviewFilter = ReviewFilter(), trade_id: str | None = None) -> pd.DataFrame:
    """Funding payments (``amount`` > 0 received, < 0 paid)."""
    p = m.FundingPayment
    stmt = _run_filter(sa.select(p.id.label("funding_id"), p.run_id, p.trade_id, p.ts, p.symbol, p.rate,
                                 p.mark_price, p.position_qty, p.amount, p.asset), p, flt)
    if flt.since is not None:
        stmt = stmt.where(p.ts >= flt.since)
    if flt.symbol is not None:
        stmt = stmt.where(p.symbol == flt.symbol)
    if trade_id is not None:
        stmt = stmt.where(p.trade_id == trade_id)
    return _frame(conn, stmt.order_by(p.ts, p.recorded_at))


def signals(conn: Connection, flt: ReviewFilter = ReviewFilter(), limit: int | None = None) -> pd.DataFrame:
    """Strategy signals with their evidence (``reasons``), newest last."""
    s = m.Signal
    stmt = _run_filter(sa.select(s.id.label("signal_id"), s.run_id, s.ts, s.strategy, s.symbol, s.kind,
                                 s.side, s.strength, s.reasons, s.params), s, flt)
    if flt.since is not None:
        stmt = stmt.where(s.ts >= flt.since)
    if flt.strategy is not None:
        stmt = stmt.where(s.strategy == flt.strategy)
    if flt.symbol is not None:
        stmt = stmt.where(s.symbol == flt.symbol)
    return _limited(conn, stmt, s.ts, limit)


def decisions(conn: Connection, flt: ReviewFilter = ReviewFilter(), verdict: str | None = None,
              limit: int | None = None) -> pd.DataFrame:
    """Risk decisions joined to the signal's strategy; rejections carry ``reason_code``/``numbers``."""
    d = m.RiskDecision
    stmt = sa.select(d.id.label("decision_id"), d.run_id, d.signal_id, d.ts, d.symbol, m.Signal.strategy,
                     d.verdict, d.reason_code, d.numbers, d.plan).outerjoin(m.Signal, m.Signal.id == d.signal_id)
    stmt = _run_filter(stmt, d, flt)
    if flt.since is not None:
        stmt = stmt.where(d.ts >= flt.since)
    if flt.strategy is not None:
        stmt = stmt.where(m.Signal.strategy == flt.strategy)
    if flt.symbol is not None:
        stmt = stmt.where(d.symbol == flt.symbol)
    if verdict is not None:
        stmt = stmt.where(d.verdict == verdict)
    return _limited(conn, stmt, d.ts, limit)


def events(conn: Connection, flt: ReviewFilter = ReviewFilter(), kind: str | None = None,
           severity: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """Operational events (errors, halts, reconciliations)."""
    ev = m.Event
    stmt = _run_filter(sa.select(ev.id.label("event_id"), ev.run_id, ev.ts, ev.kind, ev.severity, ev.message,
                                 ev.data), ev, flt)
    if flt.since is not None:
        stmt = stmt.where(ev.ts >= flt.since)
    if kind is not None:
        stmt = stmt.where(ev.kind == kind)
    if severity is not None:
        stmt = stmt.where(ev.severity == severity)
    return _limited(conn, stmt, ev.ts, limit)


def stop_moves(conn: Connection, trade_id: str) -> pd.DataFrame:
    s = m.StopMove
    return _frame(conn, sa.select(s.ts, s.old_stop, s.new_stop, s.reason).where(s.trade_id == trade_id)
                  .order_by(s.ts, s.recorded_at))


def observations(conn: Connection, symbol: str, start: datetime, end: datetime,
                 run_id: str | None = None) -> pd.DataFrame:
    """Market observations of ``symbol`` in ``[start, end]`` (price, mark, funding, OI)."""
    o = m.MarketObservation
    stmt = sa.select(o.ts, o.last_price, o.mark_price, o.funding_rate, o.open_interest).where(
        o.symbol == symbol, o.ts >= start, o.ts <= end)
    if run_id is not None:
        stmt = stmt.where(o.run_id == run_id)
    return _frame(conn, stmt.order_by(o.ts))


def observation_at(conn: Connection, symbol: str, ts: datetime, run_id: str | None = None) -> dict | None:
    """The newest observation of ``symbol`` at or before ``ts``: the snapshot a signal saw."""
    o = m.MarketObservation
    stmt = sa.select(o).where(o.symbol == symbol, o.ts <= ts)
    if run_id is not None:
        stmt = stmt.where(o.run_id == run_id)
    row = conn.execute(stmt.order_by(o.ts.desc(), o.recorded_at.desc()).limit(1)).mappings().first()
    return dict(row) if row is not None else None


def row_by_id(conn: Connection, model: type[m.Base], row_id: str | None) -> dict | None:
    if row_id is None:
        return None
    table = model.__table__  # type: ignore[attr-defined]
    row = conn.execute(sa.select(table).where(table.c.id == row_id)).mappings().first()
    return dict(row) if row is not None else None


def _limited(conn: Connection, stmt: sa.Select[Any], ts_col: Any, limit: int | None) -> pd.DataFrame:
    """The newest ``limit`` rows, returned oldest first."""
    if limit is None:
        return _frame(conn, stmt.order_by(ts_col))
    df = _frame(conn, stmt.order_by(ts_col.desc()).limit(limit))
    return df.iloc[::-1].reset_index(drop=True)


def connect(engine: Engine) -> Connection:
    """A connection for a batch of queries (one consistent read on SQLite WAL)."""
    return engine.connect()
