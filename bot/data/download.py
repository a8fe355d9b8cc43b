"""``derivbot data download``: exchange history -> derivbot's parquet layout (``bot/data/layout.py``).

Per symbol it fetches, where the exchange serves them (``client.has``): last-price klines
(``ohlcv_1h``), mark-price klines (``mark_1h``), funding settlements (``funding``) and open
interest history (``oi``). Properties:

* **paginated** forward from ``since`` in pages of ``PAGE_LIMIT`` rows until ``until``;
* **resumable**: each series restarts after the last timestamp already on disk, and every
  page is merged into the file at once (atomic write), so an interrupted run loses at most
  one page;
* **deduplicated**: :func:`bot.data.layout.write` keeps one row per timestamp (new wins);
* only **closed** bars are stored (a bar still open at download time would later be
  "resumed past" with its partial values);
* a series the exchange does not serve (or refuses, e.g. Binance keeps only 30 days of open
  interest history) is skipped with one warning; the other series still download.

Requests go through :class:`bot.market.budget.RequestBudget` (weights, 429/418 backoff,
bounded retries). Symbols are exchange ids (``ORCAUSDT``).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from bot.core.instrument import id_to_ccxt_symbol
from bot.core.timeutil import MS_PER_DAY, MS_PER_HOUR
from bot.data import layout
from bot.data.series import Columns, Funding, Klines, OpenInterest
from bot.exchange.binance_weights import klines_weight
from bot.market.budget import RequestBudget

PAGE_LIMIT = 1000
OI_PAGE_LIMIT = 500
SUPPORTED_TIMEFRAMES = {"1h": MS_PER_HOUR}  # the layout stores 1h bars only
#: Binance serves open interest history for the last 30 days only.
OI_HISTORY_MS = 30 * MS_PER_DAY

#: ``progress(symbol, series, rows_written_so_far, fraction_done)``
Progress = Callable[[str, str, int, float], None]


class DownloadError(Exception):
    """Bad request for a download (unknown timeframe, symbol not listed...): message says what."""


@dataclass
class SeriesResult:
    rows: int = 0
    pages: int = 0
    skipped: str | None = None  # reason, if the series was not downloaded


@dataclass
class DownloadReport:
    results: dict[tuple[str, str], SeriesResult] = field(default_factory=dict)

    def rows(self, symbol: str, series: str) -> int:
        r = self.results.get((symbol, series))
        return r.rows if r else 0


def last_stored_ts(path: Path) -> int | None:
    """Timestamp of the newest row already in a layout file, or None."""
    if not path.is_file():
        return None
    cols = layout.read(path)
    return int(cols.ts.max()) if len(cols) else None


def _f(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


def _klines(rows: Sequence[Sequence[Any]], mark: bool) -> Klines:
    n = len(rows)
    ts = np.array([int(r[0]) for r in rows], dtype=np.int64)
    cols = {k: np.array([_f(r[i]) for r in rows]) for k, i in (("open", 1), ("high", 2), ("low", 3), ("close", 4))}
    volume = np.full(n, np.nan) if mark else np.array([_f(r[5]) if len(r) > 5 else math.nan for r in rows])
    return Klines(ts=ts, volume=volume, quote_volume=np.full(n, np.nan), **cols)


def _funding(rows: Sequence[dict[str, Any]]) -> Funding:
    return Funding(ts=np.array([int(r["timestamp"]) for r in rows], dtype=np.int64),
                   rate=np.array([_f(r.get("fundingRate")) for r in rows]),
                   mark=np.array([_f((r.get("info") or {}).get("markPrice")) for r in rows]))


def _oi(rows: Sequence[dict[str, Any]]) -> OpenInterest:
    return OpenInterest(ts=np.array([int(r["timestamp"]) for r in rows], dtype=np.int64),
                        oi=np.array([_f(r.get("openInterestAmount")) for r in rows]),
                        notional=np.array([_f(r.get("openInterestValue")) for r in rows]))


@dataclass(frozen=True)
class _Spec:
    series: str  # layout stem
    capability: str  # ccxt ``has`` key
    step_ms: int  # expected spacing (resume restarts one step after the last row)
    limit: int


class Downloader:
    """Downloads history for symbols into ``out/<exchange>/<SYMBOL>/*.parquet``."""

    def __init__(self, client: Any, out: Path, *, exchange: str, budget: RequestBudget,
                 progress: Progress | None = None, page_limit: int = PAGE_LIMIT) -> None:
        if page_limit < 1:
            raise DownloadError(f"page_limit must be >= 1, got {page_limit}")
        self.page_limit = page_limit
        self.client = client
        self.out = Path(out)
        self.exchange = exchange
        self.budget = budget
        self.progress = progress or (lambda *_: None)

    async def run(self, symbols: Sequence[str], since_ms: int, until_ms: int | None = None,
                  timeframe: str = "1h") -> DownloadReport:
        step = SUPPORTED_TIMEFRAMES.get(timeframe)
        if step is None:
            raise DownloadError(f"timeframe {timeframe!r} is not supported: the data layout stores "
                                f"{', '.join(SUPPORTED_TIMEFRAMES)} bars only")
        await self.budget.call("exchangeInfo", 1, self.client.load_markets)
        server_now = int(await self.budget.call("time", 1, self.client.fetch_time))
        until = min(until_ms, server_now) if until_ms is not None else server_now
        if since_ms >= until:
            raise DownloadError(f"--since must be before --until/now ({since_ms} >= {until})")
        unknown = [s for s in symbols if id_to_ccxt_symbol(s) not in self.client.markets]
        if unknown:
            raise DownloadError(f"not listed by {self.exchange}: {', '.join(unknown)}")
        page, oi_page = self.page_limit, min(self.page_limit, OI_PAGE_LIMIT)
        specs = (_Spec("ohlcv_1h", "fetchOHLCV", step, page),
                 _Spec("mark_1h", "fetchMarkOHLCV", step, page),
                 _Spec("funding", "fetchFundingRateHistory", 1, page),
                 _Spec("oi", "fetchOpenInterestHistory", step, oi_page))
        report = DownloadReport()
        for symbol in symbols:
            for spec in specs:
                report.results[(symbol, spec.series)] = await self._series(symbol, spec, since_ms, until, step)
        return report

    async def _series(self, symbol: str, spec: _Spec, since_ms: int, until: int, bar_ms: int) -> SeriesResult:
        result = SeriesResult()
        if not self.client.has.get(spec.capability):
            result.skipped = f"{self.exchange} does not serve {spec.capability}"
            logger.warning("download {}/{}: skipped: {}", symbol, spec.series, result.skipped)
            return result
        path = layout.symbol_dir(self.out, self.exchange, symbol) / f"{spec.series}.parquet"
        last = last_stored_ts(path)
        start = since_ms if last is None else max(since_ms, last + spec.step_ms)
        if spec.series == "oi":
            start = max(start, until - OI_HISTORY_MS + bar_ms)
        # Bars are stored when closed: the last one we may keep opens at until - bar_ms.
        end = until - bar_ms if spec.series in ("ohlcv_1h", "mark_1h") else until
        cursor = start
        while cursor <= end:
            try:
                rows = await self._fetch(symbol, spec, cursor, end)
            except Exception as exc:  # a refused series must not stop the others
                result.skipped = f"{type(exc).__name__}: {exc}"
                logger.warning("download {}/{}: stopped at {}: {}", symbol, spec.series, cursor, result.skipped)
                return result
            cols = self._columns(spec.series, rows, end)
            if len(cols) == 0:
                break
            layout.write(path, cols)
            result.rows += len(cols)
            result.pages += 1
            newest = int(cols.ts.max())
            self.progress(symbol, spec.series, result.rows, min(1.0, (newest - start) / max(1, end - start)))
            if newest < cursor:  # exchange ignored startTime: avoid looping forever
                break
            cursor = newest + spec.step_ms
        self.progress(symbol, spec.series, result.rows, 1.0)
        return result

    async def _fetch(self, symbol: str, spec: _Spec, since: int, end: int) -> list[Any]:
        c = self.client
        unified = id_to_ccxt_symbol(symbol)
        call: Callable[[], Awaitable[Any]]
        if spec.series == "ohlcv_1h":
            weight = klines_weight(spec.limit)
            call = lambda: c.fetch_ohlcv(unified, "1h", since, spec.limit, {"until": end})  # noqa: E731
        elif spec.series == "mark_1h":
            weight = klines_weight(spec.limit)
            call = lambda: c.fetch_mark_ohlcv(unified, "1h", since, spec.limit, {"until": end})  # noqa: E731
        elif spec.series == "funding":
            weight = 1
            call = lambda: c.fetch_funding_rate_history(unified, since, spec.limit, {"until": end})  # noqa: E731
        else:
            weight = 1
            call = lambda: c.fetch_open_interest_history(unified, "1h", since, spec.limit, {"until": end})  # noqa: E731
        return list(await self.budget.call(spec.series, weight, call) or [])

    @staticmethod
    def _columns(series: str, rows: list[Any], end: int) -> Columns:
        if series in ("ohlcv_1h", "mark_1h"):
            rows = [r for r in rows if r and r[0] is not None and int(r[0]) <= end]
            return _klines(rows, mark=series == "mark_1h")
        rows = [r for r in rows if isinstance(r, dict) and r.get("timestamp") is not None
                and int(r["timestamp"]) <= end]
        return _funding(rows) if series == "funding" else _oi(rows)
