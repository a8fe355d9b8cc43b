"""``short_squeeze``: go long while shorts are being squeezed (long only).

The pattern (reference seeds 000/003/004): price jumps over a short window while funding is
deeply negative (shorts pay longs, often at the exchange's floor, and the exchange shortens
the settlement interval, e.g. 8h -> 1h or 4h -> 2h) and open interest *grows* with the price,
i.e. new shorts keep fading the move and get trapped. Without open-interest data the funding
and interval evidence alone may fire, at reduced strength.

It stands aside when
* open interest collapses (the covering is over, the fuel is gone),
* longs are being liquidated in a cascade (the move is turning against us),
* spot/futures volume is below 0.2 (a leverage-only move; a MISSING ratio does not veto).

Exits (for its own open position; stop/take-profit belong to the risk manager): funding
normalising toward zero, open interest falling sharply from its recent peak, or a time limit.
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
from strategies.features import (
    Change,
    FieldValue,
    FundingState,
    FundingTracker,
    RollingMax,
    clip01,
    spot_futures_ratio,
)

#: Binance's usual small-cap floor, used to scale strength when the feed gives no floor.
DEFAULT_FLOOR = -0.02


class ShortSqueezeParams(BaseModel):
    """Parameters of ``short_squeeze``. Rates are fractions per settlement (-0.003 = -0.3%)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    short_window_hours: float = Field(4.0, gt=0, le=24, description="window of the sharp price rise")
    min_rise_short: float = Field(0.08, gt=0, le=5, description="rise over the short window that is 'sharp'")
    long_window_hours: float = Field(24.0, gt=0, le=96, description="a second, longer rise window")
    min_rise_long: float = Field(0.20, gt=0, le=10, description="rise over the long window that is 'sharp'")
    deep_funding_rate: float = Field(-0.003, ge=-0.05, lt=0,
                                     description="settled funding at or below this is deeply negative")
    near_floor_fraction: float = Field(0.5, gt=0, le=1,
                                       description="with a known floor: funding <= fraction * floor is 'at the floor'")
    shortened_interval_rate: float = Field(-0.001, ge=-0.05, lt=0,
                                           description="with a shortened interval, funding at or below this suffices")
    interval_lookback_hours: float = Field(72.0, ge=8, le=24 * 30,
                                           description="how far back a longer interval counts as 'shortened from'")
    oi_window_hours: float = Field(4.0, gt=0, le=48, description="window of the open-interest change")
    min_oi_build: float = Field(0.02, ge=0, le=5, description="OI growth over the window that means shorts pile in")
    oi_collapse: float = Field(-0.10, ge=-0.9, lt=0, description="OI change at or below this: covering is over")
    no_oi_strength_factor: float = Field(0.6, gt=0, le=1, description="strength multiplier without OI data")
    min_spot_futures_ratio: float = Field(0.2, ge=0, le=10,
                                          description="below this spot/futures volume ratio the move is leverage")
    cascade_share: float = Field(0.7, gt=0.5, le=1,
                                 description="long share of liquidations that marks a cascade against longs")
    cascade_volume_fraction: float = Field(0.05, gt=0, le=1,
                                           description="long liquidations / bar quote volume for a cascade")
    exit_funding_rate: float = Field(-0.0005, ge=-0.01, le=0.01,
                                     description="exit when funding is at or above this (normalised)")
    exit_oi_drawdown: float = Field(-0.15, ge=-0.9, lt=0, description="exit when OI is this far below its peak")
    oi_peak_window_hours: float = Field(24.0, gt=0, le=24 * 7, description="window of the OI peak")
    max_hold_hours: float = Field(48.0, gt=0, le=24 * 30, description="exit after holding this long")

    @model_validator(mode="after")
    def _consistent(self) -> ShortSqueezeParams:
        if self.exit_funding_rate <= self.deep_funding_rate:
            raise ValueError(f"exit_funding_rate ({self.exit_funding_rate}) must be above deep_funding_rate "
                             f"({self.deep_funding_rate}), or every entry would exit at once")
        return self


