"""Read-only queries over the journal, for status, reports, metrics and the dashboard.

The journal is append-only, so the "current" state of anything is derived here:

* a trade is closed when it has a ``trade_exits`` row; if it has several (corrections), the most
  recently recorded one counts;
* a trade's current stop is its latest ``stop_moves.new_stop`` (by ``ts``), else its initial stop;
* an order's current status is its latest ``order_status`` row (by ``ts``, then ``recorded_at``);
* a run's stop is its latest ``run_stops`` row.

Every method returns plain frozen dataclasses (Decimals for money, aware UTC datetimes) and runs
one SELECT; filters use the ``run_id``/``symbol``/``ts`` indexes. Time filters accept engine ms or
aware datetimes; ``since`` is inclusive, ``until`` exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.core.enums import OrderStatus
from bot.journal import models as m
from bot.journal.convert import to_utc
from bot.journal.db import create_journal_engine

Timestamp = int | datetime
_TERMINAL = tuple(s.value for s in OrderStatus if s.is_terminal)


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: str
    mode: str
    config_hash: str
    code_version: str
    started_at: datetime
    params: dict[str, Any] | None
    stopped_at: datetime | None
    exit_reason: str | None


@dataclass(frozen=True, slots=True)
class TradeView:
    """A trade joined with its (latest) exit and its current stop."""

    id: str
    run_id: str
    symbol: str
    side: str
    strategy: str
    entry_ts: datetime
    entry_price: Decimal
    quantity: Decimal
    leverage: Decimal
    margin_mode: str
    initial_stop: Decimal | None
    current_stop: Decimal | None
    take_profit_price: Decimal | None
    liquidation_price: Decimal | None
    time_stop_at: datetime | None
    signal_id: str | None
    exit_ts: datetime | None
    exit_price: Decimal | None
    exit_reason: str | None
    realised_pnl: Decimal | None
    fees: Decimal | None
    funding: Decimal | None

    @property
    def is_open(self) -> bool:
        return self.exit_ts is None

    @property
    def net_pnl(self) -> Decimal | None:
        """Price P&L minus fees plus funding received; ``None`` while open."""
        if self.realised_pnl is None:
            return None
        return self.realised_pnl - (self.fees or Decimal(0)) + (self.funding or Decimal(0))


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order with its latest status (``status`` is ``None`` before the first status row)."""

    id: str
    run_id: str
    trade_id: str | None
    client_order_id: str
    exchange_order_id: str | None
    ts: datetime
    symbol: str
    type: str
    side: str
    quantity: Decimal | None
    price: Decimal | None
    trigger_price: Decimal | None
    reduce_only: bool
    close_position: bool
    purpose: str | None
    status: str | None
    filled_qty: Decimal
    avg_price: Decimal | None
    status_ts: datetime | None
    raw_status: str | None
    signal_id: str | None = None  # entries link to their trade through the signal


@dataclass(frozen=True, slots=True)
class OrderStatusView:
    id: str
    order_id: str
    ts: datetime
    status: str
    filled_qty: Decimal
    avg_price: Decimal | None
    exchange_order_id: str | None
    raw_status: str | None


@dataclass(frozen=True, slots=True)
class FillView:
    id: str
    run_id: str
    order_id: str
    trade_id: str | None  # the fill's own link, else its order's trade
    exchange_trade_id: str | None
    ts: datetime
    symbol: str
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    requested_price: Decimal | None
    latency_ms: int | None
    fee_usdt: Decimal | None = None  # the fee valued in USDT when paid in another asset (BNB)

    @property
    def fee_in_usdt(self) -> Decimal:
        """The fee in USDT for trade fees and P&L: ``fee`` when paid in USDT, else its journaled
        USDT value (0 when it could not be valued: never the BNB amount as if it were USDT)."""
        if self.fee_usdt is not None:
            return self.fee_usdt
        return self.fee if self.fee_asset.upper() == "USDT" else Decimal(0)


