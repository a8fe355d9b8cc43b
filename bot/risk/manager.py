"""The risk manager: every intent passes here before an order exists.

``evaluate`` is deterministic given its inputs and the manager's two pieces of memory (the
order-rate window and the stop-out cooldowns, both fed by the engine). It never raises on bad
market input: it rejects with ``INVALID_INPUT`` and the offending numbers.

Order of checks for an entry (the first failing one decides the reason code):
breaker state -> stop-loss present and sane -> per-symbol, open-position and same-side counts ->
cooldown -> order rate -> exposure room -> risk sizing -> caps (max notional, margin fraction,
exchange max qty, bracket notional, gross and net exposure) with leverage lowered to the
bracket and to the liquidation buffer -> exchange minimums.
"""

from __future__ import annotations

import math
from typing import Any

from loguru import logger

from bot import safety
from bot.config import RiskSettings
from bot.core.enums import IntentKind, Mode, PositionSide, RiskState
from bot.core.instrument import Instrument
from bot.core.intents import Intent
from bot.core.precision import Rounding, to_decimal
from bot.core.timeutil import MS_PER_HOUR, MS_PER_MINUTE
from bot.risk.account import AccountState
from bot.risk.codes import ReasonCode, Verdict
from bot.risk.decision import OrderPlan, RiskDecision, reject
from bot.risk.leverage import bracket_leverage, check_liquidation_buffer, leverage_caps
from bot.risk.limits import CooldownBook, OrderRateWindow
from bot.risk.sizing import position_size, risk_per_unit

#: The liquidation buffer can never be looser than this, whatever the settings say.
MAX_LIQUIDATION_BUFFER = 0.9

_BREAKER_CODES = {
    RiskState.PAUSED: ReasonCode.BREAKER_PAUSED,
    RiskState.REDUCING: ReasonCode.BREAKER_REDUCING,
    RiskState.HALTED: ReasonCode.BREAKER_HALTED,
}


