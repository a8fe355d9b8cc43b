"""What the CLI, the HTML report and the dashboard ask of the journal, in one place.

Every function takes a read-only engine (:func:`bot.review.db.open_readonly`) and returns plain
data (dicts, lists, frames) so the three front ends render the same numbers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.journal import models as m
from bot.journal.errors import JournalError
from bot.review import queries as q
from bot.review.summary import summarize


class NotFoundError(JournalError):
    """A trade id (or prefix) that matches nothing, or more than one trade."""


def summary(engine: Engine, flt: q.ReviewFilter = q.ReviewFilter()) -> dict[str, Any]:
    """Totals, per strategy, per symbol and execution quality for the filtered journal."""
    with engine.connect() as conn:
        trades = q.to_float_frame(q.trades(conn, flt))
        # Equity and fills belong to the account, not to a strategy: the strategy filter narrows
        # trades only (group returns are contributions to the account's equity).
        account_flt = q.ReviewFilter(run_id=flt.run_id, since=flt.since, mode=flt.mode)
        equity = q.to_float_frame(q.equity(conn, account_flt))
        fills = q.fills(conn, account_flt)
        if flt.strategy is not None and not fills.empty:
            fills = fills[fills["trade_id"].isin(set(trades["trade_id"]))]
        fills = q.to_float_frame(fills)
    return summarize(trades, equity, fills, filters={
        "run": flt.run_id, "since": flt.since, "mode": flt.mode, "strategy": flt.strategy})


def trade_list(engine: Engine, flt: q.ReviewFilter = q.ReviewFilter(), status: str | None = None,
               limit: int | None = None) -> pd.DataFrame:
    """Trades (float frame), newest entry last; ``status`` is ``open``/``closed``/None."""
    with engine.connect() as conn:
        df = q.to_float_frame(q.trades(conn, flt))
    if status == "open":
        df = df[df["exit_ts"].isna()]
    elif status == "closed":
        df = df[df["exit_ts"].notna()]
    elif status is not None:
        raise ValueError(f"status must be 'open' or 'closed', got {status!r}")
    if limit is not None:
        df = df.tail(limit)
    return df.reset_index(drop=True)


def resolve_trade_id(engine: Engine, trade_id: str) -> str:
    """Full id from an id or a unique prefix (people copy the first 8 characters)."""
    text = trade_id.strip()
    if not text:
        raise NotFoundError("give a trade id (or its first characters)")
    with engine.connect() as conn:
        ids = conn.execute(sa.select(m.Trade.id).where(m.Trade.id.startswith(text, autoescape=True))
                           .limit(3)).scalars().all()
    if not ids:
        raise NotFoundError(f"no trade with id {text!r}; list them with `derivbot journal trades`")
    if len(ids) > 1 and text not in ids:
        raise NotFoundError(f"trade id prefix {text!r} is ambiguous ({', '.join(ids[:2])}, ...); give more of it")
    return text if text in ids else ids[0]


def trade_story(engine: Engine, trade_id: str) -> dict[str, Any]:
    """Everything about one trade, in the order it happened: the snapshot and the signal's
    reasons, the risk decision, each order with its status history and fills, funding payments,
    stop moves and the exit (plus how many times the exit was corrected)."""
    tid = resolve_trade_id(engine, trade_id)
    with engine.connect() as conn:
        trade = q.trades(conn, trade_ids=[tid]).iloc[0].to_dict()
        signal = q.row_by_id(conn, m.Signal, _trade_field(conn, tid, "signal_id"))
        decision_id = _trade_field(conn, tid, "risk_decision_id")
        decision = q.row_by_id(conn, m.RiskDecision, decision_id)
        if decision is None and signal is not None:
            decision = _decision_for_signal(conn, signal["id"])
        seen_at = signal["ts"] if signal is not None else trade["entry_ts"]
        snapshot = q.observation_at(conn, trade["symbol"], seen_at, run_id=trade["run_id"])
        orders = q.orders(conn, trade_id=tid)
        history = q.order_history(conn, list(orders["order_id"])) if not orders.empty else pd.DataFrame()
        fills = q.fills(conn, trade_id=tid)
        order_list = []
        for row in orders.to_dict("records"):
            oid = row["order_id"]
            row["history"] = _records(history[history["order_id"] == oid]) if not history.empty else []
            row["fills"] = _records(fills[fills["order_id"] == oid]) if not fills.empty else []
            order_list.append(row)
        order_ids = set(orders["order_id"]) if not orders.empty else set()
        unlinked = fills[~fills["order_id"].isin(order_ids)] if not fills.empty else fills
        exits = conn.execute(sa.select(sa.func.count()).select_from(m.TradeExit)
                             .where(m.TradeExit.trade_id == tid)).scalar_one()
        run = q.row_by_id(conn, m.Run, trade["run_id"])
        story = {
            "trade": _plain(trade),
            "run": _plain(run),
            "signal": _plain(signal),
            "snapshot": _plain(snapshot),
            "decision": _plain(decision),
            "orders": [_plain(o) for o in order_list],
            "unlinked_fills": _records(unlinked),
            "funding": _records(q.funding(conn, trade_id=tid)),
            "stop_moves": _records(q.stop_moves(conn, tid)),
            "exit_rows": int(exits),
        }
    return story


def _trade_field(conn: sa.Connection, tid: str, name: str) -> Any:
    return conn.execute(sa.select(getattr(m.Trade, name)).where(m.Trade.id == tid)).scalar_one_or_none()


def _decision_for_signal(conn: sa.Connection, signal_id: str) -> dict | None:
    d = m.RiskDecision.__table__
    row = conn.execute(sa.select(d).where(d.c.signal_id == signal_id).order_by(d.c.ts.desc()).limit(1)
                       ).mappings().first()
    return dict(row) if row is not None else None


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [_plain(r) for r in df.to_dict("records")] if not df.empty else []


def _plain(value: Any) -> Any:
    """NaN/NaT -> None and numpy scalars -> Python, keeping Decimals and datetimes exact."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal | str | bool):
        return value
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return value
    if hasattr(value, "item"):
        return value.item()
    return value


def table(engine: Engine, what: str, flt: q.ReviewFilter = q.ReviewFilter(), limit: int | None = None,
          **kwargs: Any) -> pd.DataFrame:
    """Raw (exact Decimal) frame of one kind of journal row, for listing and export."""
    with engine.connect() as conn:
        if what == "trades":
            return q.trades(conn, flt)
        if what == "orders":
            return q.orders(conn, flt)
        if what == "fills":
            return q.fills(conn, flt)
        if what == "funding":
            return q.funding(conn, flt)
        if what == "equity":
            return q.equity(conn, flt)
        if what == "signals":
            return q.signals(conn, flt, limit=limit)
        if what == "decisions":
            return q.decisions(conn, flt, limit=limit, **kwargs)
        if what == "events":
            return q.events(conn, flt, limit=limit, **kwargs)
    raise ValueError(f"unknown table {what!r}")
