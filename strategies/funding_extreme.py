"""``funding_extreme``: fade the crowded side of an extreme funding rate (both sides).

Short when funding is extremely positive (longs overpay), long when it is extremely negative
(reference seed 004: 0.05-0.1% per 8h is strongly one-sided, 0.1%+ extreme). The bands are
per 8h settlement and rescaled by ``interval / 8`` for 1h/4h intervals (internally the rate is
converted to its 8h equivalent, which is the same test). Because funding regimes differ
between symbols and drift over time (seed 002: after the ETFs 0.05-0.08% already means
crowded on BTC), a per-symbol z-score of funding against its own EWM history must agree.

A crowded rate alone is not enough: the crowd must be losing steam. For a short that is the
price stalling (not rising more than ``stall_band`` over the window), or open interest
falling while funding stays extreme (longs leaving; a price rise on falling OI is a weak
rally, flagged in the reasons). Symmetric for a long.

The position sits on the receiving side of funding: the expected carry per day is part of the
reasons and of the strength, and the exit fires when funding normalises (or flips, so that we
would start paying).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.core.enums import PositionSide
from bot.core.intents import Intent, PortfolioView
from bot.core.timeutil import MS_PER_HOUR
from bot.market.snapshot import Snapshot
from strategies.base import Strategy, reason
from strategies.features import Change, FundingState, FundingTracker, clip01


class FundingExtremeParams(BaseModel):
    """Parameters of ``funding_extreme``. Bands are fractions per 8h (0.001 = 0.1% per 8h)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strong_band_8h: float = Field(0.0005, gt=0, le=0.05, description="strongly one-sided funding per 8h")
    extreme_band_8h: float = Field(0.001, gt=0, le=0.05, description="extreme funding per 8h")
    zscore_halflife_hours: float = Field(24.0 * 14, ge=24, le=24 * 365,
                                         description="half-life of the per-symbol funding statistics")
    zscore_min_settlements: int = Field(21, ge=3, le=10_000, description="settlements before the z-score counts")
    z_strong: float = Field(2.0, gt=0, le=20, description="z needed with a strongly one-sided rate")
    z_extreme: float = Field(1.0, ge=0, le=20, description="z needed with an extreme rate")
    price_window_hours: float = Field(4.0, gt=0, le=72, description="window of the price confirmation")
    stall_band: float = Field(0.01, ge=0, le=0.5,
                              description="price move in the crowd's direction at most this = stalling")
    oi_window_hours: float = Field(4.0, gt=0, le=72, description="window of the open-interest confirmation")
    oi_fall: float = Field(-0.02, ge=-0.9, lt=0, description="OI change at or below this = the crowd leaves")
    exit_band_8h: float = Field(0.0002, ge=0, le=0.05,
                                description="exit when funding on our side is at or below this per 8h")
    carry_full_per_day: float = Field(0.01, gt=0, le=1,
                                      description="expected carry per day that counts as full strength")

    @model_validator(mode="after")
    def _ordered(self) -> FundingExtremeParams:
        if not self.exit_band_8h < self.strong_band_8h <= self.extreme_band_8h:
            raise ValueError(f"need exit_band_8h < strong_band_8h <= extreme_band_8h, got {self.exit_band_8h}, "
                             f"{self.strong_band_8h}, {self.extreme_band_8h}")
        return self


@dataclass(frozen=True, slots=True)
class FundingExtremeFrame:
    funding: FundingState
    price_change: float | None
    oi_change: float | None


class _State:
    def __init__(self, p: FundingExtremeParams) -> None:
        self.funding = FundingTracker(interval_lookback_ms=7 * 24 * MS_PER_HOUR,
                                      zscore_halflife=p.zscore_halflife_hours,
                                      zscore_min_obs=p.zscore_min_settlements)
        self.price = Change("last_price", int(p.price_window_hours * MS_PER_HOUR))
        self.oi = Change("open_interest", int(p.oi_window_hours * MS_PER_HOUR))

    def update(self, snap: Snapshot) -> FundingExtremeFrame:
        return FundingExtremeFrame(self.funding.update(snap), self.price.update(snap), self.oi.update(snap))


