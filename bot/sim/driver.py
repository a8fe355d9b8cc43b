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

import numpy as np
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


#: bars converted to Python numbers at a time by ``MarketDriver._bar_row``
ROW_CHUNK = 512


def _marks(a: Any, start: int, end: int) -> list[float | None]:
    """Rows ``start:end`` of a mark series, ``None`` where absent (a shorter series) or NaN."""
    values: list[float | None] = [None if v != v else v for v in np.asarray(a[start:end], dtype=np.float64).tolist()]
    return values + [None] * (end - start - len(values))


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
        # symbol -> (history, first bar, its next bars as plain rows): see ``_bar_row``
        self._rows: dict[str, tuple[Any, int, list[tuple[Any, ...]]]] = {}
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
        ts, o, hi, lo, c, volume, mark_o, mark_h, mark_l, mark_c = self._bar_row(symbol, h, i)
        if not (0 < o < _INF and 0 < hi < _INF and 0 < lo < _INF and 0 < c < _INF):  # NaN fails too
            raise ValueError(f"non-positive or missing OHLC at ts={ts}")
        self.exchange.on_bar(symbol, ts, o, hi, lo, c, volume, mark_o=mark_o, mark_h=mark_h, mark_l=mark_l,
                             mark_c=mark_c)
        self._bar_cursor[symbol] = i + 1
        self.prices[symbol] = PriceState(last=c, mark=mark_c if mark_c is not None else c,
                                         ts_ms=ts + int(h.bar_ms))

    def _bar_row(self, symbol: str, h: Any, i: int) -> tuple[Any, ...]:
        """Bar ``i`` of ``h`` as plain Python numbers: (ts, open, high, low, close, volume, mark
        open, high, low, close), a mark ``None`` where absent or NaN (as :func:`_marks`).

        Rows are converted ``ROW_CHUNK`` bars at a time from ``i`` on (bars are replayed in order):
        ten numpy element reads per bar were most of the driver's time in a backtest (issue 12),
        and a chunk keeps the memory of the converted rows small."""
        cached = self._rows.get(symbol)
        if cached is not None and cached[0] is h:
            row = i - cached[1]
            if 0 <= row < len(cached[2]):
                return cached[2][row]
        end = min(len(h.ts), i + ROW_CHUNK)
        plain = [np.asarray(h.ts[i:end], dtype=np.int64).tolist()]
        plain += [np.asarray(a[i:end], dtype=np.float64).tolist() for a in (h.open, h.high, h.low, h.close, h.volume)]
        marks = [_marks(a, i, end) for a in (h.mark_open, h.mark_high, h.mark_low, h.mark_close)]
        rows = list(zip(*plain, *marks, strict=True))
        self._rows[symbol] = (h, i, rows)
        return rows[0]

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
