"""The market snapshot: everything a strategy may know about one symbol at one time.

Every field is an :class:`Obs` carrying its value, the time it was observed or published and
a quality flag. A missing input is ``Obs(None, None, MISSING)``, never zero: a zero funding
rate and an unknown funding rate must not look alike to a strategy.

Live and replay sources produce the same objects, so a strategy cannot tell them apart.

Columnar (lazy) snapshots: the replay feed answers thousands of decision times at once from
per-symbol arrays, and a strategy reads a handful of the ~35 fields. Building every ``Obs`` of
every snapshot was most of a backtest's time (issue 12), so a replayed snapshot is created
*unfilled*: it holds a reference to a :class:`ColumnSource` (arrays of a batch of times) and
its row in it, and an ``Obs`` is built the first time its field is read, then kept in the
field's slot. Reading, comparing, hashing, ``repr`` and ``to_record`` see the same values as an
eagerly built snapshot (tests/market/test_snapshot_columnar.py proves it on real data), so this
changes speed, never results.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from dataclasses import field as _dc_field
from typing import Any, NamedTuple, Protocol

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


class ColumnSource(Protocol):
    """Where a lazy snapshot's fields come from: one ``Obs`` per (field, row)."""

    def obs(self, name: str, row: int) -> Obs:
        """The observation of field ``name`` at ``row`` (MISSING when absent)."""
        ...

    def screened(self, screen: Any, row: int) -> bool | None:
        """``screen``'s vectorised pre-screen at ``row`` (computed once per batch), None without one."""
        ...


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

    # Lazy (columnar) snapshots only: the source of the unfilled fields and this snapshot's row.
    # Not compared, hashed or shown: equality is about the observations, not their storage.
    _cols: ColumnSource | None = _dc_field(default=None, init=False, repr=False, compare=False)
    _row: int = _dc_field(default=0, init=False, repr=False, compare=False)

    @classmethod
    def lazy(cls, symbol: str, ts: int, exchange: str, cols: ColumnSource, row: int) -> Snapshot:
        """A snapshot whose observation fields are read from ``cols`` at ``row`` on first access.

        ``__init__`` is bypassed so the observation slots stay empty; reading an empty slot
        raises AttributeError, which lands in :meth:`__getattr__`, which fills it.
        """
        snap = _new_object(cls)
        _set(snap, "symbol", symbol)
        _set(snap, "ts", ts)
        _set(snap, "exchange", exchange)
        _set(snap, "_cols", cols)
        _set(snap, "_row", row)
        return snap

    def __getattr__(self, name: str) -> Obs:
        # Only reached when a slot is empty, i.e. an unread field of a lazy snapshot.
        if name not in _FIELD_SET:
            raise AttributeError(name)
        cols = self._cols
        obs = MISSING if cols is None else cols.obs(name, self._row)
        _set(self, name, obs)
        return obs

    def prescreened(self, screen: Any) -> bool | None:
        """What ``screen`` (a strategy with a vectorised pre-screen) says about this snapshot's
        row of its batch: False means "nothing can happen here"; None when this snapshot is not
        part of a batch (live) or the strategy has no pre-screen, so nothing may be skipped."""
        cols = self._cols
        return None if cols is None else cols.screened(screen, self._row)

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


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Snapshot)
                                      if f.name not in ("symbol", "ts", "exchange") and not f.name.startswith("_"))
_FIELD_SET = frozenset(_FIELD_NAMES)
_new_object = object.__new__
_set = object.__setattr__  # the dataclass is frozen; filling a lazy slot is not a mutation
