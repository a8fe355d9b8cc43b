"""The journal never changes history: every statement the writer sends is an INSERT."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from bot.core.enums import IntentKind
from bot.core.intents import Intent
from bot.journal import AppendOnlyViolation, Journal
from bot.market.snapshot import Snapshot, fresh

T0 = 1_700_000_000_000


def _full_lifecycle(j: Journal) -> None:
    """Touches every table, including every 'change': status updates, stop moves, exit,
    a corrected exit, and the end of the run."""
    sid = j.record_signal(Intent(IntentKind.ENTER_LONG, "AUSDT", "s", T0, strength=0.5))
    did = j.record_risk_decision(ts=T0, symbol="AUSDT", verdict="approved", reason_code="ok", signal_id=sid)
    tid = j.record_trade_open(symbol="AUSDT", side="long", strategy="s", entry_ts=T0, entry_price=1, quantity=5,
                              leverage=2, margin_mode="isolated", stop_price=0.9, signal_id=sid,
                              risk_decision_id=did)
    oid = j.record_order(client_order_id="c1", ts=T0, symbol="AUSDT", type="market", side="buy", quantity=5,
                         trade_id=tid)
    for status, filled in (("new", 0), ("partially_filled", 2), ("filled", 5)):
        j.record_order_status(oid, ts=T0 + filled, status=status, filled_qty=filled, avg_price=1)
    j.record_fill(oid, ts=T0, symbol="AUSDT", side="buy", price=1, quantity=5, fee=0.001, fee_asset="USDT",
                  is_maker=False)
    j.record_stop_move(tid, ts=T0 + 1, old_stop=0.9, new_stop=0.95, reason="trail")
    j.record_funding(ts=T0 + 2, symbol="AUSDT", rate=0.0001, amount=-0.0005, trade_id=tid)
    j.record_equity(ts=T0 + 3, wallet=100, unrealised=1, equity=101, exposure=5, risk_state="active")
    j.record_observation(Snapshot(symbol="AUSDT", ts=T0, last_price=fresh(1.0, T0)))
    j.record_trade_exit(tid, exit_ts=T0 + 4, exit_price=1.1, exit_reason="take_profit", realised_pnl=0.5, fees=0.002)
    j.record_trade_exit(tid, exit_ts=T0 + 4, exit_price=1.1, exit_reason="take_profit", realised_pnl=0.5,
                        fees=0.003, note="correction")
    j.record_event("halt", "kill switch", severity="critical")
    j.end_run(j.run_id, "halt")


def test_writer_issues_only_inserts(journal_url: str) -> None:
    j = Journal.open(journal_url, batch_size=7, flush_interval_ms=10)
    statements: list[str] = []

    @event.listens_for(j.engine, "before_cursor_execute")
    def _capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    try:
        j.start_run("paper", "h", "v")
        _full_lifecycle(j)
        j.flush()
    finally:
        j.close()
    verbs = {s.lstrip().split(None, 1)[0].upper() for s in statements}
    assert "INSERT" in verbs
    assert verbs <= {"INSERT", "BEGIN", "COMMIT", "SELECT"}, verbs  # SELECT: pool pre-ping on PostgreSQL
    assert not any(s.lstrip().upper().startswith(("UPDATE", "DELETE")) for s in statements)
    assert j.health().written == 17


def test_writer_engine_refuses_update_and_delete(journal: Journal) -> None:
    journal.flush()
    for sql in ("UPDATE runs SET mode = 'live'", "DELETE FROM runs", "  delete from events"):
        with pytest.raises(AppendOnlyViolation, match="append-only"), journal.engine.begin() as conn:
            conn.execute(sa.text(sql))
    with journal.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT mode FROM runs")).scalar_one() == "paper"
