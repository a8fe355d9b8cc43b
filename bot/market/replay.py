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
from itertools import repeat

import numpy as np

from bot.core.enums import Quality
from bot.core.timeutil import MS_PER_HOUR
from bot.data.issues import IssueLog
from bot.data.store import MarketStore
from bot.market.replay_prep import Column, Prepared, field_columns, prepare
from bot.market.snapshot import MISSING, Obs, Snapshot

_QUALITY_OBJ = np.array([Quality.FRESH, Quality.STALE, Quality.MISSING], dtype=object)
_MISSING_CODE = 2
_FIELDS = Snapshot.field_names()
_new_tuple = tuple.__new__  # Obs is a NamedTuple: build it without _make's Python-level checks
#: Decision times handled per vectorised batch in ``iter_snapshots`` (bounds memory).
CHUNK = 8192
#: Snapshots built ahead once ``snapshot()`` has seen a regular step (see ``snapshot``).
READ_AHEAD = 1024


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
        self._ahead: dict[str, dict[int, Snapshot]] = {}
        self._last_t: dict[str, int] = {}

    @property
    def symbols(self) -> list[str]:
        return self.store.symbols

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

        An engine calls this at regular steps; after two calls the step is known, so the next
        ``READ_AHEAD`` snapshots on that grid are built in one vectorised batch and served from a
        cache. A snapshot depends only on ``(symbol, t)``, so this changes speed, never results.
        """
        t_ms = int(t_ms)
        cached = self._ahead.get(symbol)
        if cached is not None and t_ms in cached:
            return cached[t_ms]
        last = self._last_t.get(symbol)
        self._last_t[symbol] = t_ms
        if last is not None and t_ms > last:
            times = t_ms + np.arange(READ_AHEAD, dtype=np.int64) * (t_ms - last)
            batch = list(self._build(symbol, times))
            self._ahead[symbol] = {s.ts: s for s in batch}
            return batch[0]
        return next(self._build(symbol, np.array([t_ms], dtype=np.int64)))

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
            yield from self._build(symbol, times)

    def _build(self, symbol: str, times: np.ndarray) -> Iterator[Snapshot]:
        prepared = self._prep(symbol)
        exchange = self._exchange(symbol)
        cols: dict[str, Column] = {}
        if prepared is not None:
            try:
                cols = field_columns(prepared, times, self.stale_factor)
            except Exception as exc:
                self.issues.report(symbol, "*", "replay_error", f"cannot build snapshots: {exc!r}")
                cols = {}
        # One Obs per *change* of (value, ts, quality) per field, shared by the consecutive
        # times that see the same datum (funding or OI rows outlive many decision steps), then
        # one Snapshot per time from positional arguments in field order; absent fields repeat
        # the MISSING constant. map/zip keep the per-item work in C.
        per_field: dict[str, list[Obs]] = {}
        for name, (values, stamps, codes) in cols.items():
            per_field[name] = _obs_list(values, stamps, codes)
        columns = [per_field.get(name) or repeat(MISSING) for name in _FIELDS]
        for t, *args in zip(times.tolist(), *columns, strict=False):
            yield Snapshot(symbol, t, exchange, *args)


def _obs_list(values: np.ndarray, stamps: np.ndarray, codes: np.ndarray) -> list[Obs]:
    """The Obs of each row, built once per run of identical rows."""
    n = len(values)
    change = np.ones(n, dtype=bool)
    if n > 1:
        same_v = (values[1:] == values[:-1]) | (np.isnan(values[1:]) & np.isnan(values[:-1]))
        change[1:] = ~same_v | (stamps[1:] != stamps[:-1]) | (codes[1:] != codes[:-1])
    pos = np.flatnonzero(change)
    c = codes[pos]
    unique = list(map(_new_tuple, repeat(Obs), zip(values[pos].tolist(), stamps[pos].tolist(),
                                                     _QUALITY_OBJ[c].tolist(), strict=True)))
    for idx in np.flatnonzero(c == _MISSING_CODE).tolist():
        unique[idx] = MISSING
    if len(pos) == n:
        return unique
    return list(map(unique.__getitem__, (np.cumsum(change) - 1).tolist()))
