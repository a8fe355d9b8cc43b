"""The journal schema: one table per kind of fact, every fact appended, never changed.

Rules the schema encodes:

* Primary keys are UUID4 strings made by the caller's thread (:func:`bot.journal.convert.new_id`),
  so a fill can reference its order while both still sit in the writer's queue.
* Every row carries ``recorded_at`` (wall clock when queued) besides its domain timestamp ``ts``:
  when a fact is corrected by a newer row, the newest ``recorded_at`` wins.
* Things that *change* are histories: an order's status is a row in ``order_status``; a trade is
  closed by a ``trade_exits`` row; a stop is moved by a ``stop_moves`` row; a run is ended by a
  ``run_stops`` row. Readers (:mod:`bot.journal.reader`) join them back together.
* Money/quantities are :class:`~bot.journal.types.Money` (exact Decimal), times are
  :class:`~bot.journal.types.UTCDateTime` (aware UTC).

Changing anything here needs a new Alembic revision in ``bot/journal/migrations/versions``;
``tests/journal/test_journal_migrations.py`` fails while models and migrations differ.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.journal.types import JSONData, Money, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = sa.String(36)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def _run_fk() -> Mapped[str]:
    return mapped_column(ID, sa.ForeignKey("runs.id"), nullable=False)


class _Row:
    """Columns every journal row has."""

    id: Mapped[str] = mapped_column(ID, primary_key=True, sort_order=-1)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    #: position in this table's hash chain (see :mod:`bot.journal.chain`); NULL on rows written
    #: before revision 0005, which carry no hash
    chain_seq: Mapped[int | None] = mapped_column(sa.BigInteger(), index=True, unique=True, sort_order=90)
    #: sha256 of the previous row's hash and this row's canonical form (:func:`bot.journal.chain.link`)
    row_hash: Mapped[str | None] = mapped_column(sa.String(64), sort_order=91)


class Run(_Row, Base):
    """One process lifetime of the bot (or one backtest)."""

    __tablename__ = "runs"

    mode: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    config_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    code_version: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONData())


class RunStop(_Row, Base):
    """The end of a run; a separate row because a run row is never updated."""

    __tablename__ = "run_stops"

    run_id: Mapped[str] = _run_fk()
    stopped_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    exit_reason: Mapped[str] = mapped_column(sa.String(64), nullable=False)

    __table_args__ = (sa.Index(None, "run_id"),)


class MarketObservation(_Row, Base):
    """A :class:`bot.market.snapshot.Snapshot` as the engine saw it. The main numbers are columns;
    ``record`` is the full ``Snapshot.to_record()`` (values, their ``__ts`` and ``__q``)."""

    __tablename__ = "market_observations"

    run_id: Mapped[str] = _run_fk()
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    symbol: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    exchange: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    last_price: Mapped[Decimal | None] = mapped_column(Money())
    mark_price: Mapped[Decimal | None] = mapped_column(Money())
    index_price: Mapped[Decimal | None] = mapped_column(Money())
    funding_rate: Mapped[Decimal | None] = mapped_column(Money())
    predicted_funding_rate: Mapped[Decimal | None] = mapped_column(Money())
    open_interest: Mapped[Decimal | None] = mapped_column(Money())
    open_interest_notional: Mapped[Decimal | None] = mapped_column(Money())
    oi_change_1h: Mapped[Decimal | None] = mapped_column(Money())
    oi_change_24h: Mapped[Decimal | None] = mapped_column(Money())
    price_change_1h: Mapped[Decimal | None] = mapped_column(Money())
    price_change_24h: Mapped[Decimal | None] = mapped_column(Money())
    quote_volume_24h: Mapped[Decimal | None] = mapped_column(Money())
    record: Mapped[dict[str, Any]] = mapped_column(JSONData(), nullable=False)

    __table_args__ = (sa.Index(None, "symbol", "ts"), sa.Index(None, "run_id", "ts"))


#: Snapshot fields copied into their own columns of ``market_observations``.
OBSERVATION_COLUMNS: tuple[str, ...] = (
    "last_price", "mark_price", "index_price", "funding_rate", "predicted_funding_rate",
    "open_interest", "open_interest_notional", "oi_change_1h", "oi_change_24h",
    "price_change_1h", "price_change_24h", "quote_volume_24h",
)


class Signal(_Row, Base):
    """A strategy's intent with the evidence (``reasons``) behind it."""

    __tablename__ = "signals"

    run_id: Mapped[str] = _run_fk()
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    strategy: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    symbol: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)  # IntentKind
    side: Mapped[str | None] = mapped_column(sa.String(8))  # PositionSide for entries
    strength: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    reasons: Mapped[dict[str, Any] | None] = mapped_column(JSONData())
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONData())  # stop/tp/leverage asked for

    __table_args__ = (sa.Index(None, "run_id", "ts"), sa.Index(None, "symbol", "ts"))


