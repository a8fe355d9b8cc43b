"""Builders shared by the risk tests (plain objects, no test doubles of other packages)."""

from __future__ import annotations

from typing import Any

from bot.config import RiskSettings
from bot.core.enums import IntentKind, PositionSide
from bot.core.instrument import Instrument, LeverageBracket
from bot.core.intents import Intent
from bot.risk.account import AccountState, Exposure

SYMBOL = "ORCAUSDT"


def instrument(symbol: str = SYMBOL, **overrides: Any) -> Instrument:
    base = symbol.removesuffix("USDT")
    fields: dict[str, Any] = {"tick_size": 0.0001, "step_size": 0.001, "min_qty": 0.001,
                              "min_notional": 5.0}
    fields.update(overrides)
    return Instrument(symbol, base, **fields)


def brackets(*rows: tuple[int, float, float, float, float]) -> tuple[LeverageBracket, ...]:
    """(initial_leverage, floor, cap, mmr, cum) rows -> brackets numbered from 1."""
    return tuple(LeverageBracket(i + 1, *row) for i, row in enumerate(rows))


def settings(**overrides: Any) -> RiskSettings:
    return RiskSettings(**overrides)


def entry(side: PositionSide = PositionSide.LONG, symbol: str = SYMBOL, *, stop: float | None = 0.04,
          tp: float | None = None, leverage: float | None = 3, hours: float | None = None) -> Intent:
    kind = IntentKind.ENTER_LONG if side is PositionSide.LONG else IntentKind.ENTER_SHORT
    return Intent(kind, symbol, "test", 0, stop_loss_pct=stop, take_profit_pct=tp, leverage=leverage,
                  time_stop_hours=hours)


def exposure(symbol: str, side: PositionSide = PositionSide.LONG, notional: float = 1_000.0,
             price: float = 10.0) -> Exposure:
    return Exposure(symbol, side, notional / price, price, price)


def account(equity: float = 10_000.0, positions: list[Exposure] | None = None, ts: int = 0,
            **kw: Any) -> AccountState:
    return AccountState(ts=ts, equity=equity, positions=tuple(positions or ()), **kw)
