"""Writes a small, fully known journal through the real ``bot.journal.Journal`` API.

Two runs (paper, then live), six trades over six UTC days, with signals, a rejected decision,
orders with status histories, fills with requested prices and latencies, funding payments, a
stop move, a corrected exit, market observations and an event. Tests recompute every expected
number from the raw inputs kept in :class:`Scenario`, never from the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.enums import IntentKind
from bot.core.intents import Intent
from bot.journal import Journal

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """2024-01-(1+day) hour:minute UTC."""
    return T0 + timedelta(days=day, hours=hour, minutes=minute)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


@dataclass
class Scenario:
    url: str
    runs: dict[str, str] = field(default_factory=dict)          # "paper"/"live" -> run id
    trades: dict[str, str] = field(default_factory=dict)        # "T1".. -> trade id
    trade_rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    equity: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)   # mode, side, price, requested, latency
    rejected_signal: str = ""


# name, run, strategy, symbol, side, entry, exit, entry_px, exit_px, qty, realised, fees, funding
TRADES: tuple[tuple[Any, ...], ...] = (
    ("T1", "paper", "short_squeeze", "ORCAUSDT", "long", at(0, 1), at(0, 20), 1.0, 1.12, 1000, 120, 1.5, -0.5),
    ("T2", "paper", "funding_extreme", "BTCUSDT", "short", at(1, 2), at(1, 22), 40000, 40100, 2, -200, 2, 3),
    ("T3", "paper", "short_squeeze", "BTCUSDT", "long", at(2, 3), at(2, 21), 40000, 40155, 2, 310, 4, -6),
    ("T4", "paper", "funding_extreme", "ORCAUSDT", "short", at(3, 5), at(3, 15), 1.2, 1.24, 1000, -40, 1, 1),
    ("T5", "paper", "short_squeeze", "ORCAUSDT", "long", at(3, 20), None, 1.25, None, 800, None, None, None),
    ("T6", "live", "short_squeeze", "ORCAUSDT", "long", at(4, 1), at(4, 10), 1.3, 1.36, 1000, 60, 2, -1),
)

EQUITY = {
    "paper": [(at(0, 0), 10000.0), (at(0, 12), 10050.0), (at(0, 23), 10100.0), (at(1, 23), 9900.0),
              (at(2, 23), 10200.0), (at(3, 23), 10150.0)],
    "live": [(at(4, 0), 5000.0), (at(4, 23), 5050.0), (at(5, 23), 5000.0)],
}


def build_journal(url: str) -> Scenario:
    sc = Scenario(url=url, equity=EQUITY)
    j = Journal.open(url)
    try:
        sc.runs["paper"] = j.start_run("paper", "cfg-paper", "0.1.0", started_at=at(0, 0))
        sc.runs["live"] = j.start_run("live", "cfg-live", "0.1.0", started_at=at(4, 0))
        for mode, points in EQUITY.items():
            for ts, eq in points:
                j.record_equity(ts=ts, wallet=eq, unrealised=0, equity=eq, exposure=0, risk_state="active",
                                run_id=sc.runs[mode])
        # market observations of ORCAUSDT around T1 (the snapshot the signal saw, and the chart)
        for h in range(0, 22):
            j.record_observation({"symbol": "ORCAUSDT", "ts": ms(at(0, h)), "last_price": 0.98 + 0.007 * h,
                                  "mark_price": 0.98 + 0.007 * h, "funding_rate": -0.02 + 0.001 * h,
                                  "open_interest": 1_000_000 + 5_000 * h}, run_id=sc.runs["paper"])
        for row in TRADES:
            _write_trade(j, sc, *row)
        # a signal the risk manager rejected
        rejected = Intent(kind=IntentKind.ENTER_LONG, symbol="BTCUSDT", strategy="short_squeeze",
                          ts=ms(at(1, 1)), strength=0.4, reasons={"oi_change_1h": {"value": 0.2}})
        sc.rejected_signal = j.record_signal(rejected, run_id=sc.runs["paper"])
        j.record_risk_decision(ts=at(1, 1), symbol="BTCUSDT", verdict="rejected", reason_code="max_positions",
                               numbers={"open_positions": 3, "limit": 3}, signal_id=sc.rejected_signal,
                               run_id=sc.runs["paper"])
        j.record_event("halt", "daily loss limit reached", severity="warning", ts=at(1, 23),
                       data={"loss": 200}, run_id=sc.runs["paper"])
        j.end_run(sc.runs["paper"], "normal", ts=at(3, 23))
        j.flush()
    finally:
        j.close()
    return sc


def _write_trade(j: Journal, sc: Scenario, name: str, mode: str, strategy: str, symbol: str, side: str,
                 entry: datetime, exit_: datetime | None, entry_px: float, exit_px: float | None, qty: float,
                 realised: float | None, fees: float | None, funding: float | None) -> None:
    run = sc.runs[mode]
    kind = IntentKind.ENTER_LONG if side == "long" else IntentKind.ENTER_SHORT
    intent = Intent(kind=kind, symbol=symbol, strategy=strategy, ts=ms(entry - timedelta(minutes=30)),
                    strength=0.8, reasons={"funding_rate": {"value": -0.02, "threshold": -0.005, "op": "<="}},
                    stop_loss_pct=0.05)
    sig = j.record_signal(intent, run_id=run)
    dec = j.record_risk_decision(ts=entry - timedelta(minutes=29), symbol=symbol, verdict="approved",
                                 reason_code="ok", numbers={"risk_fraction": 0.01}, signal_id=sig, run_id=run)
    stop = entry_px * (0.95 if side == "long" else 1.05)
    tid = j.record_trade_open(symbol=symbol, side=side, strategy=strategy, entry_ts=entry, entry_price=entry_px,
                              quantity=qty, leverage=3, margin_mode="isolated", stop_price=stop,
                              liquidation_price=entry_px * (0.7 if side == "long" else 1.3), signal_id=sig,
                              risk_decision_id=dec, run_id=run)
    sc.trades[name] = tid
    sc.trade_rows[name] = {"mode": mode, "strategy": strategy, "symbol": symbol, "side": side, "entry": entry,
                           "exit": exit_, "realised": realised, "fees": fees, "funding": funding,
                           "signal_id": sig, "decision_id": dec, "stop": stop}
    entry_side, exit_side = ("buy", "sell") if side == "long" else ("sell", "buy")
    # entry: requested a bit better than the fill (a cost); latency grows with the trade number
    n = int(name[1:])
    requested = entry_px * (1 - 0.001) if entry_side == "buy" else entry_px * (1 + 0.001)
    _order_with_fill(j, sc, run, mode, tid, f"{name}-entry", entry, symbol, entry_side, qty, entry_px,
                     requested, 100 + 10 * n, "entry")
    oid = j.record_order(client_order_id=f"{name}-stop", ts=entry, symbol=symbol, type="stop_market",
                         side=exit_side, trigger_price=stop, close_position=True, trade_id=tid, purpose="stop",
                         run_id=run)
    j.record_order_status(oid, ts=entry, status="new", run_id=run)
    if name == "T1":
        j.record_stop_move(tid, ts=at(0, 15), old_stop=stop, new_stop=1.05, reason="breakeven", run_id=run)
        j.record_funding(ts=at(0, 8), symbol=symbol, rate=-0.0005, amount=-0.5, mark_price=1.0,
                         position_qty=qty, trade_id=tid, run_id=run)
    if exit_ is None:
        return
    j.record_order_status(oid, ts=exit_, status="canceled", run_id=run)
    _order_with_fill(j, sc, run, mode, tid, f"{name}-exit", exit_, symbol, exit_side, qty, exit_px,
                     exit_px, 50, "exit")
    if name == "T3":  # first exit row is wrong and corrected by a newer one
        j.record_trade_exit(tid, exit_ts=exit_, exit_price=exit_px, exit_reason="take_profit",
                            realised_pnl=300, fees=fees, funding=funding, run_id=run)
        j.flush()
    j.record_trade_exit(tid, exit_ts=exit_, exit_price=exit_px,
                        exit_reason="take_profit" if realised > 0 else "stop_loss",
                        realised_pnl=realised, fees=fees, funding=funding, run_id=run)


def _order_with_fill(j: Journal, sc: Scenario, run: str, mode: str, tid: str, coid: str, ts: datetime,
                     symbol: str, side: str, qty: float, price: float, requested: float, latency: int,
                     purpose: str) -> None:
    oid = j.record_order(client_order_id=coid, ts=ts, symbol=symbol, type="market", side=side, quantity=qty,
                         trade_id=tid, purpose=purpose, run_id=run)
    j.record_order_status(oid, ts=ts, status="new", run_id=run)
    j.record_fill(oid, ts=ts + timedelta(milliseconds=latency), symbol=symbol, side=side, price=price,
                  quantity=qty, fee=0.1, fee_asset="USDT", is_maker=False, requested_price=requested,
                  latency_ms=latency, trade_id=tid, run_id=run)
    j.record_order_status(oid, ts=ts + timedelta(milliseconds=latency), status="filled", filled_qty=qty,
                          avg_price=price, run_id=run)
    sc.fills.append({"mode": mode, "side": side, "price": price, "requested": requested, "latency": latency})


# -- hostile text (issue 16 item 9) -----------------------------------------------------------------

#: Strings that Rich would read as markup (a closing tag with no opening one crashes it, a link
#: tag makes a hyperlink, ``:name:`` becomes an emoji, a trailing backslash escapes what follows)
#: and matplotlib as math (``$...$``). The review commands must show each one literally.
CLOSE_TAG = "[/oops]"
LINK = "[link=http://evil.example]click[/link]"
EMOJI = ":thumbs_up:"
HOSTILE_STRATEGY = "strat[/oops]"
MATH_STRATEGY = "fx$\\oops$"
HOSTILE_SYMBOL = "EVIL[bold]USDT"
HOSTILE_MESSAGE = f"msg {CLOSE_TAG} {LINK} {EMOJI} C:\\"


@dataclass
class HostileScenario:
    url: str
    trade_id: str = ""


def build_hostile_journal(url: str) -> HostileScenario:
    """One paper run whose free text is all hostile: strategy names, a symbol, signal reasons,
    a risk reason code and numbers, a stop-move reason, an event kind, message and data."""
    sc = HostileScenario(url=url)
    j = Journal.open(url)
    try:
        run = j.start_run("paper", "cfg", "0.1.0", started_at=at(0, 0))
        j.record_equity(ts=at(0, 0), wallet=1000, unrealised=0, equity=1000, exposure=0, risk_state="active",
                        run_id=run)
        j.record_equity(ts=at(1, 0), wallet=1001, unrealised=0, equity=1001, exposure=0, risk_state="active",
                        run_id=run)
        for n, strategy in enumerate((HOSTILE_STRATEGY, MATH_STRATEGY)):
            intent = Intent(kind=IntentKind.ENTER_LONG, symbol=HOSTILE_SYMBOL, strategy=strategy,
                            ts=ms(at(0, 1 + n)), strength=0.5, reasons={LINK: {"why": CLOSE_TAG}})
            sig = j.record_signal(intent, run_id=run)
            dec = j.record_risk_decision(ts=at(0, 1 + n), symbol=HOSTILE_SYMBOL, verdict="approved",
                                         reason_code="ok" + CLOSE_TAG, numbers={"note": LINK}, signal_id=sig,
                                         run_id=run)
            tid = j.record_trade_open(symbol=HOSTILE_SYMBOL, side="long", strategy=strategy, entry_ts=at(0, 2 + n),
                                      entry_price=1, quantity=1, leverage=1, margin_mode="isolated",
                                      stop_price=0.9, signal_id=sig, risk_decision_id=dec, run_id=run)
            j.record_stop_move(tid, ts=at(0, 3 + n), new_stop=0.95, reason="moved " + CLOSE_TAG, run_id=run)
            j.record_trade_exit(tid, exit_ts=at(0, 4 + n), exit_price=1.1, exit_reason="take_profit",
                                realised_pnl=0.1, fees=0.01, run_id=run)
            sc.trade_id = sc.trade_id or tid
        j.record_event("halt" + CLOSE_TAG, HOSTILE_MESSAGE, severity="warning", ts=at(0, 8), data={"x": LINK},
                       run_id=run)
        j.end_run(run, "normal", ts=at(1, 0))
        j.flush()
    finally:
        j.close()
    return sc
