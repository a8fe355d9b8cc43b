"""Everything recorded through ``Journal`` comes back through ``JournalReader`` unchanged:
exact Decimals, tz-aware UTC datetimes, links between rows, and the derived current state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.core.enums import IntentKind, Quality
from bot.core.intents import Intent
from bot.journal import Journal, JournalInputError
from bot.journal.reader import JournalReader
from bot.market.snapshot import MISSING, Obs, Snapshot, fresh

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
H = 3_600_000


def utc(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def assert_utc(value: datetime) -> None:
    assert value.tzinfo is not None and value.utcoffset() == timedelta(0), value


@pytest.fixture
def reader(journal: Journal) -> JournalReader:
    return journal.reader()


def test_run_start_and_stop(journal: Journal, reader: JournalReader) -> None:
    journal.end_run(journal.run_id, "halt_file", ts=T0 + 5 * H)
    journal.flush()
    (run,) = reader.runs()
    assert (run.id, run.mode, run.config_hash, run.code_version) == (journal.run_id, "paper", "cfg-hash-1", "0.1.0")
    assert run.started_at == utc(T0)
    assert run.stopped_at == utc(T0 + 5 * H)
    assert run.exit_reason == "halt_file"
    assert run.params == {"symbols": ["ORCAUSDT"]}
    assert_utc(run.started_at)
    assert_utc(run.stopped_at)


def test_signal_risk_decision_trade_orders_fills_round_trip(journal: Journal, reader: JournalReader) -> None:
    intent = Intent(IntentKind.ENTER_SHORT, "ORCAUSDT", "short_squeeze", T0, strength=0.75,
                    reasons={"funding_rate": {"value": -0.02, "threshold": -0.005, "op": "<="}},
                    stop_loss_pct=0.05, leverage=2.0)
    sid = journal.record_signal(intent)
    did = journal.record_risk_decision(ts=T0, symbol="ORCAUSDT", verdict="resized", reason_code="max_notional",
                                       numbers={"qty_before": 10.5, "qty_after": Decimal("7.25")},
                                       plan={"quantity": 7.25, "side": "short"}, signal_id=sid)
    tid = journal.record_trade_open(
        symbol="ORCAUSDT", side="short", strategy="short_squeeze", entry_ts=T0 + 1000,
        entry_price=1.2345678901234567, quantity="12345678.123456789012345678", leverage=2,
        margin_mode="isolated", stop_price=1.3, take_profit_price=Decimal("1.1"), liquidation_price=1.85,
        time_stop_at=T0 + 24 * H, signal_id=sid, risk_decision_id=did)
    oid = journal.record_order(client_order_id="db-entry-1", ts=T0 + 500, symbol="ORCAUSDT", type="market",
                               side="sell", quantity=7.25, trade_id=tid, signal_id=sid, purpose="entry")
    stop_oid = journal.record_order(client_order_id="db-stop-1", ts=T0 + 1500, symbol="ORCAUSDT",
                                    type="stop_market", side="buy", trigger_price=1.3, close_position=True,
                                    reduce_only=True, trade_id=tid, purpose="stop")
    journal.record_order_status(oid, ts=T0 + 600, status="new", exchange_order_id="998877", raw_status="NEW")
    journal.record_order_status(oid, ts=T0 + 900, status="filled", filled_qty=7.25, avg_price=1.2345,
                                raw_status="FILLED")
    journal.record_order_status(stop_oid, ts=T0 + 1600, status="new", exchange_order_id="algo-5")
    fid = journal.record_fill(oid, ts=T0 + 900, symbol="ORCAUSDT", side="sell", price=1.2345, quantity=7.25,
                              fee=0.004475, fee_asset="USDT", is_maker=False, exchange_trade_id=555,
                              requested_price=1.2350, latency_ms=87)
    journal.flush()

    (sig,) = reader.signals()
    assert sig.id == sid and sig.kind == "enter_short" and sig.side == "short" and sig.strategy == "short_squeeze"
    assert sig.strength == Decimal("0.75")
    assert sig.reasons == {"funding_rate": {"value": -0.02, "threshold": -0.005, "op": "<="}}
    assert sig.params == {"stop_loss_pct": 0.05, "leverage": 2.0}
    assert sig.ts == utc(T0)

    (dec,) = reader.risk_decisions(signal_id=sid)
    assert (dec.id, dec.verdict, dec.reason_code) == (did, "resized", "max_notional")
    assert dec.numbers == {"qty_before": 10.5, "qty_after": "7.25"}
    assert dec.plan == {"quantity": 7.25, "side": "short"}

    trade = reader.trade(tid)
    assert trade is not None and trade.is_open
    assert trade.entry_price == Decimal("1.2345678901234567")
    assert trade.quantity == Decimal("12345678.123456789012345678")
    assert trade.leverage == Decimal(2)
    assert (trade.initial_stop, trade.current_stop) == (Decimal("1.3"), Decimal("1.3"))
    assert trade.take_profit_price == Decimal("1.1") and trade.liquidation_price == Decimal("1.85")
    assert trade.entry_ts == utc(T0 + 1000) and trade.time_stop_at == utc(T0 + 24 * H)
    assert trade.signal_id == sid
    assert_utc(trade.entry_ts)

    entry, stop = reader.orders(trade_id=tid)
    assert (entry.id, entry.client_order_id, entry.status, entry.raw_status) == (oid, "db-entry-1", "filled", "FILLED")
    assert entry.exchange_order_id == "998877"  # learned from the first status row
    assert entry.filled_qty == Decimal("7.25") and entry.avg_price == Decimal("1.2345")
    assert entry.status_ts == utc(T0 + 900)
    assert (stop.type, stop.quantity, stop.trigger_price) == ("stop_market", None, Decimal("1.3"))
    assert stop.close_position and stop.reduce_only and stop.status == "new" and stop.exchange_order_id == "algo-5"
    assert [o.id for o in reader.orders(open_only=True)] == [stop_oid]
    assert reader.order_by_client_id("db-stop-1") == stop
    assert [s.status for s in reader.order_history(oid)] == ["new", "filled"]

    (fill,) = reader.fills(trade_id=tid)  # linked through its order
    assert (fill.id, fill.order_id, fill.trade_id, fill.exchange_trade_id) == (fid, oid, tid, "555")
    assert (fill.price, fill.quantity, fill.fee) == (Decimal("1.2345"), Decimal("7.25"), Decimal("0.004475"))
    assert fill.requested_price == Decimal("1.235") and fill.latency_ms == 87 and fill.is_maker is False
    assert_utc(fill.ts)


def test_stop_moves_exit_and_corrected_exit(journal: Journal, reader: JournalReader) -> None:
    tid = journal.record_trade_open(symbol="ABCUSDT", side="long", strategy="funding_extreme", entry_ts=T0,
                                    entry_price=10, quantity=3, leverage=3, margin_mode="cross", stop_price=9.5)
    other = journal.record_trade_open(symbol="XYZUSDT", side="long", strategy="funding_extreme",
                                      entry_ts=T0 + H, entry_price=2, quantity=1, leverage=1,
                                      margin_mode="isolated", stop_price=1.9)
    journal.record_stop_move(tid, ts=T0 + H, old_stop=9.5, new_stop=9.8, reason="trail")
    journal.record_stop_move(tid, ts=T0 + 2 * H, old_stop=9.8, new_stop=10.1, reason="breakeven")
    journal.flush()
    (open_t,) = reader.open_trades(symbol="ABCUSDT")
    assert open_t.current_stop == Decimal("10.1") and open_t.initial_stop == Decimal("9.5")
    assert [(s.old_stop, s.new_stop, s.reason) for s in reader.stop_moves(tid)] == [
        (Decimal("9.5"), Decimal("9.8"), "trail"), (Decimal("9.8"), Decimal("10.1"), "breakeven")]

    journal.record_trade_exit(tid, exit_ts=T0 + 3 * H, exit_price=10.1, exit_reason="stop_loss",
                              realised_pnl=0.3, fees=0.0123, funding=-0.004)
    journal.flush()
    journal.record_trade_exit(tid, exit_ts=T0 + 3 * H, exit_price=10.1, exit_reason="trailing_stop",
                              realised_pnl=0.3, fees=0.0125, funding=-0.004, note="fee corrected")
    journal.flush()

    (closed,) = reader.trades(status="closed")
    assert closed.id == tid and not closed.is_open
    assert closed.exit_reason == "trailing_stop"  # the correction, not the first row
    assert closed.fees == Decimal("0.0125")
    assert closed.net_pnl == Decimal("0.3") - Decimal("0.0125") + Decimal("-0.004")
    assert closed.exit_ts == utc(T0 + 3 * H)
    assert [t.id for t in reader.open_trades()] == [other]
    assert [t.id for t in reader.trades(since=T0 + 1, until=T0 + 2 * H)] == [other]
    assert len(reader.trades()) == 2


def test_funding_equity_events_and_observations(journal: Journal, reader: JournalReader) -> None:
    tid = journal.record_trade_open(symbol="ORCAUSDT", side="short", strategy="s", entry_ts=T0, entry_price=1,
                                    quantity=100, leverage=2, margin_mode="isolated", stop_price=1.05)
    journal.record_funding(ts=T0 + 8 * H, symbol="ORCAUSDT", rate=-0.02, mark_price=1.01, position_qty=-100,
                           amount=-2.02, trade_id=tid)
    journal.record_funding(ts=T0 + 8 * H, symbol="OTHERUSDT", rate=0.0001, amount=0.01)
    for i in range(3):
        journal.record_equity(ts=T0 + i * H, wallet=10_000 + i, unrealised=-1.5 * i, equity=10_000 - 0.5 * i,
                              exposure=200.25, risk_state="active")
    journal.record_event("risk_state", "paused after 4 losses", severity="warning", ts=T0 + H,
                         data={"losses": 4, "until": T0 + 13 * H})
    journal.record_event("reconciliation", "ok", ts=T0 + 2 * H)
    journal.record_event("error", "boom", severity="error", ts=T0 + 3 * H)
    snap = Snapshot(symbol="ORCAUSDT", ts=T0 + H, last_price=fresh(1.2345, T0 + H),
                    funding_rate=Obs(-0.0213, T0, Quality.STALE), open_interest=fresh(123456789.5, T0),
                    mark_price=MISSING)
    journal.record_observation(snap)
    journal.flush()

    (pay,) = reader.funding(trade_id=tid)
    assert (pay.rate, pay.mark_price, pay.position_qty, pay.amount, pay.asset) == (
        Decimal("-0.02"), Decimal("1.01"), Decimal("-100"), Decimal("-2.02"), "USDT")
    assert pay.ts == utc(T0 + 8 * H)
    assert len(reader.funding(symbol="OTHERUSDT")) == 1

    series = reader.equity(run_id=journal.run_id)
    assert [p.equity for p in series] == [Decimal("10000.0"), Decimal("9999.5"), Decimal("9999.0")]
    assert [p.ts for p in series] == [utc(T0), utc(T0 + H), utc(T0 + 2 * H)]
    assert series[1].unrealised == Decimal("-1.5") and series[0].exposure == Decimal("200.25")
    assert [p.ts for p in reader.equity(since=T0 + H)] == [utc(T0 + H), utc(T0 + 2 * H)]

    assert [e.kind for e in reader.events()] == ["risk_state", "reconciliation", "error"]
    assert [e.message for e in reader.events(limit=2)] == ["ok", "boom"]
    (warn,) = reader.events(severity="warning")
    assert warn.data == {"losses": 4, "until": T0 + 13 * H} and warn.run_id == journal.run_id

    (obs,) = reader.observations("ORCAUSDT")
    assert obs.ts == utc(T0 + H) and obs.exchange == "binanceusdm"
    assert obs.values["last_price"] == Decimal("1.2345")
    assert obs.values["funding_rate"] == Decimal("-0.0213")
    assert obs.values["open_interest"] == Decimal("123456789.5")
    assert obs.values["mark_price"] is None
    assert Snapshot.from_record(obs.record) == snap  # the full snapshot survives


def test_bad_input_fails_in_the_callers_thread_with_the_field(journal: Journal) -> None:
    with pytest.raises(JournalInputError, match="naive"):
        journal.record_event("x", "y", ts=datetime(2024, 1, 1))
    with pytest.raises(JournalInputError, match="entry_price"):
        journal.record_trade_open(symbol="A", side="long", strategy="s", entry_ts=T0, entry_price=float("nan"),
                                  quantity=1, leverage=1, margin_mode="isolated")
    with pytest.raises(JournalInputError, match="exit_reason"):
        journal.record_trade_exit("t", exit_ts=T0, exit_price=1, exit_reason="panic", realised_pnl=0, fees=0)
    with pytest.raises(JournalInputError, match="verdict"):
        journal.record_risk_decision(ts=T0, symbol="A", verdict="maybe", reason_code="x")
    with pytest.raises(JournalInputError, match="quantity"):
        journal.record_order(client_order_id="c", ts=T0, symbol="A", type="market", side="buy")
    with pytest.raises(JournalInputError, match="quantity: must be > 0"):
        journal.record_order(client_order_id="c", ts=T0, symbol="A", type="market", side="buy", quantity=-1)
    journal.flush()
    assert journal.health().written == 1  # only the run row: nothing bad reached the queue


def test_records_need_a_run() -> None:
    j = Journal.__new__(Journal)
    j.run_id = None
    with pytest.raises(JournalInputError, match="start_run"):
        j._run(None)


def test_events_are_redacted_like_log_lines(sqlite_url: str) -> None:
    """A ccxt error quoting a signed URL, or a registered key, never reaches the journal."""
    from bot.journal import Journal
    from bot.journal.reader import JournalReader
    from bot.logging import register_secrets

    register_secrets("k3y-that-must-not-be-stored")
    signed = ("binanceusdm GET http://127.0.0.1/fapi/v1/order?timestamp=1700000000000&symbol=X"
              "&signature=" + "ab" * 32)
    with Journal.open(sqlite_url) as journal:
        journal.start_run("paper", "cfg", "test")
        journal.record_event("order_unknown", f"{signed} with k3y-that-must-not-be-stored", severity="error",
                             data={"error": signed, "key": "k3y-that-must-not-be-stored"})
        journal.flush()
    with JournalReader(sqlite_url) as reader:
        [event] = reader.events(kind="order_unknown")
    stored = event.message + str(event.data)
    assert "ab" * 32 not in stored and "k3y-that-must-not-be-stored" not in stored
    assert "REDACTED" in event.message and "order?" in event.message
