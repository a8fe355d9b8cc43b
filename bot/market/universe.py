"""Which symbols the bot watches: USDT-margined perpetuals that trade enough.

The rule (``settings.universe``):

* ``symbols`` non-empty: exactly those (still checked against the exchange's markets, so a
  typo or a delisted symbol is reported instead of silently polled forever);
* otherwise every active linear USDT-settled swap whose 24h quote volume is at least
  ``min_quote_volume_24h``, plus the ``allow`` list regardless of volume, minus ``deny``,
  largest volume first, at most ``max_symbols``.

Symbols are exchange ids (``ORCAUSDT``). The selection is a pure function so it can be
tested without an exchange; :class:`UniverseTracker` adds the periodic refresh.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from loguru import logger

from bot.config import UniverseSettings
from bot.core.timeutil import MS_PER_MINUTE


@dataclass(frozen=True)
class UniverseSelection:
    """Result of one selection: the symbols, and why others were left out."""

    symbols: tuple[str, ...]
    quote_volume_24h: Mapping[str, float]
    unknown: tuple[str, ...] = ()  # configured/allowed symbols the exchange does not list
    inactive: tuple[str, ...] = ()  # listed but not trading / not a USDT perpetual


def is_usdt_perpetual(market: Mapping[str, Any]) -> bool:
    """ccxt market dict of an active linear swap settled in USDT."""
    return bool(
        market.get("swap")
        and market.get("linear")
        and market.get("settle") == "USDT"
        and market.get("active") is not False
    )


def _volume(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v >= 0 else None


def select_universe(
    markets: Iterable[Mapping[str, Any]],
    quote_volumes: Mapping[str, Any],
    settings: UniverseSettings,
    *,
    always: Iterable[str] = (),
) -> UniverseSelection:
    """Pick the symbols to watch.

    ``markets`` are ccxt market dicts (``id``, ``swap``, ``linear``, ``settle``, ``active``);
    ``quote_volumes`` maps exchange id -> 24h quote volume (raw, may be junk: unparsable
    values count as unknown volume and fail the volume filter, with one warning).
    ``always`` are symbols that must stay (open positions), if the exchange lists them.
    """
    listed: dict[str, Mapping[str, Any]] = {}
    for m in markets:
        mid = str(m.get("id", "")).upper()
        if mid:
            listed[mid] = m
    eligible = {mid for mid, m in listed.items() if is_usdt_perpetual(m)}
    volumes: dict[str, float] = {}
    bad: list[str] = []
    for sym, raw in quote_volumes.items():
        v = _volume(raw)
        if v is None:
            bad.append(sym)
        else:
            volumes[sym.upper()] = v
    if bad:
        logger.warning("universe: unusable 24h quote volume for {} symbol(s), e.g. {}", len(bad), bad[:5])

    deny = {s.upper() for s in settings.deny}
    wanted_always = [s.upper() for s in always]
    if settings.symbols:
        requested = [s.upper() for s in settings.symbols]
        chosen = [s for s in requested if s in eligible and s not in deny]
    else:
        requested = [s.upper() for s in settings.allow]
        by_volume = sorted(
            (s for s in eligible if volumes.get(s, -1.0) >= settings.min_quote_volume_24h),
            key=lambda s: (-volumes[s], s),
        )
        chosen = [s for s in requested if s in eligible]
        chosen += [s for s in by_volume if s not in chosen]
        chosen = [s for s in chosen if s not in deny][: settings.max_symbols]
    for s in wanted_always:  # open positions are watched even if denied or below volume
        if s in eligible and s not in chosen:
            chosen.append(s)
    unknown = tuple(s for s in [*requested, *wanted_always] if s not in listed)
    inactive = tuple(s for s in [*requested, *wanted_always] if s in listed and s not in eligible)
    if unknown:
        logger.warning("universe: not listed by the exchange (typo or delisted?): {}", ", ".join(unknown))
    if inactive:
        logger.warning("universe: listed but not an active USDT perpetual: {}", ", ".join(inactive))
    return UniverseSelection(tuple(chosen), {s: volumes[s] for s in chosen if s in volumes}, unknown, inactive)


@dataclass
class UniverseTracker:
    """Remembers the current selection and says when it is due for a refresh."""

    settings: UniverseSettings
    selection: UniverseSelection | None = None
    refreshed_ms: int | None = None

    def due(self, now_ms: int) -> bool:
        if self.selection is None or self.refreshed_ms is None:
            return True
        return now_ms - self.refreshed_ms >= self.settings.refresh_minutes * MS_PER_MINUTE

    def update(self, selection: UniverseSelection, now_ms: int) -> None:
        if self.selection is not None:
            added = set(selection.symbols) - set(self.selection.symbols)
            removed = set(self.selection.symbols) - set(selection.symbols)
            if added or removed:
                logger.info("universe: +{} -{} (now {} symbols)", sorted(added), sorted(removed),
                            len(selection.symbols))
        self.selection = selection
        self.refreshed_ms = now_ms

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.selection.symbols if self.selection else ()