class FundingExtreme(Strategy[FundingExtremeFrame]):
    """Fade extreme funding when price or open interest shows the crowd is tiring."""

    name: ClassVar[str] = "funding_extreme"
    Params: ClassVar[type[BaseModel]] = FundingExtremeParams
    required_fields: ClassVar[tuple[str, ...]] = ("last_price", "funding_rate")
    optional_fields: ClassVar[tuple[str, ...]] = ("funding_interval_hours", "open_interest")
    params: FundingExtremeParams

    def new_state(self) -> _State:
        return _State(self.params)

    def evaluate(self, snap: Snapshot, frame: FundingExtremeFrame, portfolio: PortfolioView, *,
                 can_enter: bool) -> list[Intent]:
        own = self.own_position(portfolio, snap.symbol)
        if own is not None:
            why = self.exit_reasons(frame, own.side)
            return [self.exit(snap, why)] if why else []
        if portfolio.position(snap.symbol) is not None or not can_enter:
            return []
        return self.entry(snap, frame)

    def entry(self, snap: Snapshot, f: FundingExtremeFrame) -> list[Intent]:
        p = self.params
        fs = f.funding
        if fs.rate_8h is None or fs.rate is None or fs.interval_hours is None or fs.rate_8h == 0:
            return []
        crowd = 1 if fs.rate_8h > 0 else -1  # +1: longs crowded (we short); -1: shorts crowded
        level = abs(fs.rate_8h)
        if level < p.strong_band_8h:
            return []
        extreme = level >= p.extreme_band_8h
        z_side = fs.zscore * crowd if fs.zscore is not None else None
        if z_side is None:
            if not extreme:
                return []  # without per-symbol history only the absolute extreme band counts
        elif z_side < (p.z_extreme if extreme else p.z_strong):
            return []
        scale = fs.interval_hours / 8.0
        reasons: dict[str, Any] = {
            "funding_rate": reason(fs.rate, (p.extreme_band_8h if extreme else p.strong_band_8h) * scale * crowd,
                                   ">=" if crowd > 0 else "<=", interval_hours=fs.interval_hours,
                                   band="extreme" if extreme else "strong"),
            "funding_zscore": reason(fs.zscore, (p.z_extreme if extreme else p.z_strong) * crowd,
                                     ">=" if crowd > 0 else "<="),
        }

        move = f.price_change * crowd if f.price_change is not None else None  # in the crowd's direction
        stalling = move is not None and move <= p.stall_band
        oi_leaving = f.oi_change is not None and f.oi_change <= p.oi_fall
        if not (stalling or oi_leaving):
            return []
        reasons[f"price_change_{p.price_window_hours:g}h"] = reason(
            f.price_change, p.stall_band * crowd, "<=" if crowd > 0 else ">=", stalling=stalling)
        reasons[f"oi_change_{p.oi_window_hours:g}h"] = reason(
            f.oi_change, p.oi_fall, "<=", leaving=oi_leaving,
            weak_move=bool(oi_leaving and move is not None and move > p.stall_band))

        carry_per_day = level / 8.0 * 24.0  # received by the faded side, fraction of notional
        reasons["expected_carry_per_day"] = reason(carry_per_day)
        level_score = clip01(level / (2 * p.extreme_band_8h))
        z_score = clip01(z_side / (2 * p.z_strong)) if z_side is not None else 0.0
        carry_score = clip01(carry_per_day / p.carry_full_per_day)
        confirm_score = 1.0 if (stalling and oi_leaving) else 0.7
        strength = (level_score + z_score + carry_score + confirm_score) / 4.0
        side = PositionSide.SHORT if crowd > 0 else PositionSide.LONG
        return [self.enter(side, snap, strength, reasons)]

    def exit_reasons(self, f: FundingExtremeFrame, side: PositionSide) -> dict[str, Any]:
        """Exit once funding no longer pays our side enough (normalised or flipped)."""
        rate_8h = f.funding.rate_8h
        if rate_8h is None:
            return {}
        received_8h = -side.sign * rate_8h  # what our side receives per 8h (funding_payment sign)
        if received_8h <= self.params.exit_band_8h:
            return {"funding_normalised": reason(received_8h, self.params.exit_band_8h, "<=",
                                                 funding_rate=f.funding.rate)}
        return {}