@dataclass(frozen=True, slots=True)
class FundingView:
    id: str
    run_id: str
    trade_id: str | None
    ts: datetime
    symbol: str
    rate: Decimal
    mark_price: Decimal | None
    position_qty: Decimal | None
    amount: Decimal
    asset: str
    income_id: str | None = None  # the venue's tranId (None on rows journaled before it was kept)


@dataclass(frozen=True, slots=True)
class EquityPoint:
    ts: datetime
    wallet: Decimal
    unrealised: Decimal
    equity: Decimal
    exposure: Decimal
    risk_state: str
    run_id: str
    recorded_at: datetime | None = None  # wall clock when the bot recorded it (the cycle's end)


@dataclass(frozen=True, slots=True)
class EventView:
    id: str
    run_id: str | None
    ts: datetime
    kind: str
    severity: str
    message: str
    data: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class SignalView:
    id: str
    run_id: str
    ts: datetime
    strategy: str
    symbol: str
    kind: str
    side: str | None
    strength: Decimal
    reasons: dict[str, Any] | None
    params: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class RiskDecisionView:
    id: str
    run_id: str
    signal_id: str | None
    ts: datetime
    symbol: str
    verdict: str
    reason_code: str
    numbers: dict[str, Any] | None
    plan: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class StopMoveView:
    id: str
    trade_id: str
    ts: datetime
    old_stop: Decimal | None
    new_stop: Decimal
    reason: str


@dataclass(frozen=True, slots=True)
class ObservationView:
    id: str
    run_id: str
    ts: datetime
    symbol: str
    exchange: str
    values: dict[str, Decimal | None]  # the columns of m.OBSERVATION_COLUMNS
    record: dict[str, Any]  # full Snapshot.to_record(); Snapshot.from_record(record) rebuilds it