class RiskManager:
    """Approves, resizes or rejects intents against ``RiskSettings`` and the hard limits.

    ``fee_rate`` is the taker fee assumed for sizing (entry and stop exit are both taker);
    pass the venue's real rate (paper: ``settings.paper.taker_fee``).
    """

    def __init__(self, settings: RiskSettings, mode: Mode, *, fee_rate: float = 0.0005) -> None:
        self.settings = settings
        self.mode = Mode(mode)
        self.fee_rate = fee_rate
        self.order_rate = OrderRateWindow(settings.max_orders_per_minute)
        self.cooldowns = CooldownBook(settings.cooldown_after_stop_minutes * MS_PER_MINUTE)

    # -- memory fed by the engine -----------------------------------------------------------

    def record_orders(self, now_ms: int, count: int = 1) -> None:
        """Call for every order sent to the exchange (entries, stops, exits, cancels excluded)."""
        self.order_rate.record(now_ms, count)

    def record_stop_out(self, symbol: str, ts_ms: int) -> None:
        """Call when a position closes at its stop-loss: starts the symbol's cooldown."""
        self.cooldowns.record_stop_out(symbol, ts_ms)

    def to_dict(self) -> dict[str, Any]:
        return {"orders": self.order_rate.to_list(), "last_stop_out": self.cooldowns.to_dict()}

    def restore(self, data: dict[str, Any]) -> None:
        self.order_rate.restore(list(data.get("orders", [])))
        self.cooldowns.last_stop_out = {str(k): int(v) for k, v in data.get("last_stop_out", {}).items()}

    # -- the decision -----------------------------------------------------------------------

    def evaluate(self, intent: Intent, account: AccountState, instrument: Instrument,
                 price: float) -> RiskDecision:
        """Decide one intent at ``price`` (the current mark/last price, the expected entry)."""
        if intent.kind is IntentKind.NONE:
            return reject(ReasonCode.NOT_AN_ORDER, kind=intent.kind.value)
        if intent.kind is IntentKind.EXIT:
            return self._evaluate_exit(intent, account)
        try:
            return self._evaluate_entry(intent, account, instrument, price)
        except ValueError as exc:  # bad numbers from upstream: reject, never crash the loop
            logger.warning("risk: rejecting {} {}: {}", intent.kind.value, intent.symbol, exc)
            return reject(ReasonCode.INVALID_INPUT, error=str(exc), price=_num(price),
                          equity=_num(account.equity))

    def _evaluate_exit(self, intent: Intent, account: AccountState) -> RiskDecision:
        pos = account.position(intent.symbol)
        if pos is None:
            return reject(ReasonCode.NO_POSITION, symbol=intent.symbol)
        # Exits are allowed in every breaker state and are never rate-limited: reducing risk
        # must not wait. The engine closes the whole position reduce-only.
        return RiskDecision(Verdict.APPROVED, ReasonCode.EXIT_ALLOWED,
                            {"side": pos.side.value, "quantity": pos.quantity, "mark_price": pos.mark_price})

    def _evaluate_entry(self, intent: Intent, account: AccountState, instrument: Instrument,
                        price: float) -> RiskDecision:
        s = self.settings
        side = intent.side
        assert side is not None  # is_entry
        if intent.symbol != instrument.symbol:
            raise ValueError(f"intent symbol {intent.symbol} does not match instrument {instrument.symbol}")
        if not math.isfinite(price) or price <= 0:
            raise ValueError(f"price must be a finite number > 0, got {price!r}")
        if not math.isfinite(account.equity) or account.equity <= 0:
            raise ValueError(f"equity must be a finite number > 0, got {account.equity!r}")

        if account.risk_state in _BREAKER_CODES:
            return reject(_BREAKER_CODES[account.risk_state], risk_state=account.risk_state.value)
        if account.journal_backlogged:
            return reject(ReasonCode.JOURNAL_BACKLOGGED)

        stop_pct = intent.stop_loss_pct
        if stop_pct is None:
            return reject(ReasonCode.NO_STOP_LOSS)
        if not math.isfinite(stop_pct) or stop_pct <= 0:
            raise ValueError(f"stop_loss_pct must be a finite number > 0, got {stop_pct!r}")
        if stop_pct > safety.MAX_STOP_LOSS_PCT:
            return reject(ReasonCode.STOP_TOO_WIDE, stop_loss_pct=stop_pct, limit=safety.MAX_STOP_LOSS_PCT)

        # -- account counts, cooldown, rate ---------------------------------------------------
        per_symbol_limit = min(s.max_positions_per_symbol, 1)
        in_symbol = account.count_symbol(intent.symbol)
        if in_symbol >= per_symbol_limit:
            return reject(ReasonCode.MAX_POSITIONS_PER_SYMBOL, positions=in_symbol, limit=per_symbol_limit)
        open_count = len(account.positions)
        if open_count >= s.max_open_positions:
            return reject(ReasonCode.MAX_OPEN_POSITIONS, positions=open_count, limit=s.max_open_positions)
        same_side = account.count_side(side)
        if same_side >= s.max_same_side_positions:
            return reject(ReasonCode.MAX_SAME_SIDE_POSITIONS, side=side.value, positions=same_side,
                          limit=s.max_same_side_positions)
        if self.cooldowns.blocked(intent.symbol, account.ts):
            return reject(ReasonCode.COOLDOWN, until_ms=self.cooldowns.until(intent.symbol),
                          now_ms=account.ts, cooldown_minutes=s.cooldown_after_stop_minutes)
        orders_needed = 2 + (1 if intent.take_profit_pct else 0)  # entry + stop (+ take-profit)
        if not self.order_rate.allows(account.ts, orders_needed):
            return reject(ReasonCode.ORDER_RATE, orders_last_minute=self.order_rate.count(account.ts),
                          orders_needed=orders_needed, limit=s.max_orders_per_minute)

        # -- exposure room ----------------------------------------------------------------------
        equity = account.equity
        gross_room = s.max_gross_exposure * equity - account.gross_notional
        net = account.net_notional
        net_room = s.max_net_exposure * equity - side.sign * net
        exposure = {"gross_before": account.gross_notional, "net_before": net, "gross_room": gross_room,
                    "net_room": net_room, "max_gross": s.max_gross_exposure * equity,
                    "max_net": s.max_net_exposure * equity}
        if gross_room <= 0:
            return reject(ReasonCode.GROSS_EXPOSURE_FULL, **exposure)
        if net_room <= 0:
            return reject(ReasonCode.NET_EXPOSURE_FULL, **exposure)

        # -- prices and risk size -----------------------------------------------------------------
        entry = price
        stop = _stop_price(instrument, side, entry, stop_pct)
        if stop <= 0 or stop == entry:
            raise ValueError(f"stop_loss_pct {stop_pct} gives an unusable stop {stop} at entry {entry}")
        take_profit = _take_profit_price(instrument, side, entry, intent.take_profit_pct)
        risk_fraction = min(s.risk_per_trade, safety.MAX_RISK_PER_TRADE)
        qty_risk = position_size(equity, entry, stop, risk_fraction, instrument.step_size, self.fee_rate)
        numbers: dict[str, Any] = {
            "equity": equity, "entry_price": entry, "stop_price": stop, "take_profit_price": take_profit,
            "stop_loss_pct": stop_pct, "risk_fraction": risk_fraction, "risk_budget": equity * risk_fraction,
            "fee_rate": self.fee_rate, "risk_per_unit": risk_per_unit(entry, stop, self.fee_rate),
            "qty_risk": qty_risk, "exposure": exposure,
        }
        if qty_risk <= 0:
            return reject(ReasonCode.ZERO_SIZE, **numbers)

        # -- caps and leverage --------------------------------------------------------------------
        caps_in = leverage_caps(intent.leverage, min(s.max_leverage, safety.ABSOLUTE_MAX_LEVERAGE), self.mode)
        buffer = min(s.liquidation_buffer, MAX_LIQUIDATION_BUFFER)
        leverage = caps_in.limit
        lowered_for_liq = False
        while True:
            caps = self._quantity_caps(instrument, entry, equity, leverage, gross_room, net_room)
            binding = min(caps, key=lambda code: caps[code])
            qty = min(qty_risk, caps[binding])
            if qty <= 0:
                break
            bracket_max = bracket_leverage(instrument, qty * entry)
            if bracket_max < leverage:
                leverage = bracket_max
                continue
            check = check_liquidation_buffer(instrument, side, entry, stop, qty, leverage, buffer)
            if not check.passed and leverage > 1:
                leverage -= 1
                lowered_for_liq = True
                continue
            break

        numbers["caps"] = {code.value: value for code, value in caps.items()}
        numbers["leverage"] = {**caps_in.as_numbers(), "limit": caps_in.limit, "chosen": leverage,
                               "lowered_for_liquidation": lowered_for_liq}
        numbers["quantity"] = qty
        if qty <= 0:
            return reject(ReasonCode.BELOW_MIN_QTY, min_qty=instrument.min_qty, **numbers)
        bracket_max = bracket_leverage(instrument, qty * entry)
        numbers["leverage"]["bracket_cap"] = bracket_max
        check = check_liquidation_buffer(instrument, side, entry, stop, qty, leverage, buffer)
        numbers["liquidation"] = check.as_numbers()
        if not check.passed:
            return reject(ReasonCode.LIQUIDATION_BUFFER, **numbers)
        if qty < instrument.min_qty:
            return reject(ReasonCode.BELOW_MIN_QTY, min_qty=instrument.min_qty, **numbers)
        notional = qty * entry
        if notional < instrument.min_notional:
            return reject(ReasonCode.BELOW_MIN_NOTIONAL, min_notional=instrument.min_notional,
                          notional=notional, **numbers)

        numbers.update({
            "notional": notional, "initial_margin": notional / leverage,
            "margin_fraction": notional / leverage / equity,
            "loss_at_stop": qty * risk_per_unit(entry, stop, self.fee_rate),
            "gross_after": account.gross_notional + notional, "net_after": net + side.sign * notional,
        })
        time_stop_ms = None
        if intent.time_stop_hours is not None:
            time_stop_ms = account.ts + round(intent.time_stop_hours * MS_PER_HOUR)
        plan = OrderPlan(symbol=intent.symbol, side=side, quantity=qty, leverage=leverage, entry_price=entry,
                         stop_price=stop, take_profit_price=take_profit, margin_mode=s.margin_mode,
                         time_stop_ms=time_stop_ms)
        if qty < qty_risk:
            numbers["binding_cap"] = binding.value
            return RiskDecision(Verdict.RESIZED, binding, numbers, plan)
        code = ReasonCode.LEVERAGE_LOWERED if lowered_for_liq else ReasonCode.OK
        return RiskDecision(Verdict.APPROVED, code, numbers, plan)

    def _quantity_caps(self, instrument: Instrument, entry: float, equity: float, leverage: int,
                       gross_room: float, net_room: float) -> dict[ReasonCode, float]:
        """Largest quantity each cap allows at ``leverage``, rounded down to the lot step."""
        s = self.settings
        margin_notional = s.max_margin_fraction_per_position * equity * leverage
        bracket_notional = instrument.max_notional_for_leverage(leverage)
        exchange_max = min(instrument.market_max_qty, instrument.max_qty)
        caps = {
            ReasonCode.CAP_MARGIN_FRACTION: _qty_within(instrument, margin_notional, entry),
            ReasonCode.CAP_EXCHANGE_MAX_QTY: instrument.round_qty(exchange_max),
            ReasonCode.CAP_BRACKET_NOTIONAL: _qty_within(instrument, bracket_notional, entry),
            ReasonCode.CAP_GROSS_EXPOSURE: _qty_within(instrument, gross_room, entry),
            ReasonCode.CAP_NET_EXPOSURE: _qty_within(instrument, net_room, entry),
        }
        if s.max_notional_per_position is not None:
            caps[ReasonCode.CAP_MAX_NOTIONAL] = _qty_within(instrument, s.max_notional_per_position, entry)
        return caps


