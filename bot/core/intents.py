"""What a strategy asks for, and the read-only portfolio view it decides from.

Strategies are pure: ``decide(history, portfolio) -> list[Intent]``. The risk manager turns
an intent into an order plan or a rejection; nothing a strategy returns is an order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bot.core.enums import IntentKind, PositionSide


@dataclass(frozen=True, slots=True)
class Intent:
    """A strategy's wish for one symbol, with the evidence behind it.

    ``reasons`` maps a condition name to the numbers that decided it, e.g.
    ``{"funding_rate": {"value": -0.02, "threshold": -0.005, "op": "<="}}``; the journal
    stores it as JSON so a reviewer can see why a trade happened.
    """

    kind: IntentKind
    symbol: str
    strategy: str
    ts: int
    strength: float = 0.0  # 0..1
    reasons: Mapping[str, Any] = field(default_factory=dict)
    stop_loss_pct: float | None = None  # price distance as a fraction of entry
    take_profit_pct: float | None = None
    leverage: float | None = None  # requested; the risk manager may lower it
    time_stop_hours: float | None = None

    @property
    def side(self) -> PositionSide | None:
        if self.kind is IntentKind.ENTER_LONG:
            return PositionSide.LONG
        if self.kind is IntentKind.ENTER_SHORT:
            return PositionSide.SHORT
        return None

    @property
    def is_entry(self) -> bool:
        return self.kind in (IntentKind.ENTER_LONG, IntentKind.ENTER_SHORT)


@dataclass(frozen=True, slots=True)
class PositionView:
    """A position as a strategy may see it (no handles to change it)."""

    symbol: str
    side: PositionSide
    quantity: float
    entry_price: float
    entry_ts: int
    strategy: str | None = None
    unrealized_pnl: float = 0.0
    stop_price: float | None = None
    take_profit_price: float | None = None


@dataclass(frozen=True, slots=True)
class PortfolioView:
    """Read-only account state handed to strategies."""

    ts: int
    equity: float
    positions: Mapping[str, PositionView] = field(default_factory=lambda: MappingProxyType({}))

    def position(self, symbol: str) -> PositionView | None:
        return self.positions.get(symbol)

    @classmethod
    def of(cls, ts: int, equity: float, positions: list[PositionView]) -> PortfolioView:
        return cls(ts=ts, equity=equity, positions=MappingProxyType({p.symbol: p for p in positions}))
