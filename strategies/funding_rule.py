"""``funding_rule``: a plain threshold rule on settled funding and the 24h price change.

The simplest useful derivatives strategy, and the one ``scripts/bench_backtest.py`` measures
(the same rule freqtrade is timed with): go long when shorts pay heavily and price is already
running up, short when longs pay heavily and price is falling; leave when funding is back
near zero. No adaptive features: every condition is a fixed, documented threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bot.core.enums import PositionSide
from bot.core.intents import Intent, PortfolioView
from bot.market.snapshot import Snapshot
from strategies.base import Strategy, reason


class FundingRuleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    long_max_funding: float = Field(-0.001, le=0, description="long when last settled funding <= this")
    long_min_change_24h: float = Field(0.10, description="... and the 24h price change > this")
    short_min_funding: float = Field(0.001, ge=0, description="short when last settled funding >= this")
    short_max_change_24h: float = Field(-0.05, description="... and the 24h price change < this")
    exit_abs_funding: float = Field(0.0001, ge=0, description="exit when |funding| < this")


class _NoFeatures:
    """The rule reads the snapshot only; nothing to accumulate."""

    def update(self, snap: Snapshot) -> None:
        return None


class FundingRule(Strategy[None]):
    name = "funding_rule"
    Params = FundingRuleParams
    required_fields = ("funding_rate", "price_change_24h", "last_price")
    stateless = True  # _NoFeatures

    def new_state(self) -> _NoFeatures:
        return _NoFeatures()

    def prescreen(self, column: Callable[[str], np.ndarray]) -> np.ndarray:
        """Bars where a flat symbol could be entered (the two entry rules, on the same float64
        values ``evaluate`` compares), or where a required field is unusable."""
        p: FundingRuleParams = self.params
        rate, change = column("funding_rate"), column("price_change_24h")
        unusable = ~np.isfinite(rate) | ~np.isfinite(change) | ~np.isfinite(column("last_price"))
        with np.errstate(invalid="ignore"):
            long = (rate <= p.long_max_funding) & (change > p.long_min_change_24h)
            short = (rate >= p.short_min_funding) & (change < p.short_max_change_24h)
        return long | short | unusable

    def evaluate(self, snap: Snapshot, frame: None, portfolio: PortfolioView, *, can_enter: bool) -> list[Intent]:
        p: FundingRuleParams = self.params
        rate = snap.funding_rate.value
        change = snap.price_change_24h.value
        own = self.own_position(portfolio, snap.symbol)
        if own is not None:
            if rate is not None and abs(rate) < p.exit_abs_funding:
                return [self.exit(snap, {"funding_normalised": reason(rate, p.exit_abs_funding, "abs<")})]
            return []
        if not can_enter or rate is None or change is None or portfolio.position(snap.symbol) is not None:
            return []
        reasons: dict[str, Any]
        if rate <= p.long_max_funding and change > p.long_min_change_24h:
            reasons = {"funding_rate": reason(rate, p.long_max_funding, "<="),
                       "price_change_24h": reason(change, p.long_min_change_24h, ">")}
            return [self.enter(PositionSide.LONG, snap, 1.0, reasons)]
        if rate >= p.short_min_funding and change < p.short_max_change_24h:
            reasons = {"funding_rate": reason(rate, p.short_min_funding, ">="),
                       "price_change_24h": reason(change, p.short_max_change_24h, "<")}
            return [self.enter(PositionSide.SHORT, snap, 1.0, reasons)]
        return []