class RiskDecision(_Row, Base):
    """The risk manager's verdict on a signal."""

    __tablename__ = "risk_decisions"

    run_id: Mapped[str] = _run_fk()
    signal_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("signals.id"), index=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    symbol: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    verdict: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    reason_code: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    numbers: Mapped[dict[str, Any] | None] = mapped_column(JSONData())
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSONData())

    __table_args__ = (
        sa.CheckConstraint("verdict IN ('approved', 'resized', 'rejected')", name="verdict"),
        sa.Index(None, "run_id", "ts"),
        sa.Index(None, "symbol", "ts"),
    )


class Trade(_Row, Base):
    """A position from its entry. Its stop moves and its exit are separate rows."""

    __tablename__ = "trades"

    run_id: Mapped[str] = _run_fk()
    signal_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("signals.id"))
    risk_decision_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("risk_decisions.id"))
    symbol: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    side: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    strategy: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    entry_ts: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    entry_price: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    leverage: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    margin_mode: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    stop_price: Mapped[Decimal | None] = mapped_column(Money())  # initial stop
    take_profit_price: Mapped[Decimal | None] = mapped_column(Money())
    liquidation_price: Mapped[Decimal | None] = mapped_column(Money())
    time_stop_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        sa.CheckConstraint("side IN ('long', 'short')", name="side"),
        sa.Index(None, "run_id", "entry_ts"),
        sa.Index(None, "symbol", "entry_ts"),
    )


class TradeExit(_Row, Base):
    """Closing a trade. ``realised_pnl`` is the price P&L before costs; ``fees`` are positive costs;
    ``funding`` is positive when received. Net = realised_pnl - fees + funding."""

    __tablename__ = "trade_exits"

    run_id: Mapped[str] = _run_fk()
    trade_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("trades.id"), nullable=False, index=True)
    exit_ts: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    exit_price: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    exit_reason: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    realised_pnl: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    fees: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    funding: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    note: Mapped[str | None] = mapped_column(sa.Text())

    __table_args__ = (
        sa.CheckConstraint(
            "exit_reason IN ('take_profit', 'stop_loss', 'trailing_stop', 'time_stop', 'signal', "
            "'liquidation', 'manual', 'reconcile', 'halt', 'adl', 'settlement')",
            name="exit_reason",
        ),
        sa.Index(None, "run_id", "exit_ts"),
    )


class StopMove(_Row, Base):
    __tablename__ = "stop_moves"

    run_id: Mapped[str] = _run_fk()
    trade_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("trades.id"), nullable=False, index=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    old_stop: Mapped[Decimal | None] = mapped_column(Money())
    new_stop: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    reason: Mapped[str] = mapped_column(sa.String(64), nullable=False)

    __table_args__ = (sa.Index(None, "run_id", "ts"),)


