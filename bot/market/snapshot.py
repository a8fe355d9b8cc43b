"""The market snapshot: everything a strategy may know about one symbol at one time.

Every field is an :class:`Obs` carrying its value, the time it was observed or published and
a quality flag. A missing input is ``Obs(None, None, MISSING)``, never zero: a zero funding
rate and an unknown funding rate must not look alike to a strategy.

Live and replay sources produce the same objects, so a strategy cannot tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, NamedTuple

from bot.core.enums import Quality


class Obs(NamedTuple):
    """One observed value. ``ts`` is when it became known (ms UTC), not when it was fetched."""

    value: float | None
    ts: int | None
    quality: Quality

    @property
    def ok(self) -> bool:
        """True when the value is present and fresh enough to act on."""
        return self.value is not None and self.quality is Quality.FRESH

    @property
    def known(self) -> bool:
        """True when a value is present, fresh or stale."""
        return self.value is not None


MISSING = Obs(None, None, Quality.MISSING)


def fresh(value: float | None, ts: int | None) -> Obs:
    """A value observed at ``ts``; ``None`` (or NaN) becomes MISSING instead of a fake zero."""
    if value is None or value != value:  # NaN check without importing math
        return MISSING
    return Obs(float(value), ts, Quality.FRESH)


def stale(value: float | None, ts: int | None) -> Obs:
    if value is None or value != value:
        return MISSING
    return Obs(float(value), ts, Quality.STALE)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Derivatives view of one symbol at ``ts`` (ms UTC, the decision time)."""

    symbol: str  # exchange id, e.g. "ORCAUSDT"
    ts: int
    exchange: str = "binanceusdm"

    # Prices. The candle fields describe the last *closed* bar at ts.
    last_price: Obs = MISSING
    mark_price: Obs = MISSING
    index_price: Obs = MISSING
    premium: Obs = MISSING  # mark / index - 1
    bar_open: Obs = MISSING
    bar_high: Obs = MISSING
    bar_low: Obs = MISSING

    # Funding. Rates are fractions per settlement (-0.02 == -2%).
    funding_rate: Obs = MISSING  # last settled
    predicted_funding_rate: Obs = MISSING  # current estimate for the next settlement
    next_funding_ms: Obs = MISSING
    funding_interval_hours: Obs = MISSING
    funding_cap: Obs = MISSING
    funding_floor: Obs = MISSING
    oi_weighted_funding: Obs = MISSING  # across the configured exchanges

    # Open interest, in contracts (base units) and in quote notional.
    open_interest: Obs = MISSING
    open_interest_notional: Obs = MISSING
    oi_change_1h: Obs = MISSING  # fractional change of open interest (contracts)
    oi_change_4h: Obs = MISSING
    oi_change_24h: Obs = MISSING

    # Price changes (fractional, on last price).
    price_change_1h: Obs = MISSING
    price_change_4h: Obs = MISSING
    price_change_24h: Obs = MISSING

    # Volume: of the last bar, and over 24h in quote currency.
    volume: Obs = MISSING
    quote_volume: Obs = MISSING
    quote_volume_24h: Obs = MISSING

    # Positioning.
    long_short_account_ratio: Obs = MISSING
    top_trader_position_ratio: Obs = MISSING
    taker_buy_sell_ratio: Obs = MISSING

    # Liquidations over the liquidation window (quote notional).
    liq_long_notional: Obs = MISSING
    liq_short_notional: Obs = MISSING

    # Spot vs futures.
    spot_quote_volume_24h: Obs = MISSING
    spot_futures_volume_ratio: Obs = MISSING

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of the observation fields (everything but symbol, ts, exchange)."""
        return _FIELD_NAMES

    def get(self, name: str) -> Obs:
        return getattr(self, name)

    def value(self, name: str) -> float | None:
        return getattr(self, name).value

    def to_record(self) -> dict[str, Any]:
        """Flat dict for the journal: ``<field>``, ``<field>__ts``, ``<field>__q`` per field."""
        out: dict[str, Any] = {"symbol": self.symbol, "ts": self.ts, "exchange": self.exchange}
        for name in _FIELD_NAMES:
            obs: Obs = getattr(self, name)
            out[name] = obs.value
            out[f"{name}__ts"] = obs.ts
            out[f"{name}__q"] = obs.quality.value
        return out

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Snapshot:
        kwargs: dict[str, Any] = {
            "symbol": record["symbol"],
            "ts": int(record["ts"]),
            "exchange": record.get("exchange", "binanceusdm"),
        }
        for name in _FIELD_NAMES:
            q = Quality(record.get(f"{name}__q", Quality.MISSING.value))
            value = record.get(name)
            ts = record.get(f"{name}__ts")
            kwargs[name] = MISSING if q is Quality.MISSING else Obs(value, ts, q)
        return cls(**kwargs)


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Snapshot) if f.name not in ("symbol", "ts", "exchange"))
