"""Circuit breakers: the account-level state machine ACTIVE / PAUSED / REDUCING / HALTED.

The state is *derived* from a few facts kept in :class:`BreakerState` (halted flag, the ends
of a pause and of a reducing period), with precedence HALTED > REDUCING > PAUSED > ACTIVE. Each
rule updates a fact, then the effective state is recomputed; whenever it changes a
:class:`RiskTransition` is emitted for the engine to journal.

Rules (limits are reached *at* the threshold: a loss of exactly 3% with a 3% limit trips):

* daily loss: ``(equity at 00:00 UTC - equity) / equity at 00:00 UTC >= daily_loss_limit``
  -> REDUCING until the next 00:00 UTC: no entries, exits allowed. Equity is wallet +
  unrealised P&L, so the difference is realised + unrealised P&L + fees + funding since
  midnight (call :meth:`CircuitBreaker.record_cash_flow` for deposits/withdrawals).
* cash flows: a transfer in or out of the futures wallet (Binance income ``TRANSFER``) shifts
  the day-start and peak equity by its amount, so moving 8% of the wallet to spot is neither a
  daily loss nor a drawdown (issue 11, item 5). :meth:`CircuitBreaker.record_transfer` takes each
  transfer once by its ``tranId`` (kept in the saved state, so a restart does not count it twice).
* drawdown: ``(peak equity - equity) / peak >= max_drawdown`` -> HALTED until a person runs
  ``derivbot risk reset``; the engine must cancel entry orders and flatten.
* consecutive losses: ``max_consecutive_losses`` losing trades in a row -> PAUSED for
  ``pause_after_losses_minutes``.
* kill switch: the halt file exists -> HALTED (reason ``kill_switch``) on the next update.

The hard ceilings of :mod:`bot.safety` are applied again here, whatever the settings say.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from loguru import logger

from bot import safety
from bot.config import RiskSettings
from bot.core.enums import RiskState
from bot.core.timeutil import MS_PER_DAY, MS_PER_MINUTE, utc_day_start
from bot.risk.codes import TransitionReason
from bot.risk.files import RiskFiles, RiskStateError

STATE_FORMAT_VERSION = 1
#: How many recent transfer ids the state keeps to take each transfer once (far more than arrive
#: between two cycles; older ones lie before the income cursor and are never read again).
MAX_CASH_FLOW_IDS = 200


@dataclass(frozen=True, slots=True)
class RiskTransition:
    """One change of the breaker state, with the numbers that caused it."""

    from_state: RiskState
    to_state: RiskState
    reason: TransitionReason
    numbers: dict[str, Any]
    ts: int

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.from_state.value, "to": self.to_state.value, "reason": self.reason.value,
                "numbers": dict(self.numbers), "ts": self.ts}


@dataclass
class BreakerState:
    """Everything the breaker remembers; survives restarts through to_dict/from_dict."""

    state: RiskState = RiskState.ACTIVE
    day_start_ms: int | None = None
    day_start_equity: float | None = None
    peak_equity: float | None = None
    last_equity: float | None = None
    consecutive_losses: int = 0
    paused_until_ms: int | None = None
    reducing_until_ms: int | None = None
    halted: bool = False
    halt_reason: TransitionReason | None = None
    halted_at_ms: int | None = None
    halt_numbers: dict[str, Any] = field(default_factory=dict)
    reset_id_at_halt: str | None = None
    last_update_ms: int | None = None
    #: ``tranId`` of the transfers already applied by :meth:`CircuitBreaker.record_transfer`
    cash_flow_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["state"] = self.state.value
        data["halt_reason"] = self.halt_reason.value if self.halt_reason else None
        data["version"] = STATE_FORMAT_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BreakerState:
        """Rebuild a saved state; raises :class:`RiskStateError` for an unknown format."""
        if data.get("version") != STATE_FORMAT_VERSION:
            raise RiskStateError(f"unknown risk state format version {data.get('version')!r}")
        known = {f.name for f in fields(cls)}
        try:
            kwargs = {k: v for k, v in data.items() if k in known}
            kwargs["state"] = RiskState(data.get("state", RiskState.ACTIVE))
            if data.get("halt_reason"):
                kwargs["halt_reason"] = TransitionReason(data["halt_reason"])
            kwargs["halt_numbers"] = dict(data.get("halt_numbers") or {})
            kwargs["cash_flow_ids"] = [str(i) for i in data.get("cash_flow_ids") or []]
            state = cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise RiskStateError(f"corrupt risk state: {exc}") from None
        if state.state is RiskState.HALTED and not state.halted:
            raise RiskStateError("corrupt risk state: state is halted but the halt flag is not set")
        return state


class CircuitBreaker:
    """Applies the rules to equity updates, trade results, the kill switch and resets."""

    def __init__(self, settings: RiskSettings, files: RiskFiles, state: BreakerState | None = None) -> None:
        self.settings = settings
        self.files = files
        self.data = state or BreakerState()
        self.daily_loss_limit = min(settings.daily_loss_limit, safety.MAX_DAILY_LOSS_LIMIT)
        self.max_drawdown = min(settings.max_drawdown, safety.MAX_DRAWDOWN_LIMIT)

    @classmethod
    def restore(cls, settings: RiskSettings, files: RiskFiles) -> tuple[CircuitBreaker, list[RiskTransition]]:
        """Load the persisted state; a corrupt file starts HALTED (fail safe) with a transition."""
        try:
            saved = files.load_state()
            state = BreakerState.from_dict(saved) if saved is not None else None
        except RiskStateError as exc:
            logger.error("risk: {}; starting HALTED until `derivbot risk reset`", exc)
            breaker = cls(settings, files)
            reset = files.read_reset()
            breaker._halt(TransitionReason.STATE_UNREADABLE, {"error": str(exc)}, 0,
                          reset.note_id if reset else None)
            return breaker, breaker._settle(TransitionReason.STATE_UNREADABLE, {"error": str(exc)}, 0)
        return cls(settings, files, state), []

    def save(self) -> None:
        self.files.save_state(self.data.to_dict())

    # -- queries ------------------------------------------------------------------------------

    @property
    def state(self) -> RiskState:
        return self.data.state

    @property
    def allows_entries(self) -> bool:
        return self.data.state is RiskState.ACTIVE

    @property
    def must_flatten(self) -> bool:
        """HALTED: cancel entry orders, close every position, trade no more."""
        return self.data.state is RiskState.HALTED

    def effective_state(self, now_ms: int) -> RiskState:
        d = self.data
        if d.halted:
            return RiskState.HALTED
        if d.reducing_until_ms is not None and now_ms < d.reducing_until_ms:
            return RiskState.REDUCING
        if d.paused_until_ms is not None and now_ms < d.paused_until_ms:
            return RiskState.PAUSED
        return RiskState.ACTIVE

    # -- inputs -------------------------------------------------------------------------------

    def update(self, now_ms: int, equity: float) -> list[RiskTransition]:
        """Run every rule at ``now_ms`` with the account's equity (wallet + unrealised P&L)."""
        d = self.data
        out: list[RiskTransition] = []
        d.last_update_ms = now_ms
        out += self._check_kill_switch(now_ms)
        out += self._check_reset(now_ms, equity)
        if not math.isfinite(equity):
            logger.warning("risk: ignoring non-finite equity {!r} at {}", equity, now_ms)
            return out

        day = utc_day_start(now_ms)
        # Any change of day starts a new one (also a clock that went back, e.g. a state file
        # restored into a replay of an earlier period); the daily-loss stop ends with its day.
        if d.day_start_ms is None or day != d.day_start_ms:
            d.day_start_ms, d.day_start_equity = day, equity
            if d.reducing_until_ms is not None and d.reducing_until_ms != day + MS_PER_DAY:
                d.reducing_until_ms = None
            out += self._settle(TransitionReason.NEW_UTC_DAY, {"day_start_equity": equity}, now_ms)
        if d.paused_until_ms is not None and now_ms >= d.paused_until_ms:
            d.paused_until_ms = None
            d.consecutive_losses = 0
            out += self._settle(TransitionReason.PAUSE_EXPIRED, {}, now_ms)

        d.last_equity = equity
        d.peak_equity = equity if d.peak_equity is None else max(d.peak_equity, equity)
        peak = d.peak_equity
        drawdown = (peak - equity) / peak if peak > 0 else 1.0
        if not d.halted and drawdown >= self.max_drawdown:
            numbers = {"peak_equity": peak, "equity": equity, "drawdown": drawdown,
                       "limit": self.max_drawdown}
            reset = self.files.read_reset()
            self._halt(TransitionReason.DRAWDOWN, numbers, now_ms, reset.note_id if reset else None)
            out += self._settle(TransitionReason.DRAWDOWN, numbers, now_ms)

        start = d.day_start_equity or 0.0
        daily_loss = (start - equity) / start if start > 0 else 0.0
        if daily_loss >= self.daily_loss_limit and d.reducing_until_ms != day + MS_PER_DAY:
            d.reducing_until_ms = day + MS_PER_DAY
            out += self._settle(TransitionReason.DAILY_LOSS, {
                "day_start_equity": start, "equity": equity, "daily_loss": daily_loss,
                "limit": self.daily_loss_limit, "until_ms": d.reducing_until_ms}, now_ms)
        return out

    def record_trade_result(self, pnl: float, now_ms: int) -> list[RiskTransition]:
        """A closed trade's net P&L (fees and funding included): counts losing streaks."""
        d = self.data
        if not math.isfinite(pnl):
            logger.warning("risk: ignoring non-finite trade pnl {!r}", pnl)
            return []
        if pnl >= 0:
            d.consecutive_losses = 0
            return []
        d.consecutive_losses += 1
        if d.consecutive_losses < self.settings.max_consecutive_losses:
            return []
        d.paused_until_ms = now_ms + self.settings.pause_after_losses_minutes * MS_PER_MINUTE
        numbers = {"consecutive_losses": d.consecutive_losses, "limit": self.settings.max_consecutive_losses,
                   "until_ms": d.paused_until_ms}
        d.consecutive_losses = 0
        return self._settle(TransitionReason.CONSECUTIVE_LOSSES, numbers, now_ms)

    def record_cash_flow(self, amount: float) -> None:
        """A deposit (+) or withdrawal (-): shift the baselines so it is not read as P&L.

        Worked example: peak 10,000, day start 10,000; 800 moved to spot -> peak 9,200, day
        start 9,200; the equity of 9,200 that follows is a 0% drawdown and a 0% daily loss.
        """
        if not math.isfinite(amount):
            logger.warning("risk: ignoring non-finite cash flow {!r}", amount)
            return
        d = self.data
        if d.day_start_equity is not None:
            d.day_start_equity += amount
        if d.peak_equity is not None:
            d.peak_equity += amount

    def record_transfer(self, tran_id: str, amount: float) -> bool:
        """Apply one wallet transfer (income ``TRANSFER``) once; False if ``tran_id`` was seen.

        The engine reads the transfers since the last update every cycle and the read windows
        overlap (Binance's ``startTime`` is inclusive), so the id, not the time, says "new".
        """
        d = self.data
        if tran_id in d.cash_flow_ids:
            return False
        d.cash_flow_ids = [*d.cash_flow_ids, tran_id][-MAX_CASH_FLOW_IDS:]
        self.record_cash_flow(amount)
        return True

    # -- internals ----------------------------------------------------------------------------

    def _check_kill_switch(self, now_ms: int) -> list[RiskTransition]:
        note = self.files.read_halt()
        if note is None or (self.data.halted and self.data.halt_reason is TransitionReason.KILL_SWITCH):
            return []
        numbers = {"by": note.by, "reason": note.reason, "halt_ts_ms": note.ts_ms,
                   "halt_file": str(self.files.halt)}
        if self.data.halted:  # already halted for another reason: keep it, note the switch
            self.data.halt_numbers = {**self.data.halt_numbers, "kill_switch": numbers}
            return []
        reset = self.files.read_reset()
        self._halt(TransitionReason.KILL_SWITCH, numbers, now_ms, reset.note_id if reset else None)
        return self._settle(TransitionReason.KILL_SWITCH, numbers, now_ms)

    def _check_reset(self, now_ms: int, equity: float) -> list[RiskTransition]:
        d = self.data
        if not d.halted or self.files.halt_exists():
            return []
        reset = self.files.read_reset()
        if reset is None or not reset.note_id or reset.note_id == d.reset_id_at_halt:
            return []
        numbers = {"by": reset.by, "reason": reset.reason, "reset_ts_ms": reset.ts_ms,
                   "was": d.halt_reason.value if d.halt_reason else None}
        d.halted, d.halt_reason, d.halted_at_ms, d.halt_numbers = False, None, None, {}
        d.reset_id_at_halt = None
        if math.isfinite(equity) and equity > 0:
            d.peak_equity = equity  # a new drawdown baseline, or the halt would re-trip at once
        d.consecutive_losses = 0
        d.paused_until_ms = None
        return self._settle(TransitionReason.MANUAL_RESET, numbers, now_ms)

    def _halt(self, reason: TransitionReason, numbers: dict[str, Any], now_ms: int,
              reset_id: str | None) -> None:
        d = self.data
        d.halted, d.halt_reason, d.halted_at_ms = True, reason, now_ms
        d.halt_numbers = dict(numbers)
        d.reset_id_at_halt = reset_id

    def _settle(self, reason: TransitionReason, numbers: dict[str, Any], now_ms: int) -> list[RiskTransition]:
        """Recompute the effective state; a transition if it changed."""
        new = self.effective_state(now_ms)
        old = self.data.state
        if new is old:
            return []
        self.data.state = new
        transition = RiskTransition(old, new, reason, dict(numbers), now_ms)
        logger.warning("risk: {} -> {} ({}) {}", old.value, new.value, reason.value, numbers)
        return [transition]