class Order(_Row, Base):
    """An order as we sent it. What happened to it lives in ``order_status`` and ``fills``."""

    __tablename__ = "orders"

    run_id: Mapped[str] = _run_fk()
    trade_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("trades.id"), index=True)
    signal_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("signals.id"))
    client_order_id: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    exchange_order_id: Mapped[str | None] = mapped_column(sa.String(64))
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    symbol: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    type: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    side: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    quantity: Mapped[Decimal | None] = mapped_column(Money())  # None with close_position
    price: Mapped[Decimal | None] = mapped_column(Money())
    trigger_price: Mapped[Decimal | None] = mapped_column(Money())
    reduce_only: Mapped[bool] = mapped_column(sa.Boolean(), nullable=False)
    close_position: Mapped[bool] = mapped_column(sa.Boolean(), nullable=False)
    purpose: Mapped[str | None] = mapped_column(sa.String(32))  # entry / stop / take_profit / exit

    __table_args__ = (sa.Index(None, "run_id", "ts"), sa.Index(None, "symbol", "ts"))


class OrderStatusRow(_Row, Base):
    """One observed state of an order. The latest ``ts`` (then ``recorded_at``) is current."""

    __tablename__ = "order_status"

    run_id: Mapped[str] = _run_fk()
    order_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("orders.id"), nullable=False)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    filled_qty: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    avg_price: Mapped[Decimal | None] = mapped_column(Money())
    exchange_order_id: Mapped[str | None] = mapped_column(sa.String(64))
    raw_status: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (sa.Index(None, "order_id", "ts"), sa.Index(None, "run_id", "ts"))


class Fill(_Row, Base):
    __tablename__ = "fills"

    run_id: Mapped[str] = _run_fk()
    order_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("orders.id"), nullable=False, index=True)
    trade_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("trades.id"), index=True)
    exchange_trade_id: Mapped[str | None] = mapped_column(sa.String(64))
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    symbol: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    side: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    price: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    fee: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    fee_asset: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    is_maker: Mapped[bool] = mapped_column(sa.Boolean(), nullable=False)
    requested_price: Mapped[Decimal | None] = mapped_column(Money())
    latency_ms: Mapped[int | None] = mapped_column(sa.Integer())
    #: ``fee`` valued in USDT at the fill time when paid in another asset (BNB); ``fee`` and
    #: ``fee_asset`` stay what was really paid. NULL before revision 0003 or when not valued.
    fee_usdt: Mapped[Decimal | None] = mapped_column(Money())

    __table_args__ = (sa.Index(None, "run_id", "ts"), sa.Index(None, "symbol", "ts"))


class FundingPayment(_Row, Base):
    """Funding settled on a position; ``amount`` is positive when received, negative when paid."""

    __tablename__ = "funding_payments"

    run_id: Mapped[str] = _run_fk()
    trade_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("trades.id"), index=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    symbol: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    rate: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    mark_price: Mapped[Decimal | None] = mapped_column(Money())
    position_qty: Mapped[Decimal | None] = mapped_column(Money())
    amount: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    asset: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    #: the venue's id of the income row (Binance ``tranId``), so a settlement seen again after a
    #: restart is booked once; NULL on rows journaled before revision 0002
    income_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)

    __table_args__ = (sa.Index(None, "run_id", "ts"), sa.Index(None, "symbol", "ts"))


class EquitySnapshot(_Row, Base):
    """Account value at a time; ``exposure`` is the gross notional of open positions."""

    __tablename__ = "equity_snapshots"

    run_id: Mapped[str] = _run_fk()
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    wallet: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    unrealised: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    equity: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    exposure: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    risk_state: Mapped[str] = mapped_column(sa.String(16), nullable=False)

    __table_args__ = (sa.Index(None, "run_id", "ts"),)


class Event(_Row, Base):
    """Anything worth a human's attention: errors, reconciliations, halts, risk-state changes.
    ``run_id`` may be empty for events outside a run (e.g. a failed start)."""

    __tablename__ = "events"

    run_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("runs.id"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    severity: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    message: Mapped[str] = mapped_column(sa.Text(), nullable=False)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONData())

    __table_args__ = (sa.Index(None, "run_id", "ts"), sa.Index(None, "kind", "ts"))


#: Tables in foreign-key order (parents first): the writer inserts a batch in this order.
TABLES_IN_ORDER: tuple[sa.Table, ...] = tuple(Base.metadata.sorted_tables)