@dataclass(frozen=True, slots=True)
class SqueezeFrame:
    """Feature values at one snapshot."""

    rise_short: float | None
    rise_long: float | None
    funding: FundingState
    oi: float | None
    oi_change: float | None
    oi_peak: float | None
    spot_ratio: float | None
    liq_long: float | None
    liq_short: float | None
    bar_quote_volume: float | None


class _SqueezeState:
    def __init__(self, p: ShortSqueezeParams) -> None:
        h = MS_PER_HOUR
        self.rise_short = Change("last_price", int(p.short_window_hours * h))
        self.rise_long = Change("last_price", int(p.long_window_hours * h))
        self.funding = FundingTracker(interval_lookback_ms=int(p.interval_lookback_hours * h))
        self.oi = FieldValue("open_interest")
        self.oi_change = Change("open_interest", int(p.oi_window_hours * h))
        self.oi_peak = RollingMax("open_interest", int(p.oi_peak_window_hours * h))
        self.liq_long = FieldValue("liq_long_notional")
        self.liq_short = FieldValue("liq_short_notional")
        self.quote_volume = FieldValue("quote_volume")

    def update(self, snap: Snapshot) -> SqueezeFrame:
        return SqueezeFrame(
            rise_short=self.rise_short.update(snap),
            rise_long=self.rise_long.update(snap),
            funding=self.funding.update(snap),
            oi=self.oi.update(snap),
            oi_change=self.oi_change.update(snap),
            oi_peak=self.oi_peak.update(snap),
            spot_ratio=spot_futures_ratio(snap),
            liq_long=self.liq_long.update(snap),
            liq_short=self.liq_short.update(snap),
            bar_quote_volume=self.quote_volume.update(snap),
        )


