"""The ``Journal`` facade: what the engine, executors and risk manager call.

Every ``record_*`` method validates and converts its arguments in the caller's thread (so a bad
value raises :class:`~bot.journal.errors.JournalInputError` right where it was produced), assigns
the row's id, queues the row and returns the id at once. Nothing here waits for the database
except :meth:`Journal.flush` (the acknowledgement) and :meth:`Journal.close`.

Timestamps may be engine milliseconds (``int``) or tz-aware datetimes; numbers may be floats,
ints, strings or Decimals (floats are stored as their shortest repr: ``0.1`` is ``0.1``).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from loguru import logger

from bot.config import JournalSettings
from bot.core.enums import (
    ExitReason,
    IntentKind,
    MarginMode,
    Mode,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    RiskState,
)
from bot.core.intents import Intent
from bot.journal import models as m
from bot.journal.convert import (
    jsonable,
    new_id,
    to_dec,
    to_enum,
    to_text,
    to_utc,
    utc_now,
)
from bot.journal.db import create_journal_engine
from bot.journal.errors import JournalInputError
from bot.journal.fresh import create_if_empty
from bot.journal.writer import BatchWriter, WriterHealth, install_append_only_guard
from bot.logging import redact

Number = float | int | str | Decimal
Timestamp = int | datetime
#: Called with (table name, row) after a row is queued; see :meth:`Journal.add_listener`.
Listener = Callable[[str, Mapping[str, Any]], None]

VERDICTS = ("approved", "resized", "rejected")
SEVERITIES = ("debug", "info", "warning", "error", "critical")


class Journal:
    """Append-only trade journal with a batching background writer.

    >>> j = Journal.open("sqlite:///data/journal.sqlite")        # doctest: +SKIP
    >>> run = j.start_run("paper", settings.config_hash(), "0.1.0")  # doctest: +SKIP
    >>> oid = j.record_order(client_order_id="x1", ...)          # doctest: +SKIP
    >>> j.flush()   # everything above is committed when this returns   # doctest: +SKIP
    """

    def __init__(self, engine: sa.Engine, writer: BatchWriter, url: str) -> None:
        self.engine = engine
        self.url = url
        self._writer = writer
        self.run_id: str | None = None
        self._closed = False
        self._atexit = weakref.finalize(self, _close_quietly, writer)
        #: venue fills already journaled, by trade id: {(symbol, exchange trade id)} (record_fill(once=True))
        self._fill_keys: dict[str | None, set[tuple[str, str]]] = {}
        #: venue income ids of the funding settlements journaled or found journaled (funding_journaled)
        self._funding_ids: set[str] = set()
        self._listeners: list[Listener] = []

    # -- lifecycle ----------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None, *, settings: JournalSettings | None = None,
             batch_size: int | None = None, flush_interval_ms: int | None = None,
             max_pending: int | None = None, migrate: bool = True) -> Journal:
        """Open (and by default migrate to head) the journal at ``url`` or ``settings.url``, and
        start the writer thread.

        A journal whose schema revision this code does not know (a newer derivbot wrote it) is
        refused before anything is written, migrated or not (:func:`check_known_revision`)."""
        settings = settings or JournalSettings()
        url = url or settings.url
        engine = create_journal_engine(url)
        try:
            # Alembic is imported only when used: a new SQLite file needs none (bot.journal.fresh).
            if not migrate:
                from bot.journal.migrate import check_known_revision

                check_known_revision(engine)
            elif not create_if_empty(engine):
                from bot.journal.migrate import upgrade_to_head

                upgrade_to_head(url)
        except BaseException:
            engine.dispose()
            raise
        install_append_only_guard(engine)
        writer = BatchWriter(
            engine,
            batch_size=batch_size or settings.batch_size,
            flush_interval_ms=flush_interval_ms or settings.flush_interval_ms,
            max_pending=max_pending or settings.max_pending,
        )
        return cls(engine, writer, url)

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything recorded so far is committed. See :meth:`BatchWriter.flush`."""
        self._writer.flush(timeout)

    def health(self) -> WriterHealth:
        """Queue depth, rows written, retry state and rows in the error state."""
        return self._writer.health()

    @property
    def backlogged(self) -> bool:
        """The writer's queue is past its bound (see ``BatchWriter.backlogged``); cheap to read."""
        return self._writer.backlogged

    def close(self, timeout: float | None = 10.0) -> None:
        """Commit what is queued, stop the writer and release connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._writer.close(timeout)
        self._atexit.detach()
        health = self._writer.health()
        if health.failed:
            logger.error("journal closed with {} rows in the error state (logged above)", len(health.failed))
        self.engine.dispose()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reader(self) -> Any:
        """A :class:`bot.journal.reader.JournalReader` on this journal's database."""
        from bot.journal.reader import JournalReader

        return JournalReader(self.engine)

    # -- runs ---------------------------------------------------------------------------------

    def start_run(self, mode: Mode | str, config_hash: str, code_version: str, *,
                  started_at: Timestamp | None = None, params: Mapping[str, Any] | None = None,
                  run_id: str | None = None) -> str:
        """Record the start of a run and make it the default ``run_id`` of later records."""
        rid = run_id or new_id()
        self._submit(m.Run, {
            "id": rid,
            "mode": to_enum(Mode, mode, "mode"),
            "config_hash": to_text(config_hash, "config_hash", max_len=64),
            "code_version": to_text(code_version, "code_version", max_len=64),
            "started_at": to_utc(started_at if started_at is not None else utc_now(), "started_at"),
            "params": jsonable(params) if params else None,
        })
        self.run_id = rid
        return rid

    def end_run(self, run_id: str | None = None, exit_reason: str = "normal", *,
                ts: Timestamp | None = None) -> str:
        """Record the end of a run (a ``run_stops`` row; the run row is never changed)."""
        return self._submit(m.RunStop, {
            "id": new_id(),
            "run_id": self._run(run_id),
            "stopped_at": to_utc(ts if ts is not None else utc_now(), "ts"),
            "exit_reason": to_text(exit_reason, "exit_reason", max_len=64),
        })

    # -- market, signals, risk ----------------------------------------------------------------

    def record_observation(self, snapshot: Any, *, run_id: str | None = None) -> str:
        """Store a :class:`~bot.market.snapshot.Snapshot` (or its ``to_record()`` dict)."""
        record = snapshot.to_record() if hasattr(snapshot, "to_record") else dict(snapshot)
        row: dict[str, Any] = {
            "id": new_id(),
            "run_id": self._run(run_id),
            "ts": to_utc(record.get("ts"), "ts"),
            "symbol": to_text(record.get("symbol"), "symbol", max_len=32),
            "exchange": to_text(record.get("exchange") or "binanceusdm", "exchange", max_len=32),
            "record": jsonable(record),
        }
        for name in m.OBSERVATION_COLUMNS:
            row[name] = _lenient_dec(record.get(name))
        return self._submit(m.MarketObservation, row)

    def record_signal(self, intent: Intent, *, run_id: str | None = None) -> str:
        """Store a strategy's :class:`~bot.core.intents.Intent` with its reasons."""
        kind = to_enum(IntentKind, intent.kind, "intent.kind")
        params = {k: getattr(intent, k) for k in ("stop_loss_pct", "take_profit_pct", "leverage",
                                                  "time_stop_hours") if getattr(intent, k) is not None}
        return self._submit(m.Signal, {
            "id": new_id(),
            "run_id": self._run(run_id),
            "ts": to_utc(intent.ts, "intent.ts"),
            "strategy": to_text(intent.strategy, "intent.strategy", max_len=64),
            "symbol": to_text(intent.symbol, "intent.symbol", max_len=32),
            "kind": kind,
            "side": intent.side.value if intent.side is not None else None,
            "strength": to_dec(intent.strength, "intent.strength"),
            "reasons": jsonable(intent.reasons) if intent.reasons else None,
            "params": jsonable(params) if params else None,
        })

    def record_risk_decision(self, *, ts: Timestamp, symbol: str, verdict: str, reason_code: str,
                             numbers: Mapping[str, Any] | None = None, plan: Any = None,
                             signal_id: str | None = None, run_id: str | None = None) -> str:
        """Store the risk manager's verdict (``approved``/``resized``/``rejected``) on a signal."""
        verdict_text = to_text(verdict, "verdict")
        if verdict_text not in VERDICTS:
            raise JournalInputError(f"verdict: {verdict!r} is not one of {list(VERDICTS)}")
        return self._submit(m.RiskDecision, {
            "id": new_id(),
            "run_id": self._run(run_id),
            "signal_id": signal_id,
            "ts": to_utc(ts, "ts"),
            "symbol": to_text(symbol, "symbol", max_len=32),
            "verdict": verdict_text,
            "reason_code": to_text(reason_code, "reason_code", max_len=64),
            "numbers": jsonable(numbers) if numbers else None,
            "plan": jsonable(plan) if plan is not None else None,
        })

    # -- trades ---------------------------------------------------------------------------------

    def record_trade_open(self, *, symbol: str, side: PositionSide | str, strategy: str,
                          entry_ts: Timestamp, entry_price: Number, quantity: Number, leverage: Number,
                          margin_mode: MarginMode | str, stop_price: Number | None = None,
                          take_profit_price: Number | None = None, liquidation_price: Number | None = None,
                          time_stop_at: Timestamp | None = None, signal_id: str | None = None,
                          risk_decision_id: str | None = None, trade_id: str | None = None,
                          run_id: str | None = None) -> str:
        """Store a new position. Close it with :meth:`record_trade_exit`, never by editing it."""
        trade_id = trade_id or new_id()
        # A trade opened by this process has no fills from earlier runs: ``record_fill(once=True)``
        # need not read the database for it (that read is for trades restored after a restart).
        self._fill_keys.setdefault(trade_id, set())
        return self._submit(m.Trade, {
            "id": trade_id,
            "run_id": self._run(run_id),
            "signal_id": signal_id,
            "risk_decision_id": risk_decision_id,
            "symbol": to_text(symbol, "symbol", max_len=32),
            "side": to_enum(PositionSide, side, "side"),
            "strategy": to_text(strategy, "strategy", max_len=64),
            "entry_ts": to_utc(entry_ts, "entry_ts"),
            "entry_price": _positive(entry_price, "entry_price"),
            "quantity": _positive(quantity, "quantity"),
            "leverage": _positive(leverage, "leverage"),
            "margin_mode": to_enum(MarginMode, margin_mode, "margin_mode"),
            "stop_price": to_dec(stop_price, "stop_price", required=False),
            "take_profit_price": to_dec(take_profit_price, "take_profit_price", required=False),
            "liquidation_price": to_dec(liquidation_price, "liquidation_price", required=False),
            "time_stop_at": to_utc(time_stop_at, "time_stop_at", required=False),
        })

    def record_trade_exit(self, trade_id: str, *, exit_ts: Timestamp, exit_price: Number,
                          exit_reason: ExitReason | str, realised_pnl: Number, fees: Number,
                          funding: Number = 0, note: str | None = None, run_id: str | None = None) -> str:
        """Close a trade. ``realised_pnl`` is price P&L before costs, ``fees`` positive costs,
        ``funding`` positive when received. A later exit row for the same trade is a correction."""
        return self._submit(m.TradeExit, {
            "id": new_id(),
            "run_id": self._run(run_id),
            "trade_id": to_text(trade_id, "trade_id"),
            "exit_ts": to_utc(exit_ts, "exit_ts"),
            "exit_price": _positive(exit_price, "exit_price"),
            "exit_reason": to_enum(ExitReason, exit_reason, "exit_reason"),
            "realised_pnl": to_dec(realised_pnl, "realised_pnl"),
            "fees": to_dec(fees, "fees"),
            "funding": to_dec(funding, "funding"),
            "note": note,
        })

    def record_stop_move(self, trade_id: str, *, ts: Timestamp, new_stop: Number, reason: str,
                         old_stop: Number | None = None, run_id: str | None = None) -> str:
        return self._submit(m.StopMove, {
            "id": new_id(),
            "run_id": self._run(run_id),
            "trade_id": to_text(trade_id, "trade_id"),
            "ts": to_utc(ts, "ts"),
            "old_stop": to_dec(old_stop, "old_stop", required=False),
            "new_stop": _positive(new_stop, "new_stop"),
            "reason": to_text(reason, "reason", max_len=64),
        })

    # -- orders and fills ---------------------------------------------------------------------

    def record_order(self, *, client_order_id: str, ts: Timestamp, symbol: str, type: OrderType | str,
                     side: OrderSide | str, quantity: Number | None = None, price: Number | None = None,
                     trigger_price: Number | None = None, reduce_only: bool = False,
                     close_position: bool = False, trade_id: str | None = None,
                     signal_id: str | None = None, purpose: str | None = None,
                     exchange_order_id: str | None = None, run_id: str | None = None) -> str:
        """Store an order as sent. Returns the journal's order id (use it for status and fills)."""
        if quantity is None and not close_position:
            raise JournalInputError("quantity: required unless close_position=True")
        return self._submit(m.Order, {
            "id": new_id(),
            "run_id": self._run(run_id),
            "trade_id": trade_id,
            "signal_id": signal_id,
            "client_order_id": to_text(client_order_id, "client_order_id", max_len=64),
            "exchange_order_id": to_text(exchange_order_id, "exchange_order_id", required=False, max_len=64),
            "ts": to_utc(ts, "ts"),
            "symbol": to_text(symbol, "symbol", max_len=32),
            "type": to_enum(OrderType, type, "type"),
            "side": to_enum(OrderSide, side, "side"),
            "quantity": None if quantity is None else _positive(quantity, "quantity"),
            "price": to_dec(price, "price", required=False),
            "trigger_price": to_dec(trigger_price, "trigger_price", required=False),
            "reduce_only": bool(reduce_only),
            "close_position": bool(close_position),
            "purpose": to_text(purpose, "purpose", required=False, max_len=32),
        })

    def record_order_status(self, order_id: str, *, ts: Timestamp, status: OrderStatus | str,
                            filled_qty: Number = 0, avg_price: Number | None = None,
                            exchange_order_id: str | None = None, raw_status: str | None = None,
                            run_id: str | None = None) -> str:
        """Append an observed order state (the exchange id usually first arrives here)."""
        return self._submit(m.OrderStatusRow, {
            "id": new_id(),
            "run_id": self._run(run_id),
            "order_id": to_text(order_id, "order_id"),
            "ts": to_utc(ts, "ts"),
            "status": to_enum(OrderStatus, status, "status"),
            "filled_qty": to_dec(filled_qty, "filled_qty"),
            "avg_price": to_dec(avg_price, "avg_price", required=False),
            "exchange_order_id": to_text(exchange_order_id, "exchange_order_id", required=False, max_len=64),
            "raw_status": to_text(raw_status, "raw_status", required=False, max_len=64),
        })

    def record_fill(self, order_id: str, *, ts: Timestamp, symbol: str, side: OrderSide | str,
                    price: Number, quantity: Number, fee: Number, fee_asset: str, is_maker: bool,
                    exchange_trade_id: str | int | None = None, requested_price: Number | None = None,
                    latency_ms: int | None = None, trade_id: str | None = None,
                    run_id: str | None = None, once: bool = False, fee_usdt: Number | None = None) -> str | None:
        """Store an execution. ``requested_price`` and ``latency_ms`` measure slippage and speed.
        ``fee``/``fee_asset`` are what was paid; ``fee_usdt`` its USDT value when paid in another asset.

        ``once``: skip (return None) a venue fill already journaled for ``trade_id`` (same symbol and
        venue trade id, which Binance numbers per symbol). The same fill is seen from several places
        (the order's own answer, exit attribution, a restart after a crash) and the fills table has
        no unique key on the venue's trade id: the journal remembers what it wrote in this process
        and, per trade, what earlier runs wrote (:meth:`fill_journaled`).
        """
        if latency_ms is not None and (isinstance(latency_ms, bool) or int(latency_ms) < 0):
            raise JournalInputError(f"latency_ms: must be a non-negative int, got {latency_ms!r}")
        once = once and exchange_trade_id is not None
        if once and self.fill_journaled(symbol, exchange_trade_id, trade_id):
            return None
        fill_id = self._submit(m.Fill, {
            "id": new_id(),
            "run_id": self._run(run_id),
            "order_id": to_text(order_id, "order_id"),
            "trade_id": trade_id,
            "exchange_trade_id": to_text(exchange_trade_id, "exchange_trade_id", required=False, max_len=64),
            "ts": to_utc(ts, "ts"),
            "symbol": to_text(symbol, "symbol", max_len=32),
            "side": to_enum(OrderSide, side, "side"),
            "price": _positive(price, "price"),
            "quantity": _positive(quantity, "quantity"),
            "fee": to_dec(fee, "fee"),
            "fee_asset": to_text(fee_asset, "fee_asset", max_len=16),
            "is_maker": bool(is_maker),
            "requested_price": to_dec(requested_price, "requested_price", required=False),
            "latency_ms": None if latency_ms is None else int(latency_ms),
            "fee_usdt": to_dec(fee_usdt, "fee_usdt", required=False),
        })
        if once:
            self._fill_keys[trade_id].add((symbol, str(exchange_trade_id)))
        return fill_id

    def fill_journaled(self, symbol: str, exchange_trade_id: str | int, trade_id: str | None = None) -> bool:
        """Whether ``record_fill(once=True)`` (or an earlier run, for ``trade_id``) journaled this venue fill."""
        seen = self._fill_keys.get(trade_id)
        if seen is None:
            seen = self._fill_keys[trade_id] = self._journaled_fill_keys(trade_id)
        return (symbol, str(exchange_trade_id)) in seen

    def fill_owner(self, symbol: str, exchange_trade_id: str | int, ts: Timestamp) -> str | None:
        """The trade a venue fill is journaled on (by this process, or by an earlier run, found by
        its time ``ts``), or None. Exit attribution uses it: a fill at the very millisecond a new
        trade opened may be the previous trade's exit, already booked there."""
        key = (symbol, str(exchange_trade_id))
        for trade_id, keys in self._fill_keys.items():
            if trade_id is not None and key in keys:
                return trade_id
        at = to_utc(ts, "ts")
        assert at is not None
        # The first of ``reader().fills(symbol=, since=at, until=at + 1 ms)`` (oldest first) with this
        # venue trade id and a trade (the fill's own or its order's), as one small query: exit
        # attribution asks for every closing fill of every trade (a backtest: hundreds of times).
        owner = sa.func.coalesce(m.Fill.trade_id, m.Order.trade_id)
        query = (
            sa.select(owner)
            .join(m.Order, m.Order.id == m.Fill.order_id)
            .where(m.Fill.symbol == symbol, m.Fill.exchange_trade_id == key[1], owner.is_not(None),
                   m.Fill.ts >= at, m.Fill.ts < at + timedelta(milliseconds=1))
            .order_by(m.Fill.ts, m.Fill.recorded_at)
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def _journaled_fill_keys(self, trade_id: str | None) -> set[tuple[str, str]]:
        """(symbol, venue trade id) of the fills earlier runs journaled for ``trade_id``."""
        if trade_id is None:
            return set()
        return {(f.symbol, f.exchange_trade_id) for f in self.reader().fills(trade_id=trade_id)
                if f.exchange_trade_id is not None}

    # -- money over time ----------------------------------------------------------------------

    def record_funding(self, *, ts: Timestamp, symbol: str, rate: Number, amount: Number,
                       mark_price: Number | None = None, position_qty: Number | None = None,
                       trade_id: str | None = None, asset: str = "USDT", income_id: str | int | None = None,
                       run_id: str | None = None) -> str:
        """Store a funding settlement; ``amount`` positive = received, negative = paid.

        ``income_id`` is the venue's id of the income row (Binance ``tranId``): with it
        :meth:`funding_journaled` can tell, after a restart, that a settlement is booked already.
        """
        income = to_text(income_id, "income_id", required=False, max_len=64)
        if income is not None:
            self._funding_ids.add(income)
        return self._submit(m.FundingPayment, {
            "income_id": income,
            "id": new_id(),
            "run_id": self._run(run_id),
            "trade_id": trade_id,
            "ts": to_utc(ts, "ts"),
            "symbol": to_text(symbol, "symbol", max_len=32),
            "rate": to_dec(rate, "rate"),
            "mark_price": to_dec(mark_price, "mark_price", required=False),
            "position_qty": to_dec(position_qty, "position_qty", required=False),
            "amount": to_dec(amount, "amount"),
            "asset": to_text(asset, "asset", max_len=16),
        })

    def funding_journaled(self, income_id: str | int, symbol: str, ts: Timestamp) -> bool:
        """Whether the funding settlement ``income_id`` is journaled (by this process or an earlier run).

        An earlier run's rows are looked up in the database by income id; a row journaled before
        the id was kept (revision 0002) matches by symbol and settlement time instead, which in
        one-way mode name one settlement. Found ids are remembered, so each is read once.
        """
        key = str(income_id)
        if key in self._funding_ids:
            return True
        settled = to_utc(ts, "ts")
        with self.engine.connect() as conn:
            hit = conn.execute(sa.select(m.FundingPayment.id).where(
                m.FundingPayment.symbol == symbol,
                sa.or_(m.FundingPayment.income_id == key,
                       sa.and_(m.FundingPayment.income_id.is_(None), m.FundingPayment.ts == settled)),
            ).limit(1)).first()
        if hit is not None:
            self._funding_ids.add(key)
        return hit is not None

    def record_equity(self, *, ts: Timestamp, wallet: Number, unrealised: Number, equity: Number,
                      exposure: Number, risk_state: RiskState | str, run_id: str | None = None) -> str:
        return self._submit(m.EquitySnapshot, {
            "id": new_id(),
            "run_id": self._run(run_id),
            "ts": to_utc(ts, "ts"),
            "wallet": to_dec(wallet, "wallet"),
            "unrealised": to_dec(unrealised, "unrealised"),
            "equity": to_dec(equity, "equity"),
            "exposure": to_dec(exposure, "exposure"),
            "risk_state": to_enum(RiskState, risk_state, "risk_state"),
        })

    def record_event(self, kind: str, message: str, *, severity: str = "info", ts: Timestamp | None = None,
                     data: Mapping[str, Any] | None = None, run_id: str | None = None) -> str:
        """Store something a person should see later (error, reconciliation, halt, kill switch,
        risk-state change). Without a current run the event is stored with no ``run_id``."""
        # Exchange errors can quote a signed URL or a key: events are redacted like log lines.
        message = redact(message)
        if data:
            data = json.loads(redact(json.dumps(jsonable(data), default=str)))
        severity_text = to_text(severity, "severity")
        if severity_text not in SEVERITIES:
            raise JournalInputError(f"severity: {severity!r} is not one of {list(SEVERITIES)}")
        return self._submit(m.Event, {
            "id": new_id(),
            "run_id": run_id or self.run_id,
            "ts": to_utc(ts if ts is not None else utc_now(), "ts"),
            "kind": to_text(kind, "kind", max_len=32),
            "severity": severity_text,
            "message": to_text(message, "message"),
            "data": jsonable(data) if data else None,
        })

    # -- listeners ----------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(table, row)`` after every row this journal queues, in the recording thread.

        The journal records every decision and event, so what is derived from it (alerts, issue
        15) needs no call of its own in the order path. A listener must be quick and must not block
        (hand the row to a queue); one that raises is logged and ignored: it never breaks recording.
        Rows are the converted values as stored (Decimals, UTC datetimes); do not modify them.
        """
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener`` (no error if it was not added)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self, table: str, row: Mapping[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                listener(table, row)
            except Exception as exc:  # a listener's bug must never stop the journal
                name = getattr(listener, "__qualname__", type(listener).__name__)
                logger.warning("journal listener {} failed on a {} row: {}: {}", name, table, type(exc).__name__,
                               redact(str(exc)))

    # -- internals ----------------------------------------------------------------------------

    def _run(self, run_id: str | None) -> str:
        rid = run_id or self.run_id
        if rid is None:
            raise JournalInputError("no run: call Journal.start_run() first or pass run_id=")
        return rid

    def _submit(self, model: type[m.Base], row: dict[str, Any]) -> str:
        row["recorded_at"] = utc_now()
        table = model.__table__
        self._writer.submit(table, row)  # type: ignore[arg-type]
        if self._listeners:
            self._notify(table.name, row)  # type: ignore[attr-defined]
        return row["id"]


def _positive(value: Number, field: str) -> Decimal:
    out = to_dec(value, field)
    assert out is not None
    if out <= 0:
        raise JournalInputError(f"{field}: must be > 0, got {value!r}")
    return out


def _lenient_dec(value: Any) -> Decimal | None:
    """Market data may be missing or NaN: that is "unknown" (NULL), never an error."""
    try:
        return to_dec(value, "observation", required=False)
    except JournalInputError:
        return None


def _close_quietly(writer: BatchWriter) -> None:
    """Interpreter exit without ``close()``: still commit what was queued."""
    try:
        writer.close(timeout=5.0)
    except Exception:  # pragma: no cover - best effort at exit
        logger.exception("journal writer did not close cleanly at exit")

