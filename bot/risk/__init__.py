"""Risk: sizing, leverage caps, account limits, circuit breakers and the stop watchdog.

The engine's call order each cycle is documented in ``bot/risk/README.md``.
"""

from bot.risk.account import AccountState, Exposure
from bot.risk.breakers import BreakerState, CircuitBreaker, RiskTransition
from bot.risk.codes import ReasonCode, TransitionReason, Verdict
from bot.risk.decision import OrderPlan, RiskDecision
from bot.risk.files import RiskFiles
from bot.risk.manager import RiskManager
from bot.risk.sizing import position_size
from bot.risk.stops import (
    CancelOrder,
    ClosePositionAtMarket,
    ConditionalOrderInfo,
    PlaceStop,
    PlaceTakeProfit,
    PositionInfo,
    ProtectionPlan,
    RaiseAlert,
    StopAction,
    StopWatchdog,
    TrailingSpec,
    advance_protection,
)

__all__ = [
    "AccountState",
    "BreakerState",
    "CancelOrder",
    "CircuitBreaker",
    "ClosePositionAtMarket",
    "ConditionalOrderInfo",
    "Exposure",
    "OrderPlan",
    "PlaceStop",
    "PlaceTakeProfit",
    "PositionInfo",
    "ProtectionPlan",
    "RaiseAlert",
    "ReasonCode",
    "RiskDecision",
    "RiskFiles",
    "RiskManager",
    "RiskTransition",
    "StopAction",
    "StopWatchdog",
    "TrailingSpec",
    "TransitionReason",
    "Verdict",
    "advance_protection",
    "position_size",
]