class ShortSqueeze(Strategy[SqueezeFrame]):
    """Long into a short squeeze confirmed by deep negative funding (and OI, when known)."""

    name: ClassVar[str] = "short_squeeze"
    Params: ClassVar[type[BaseModel]] = ShortSqueezeParams
    required_fields: ClassVar[tuple[str, ...]] = ("last_price", "funding_rate")
    optional_fields: ClassVar[tuple[str, ...]] = (
        "funding_interval_hours", "funding_floor", "open_interest", "spot_futures_volume_ratio",
        "spot_quote_volume_24h", "quote_volume_24h", "liq_long_notional", "liq_short_notional",
        "quote_volume",
    )
    params: ShortSqueezeParams

    def new_state(self) -> _SqueezeState:
        return _SqueezeState(self.params)

    def evaluate(self, snap: Snapshot, frame: SqueezeFrame, portfolio: PortfolioView, *,
                 can_enter: bool) -> list[Intent]:
        own = self.own_position(portfolio, snap.symbol)
        if own is not None:
            exit_reasons = self.exit_reasons(snap, frame, own.entry_ts)
            return [self.exit(snap, exit_reasons)] if exit_reasons else []
        if portfolio.position(snap.symbol) is not None or not can_enter:
            return []
        return self.entry(snap, frame)

    # -- entry -----------------------------------------------------------------------------

    def entry(self, snap: Snapshot, f: SqueezeFrame) -> list[Intent]:
        """An ENTER_LONG when every condition holds and no veto applies (else nothing)."""
        p = self.params
        reasons: dict[str, Any] = {}

        sharp_short = f.rise_short is not None and f.rise_short >= p.min_rise_short
        sharp_long = f.rise_long is not None and f.rise_long >= p.min_rise_long
        if not (sharp_short or sharp_long):
            return []
        reasons[f"price_rise_{p.short_window_hours:g}h"] = reason(f.rise_short, p.min_rise_short, ">=")
        reasons[f"price_rise_{p.long_window_hours:g}h"] = reason(f.rise_long, p.min_rise_long, ">=")

        fs = f.funding
        rate = fs.rate
        if rate is None:
            return []
        deep = rate <= p.deep_funding_rate
        near_floor = fs.floor is not None and fs.floor < 0 and rate <= p.near_floor_fraction * fs.floor
        shortened = fs.interval_shortened and rate <= p.shortened_interval_rate
        if not (deep or near_floor or shortened):
            return []
        reasons["funding_rate"] = reason(rate, p.deep_funding_rate, "<=", floor=fs.floor,
                                         near_floor=near_floor)
        reasons["funding_interval_hours"] = reason(
            fs.interval_hours, fs.max_recent_interval_hours, "<", shortened=fs.interval_shortened)

        oi_known = f.oi_change is not None
        if oi_known:
            assert f.oi_change is not None
            if f.oi_change <= p.oi_collapse:
                return []  # veto: open interest collapsing, the covering is over
            if f.oi_change < p.min_oi_build:
                return []  # shorts are not piling in
            reasons["open_interest_change"] = reason(f.oi_change, p.min_oi_build, ">=")
        else:
            reasons["open_interest_change"] = reason(None, p.min_oi_build, ">=", missing=True)

        if f.spot_ratio is not None:
            if f.spot_ratio < p.min_spot_futures_ratio:
                return []  # veto: leverage, not spot demand
            reasons["spot_futures_volume_ratio"] = reason(f.spot_ratio, p.min_spot_futures_ratio, ">=")

        cascade, share, vol_frac = self.long_cascade(f)
        if cascade:
            return []  # veto: longs are being liquidated
        if share is not None or vol_frac is not None:
            reasons["long_liquidations"] = reason(share, p.cascade_share, "<", volume_fraction=vol_frac)

        floor_ref = fs.floor if fs.floor is not None and fs.floor < 0 else DEFAULT_FLOOR
        f_score = clip01(rate / floor_ref)
        if fs.interval_shortened:
            f_score = max(f_score, 0.5)
        p_score = max(clip01((f.rise_short or 0.0) / (2 * p.min_rise_short)),
                      clip01((f.rise_long or 0.0) / (2 * p.min_rise_long)))
        if oi_known:
            assert f.oi_change is not None
            oi_score = clip01(f.oi_change / (2 * p.min_oi_build)) if p.min_oi_build > 0 else 1.0
            strength = (f_score + p_score + oi_score) / 3.0
        else:
            strength = (f_score + p_score) / 2.0 * p.no_oi_strength_factor
        reasons["strength_parts"] = {"funding": f_score, "price": p_score, "oi_known": oi_known}
        return [self.enter(PositionSide.LONG, snap, strength, reasons)]

    def long_cascade(self, f: SqueezeFrame) -> tuple[bool, float | None, float | None]:
        """(cascade?, long share of liquidations, long liquidations / bar quote volume).

        Missing inputs weaken the test instead of inventing zeros: with only one of the two
        measures known, that one decides; with neither, there is no veto."""
        p = self.params
        if f.liq_long is None or f.liq_long <= 0:
            return False, None, None
        share = f.liq_long / (f.liq_long + f.liq_short) if f.liq_short is not None else None
        vol_frac = (f.liq_long / f.bar_quote_volume
                    if f.bar_quote_volume is not None and f.bar_quote_volume > 0 else None)
        if share is None and vol_frac is None:
            return False, None, None
        cascade = (share is None or share >= p.cascade_share) and (
            vol_frac is None or vol_frac >= p.cascade_volume_fraction)
        return cascade, share, vol_frac

    # -- exit ------------------------------------------------------------------------------

    def exit_reasons(self, snap: Snapshot, f: SqueezeFrame, entry_ts: int) -> dict[str, Any]:
        """Why the open long should close now (empty: keep it)."""
        p = self.params
        out: dict[str, Any] = {}
        rate = f.funding.rate
        if rate is not None and rate >= p.exit_funding_rate:
            out["funding_normalised"] = reason(rate, p.exit_funding_rate, ">=")
        if f.oi is not None and f.oi_peak is not None and f.oi_peak > 0:
            drawdown = f.oi / f.oi_peak - 1.0
            if drawdown <= p.exit_oi_drawdown:
                out["open_interest_off_peak"] = reason(drawdown, p.exit_oi_drawdown, "<=", peak=f.oi_peak)
        held_hours = (snap.ts - entry_ts) / MS_PER_HOUR
        if held_hours >= p.max_hold_hours:
            out["time_limit"] = reason(held_hours, p.max_hold_hours, ">=")
        return out
