"""Journal rows -> alerts: which recorded facts a person should hear about, and in what words.

The journal already records every decision and event (issue 15's design: alerts are derived from
it, not sprinkled through the order path). :class:`AlertRules` gets each row the journal queues
(``Journal.add_listener``) and returns the alerts it implies:

========================  ==========================================================  ==============
journal row               alert event                                                 severity
========================  ==========================================================  ==============
``runs``                  ``start``                                                   info
``run_stops``             ``stop``; an ``error: ...`` exit reason is a ``crash``      info/critical
``trades``                ``entry`` (not an adopted position: reconciliation tells it) info
``trade_exits``           ``exit`` (P&L, fees, funding, net, reason)                  info/warning
``stop_moves``            ``stop_placed`` (initial stop) or ``stop_moved``            info
event ``stop_move_failed``/``stop_placement_failed``          ``stop_failed``         as journaled
event ``stop_missing``/``position_unprotected``/``no_protection_plan``/
``plan_side_mismatch``    ``no_stop``                                                 as journaled
event ``reconciliation`` (only when it changed something), ``reconciliation_failed``,
``trading_blocked``       ``reconciliation``                                          as journaled
event ``risk_state``      ``risk_state``; to HALTED by the halt file: ``kill_switch``  warning/critical
event ``cycles_failing``  ``cycle_failures``                                          error
``equity_snapshots``      ``daily_summary`` for the previous UTC day, on the first
                          snapshot of a new day (the engine's clock: replay time too)  info
========================  ==========================================================  ==============

Everything else (observations, orders, fills, ``alert_dropped``) makes no alert. Thread-safe: the
journal calls listeners from the trading loop, and the alert sender journals its drops from its
own thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bot.config import ALERT_EVENTS
from bot.core.enums import RiskState
from bot.risk.codes import TransitionReason

SEVERITIES = ("debug", "info", "warning", "error", "critical")

#: Exit reasons of a stop someone asked for; any other reason (``error: ...``) is a crash.
_CRASH_PREFIX = "error"

#: The strategy name of a position found on the venue and adopted (bot.trading.reconcile).
ADOPTED = "adopted"
_STOP_FAILED = ("stop_move_failed", "stop_placement_failed")
_NO_STOP = ("stop_missing", "position_unprotected", "no_protection_plan", "plan_side_mismatch")
_RECONCILIATION = ("reconciliation_failed", "trading_blocked")


@dataclass(frozen=True)
class Alert:
    """One notification. ``key`` is what makes two alerts "identical" for merging."""

    event: str
    severity: str
    title: str
    fields: dict[str, Any] = field(default_factory=dict)
    ts: datetime | None = None

    def __post_init__(self) -> None:
        if self.event not in ALERT_EVENTS:
            raise ValueError(f"unknown alert event {self.event!r}; known: {', '.join(ALERT_EVENTS)}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}; known: {', '.join(SEVERITIES)}")

    @property
    def body(self) -> str:
        """``key: value`` lines (readable in a chat, parseable by a webhook), led by the event and
        its severity so a receiver can route on them."""
        lines = [f"event: {self.event}", f"severity: {self.severity}"]
        lines += [f"{name}: {_text(value)}" for name, value in self.fields.items() if value is not None]
        if self.ts is not None:
            lines.append(f"at: {self.ts.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}")
        return "\n".join(lines)

    @property
    def key(self) -> tuple[str, str, str]:
        """Identical = same event, title and fields; the time is not part of it (an outage
        repeats the same alert with a new time every cycle)."""
        fields = "\n".join(f"{k}: {_text(v)}" for k, v in self.fields.items() if v is not None)
        return self.event, self.title, fields


def severity_at_least(severity: str, level: str) -> bool:
    """Whether ``severity`` is ``level`` or above."""
    return SEVERITIES.index(severity) >= SEVERITIES.index(level)


@dataclass
class _Day:
    """What the daily summary adds up for one UTC day."""

    day: date
    first_equity: Decimal | None = None
    last_equity: Decimal | None = None
    risk_state: str | None = None
    entries: int = 0
    exits: int = 0
    wins: int = 0
    net: Decimal = Decimal(0)


class AlertRules:
    """Maps journal rows to :class:`Alert` objects (see the module docstring for the table).

    ``trade_lookup(trade_id)`` returns ``(symbol, side, strategy)`` of a trade opened before this
    process started (its exit row names only the trade id); without it such an exit is described
    by its id.
    """

    def __init__(self, trade_lookup: Callable[[str], tuple[str, str, str] | None] | None = None) -> None:
        self.trade_lookup = trade_lookup
        self._lock = threading.Lock()
        self._trades: dict[str, tuple[str, str, str]] = {}
        self._last_error: str | None = None
        self._day: _Day | None = None

    def __call__(self, table: str, row: Mapping[str, Any]) -> list[Alert]:
        with self._lock:
            handler = getattr(self, f"_on_{table}", None)
            return handler(row) if handler is not None else []

    # -- runs ---------------------------------------------------------------------------------

    def _on_runs(self, row: Mapping[str, Any]) -> list[Alert]:
        return [Alert("start", "info", f"derivbot started ({_text(row.get('mode'))})",
                      {"mode": row.get("mode"), "version": row.get("code_version"), "run": _short(row.get("id"))},
                      row.get("started_at"))]

    def _on_run_stops(self, row: Mapping[str, Any]) -> list[Alert]:
        reason = str(row.get("exit_reason") or "")
        fields = {"reason": reason, "run": _short(row.get("run_id"))}
        if reason.startswith(_CRASH_PREFIX):
            fields["last_error"] = self._last_error
            return [Alert("crash", "critical", f"derivbot stopped by an error ({reason})", fields,
                          row.get("stopped_at"))]
        return [Alert("stop", "info", f"derivbot stopped ({reason})", fields, row.get("stopped_at"))]

    # -- trades -------------------------------------------------------------------------------

    def _on_trades(self, row: Mapping[str, Any]) -> list[Alert]:
        symbol, side, strategy = str(row.get("symbol")), _text(row.get("side")), str(row.get("strategy"))
        self._trades[str(row.get("id"))] = (symbol, side, strategy)
        if strategy == ADOPTED:  # not the bot's entry: the reconciliation alert tells it
            return []
        self._today(row.get("entry_ts")).entries += 1
        return [Alert("entry", "info", f"entry {side} {symbol}", {
            "symbol": symbol, "side": side, "strategy": strategy, "price": row.get("entry_price"),
            "quantity": row.get("quantity"), "leverage": row.get("leverage"), "stop": row.get("stop_price"),
            "take_profit": row.get("take_profit_price"), "trade": _short(row.get("id")),
        }, row.get("entry_ts"))]

    def _on_trade_exits(self, row: Mapping[str, Any]) -> list[Alert]:
        trade_id = str(row.get("trade_id"))
        symbol, side, strategy = self._trade(trade_id)
        pnl, fees, funding = (_dec(row.get(k)) for k in ("realised_pnl", "fees", "funding"))
        net = pnl - fees + funding
        reason = _text(row.get("exit_reason"))
        day = self._today(row.get("exit_ts"))
        day.exits += 1
        day.wins += net > 0
        day.net += net
        severity = "error" if reason == "liquidation" else ("warning" if net < 0 else "info")
        return [Alert("exit", severity, f"exit {side} {symbol}: {reason}, net {net:+.2f} USDT", {
            "symbol": symbol, "side": side, "strategy": strategy, "reason": reason, "price": row.get("exit_price"),
            "pnl": pnl, "fees": fees, "funding": funding, "net": net, "note": row.get("note"),
            "trade": _short(trade_id),
        }, row.get("exit_ts"))]

    def _on_stop_moves(self, row: Mapping[str, Any]) -> list[Alert]:
        symbol, side, _ = self._trade(str(row.get("trade_id")))
        reason = str(row.get("reason"))
        fields = {"symbol": symbol, "side": side, "stop": row.get("new_stop"), "previous": row.get("old_stop"),
                  "reason": reason, "trade": _short(row.get("trade_id"))}
        if reason == "initial stop":
            return [Alert("stop_placed", "info", f"stop placed {symbol} at {_text(row.get('new_stop'))}", fields,
                          row.get("ts"))]
        return [Alert("stop_moved", "info", f"stop moved {symbol} to {_text(row.get('new_stop'))} ({reason})",
                      fields, row.get("ts"))]

    # -- events -------------------------------------------------------------------------------

    def _on_events(self, row: Mapping[str, Any]) -> list[Alert]:
        kind, severity = str(row.get("kind")), str(row.get("severity") or "info")
        message, ts = str(row.get("message") or ""), row.get("ts")
        data = row.get("data") or {}
        symbol = data.get("symbol") if isinstance(data, Mapping) else None
        if kind == "engine_error":
            self._last_error = message  # told with the crash (the run_stops row that follows)
            return []
        if kind in _STOP_FAILED:
            return [Alert("stop_failed", severity, f"stop failed {symbol or ''}".strip(),
                          {"symbol": symbol, "kind": kind, "detail": message}, ts)]
        if kind in _NO_STOP:
            return [Alert("no_stop", _at_least(severity, "warning"), f"position without a stop {symbol or ''}".strip(),
                          {"symbol": symbol, "kind": kind, "detail": message}, ts)]
        if kind == "reconciliation":
            if severity == "info":  # nothing changed: journal and venue agreed
                return []
            return [Alert("reconciliation", severity, "reconciliation found differences",
                          {"detail": message, **_reconciliation_counts(data)}, ts)]
        if kind in _RECONCILIATION:
            return [Alert("reconciliation", severity, f"reconciliation: {kind.replace('_', ' ')}",
                          {"detail": message}, ts)]
        if kind == "risk_state" and isinstance(data, Mapping):
            return [self._risk_state(data, ts)]
        if kind == "cycles_failing":
            return [Alert("cycle_failures", "error", "cycles failing",
                          {"consecutive": data.get("consecutive") if isinstance(data, Mapping) else None,
                           "detail": message}, ts)]
        return []

    def _risk_state(self, data: Mapping[str, Any], ts: Any) -> Alert:
        before, to, reason = str(data.get("from")).lower(), str(data.get("to")).lower(), str(data.get("reason"))
        fields = {"from": before, "to": to, "reason": reason, **_numbers(data.get("numbers"))}
        if reason == TransitionReason.KILL_SWITCH.value:
            return Alert("kill_switch", "critical", "kill switch: flattening and stopping", fields, ts)
        severity = {RiskState.HALTED.value: "critical", RiskState.ACTIVE.value: "info"}.get(to, "warning")
        return Alert("risk_state", severity, f"circuit breaker {before.upper()} -> {to.upper()} ({reason})", fields,
                     ts)

    # -- daily summary ------------------------------------------------------------------------

    def _on_equity_snapshots(self, row: Mapping[str, Any]) -> list[Alert]:
        ts = row.get("ts")
        if not isinstance(ts, datetime):
            return []
        day = ts.astimezone(UTC).date()
        out: list[Alert] = []
        if self._day is None:
            self._day = _Day(day)
        elif day > self._day.day:
            out.append(self._summary(self._day, ts))
            self._day = _Day(day, first_equity=self._day.last_equity)
        equity = _dec(row.get("equity"))
        if self._day.first_equity is None:
            self._day.first_equity = equity
        self._day.last_equity = equity
        self._day.risk_state = _text(row.get("risk_state"))
        return out

    def _today(self, ts: Any) -> _Day:
        """The day being summed up (the first row's UTC day when nothing came before). The day
        only turns over at an equity snapshot, the engine's once-per-cycle heartbeat."""
        if self._day is None:
            when = ts if isinstance(ts, datetime) else datetime.now(UTC)
            self._day = _Day(when.astimezone(UTC).date())
        return self._day

    @staticmethod
    def _summary(day: _Day, ts: datetime) -> Alert:
        change = (day.last_equity or 0) - (day.first_equity or 0)
        return Alert("daily_summary", "info", f"daily summary {day.day.isoformat()}", {
            "day": day.day.isoformat(), "equity_start": day.first_equity, "equity_end": day.last_equity,
            "equity_change": change, "entries": day.entries, "exits": day.exits, "wins": day.wins,
            "net_pnl": day.net, "risk_state": day.risk_state,
        }, ts)

    # -- helpers ------------------------------------------------------------------------------

    def _trade(self, trade_id: str) -> tuple[str, str, str]:
        known = self._trades.get(trade_id)
        if known is None and self.trade_lookup is not None:
            try:
                known = self.trade_lookup(trade_id)
            except Exception:  # the journal may be unreadable right now: the id still says which
                known = None
            if known is not None:
                self._trades[trade_id] = known
        return known or (f"trade {_short(trade_id)}", "?", "?")


def _reconciliation_counts(data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        return {}
    out: dict[str, Any] = {}
    for name in ("adopted", "closed", "cancelled", "unresolved", "resumed"):
        value = data.get(name)
        if isinstance(value, list) and value:
            out[name] = len(value)
    return out


def _numbers(numbers: Any) -> dict[str, Any]:
    return {str(k): v for k, v in numbers.items()} if isinstance(numbers, Mapping) else {}


def _at_least(severity: str, floor: str) -> str:
    return severity if severity_at_least(severity, floor) else floor


def _dec(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _short(value: Any) -> str | None:
    return str(value)[:8] if value else None


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return f"{value:.8g}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(getattr(value, "value", value))


__all__ = ["SEVERITIES", "Alert", "AlertRules", "severity_at_least"]
