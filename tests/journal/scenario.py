"""A journal session that touches every table, shared by the append-only and verify tests."""

from __future__ import annotations

from bot.core.enums import IntentKind
from bot.core.intents import Intent
from bot.journal import Journal
from bot.market.snapshot import Snapshot, fresh

T0 = 1_700_000_000_000


def full_lifecycle(j: Journal) -> None:
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
