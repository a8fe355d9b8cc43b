"""Which symbols the emulator lists, and in which ``exchangeInfo`` status, as the data allows.

A real exchange lists a contract from its launch and delists it at some point; recorded data
covers exactly that life (or the part of it someone downloaded). Serving a symbol as TRADING
where the replay has no prices for it is a lie the client cannot see through until a ticker
answers -1121 (issue 11, "listings follow the data"). So:

* before its first bar has closed a symbol is not listed: absent from ``exchangeInfo`` and the
  all-symbol lists, -1121 "Invalid symbol." for every endpoint naming it;
* once the data ends (the close of its last bar) it is delisted: the core settles it at the last
  mark (or last) price and reports it SETTLING, then CLOSE (see
  :meth:`~bot.sim.exchange.SimExchange.schedule_settlement`), as ``/_sim/delist`` does on demand.
"""

from __future__ import annotations

import math
from typing import Any

from bot.sim.exchange import SETTLING_MS


class Listings:
    """Listing times per symbol, taken from the data; settlement at the data's end is scheduled."""

    def __init__(self, store: Any, symbols: list[str], exchange: Any) -> None:
        self.listed_from: dict[str, int] = {}
        for symbol in symbols:
            history = store[symbol]
            if len(history.ts) == 0:
                self.listed_from[symbol] = _NEVER
                continue
            bar_ms = int(history.bar_ms)
            self.listed_from[symbol] = int(history.ts[0]) + bar_ms
            end = int(history.ts[-1]) + bar_ms
            price = _last_price(history)
            if price is not None:
                core(exchange, symbol).schedule_settlement(symbol, price, end, SETTLING_MS)

    def listed(self, symbol: str, now_ms: int) -> bool:
        """True once the symbol's first bar has closed (it has a price); delisted ones stay listed."""
        return now_ms >= self.listed_from.get(symbol, _NEVER)


def core(exchange: Any, symbol: str) -> Any:
    """The simulated core serving ``symbol`` (an exchange with USDC twins has one per margin asset)."""
    pick = getattr(exchange, "core", None)
    return pick(symbol) if callable(pick) else exchange


def status(exchange: Any, symbol: str, now_ms: int) -> str:
    """The symbol's ``exchangeInfo`` status at ``now_ms`` (TRADING, SETTLING or CLOSE)."""
    return str(core(exchange, symbol).symbol_status(symbol, now_ms))


#: "Never listed": a symbol without bars has no price to trade at.
_NEVER = 2**62


def _last_price(history: Any) -> float | None:
    """The delivery price at the data's end: the last mark close, else the last close."""
    for name in ("mark_close", "close"):
        values = getattr(history, name, None)
        if values is not None and len(values) == len(history.ts):
            value = float(values[-1])
            if math.isfinite(value) and value > 0:
                return value
    return None
