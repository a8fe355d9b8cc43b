"""Feeds recorded market history into the simulated exchange as a clock moves.

Shared by the emulator (its clock: real time, accelerated or stepped) and backtests (a
stepped simulation clock), so both see the market through the same event order.

A 1h candle is delivered when it closes (``ts + bar_ms <= now``), a funding settlement at its
``fundingTime``; events of all symbols are applied in time order (a bar closing at 08:00
before the 08:00 settlement, which uses that mark price). The driver also remembers the
latest last/mark price per symbol, so public endpoints answer "as of" the clock and never
with data from after it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from loguru import logger


@dataclass
class PriceState:
    last: float | None = None
    mark: float | None = None
    ts_ms: int = 0  # when these prices became known
    overridden: bool = False  # set by the control API since the last bar


_INF = math.inf


def _opt(value: Any) -> float | None:
    v = float(value)
    return None if math.isnan(v) else v


def _mark(a: Any, i: int) -> float | None:
    """Row ``i`` of a mark series, ``None`` when absent or NaN."""
    if len(a) <= i:
        return None
    v = float(a[i])
    return None if v != v else v


class Clock(Protocol):
    def now_ms(self) -> int: ...


class MarketDriver:
    """Advances ``exchange`` through ``store`` up to the clock's now, lazily and idempotently."""

    def __init__(self, exchange: Any, store: Any, symbols: list[str], clock: Clock) -> None:
        self.exchange = exchange
        self.store = store
        self.symbols = list(symbols)
        self.clock = clock
        self.prices: dict[str, PriceState] = {s: PriceState() for s in self.symbols}
        self._bar_cursor: dict[str, int] = {}
        self._funding_cursor: dict[str, int] = {}
        # symbol -> (history, bar publication times, settlement times) as Python lists: the
        # hourly "what became known" check walks a cursor instead of a numpy search per symbol.
        self._times: dict[str, tuple[Any, list[int], list[int]]] = {}
        self.synced_to = clock.now_ms()
        self.events_applied = 0
        self._prime(self.synced_to)

    # -- start-up ---------------------------------------------------------------------------

    def _prime(self, t_ms: int) -> None:
        """Skip history before the start; deliver only the last closed bar (to set prices)."""
        for symbol in self.symbols:
            h = self.store[symbol]
            n = int(h.bars_known_at(t_ms))
            self._funding_cursor[symbol] = int(h.funding_known_at(t_ms))
            if n > 0:
                self._bar_cursor[symbol] = n - 1
                self._apply_bar(symbol, n - 1)
            else:
                self._bar_cursor[symbol] = 0

    # -- advancing --------------------------------------------------------------------------

    def sync(self) -> int:
        """Bring the exchange up to the clock; returns the number of market events applied."""
        t = self.clock.now_ms()
        if t <= self.synced_to:
            return 0
        return self.advance_to(t)

    def advance_to(self, t_ms: int) -> int:
        pending: list[tuple[int, int, str, int]] = []
        for symbol in self.symbols:
            bar_pub, funding_ts = self._event_times(symbol)
            i, n = self._bar_cursor[symbol], len(bar_pub)
            while i < n and bar_pub[i] <= t_ms:  # == range(cursor, bars_known_at(t)): times are sorted
                pending.append((bar_pub[i], 0, symbol, i))
                i += 1
            j, m = self._funding_cursor[symbol], len(funding_ts)
            while j < m and funding_ts[j] <= t_ms:
                pending.append((funding_ts[j], 1, symbol, j))
                j += 1
        pending.sort()
        for _, kind, symbol, idx in pending:
            try:
                if kind == 0:
                    self._apply_bar(symbol, idx)
                else:
                    self._apply_funding(symbol, idx)
            except (ValueError, TypeError, OverflowError) as exc:
                # Malformed row: skip it with one warning, never stop the market.
                logger.warning("emulator: skipped malformed {} row {} of {}: {}",
                               "bar" if kind == 0 else "funding", idx, symbol, exc)
            if kind == 0:
                self._bar_cursor[symbol] = idx + 1
            else:
                self._funding_cursor[symbol] = idx + 1
        self.synced_to = max(self.synced_to, t_ms)
        self.exchange.advance_time(t_ms)  # a fill between two bars happens now, not at the last bar
        self.events_applied += len(pending)
        return len(pending)

    def _event_times(self, symbol: str) -> tuple[list[int], list[int]]:
        """Bar publication and settlement times of ``symbol`` (rebuilt if its history is replaced)."""
        h = self.store[symbol]
        cached = self._times.get(symbol)
        if cached is None or cached[0] is not h:
            cached = self._times[symbol] = (h, h.bar_close_ts.tolist(), h.funding_ts.tolist())
        return cached[1], cached[2]

    def _apply_bar(self, symbol: str, i: int) -> None:
        h = self.store[symbol]
        ts = int(h.ts[i])
        o, hi, lo, c = (float(h.open[i]), float(h.high[i]), float(h.low[i]), float(h.close[i]))
        if not (0 < o < _INF and 0 < hi < _INF and 0 < lo < _INF and 0 < c < _INF):  # NaN fails too
            raise ValueError(f"non-positive or missing OHLC at ts={ts}")
        mark_c = _mark(h.mark_close, i)
        self.exchange.on_bar(symbol, ts, o, hi, lo, c, float(h.volume[i]), mark_o=_mark(h.mark_open, i),
                             mark_h=_mark(h.mark_high, i), mark_l=_mark(h.mark_low, i), mark_c=mark_c)
        self._bar_cursor[symbol] = i + 1
        self.prices[symbol] = PriceState(last=c, mark=mark_c if mark_c is not None else c,
                                         ts_ms=ts + int(h.bar_ms))

    def _apply_funding(self, symbol: str, j: int) -> None:
        h = self.store[symbol]
        ts = int(h.funding_ts[j])
        rate = float(h.funding_rate[j])
        if not math.isfinite(rate):
            raise ValueError(f"funding rate is not a number at ts={ts}")
        mark = _opt(h.funding_mark[j]) if len(h.funding_mark) > j else None
        self.exchange.on_funding(symbol, ts, rate, mark_price=mark)

    # -- control ----------------------------------------------------------------------------

    def set_price(self, symbol: str, last: float, mark: float | None = None) -> list[Any]:
        """Control API: move a symbol's price now (the next bar replaces it)."""
        self.sync()
        t = self.clock.now_ms()
        events = self.exchange.set_price(symbol, t, last, mark)
        self.prices[symbol] = PriceState(last=last, mark=mark if mark is not None else last,
                                         ts_ms=t, overridden=True)
        return list(events or [])
