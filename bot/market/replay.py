"""``ReplaySource``: snapshots from recorded history, using only what was published by ``t``.

Publication rules (docs/architecture.md): a candle is known at its close (``ts + bar_ms``), a
funding rate at its settlement, an OI/ratio/liquidation row at its (publication) ``ts``.

What replay cannot know, and therefore leaves MISSING rather than inventing:

* ``index_price`` and ``premium``: no index price is recorded in our sources. Premium is **not**
  approximated from mark vs last price.
* ``predicted_funding_rate``: the recorded files hold settled rates only.
* ``funding_cap`` / ``funding_floor``: Binance's per-symbol caps are not in the data; seeing a
  -2% settlement does not prove the floor is -2% at other times.
* ``oi_weighted_funding``: needs OI of every venue, which no source provides together.

Freshness: a field is FRESH when its latest datum is at most ``stale_factor`` (1.5) of its
series' interval old (bars, OI, ratios, liquidations); funding when the last settlement is at
most one funding interval (+1 min for Binance's ms jitter) old. Older -> STALE, absent or NaN
-> MISSING, never zero. A settlement recorded without a rate (NaN) makes ``funding_rate`` fall
back to the previous rate marked STALE.

Bad input never raises out of the feed: an unknown symbol or a history that cannot be prepared
gives all-MISSING snapshots and one logged warning (see :class:`bot.data.issues.IssueLog`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bot.core.enums import Quality
from bot.core.timeutil import MS_PER_HOUR
from bot.data.issues import IssueLog
from bot.data.store import MarketStore
from bot.market.replay_prep import Column, Prepared, field_columns, prepare
from bot.market.snapshot import MISSING, Obs, Snapshot

_QUALITY = (Quality.FRESH, Quality.STALE, Quality.MISSING)  # by quality code
_MISSING_CODE = 2
_new_tuple = tuple.__new__  # Obs is a NamedTuple: build it without _make's Python-level checks
#: Decision times handled per vectorised batch in ``iter_snapshots`` (bounds memory).
CHUNK = 8192
#: Decision times answered ahead once ``snapshot()`` has seen a regular step (see ``snapshot``).
READ_AHEAD = 1024


class Columns:
    """The fields of one symbol at a batch of decision times, as arrays (one row per time).

    :class:`Snapshot` objects made by :meth:`snapshot` are lazy: a field becomes an ``Obs``
    only when a strategy or the engine reads it (see ``bot.market.snapshot``). The arrays of
    a field are turned into Python lists once, on its first read, so every ``Obs`` holds
    plain ``float``/``int`` values exactly like an eagerly built snapshot.
    """

    __slots__ = ("_arrays", "_lists", "_screens", "exchange", "symbol", "times")

    def __init__(self, symbol: str, exchange: str, times: np.ndarray, arrays: dict[str, Column]) -> None:
        self.symbol = symbol
        self.exchange = exchange
        self.times: list[int] = times.tolist()
        self._arrays = arrays
        self._lists: dict[str, tuple[list, list, list] | None] = {}
        self._screens: dict[int, tuple[object, np.ndarray | None]] = {}  # id(strategy) -> (strategy, mask)

    def __len__(self) -> int:
        return len(self.times)

    def snapshot(self, row: int) -> Snapshot:
        return Snapshot.lazy(self.symbol, self.times[row], self.exchange, self, row)

    def values(self, name: str) -> np.ndarray:
        """Field ``name`` at every time of the batch, NaN where MISSING (what a pre-screen reads)."""
        column = self._arrays.get(name)
        return np.full(len(self.times), np.nan) if column is None else column[0]

    def screened(self, screen: object, row: int) -> bool | None:
        """Row ``row`` of ``screen.prescreen`` over this batch, computed once per batch and strategy."""
        key = id(screen)
        cached = self._screens.get(key)
        if cached is None or cached[0] is not screen:
            cached = self._screens[key] = (screen, screen.prescreen(self.values))  # type: ignore[attr-defined]
        mask = cached[1]
        return None if mask is None else bool(mask[row])

    def obs(self, name: str, row: int) -> Obs:
        lists = self._lists.get(name, False)
        if lists is False:
            column = self._arrays.get(name)
            lists = None if column is None else (column[0].tolist(), column[1].tolist(), column[2].tolist())
            self._lists[name] = lists
        if lists is None:
            return MISSING
        values, stamps, codes = lists
        code = codes[row]
        if code == _MISSING_CODE:
            return MISSING
        return _new_tuple(Obs, (values[row], stamps[row], _QUALITY[code]))


class ReplaySource:
    """Builds :class:`Snapshot` objects from a :class:`MarketStore` (see module docstring)."""

    def __init__(self, store: MarketStore, stale_factor: float = 1.5) -> None:
        if stale_factor < 1.0:
            raise ValueError(f"stale_factor must be >= 1.0 (a series is not stale before its next "
                             f"publication is due), got {stale_factor}")
        self.store = store
        self.stale_factor = stale_factor
        self.issues: IssueLog = store.issues
        self._prepared: dict[str, Prepared | None] = {}
        self._ahead: dict[str, tuple[Columns, int, int]] = {}  # symbol -> (batch, first t, step)
        self._last_t: dict[str, int] = {}

    @property
    def symbols(self) -> list[str]:
        return self.store.symbols

    def prepare(self, symbols: list[str]) -> None:
        """Derive every symbol's series now instead of at its first snapshot (same result: a
        backtest does it before its loop so the bench can tell features from the loop)."""
        for symbol in symbols:
            self._prep(symbol)

    def _prep(self, symbol: str) -> Prepared | None:
        if symbol in self._prepared:
            return self._prepared[symbol]
        h = self.store.get(symbol)
        prepared: Prepared | None = None
        if h is None:
            self.issues.report(symbol, "*", "missing_symbol", "not in the market store; snapshots are all MISSING")
        else:
            try:
                prepared = prepare(h)
            except Exception as exc:  # a broken history must not stop the other symbols
                self.issues.report(symbol, "*", "replay_error", f"cannot prepare history: {exc!r}")
        self._prepared[symbol] = prepared
        return prepared

    def _exchange(self, symbol: str) -> str:
        h = self.store.get(symbol)
        return h.exchange if h is not None else "binanceusdm"

    def snapshot(self, symbol: str, t_ms: int) -> Snapshot:
        """The view of ``symbol`` at ``t_ms`` from data published at or before ``t_ms``.

        An engine calls this at regular steps; after two calls the step is known, so the fields
        at the next ``READ_AHEAD`` times on that grid are computed in one vectorised batch and
        later calls on the grid are answered from it. A snapshot depends only on
        ``(symbol, t)``, so this changes speed, never results.
        """
        t_ms = int(t_ms)
        ahead = self._ahead.get(symbol)
        last = self._last_t.get(symbol)
        self._last_t[symbol] = t_ms
        if ahead is not None:
            cols, t0, step = ahead
            row, off = divmod(t_ms - t0, step)
            if off == 0 and 0 <= row < len(cols):
                return cols.snapshot(row)
        if last is not None and t_ms > last:
            step = t_ms - last
            cols = self._columns(symbol, t_ms + np.arange(READ_AHEAD, dtype=np.int64) * step)
            self._ahead[symbol] = (cols, t_ms, step)
            return cols.snapshot(0)
        return self._columns(symbol, np.array([t_ms], dtype=np.int64)).snapshot(0)

    def snapshots(self, t_ms: int) -> dict[str, Snapshot]:
        """One snapshot per symbol in the store at ``t_ms``."""
        return {s: self.snapshot(s, t_ms) for s in self.symbols}

    def iter_snapshots(self, symbol: str, start_ms: int, end_ms: int,
                       step_ms: int = MS_PER_HOUR) -> Iterator[Snapshot]:
        """Snapshots at ``start_ms, start_ms + step_ms, ...`` up to and **including** ``end_ms``."""
        if step_ms <= 0:
            raise ValueError(f"step_ms must be positive, got {step_ms}")
        if end_ms < start_ms:
            return
        n = (int(end_ms) - int(start_ms)) // int(step_ms) + 1
        for lo in range(0, n, CHUNK):
            times = int(start_ms) + np.arange(lo, min(n, lo + CHUNK), dtype=np.int64) * int(step_ms)
            cols = self._columns(symbol, times)
            yield from map(cols.snapshot, range(len(cols)))

    def _columns(self, symbol: str, times: np.ndarray) -> Columns:
        """The fields of ``symbol`` at ``times`` as arrays (nothing per-snapshot is built here)."""
        prepared = self._prep(symbol)
        arrays: dict[str, Column] = {}
        if prepared is not None:
            try:
                arrays = field_columns(prepared, times, self.stale_factor)
            except Exception as exc:
                self.issues.report(symbol, "*", "replay_error", f"cannot build snapshots: {exc!r}")
                arrays = {}
        return Columns(symbol, self._exchange(symbol), times, arrays)
