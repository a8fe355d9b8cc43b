"""The account as the risk manager sees it: equity and exposures, nothing else.

The engine builds an :class:`AccountState` each cycle from the executor's positions. Entry
orders still resting (not yet filled) must be included as exposures too: a limit is about
what the account *may* hold, not only what has filled so far.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core.enums import PositionSide, RiskState


@dataclass(frozen=True, slots=True)
class Exposure:
    """One open (or pending) position: ``quantity`` > 0, valued at ``mark_price``."""

    symbol: str
    side: PositionSide
    quantity: float
    entry_price: float
    mark_price: float
    leverage: float | None = None

    def __post_init__(self) -> None:
        for name in ("quantity", "entry_price", "mark_price"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(
                    f"Exposure.{name} must be a finite number > 0, got {value!r} ({self.symbol})"
                )

    @property
    def notional(self) -> float:
        """Absolute notional at the mark price."""
        return self.quantity * self.mark_price

    @property
    def signed_notional(self) -> float:
        return self.side.sign * self.notional


@dataclass(frozen=True, slots=True)
class AccountState:
    """Inputs of one risk evaluation. ``ts`` is the engine's now (ms UTC)."""

    ts: int
    equity: float
    positions: Sequence[Exposure] = field(default_factory=tuple)
    risk_state: RiskState = RiskState.ACTIVE
    #: the journal cannot keep up (bot.journal.writer): entries are refused, exits are not
    journal_backlogged: bool = False

    def position(self, symbol: str) -> Exposure | None:
        for pos in self.positions:
            if pos.symbol == symbol:
                return pos
        return None

    def count_symbol(self, symbol: str) -> int:
        return sum(1 for pos in self.positions if pos.symbol == symbol)

    def count_side(self, side: PositionSide) -> int:
        return sum(1 for pos in self.positions if pos.side is side)

    @property
    def gross_notional(self) -> float:
        return sum(pos.notional for pos in self.positions)

    @property
    def net_notional(self) -> float:
        """Signed: positive when the account is net long."""
        return sum(pos.signed_notional for pos in self.positions)