def _qty_within(instrument: Instrument, notional_cap: float, price: float) -> float:
    """Largest lot-step quantity whose notional at ``price`` does not exceed ``notional_cap``."""
    if notional_cap <= 0:
        return 0.0
    qty = instrument.round_qty(notional_cap / price, Rounding.DOWN)
    while qty > 0 and qty * price > notional_cap:  # float guard, at most a step or two
        qty = max(instrument.round_qty(float(to_decimal(qty) - to_decimal(instrument.step_size))), 0.0)
    return qty


def _stop_price(instrument: Instrument, side: PositionSide, entry: float, stop_pct: float) -> float:
    """Stop ``stop_pct`` away from entry, rounded away from the entry (never tighter than asked)."""
    if side is PositionSide.LONG:
        return instrument.round_price(entry * (1 - stop_pct), Rounding.FLOOR)
    return instrument.round_price(entry * (1 + stop_pct), Rounding.CEIL)


def _take_profit_price(instrument: Instrument, side: PositionSide, entry: float,
                       take_profit_pct: float | None) -> float | None:
    if take_profit_pct is None:
        return None
    if not math.isfinite(take_profit_pct) or take_profit_pct <= 0:
        raise ValueError(f"take_profit_pct must be a finite number > 0, got {take_profit_pct!r}")
    target = entry * (1 + side.sign * take_profit_pct)
    if target <= 0:
        raise ValueError(f"take_profit_pct {take_profit_pct} puts the target at or below zero")
    return instrument.round_price(target)


def _num(value: float) -> float | str:
    """A float for the journal's JSON; NaN/inf as text (JSON has no such numbers)."""
    return value if isinstance(value, int | float) and math.isfinite(value) else str(value)