class JournalReader:
    """Read-only access. Pass an engine (shared) or a URL (the reader owns and disposes it)."""

    def __init__(self, engine_or_url: Engine | str) -> None:
        if isinstance(engine_or_url, str):
            self.engine = create_journal_engine(engine_or_url)
            self._owns = True
        else:
            self.engine = engine_or_url
            self._owns = False

    def _session(self) -> Session:
        """A session used only to SELECT (ORM rows give entities); it never flushes anything."""
        return Session(self.engine, autoflush=False, expire_on_commit=False)

    def close(self) -> None:
        if self._owns:
            self.engine.dispose()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ---------------------------------------------------------------------------------

    def runs(self, limit: int | None = None) -> list[RunInfo]:
        """Runs, newest first, with their stop (if any)."""
        stop = _latest(m.RunStop, m.RunStop.run_id, m.RunStop.recorded_at)
        q = (
            sa.select(m.Run, stop.c.stopped_at, stop.c.exit_reason)
            .outerjoin(stop, sa.and_(stop.c.run_id == m.Run.id, stop.c.rn == 1))
            .order_by(m.Run.started_at.desc(), m.Run.id)
        )
        if limit is not None:
            q = q.limit(limit)
        with self._session() as conn:
            rows = conn.execute(q).all()
        return [
            RunInfo(r.Run.id, r.Run.mode, r.Run.config_hash, r.Run.code_version, r.Run.started_at,
                    r.Run.params, r.stopped_at, r.exit_reason)
            for r in rows
        ]

    def latest_run(self) -> RunInfo | None:
        runs = self.runs(limit=1)
        return runs[0] if runs else None

    # -- trades -------------------------------------------------------------------------------

    def trades(self, *, run_id: str | None = None, symbol: str | None = None,
               strategy: str | None = None, status: Literal["all", "open", "closed"] = "all",
               since: Timestamp | None = None, until: Timestamp | None = None) -> list[TradeView]:
        """Trades joined with their latest exit and current stop, oldest entry first.
        ``since``/``until`` filter on the entry time."""
        if status not in ("all", "open", "closed"):
            raise ValueError(f"status must be 'all', 'open' or 'closed', got {status!r}")
        conds: list[Any] = []
        if run_id is not None:
            conds.append(m.Trade.run_id == run_id)
        if symbol is not None:
            conds.append(m.Trade.symbol == symbol)
        if strategy is not None:
            conds.append(m.Trade.strategy == strategy)
        if since is not None:
            conds.append(m.Trade.entry_ts >= to_utc(since, "since"))
        if until is not None:
            conds.append(m.Trade.entry_ts < to_utc(until, "until"))
        return self._trades_where(conds, status)

    def _trades_where(self, conds: list[Any], status: str = "all") -> list[TradeView]:
        exit_ = _latest(m.TradeExit, m.TradeExit.trade_id, m.TradeExit.recorded_at)
        stop = _latest(m.StopMove, m.StopMove.trade_id, m.StopMove.ts, m.StopMove.recorded_at)
        q = (
            sa.select(m.Trade, exit_.c.exit_ts, exit_.c.exit_price, exit_.c.exit_reason,
                      exit_.c.realised_pnl, exit_.c.fees, exit_.c.funding,
                      stop.c.new_stop.label("moved_stop"))
            .outerjoin(exit_, sa.and_(exit_.c.trade_id == m.Trade.id, exit_.c.rn == 1))
            .outerjoin(stop, sa.and_(stop.c.trade_id == m.Trade.id, stop.c.rn == 1))
            .where(*conds)
            .order_by(m.Trade.entry_ts, m.Trade.id)
        )
        if status == "open":
            q = q.where(exit_.c.id.is_(None))
        elif status == "closed":
            q = q.where(exit_.c.id.is_not(None))
        with self._session() as conn:
            rows = conn.execute(q).all()
        out = []
        for r in rows:
            t: m.Trade = r.Trade
            out.append(TradeView(
                id=t.id, run_id=t.run_id, symbol=t.symbol, side=t.side, strategy=t.strategy,
                entry_ts=t.entry_ts, entry_price=t.entry_price, quantity=t.quantity, leverage=t.leverage,
                margin_mode=t.margin_mode, initial_stop=t.stop_price,
                current_stop=r.moved_stop if r.moved_stop is not None else t.stop_price,
                take_profit_price=t.take_profit_price, liquidation_price=t.liquidation_price,
                time_stop_at=t.time_stop_at, signal_id=t.signal_id,
                exit_ts=r.exit_ts, exit_price=r.exit_price, exit_reason=r.exit_reason,
                realised_pnl=r.realised_pnl, fees=r.fees, funding=r.funding,
            ))
        return out

    def open_trades(self, *, run_id: str | None = None, symbol: str | None = None) -> list[TradeView]:
        """Trades without an exit, each with its current stop."""
        return self.trades(run_id=run_id, symbol=symbol, status="open")

    def trade(self, trade_id: str) -> TradeView | None:
        found = self._trades_where([m.Trade.id == trade_id])
        return found[0] if found else None

    def stop_moves(self, trade_id: str) -> list[StopMoveView]:
        q = (sa.select(m.StopMove).where(m.StopMove.trade_id == trade_id)
             .order_by(m.StopMove.ts, m.StopMove.recorded_at))
        with self._session() as conn:
            rows = [r[0] for r in conn.execute(q).all()]
        return [StopMoveView(s.id, s.trade_id, s.ts, s.old_stop, s.new_stop, s.reason) for s in rows]

    # -- orders and fills ---------------------------------------------------------------------

    def orders(self, *, run_id: str | None = None, symbol: str | None = None, trade_id: str | None = None,
               open_only: bool = False, since: Timestamp | None = None,
               until: Timestamp | None = None) -> list[OrderView]:
        """Orders with their latest status, oldest first. ``open_only`` keeps orders whose latest
        status is not terminal (or that have no status yet)."""
        conds: list[Any] = []
        if run_id is not None:
            conds.append(m.Order.run_id == run_id)
        if symbol is not None:
            conds.append(m.Order.symbol == symbol)
        if trade_id is not None:
            conds.append(m.Order.trade_id == trade_id)
        if since is not None:
            conds.append(m.Order.ts >= to_utc(since, "since"))
        if until is not None:
            conds.append(m.Order.ts < to_utc(until, "until"))
        return self._orders_where(conds, open_only=open_only)

    def order_by_client_id(self, client_order_id: str) -> OrderView | None:
        found = self._orders_where([m.Order.client_order_id == client_order_id])
        return found[0] if found else None

    def _orders_where(self, conds: list[Any], *, open_only: bool = False) -> list[OrderView]:
        st = _latest(m.OrderStatusRow, m.OrderStatusRow.order_id, m.OrderStatusRow.ts,
                     m.OrderStatusRow.recorded_at)
        exid = (
            sa.select(m.OrderStatusRow.order_id, sa.func.max(m.OrderStatusRow.exchange_order_id).label("exid"))
            .group_by(m.OrderStatusRow.order_id)
            .subquery()
        )
        q = (
            sa.select(m.Order, st.c.status, st.c.filled_qty, st.c.avg_price, st.c.ts.label("status_ts"),
                      st.c.raw_status, exid.c.exid)
            .outerjoin(st, sa.and_(st.c.order_id == m.Order.id, st.c.rn == 1))
            .outerjoin(exid, exid.c.order_id == m.Order.id)
            .where(*conds)
            .order_by(m.Order.ts, m.Order.id)
        )
        if open_only:
            q = q.where(sa.or_(st.c.status.is_(None), st.c.status.not_in(_TERMINAL)))
        with self._session() as conn:
            rows = conn.execute(q).all()
        out = []
        for r in rows:
            o: m.Order = r.Order
            out.append(OrderView(
                id=o.id, run_id=o.run_id, trade_id=o.trade_id, client_order_id=o.client_order_id,
                exchange_order_id=o.exchange_order_id or r.exid, ts=o.ts, symbol=o.symbol, type=o.type,
                side=o.side, quantity=o.quantity, price=o.price, trigger_price=o.trigger_price,
                reduce_only=o.reduce_only, close_position=o.close_position, purpose=o.purpose,
                status=r.status, filled_qty=r.filled_qty if r.filled_qty is not None else Decimal(0),
                avg_price=r.avg_price, status_ts=r.status_ts, raw_status=r.raw_status, signal_id=o.signal_id,
            ))
        return out

    def order_history(self, order_id: str) -> list[OrderStatusView]:
        q = (sa.select(m.OrderStatusRow).where(m.OrderStatusRow.order_id == order_id)
             .order_by(m.OrderStatusRow.ts, m.OrderStatusRow.recorded_at))
        with self._session() as conn:
            rows = [r[0] for r in conn.execute(q).all()]
        return [OrderStatusView(s.id, s.order_id, s.ts, s.status, s.filled_qty, s.avg_price,
                                s.exchange_order_id, s.raw_status) for s in rows]

    def fills(self, *, trade_id: str | None = None, order_id: str | None = None, run_id: str | None = None,
              symbol: str | None = None, since: Timestamp | None = None,
              until: Timestamp | None = None) -> list[FillView]:
        """Fills, oldest first. ``trade_id`` matches fills linked to the trade directly or through
        their order."""
        trade_link = sa.func.coalesce(m.Fill.trade_id, m.Order.trade_id)
        q = (
            sa.select(m.Fill, trade_link.label("link"))
            .join(m.Order, m.Order.id == m.Fill.order_id)
            .order_by(m.Fill.ts, m.Fill.recorded_at)
        )
        if trade_id is not None:
            q = q.where(sa.or_(m.Fill.trade_id == trade_id, m.Order.trade_id == trade_id))
        if order_id is not None:
            q = q.where(m.Fill.order_id == order_id)
        if run_id is not None:
            q = q.where(m.Fill.run_id == run_id)
        if symbol is not None:
            q = q.where(m.Fill.symbol == symbol)
        q = _time_window(q, m.Fill.ts, since, until)
        with self._session() as conn:
            rows = conn.execute(q).all()
        return [
            FillView(f.id, f.run_id, f.order_id, r.link, f.exchange_trade_id, f.ts, f.symbol, f.side,
                     f.price, f.quantity, f.fee, f.fee_asset, f.is_maker, f.requested_price, f.latency_ms,
                     f.fee_usdt)
            for r in rows
            for f in (r.Fill,)
        ]

    # -- money over time ----------------------------------------------------------------------

    def funding(self, *, trade_id: str | None = None, run_id: str | None = None, symbol: str | None = None,
                since: Timestamp | None = None, until: Timestamp | None = None) -> list[FundingView]:
        q = sa.select(m.FundingPayment).order_by(m.FundingPayment.ts, m.FundingPayment.recorded_at)
        if trade_id is not None:
            q = q.where(m.FundingPayment.trade_id == trade_id)
        if run_id is not None:
            q = q.where(m.FundingPayment.run_id == run_id)
        if symbol is not None:
            q = q.where(m.FundingPayment.symbol == symbol)
        q = _time_window(q, m.FundingPayment.ts, since, until)
        with self._session() as conn:
            rows = [r[0] for r in conn.execute(q).all()]
        return [FundingView(p.id, p.run_id, p.trade_id, p.ts, p.symbol, p.rate, p.mark_price,
                            p.position_qty, p.amount, p.asset, p.income_id) for p in rows]

    def equity(self, *, run_id: str | None = None, since: Timestamp | None = None,
               until: Timestamp | None = None) -> list[EquityPoint]:
        """The equity series, oldest first."""
        q = sa.select(m.EquitySnapshot).order_by(m.EquitySnapshot.ts, m.EquitySnapshot.recorded_at)
        if run_id is not None:
            q = q.where(m.EquitySnapshot.run_id == run_id)
        q = _time_window(q, m.EquitySnapshot.ts, since, until)
        with self._session() as conn:
            rows = [r[0] for r in conn.execute(q).all()]
        return [EquityPoint(e.ts, e.wallet, e.unrealised, e.equity, e.exposure, e.risk_state, e.run_id,
                            e.recorded_at) for e in rows]

    # -- decisions and events -----------------------------------------------------------------

    def events(self, *, run_id: str | None = None, kind: str | None = None, severity: str | None = None,
               since: Timestamp | None = None, until: Timestamp | None = None,
               limit: int | None = None) -> list[EventView]:
        """Events oldest first; with ``limit``, the most recent ``limit`` of them."""
        q = sa.select(m.Event)
        if run_id is not None:
            q = q.where(m.Event.run_id == run_id)
        if kind is not None:
            q = q.where(m.Event.kind == kind)
        if severity is not None:
            q = q.where(m.Event.severity == severity)
        q = _time_window(q, m.Event.ts, since, until)
        q = q.order_by(m.Event.ts.desc(), m.Event.recorded_at.desc())
        if limit is not None:
            q = q.limit(limit)
        with self._session() as conn:
            rows = [r[0] for r in conn.execute(q).all()]
        rows.reverse()
        return [EventView(e.id, e.run_id, e.ts, e.kind, e.severity, e.message, e.data) for e in rows]

    def signals(self, *, run_id: str | None = None, symbol: str | None = None, strategy: str | None = None,
                since: Timestamp | None = None, until: Timestamp | None = None) -> list[SignalView]:
        q = sa.select(m.Signal).order_by(m.Signal.ts, m.Signal.recorded_at)
        if run_id is not None:
            q = q.where(m.Signal.run_id == run_id)
        if symbol is not None:
            q = q.where(m.Signal.symbol == symbol)
        if strategy is not None:
            q = q.where(m.Signal.strategy == strategy)
        q = _time_window(q, m.Signal.ts, since, until)
        with self._session() as conn:
            rows = [r[0] for r in conn.execute(q).all()]
        return [SignalView(s.id, s.run_id, s.ts, s.strategy, s.symbol, s.kind, s.side, s.strength,
                           s.reasons, s.params) for s in rows]

    def risk_decisions(self, *, run_id: str | None = None, signal_id: str | None = None,
                       symbol: str | None = None, verdict: str | None = None,
                       since: Timestamp | None = None, until: Timestamp | None = None) -> list[RiskDecisionView]:
        q = sa.select(m.RiskDecision).order_by(m.RiskDecision.ts, m.RiskDecision.recorded_at)
        if run_id is not None:
            q = q.where(m.RiskDecision.run_id == run_id)
        if signal_id is not None:
            q = q.where(m.RiskDecision.signal_id == signal_id)
        if symbol is not None:
            q = q.where(m.RiskDecision.symbol == symbol)
        if verdict is not None:
            q = q.where(m.RiskDecision.verdict == verdict)
        q = _time_window(q, m.RiskDecision.ts, since, until)
        with self._session() as conn:
            rows = [r[0] for r in conn.execute(q).all()]
        return [RiskDecisionView(d.id, d.run_id, d.signal_id, d.ts, d.symbol, d.verdict, d.reason_code,
                                 d.numbers, d.plan) for d in rows]

    def observations(self, symbol: str, *, run_id: str | None = None, since: Timestamp | None = None,
                     until: Timestamp | None = None, limit: int | None = None) -> list[ObservationView]:
        """Market observations of one symbol, oldest first (``limit``: the most recent ones)."""
        q = sa.select(m.MarketObservation).where(m.MarketObservation.symbol == symbol)
        if run_id is not None:
            q = q.where(m.MarketObservation.run_id == run_id)
        q = _time_window(q, m.MarketObservation.ts, since, until)
        q = q.order_by(m.MarketObservation.ts.desc(), m.MarketObservation.recorded_at.desc())
        if limit is not None:
            q = q.limit(limit)
        with self._session() as conn:
            rows = [r[0] for r in conn.execute(q).all()]
        rows.reverse()
        return [ObservationView(o.id, o.run_id, o.ts, o.symbol, o.exchange,
                                {name: getattr(o, name) for name in m.OBSERVATION_COLUMNS}, o.record)
                for o in rows]

    def mark_prices(self, symbol: str, *, since: Timestamp | None = None) -> list[Decimal]:
        """Every mark price observed for ``symbol`` (from ``since`` on), unordered: one column, no
        whole rows, for a restart that derives a trade's best price so far from them."""
        q = sa.select(m.MarketObservation.mark_price).where(m.MarketObservation.symbol == symbol,
                                                          m.MarketObservation.mark_price.is_not(None))
        q = _time_window(q, m.MarketObservation.ts, since, None)
        with self._session() as conn:
            return [r[0] for r in conn.execute(q).all()]


def _latest(model: type[m.Base], partition: Any, *order: Any) -> sa.Subquery:
    """``model``'s rows numbered newest-first per ``partition`` (``rn == 1`` is the latest)."""
    table = model.__table__
    rn = sa.func.row_number().over(partition_by=partition, order_by=[o.desc() for o in order]
                                   + [table.c.id.desc()])  # type: ignore[attr-defined]
    return sa.select(table, rn.label("rn")).subquery()  # type: ignore[arg-type]


def _time_window(q: sa.Select[Any], column: Any, since: Timestamp | None, until: Timestamp | None) -> Any:
    if since is not None:
        q = q.where(column >= to_utc(since, "since"))
    if until is not None:
        q = q.where(column < to_utc(until, "until"))
    return q

