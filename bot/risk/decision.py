"""What the risk manager hands the engine: a verdict, a reason code, the numbers, a plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.core.enums import MarginMode, PositionSide
from bot.risk.codes import ReasonCode, Verdict


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """An approved entry: everything the executor needs, already rounded to the instrument.

    The executor sets ``margin_mode`` and ``leverage`` on the symbol (one-way position mode),
    sends the entry, and the stop watchdog keeps a reduce-only stop at ``stop_price``.
    """

    symbol: str
    side: PositionSide
    quantity: float
    leverage: int
    entry_price: float
    stop_price: float
    take_profit_price: float | None
    margin_mode: MarginMode
    time_stop_ms: int | None

    @property
    def notional(self) -> float:
        return self.quantity * self.entry_price

    @property
    def initial_margin(self) -> float:
        return self.notional / self.leverage

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["side"] = self.side.value
        data["margin_mode"] = self.margin_mode.value
        return data


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """The outcome of one intent. ``numbers`` is plain JSON-able data for the journal."""

    verdict: Verdict
    reason_code: ReasonCode
    numbers: Mapping[str, Any] = field(default_factory=dict)
    plan: OrderPlan | None = None

    @property
    def approved(self) -> bool:
        """True for approved and resized decisions."""
        return self.verdict is not Verdict.REJECTED

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reason_code": self.reason_code.value,
            "numbers": dict(self.numbers),
            "plan": self.plan.to_dict() if self.plan else None,
        }


def reject(code: ReasonCode, **numbers: Any) -> RiskDecision:
    return RiskDecision(Verdict.REJECTED, code, numbers, None)
