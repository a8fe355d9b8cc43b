"""The live signal feed: Binance USDⓈ-M (plus optional extra venues) through ccxt -> ``Snapshot``.

One scan is two passes, so the whole universe costs a handful of requests:

1. **Bulk** (every scan): ``premiumIndex`` (mark, index, current funding estimate, next
   settlement) and ``ticker/24hr`` for all symbols, ``fundingInfo`` (interval, cap, floor),
   plus ``exchangeInfo`` when the universe is due for a refresh. About 52 weight.
2. **Deep** (candidates only): open interest and its history, positioning ratios, last and
   mark klines, the last settlements. About 9 weight per symbol. A symbol is a candidate when
   a cheap pre-filter says it might matter (|funding estimate| or |24h change| above a band,
   an open position, a configured symbol), capped by ``max_candidates``.

Field meanings match the replay source (see :mod:`bot.market.derive`): candle fields describe
the last *closed* 1h bar, changes compare exact window points, every field carries the time it
became known and a quality. A failed call or a malformed payload leaves the affected fields
MISSING (or STALE when the data was repaired) and logs one warning; nothing raises out of
:meth:`LiveSource.scan`.

Raw (implicit) endpoints are used for Binance instead of ccxt's unified parsers: the weights
are exact, and a null or NaN field stays visible instead of being coerced.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from bot.config import Settings
from bot.core.enums import Quality
from bot.core.instrument import ccxt_symbol_to_id
from bot.core.timeutil import MS_PER_HOUR, MS_PER_MINUTE, now_ms
from bot.market.budget import RequestBudget, endpoint_weight
from bot.market.derive import (
    degrade,
    finite,
    fractional_change,
    observe,
    oi_weighted_funding,
    rescale_rate,
    window_change,
)
from bot.market.liquidations import LiquidationAggregator
from bot.market.snapshot import MISSING, Obs, Snapshot
from bot.market.universe import UniverseSelection, UniverseTracker, select_universe

BAR_MS = MS_PER_HOUR
DEFAULT_FUNDING_INTERVAL_H = 8.0  # Binance: symbols absent from fundingInfo settle every 8h
PRICE_MAX_AGE_MS = 2 * MS_PER_MINUTE
BAR_MAX_AGE_MS = BAR_MS + 5 * MS_PER_MINUTE
SAMPLE_MAX_AGE_MS = 2 * BAR_MS + 5 * MS_PER_MINUTE
WINDOWS = (("1h", MS_PER_HOUR), ("4h", 4 * MS_PER_HOUR), ("24h", 24 * MS_PER_HOUR))


# -- issues: flagged, logged once --------------------------------------------------------------

class FeedIssues:
    """Problems seen by the feed: kept per scan, warned once per (symbol, series, kind) an hour.

    A live loop runs for weeks; an unbounded issue list or a warning every minute for the same
    broken symbol would both be bugs, so the log is rate-limited and the list is per scan.
    """

    def __init__(self, rewarn_ms: int = MS_PER_HOUR) -> None:
        self.rewarn_ms = rewarn_ms
        self._last_warned: dict[tuple[str, str, str], int] = {}
        self.current: dict[str, list[str]] = {}

    def new_scan(self) -> None:
        self.current = {}

    def report(self, symbol: str, series: str, kind: str, detail: str) -> None:
        self.current.setdefault(symbol, []).append(f"{series}:{kind}")
        key = (symbol, series, kind)
        now = int(time.monotonic() * 1000)
        last = self._last_warned.get(key)
        if last is None or now - last >= self.rewarn_ms:
            self._last_warned[key] = now
            logger.warning("live feed {}/{}: {}: {}", symbol, series, kind, detail)

    def for_symbol(self, symbol: str) -> list[str]:
        return self.current.get(symbol, []) + self.current.get("*", [])


# -- parsed rows ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Premium:
    mark: float | None
    index: float | None
    rate: float | None  # Binance's current estimate for the next settlement
    next_ms: int | None
    ts: int | None


@dataclass(frozen=True, slots=True)
class Ticker:
    last: float | None
    change: float | None  # fraction over the rolling 24h
    quote_volume: float | None
    ts: int | None


@dataclass(frozen=True, slots=True)
class FundingInfo:
    interval_h: float | None
    cap: float | None
    floor: float | None


@dataclass(frozen=True)
class Series:
    """A cleaned time series: ascending unique ``ts`` and their values; ``repaired`` if it needed it."""

    ts: list[int]
    values: list[float]
    repaired: bool = False
    gaps: int = 0


def clean_series(rows: Iterable[tuple[Any, Any]], step_ms: int | None, symbol: str, series: str,
                 issues: FeedIssues) -> Series:
    """Drop unparsable rows, sort, keep the last of duplicate times, count gaps (never filled)."""
    parsed: list[tuple[int, float]] = []
    bad = 0
    for ts_raw, value_raw in rows:
        ts, value = finite(ts_raw), finite(value_raw)
        if ts is None or value is None:
            bad += 1
            continue
        parsed.append((int(ts), value))
    repaired = False
    if bad:
        issues.report(symbol, series, "malformed_rows", f"{bad} row(s) without a time or value skipped")
        repaired = True
    if any(parsed[i][0] > parsed[i + 1][0] for i in range(len(parsed) - 1)):
        issues.report(symbol, series, "unsorted", "rows out of time order; sorted")
        parsed.sort(key=lambda r: r[0])  # stable: later duplicates stay later
        repaired = True
    dedup: dict[int, float] = {}
    for ts, value in parsed:
        dedup[ts] = value
    if len(dedup) < len(parsed):
        issues.report(symbol, series, "duplicate_ts", f"{len(parsed) - len(dedup)} duplicate time(s); kept the last")
        repaired = True
    ts_list = sorted(dedup)
    gaps = 0
    if step_ms:
        gaps = sum(1 for a, b in itertools.pairwise(ts_list) if b - a > step_ms * 1.5)
        if gaps:
            issues.report(symbol, series, "gap", f"{gaps} gap(s) in the series; changes across them are unknown")
    return Series(ts_list, [dedup[t] for t in ts_list], repaired, gaps)


@dataclass(frozen=True, slots=True)
class Bar:
    open_ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float | None
    quote_volume: float | None


def clean_klines(rows: Any, now: int, symbol: str, series: str, issues: FeedIssues) -> tuple[list[Bar], bool]:
    """Closed bars (``open_ts + BAR_MS <= now``) from raw kline arrays, cleaned like a series."""
    bars: dict[int, Bar] = {}
    repaired = False
    order: list[int] = []
    if not isinstance(rows, list):
        issues.report(symbol, series, "malformed_payload", f"expected a list of klines, got {type(rows).__name__}")
        return [], True
    for row in rows:
        try:
            ts = finite(row[0])
            o, h, lo, c = (finite(row[i]) for i in (1, 2, 3, 4))
        except (TypeError, IndexError, KeyError):
            ts = None
            o = h = lo = c = None
        if ts is None or None in (o, h, lo, c) or min(o, h, lo, c) <= 0:  # type: ignore[type-var]
            repaired = True
            continue
        bar = Bar(int(ts), o, h, lo, c, finite(row[5]) if len(row) > 5 else None,  # type: ignore[arg-type]
                  finite(row[7]) if len(row) > 7 else None)
        if int(ts) in bars:
            issues.report(symbol, series, "duplicate_ts", f"bar {int(ts)} listed twice; kept the last")
        bars[int(ts)] = bar
        order.append(int(ts))
    if repaired:
        issues.report(symbol, series, "malformed_rows", "klines without a time or a positive OHLC skipped")
    if order != sorted(order):
        issues.report(symbol, series, "unsorted", "klines out of time order; sorted")
        repaired = True
    if len(order) != len(bars):
        repaired = True
    closed = [bars[t] for t in sorted(bars) if t + BAR_MS <= now]
    gaps = sum(1 for a, b in itertools.pairwise(closed) if b.open_ts - a.open_ts > BAR_MS * 1.5)
    if gaps:
        issues.report(symbol, series, "gap", f"{gaps} missing bar stretch(es); changes across them are unknown")
    return closed, repaired


# -- scan results -----------------------------------------------------------------------------

@dataclass
class ScanStats:
    universe: int = 0
    candidates: int = 0
    bulk_weight: int = 0
    deep_weight: int = 0
    bulk_seconds: float = 0.0
    deep_seconds: float = 0.0
    requests: int = 0


@dataclass
class ScanResult:
    ts: int
    snapshots: dict[str, Snapshot]
    candidates: tuple[str, ...]
    issues: dict[str, list[str]]  # symbol ("*" = whole scan) -> "series:kind" flags
    stats: ScanStats


@dataclass(frozen=True)
class PreFilter:
    """Cheap test on bulk data deciding which symbols get the (costly) deep scan."""

    funding_band: float = 0.0005  # |current funding estimate| at or above this (5x the usual 0.01%)
    change_band: float = 0.08  # |24h price change| at or above this
    max_candidates: int = 40

    def __post_init__(self) -> None:
        if self.funding_band < 0 or self.change_band < 0 or self.max_candidates < 0:
            raise ValueError(f"pre-filter bands and max_candidates must be >= 0, got {self}")

    def score(self, premium: Premium | None, ticker: Ticker | None) -> float | None:
        """How interesting a symbol is (None = not a candidate); larger first."""
        rate = premium.rate if premium else None
        change = ticker.change if ticker else None
        hits = []
        if rate is not None and abs(rate) >= self.funding_band:
            hits.append(abs(rate) / max(self.funding_band, 1e-12))
        if change is not None and abs(change) >= self.change_band:
            hits.append(abs(change) / max(self.change_band, 1e-12))
        return max(hits) if hits else None


# -- the source ---------------------------------------------------------------------------------

@dataclass
class _Deep:
    """Raw per-symbol deep-scan results (None = call failed)."""

    oi: Any = None
    oi_hist: Any = None
    long_short: Any = None
    top_position: Any = None
    taker: Any = None
    klines: Any = None
    mark_klines: Any = None
    funding: Any = None
    extra: dict[str, tuple[float | None, float | None, float | None]] = field(default_factory=dict)


class LiveSource:
    """Produces :class:`Snapshot` objects from a ccxt binanceusdm client (and extra venues).

    The clients are built by ``bot.exchange.connect`` and owned (closed) by the caller; see
    :func:`open_live_source`. ``clock`` gives the decision time in ms (wall clock by default;
    tests pass the emulator's clock).
    """

    def __init__(
        self,
        client: Any,
        settings: Settings,
        *,
        extra_clients: Mapping[str, Any] | None = None,
        clock: Callable[[], int] = now_ms,
        prefilter: PreFilter | None = None,
        liquidations: LiquidationAggregator | None = None,
        budget: RequestBudget | None = None,
        concurrency: int = 8,
    ) -> None:
        self.client = client
        self.settings = settings
        self.exchange = settings.exchange.id
        self.extra_clients = dict(extra_clients or {})
        self.clock = clock
        self.prefilter = prefilter or PreFilter()
        self.liquidations = liquidations
        self.budget = budget or RequestBudget(settings.exchange.request_budget_per_minute)
        self.extra_budgets = {name: RequestBudget(settings.exchange.request_budget_per_minute)
                              for name in self.extra_clients}
        self.universe = UniverseTracker(settings.universe)
        self.issues = FeedIssues()
        self._sem = asyncio.Semaphore(max(1, concurrency))
        self._subscribers: list[Callable[[Snapshot], Any]] = []
        self._markets: list[Mapping[str, Any]] = []
        self.last: ScanResult | None = None

    # -- subscribers (journal) ----------------------------------------------------------------

    def subscribe(self, callback: Callable[[Snapshot], Any]) -> None:
        """Call ``callback(snapshot)`` for every snapshot produced, e.g. ``journal.record_observation``.

        A failing subscriber is logged and skipped; it never stops the feed.
        """
        self._subscribers.append(callback)

    async def _publish(self, snapshots: Iterable[Snapshot]) -> None:
        for snap in snapshots:
            for callback in self._subscribers:
                try:
                    result = callback(snap)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception as exc:
                    self.issues.report(snap.symbol, "subscriber", type(exc).__name__, str(exc))

    async def stream(self, cycle_seconds: float | None = None,
                     always: Callable[[], Iterable[str]] | None = None) -> AsyncIterator[ScanResult]:
        """Scan forever, one :class:`ScanResult` per cycle (``engine.cycle_seconds`` by default)."""
        period = cycle_seconds if cycle_seconds is not None else self.settings.engine.cycle_seconds
        while True:
            started = time.monotonic()
            yield await self.scan(always=always() if always else ())
            await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))

    # -- calls -----------------------------------------------------------------------------

    def _headers(self) -> Mapping[str, Any] | None:
        return getattr(self.client, "last_response_headers", None)

    async def _call(self, symbol: str, series: str, endpoint: str, weight: int,
                    fn: Callable[[], Awaitable[Any]], budget: RequestBudget | None = None) -> Any:
        """One request inside the budget; any failure -> None plus one flagged issue."""
        async with self._sem:
            try:
                return await (budget or self.budget).call(endpoint, weight, fn, headers=self._headers)
            except Exception as exc:  # the loop must survive every kind of failure
                self.issues.report(symbol, series, "request_failed", f"{type(exc).__name__}: {exc}")
                return None

    # -- bulk ----------------------------------------------------------------------------------

    async def refresh_universe(self, tickers: Mapping[str, Ticker], always: Iterable[str] = ()) -> UniverseSelection:
        now = self.clock()
        if not self._markets:
            return UniverseSelection((), {})
        if not tickers and self.universe.selection is not None:
            # No volumes this scan (ticker call failed): keep watching the last universe.
            self.issues.report("*", "universe", "kept_previous", "no 24h volumes; previous universe kept")
            return self.universe.selection
        selection = select_universe(self._markets, {s: t.quote_volume for s, t in tickers.items()},
                                    self.settings.universe, always=always)
        if self.universe.due(now) or self.universe.selection is None:
            self.universe.update(selection, now)
        return selection

    async def _ensure_markets(self) -> None:
        """Load (or, when the universe is due, reload) the exchange's markets."""
        if self._markets and not self.universe.due(self.clock()):
            return
        markets = await self._call("*", "markets", "exchangeInfo", endpoint_weight("exchangeInfo"),
                                   lambda: self.client.load_markets(reload=True))
        if isinstance(markets, Mapping) and markets:
            self._markets = list(markets.values())

    def _rows(self, payload: Any, series: str) -> list[Mapping[str, Any]]:
        if payload is None:
            return []
        if isinstance(payload, Mapping):
            payload = [payload]
        if not isinstance(payload, list):
            self.issues.report("*", series, "malformed_payload", f"expected a list, got {type(payload).__name__}")
            return []
        out = []
        for row in payload:
            if isinstance(row, Mapping) and row.get("symbol"):
                out.append(row)
            else:
                self.issues.report("*", series, "malformed_rows", f"row without a symbol skipped: {row!r:.80}")
        return out

    def _parse_premium(self, payload: Any) -> dict[str, Premium]:
        out: dict[str, Premium] = {}
        for row in self._rows(payload, "premiumIndex"):
            sym = str(row["symbol"]).upper()
            rate = finite(row.get("lastFundingRate"))
            if rate is None:
                self.issues.report(sym, "funding", "nan_funding",
                                   f"lastFundingRate is {row.get('lastFundingRate')!r}; funding estimate MISSING")
            nxt = finite(row.get("nextFundingTime"))
            out[sym] = Premium(_positive(row.get("markPrice")), _positive(row.get("indexPrice")), rate,
                               int(nxt) if nxt and nxt > 0 else None, _int(row.get("time")))
        return out

    def _parse_tickers(self, payload: Any) -> dict[str, Ticker]:
        out: dict[str, Ticker] = {}
        for row in self._rows(payload, "ticker24h"):
            pct = finite(row.get("priceChangePercent"))
            out[str(row["symbol"]).upper()] = Ticker(
                _positive(row.get("lastPrice")), pct / 100.0 if pct is not None else None,
                finite(row.get("quoteVolume")), _int(row.get("closeTime")))
        return out

    def _parse_funding_info(self, payload: Any) -> dict[str, FundingInfo]:
        out: dict[str, FundingInfo] = {}
        for row in self._rows(payload, "fundingInfo"):
            interval = finite(row.get("fundingIntervalHours"))
            out[str(row["symbol"]).upper()] = FundingInfo(
                interval if interval and interval > 0 else None,
                finite(row.get("adjustedFundingRateCap")), finite(row.get("adjustedFundingRateFloor")))
        return out

    # -- the scan ------------------------------------------------------------------------------

    async def scan(self, *, always: Iterable[str] = ()) -> ScanResult:
        """One full scan: bulk for the universe, deep for candidates. Never raises for data problems."""
        self.issues.new_scan()
        always = [s.upper() for s in always]
        stats = ScanStats()
        w0, r0 = self.budget.snapshot_counters()
        t0 = time.perf_counter()
        await self._ensure_markets()  # before the heavy ticker call: ccxt's limiter queues behind it
        info_raw, premium_raw, ticker_raw = await asyncio.gather(
            self._call("*", "fundingInfo", "fundingInfo", endpoint_weight("fundingInfo"),
                       self.client.fapiPublicGetFundingInfo),
            self._call("*", "premiumIndex", "premiumIndex", endpoint_weight("premiumIndex", with_symbol=False),
                       self.client.fapiPublicGetPremiumIndex),
            self._call("*", "ticker24h", "ticker/24hr", endpoint_weight("ticker/24hr", with_symbol=False),
                       self.client.fapiPublicGetTicker24hr),
        )
        premium = self._parse_premium(premium_raw)
        tickers = self._parse_tickers(ticker_raw)
        info = self._parse_funding_info(info_raw) if info_raw is not None else None
        selection = await self.refresh_universe(tickers, always)
        now = self.clock()
        for sym in selection.symbols:
            if premium_raw is not None and sym not in premium:
                self.issues.report(sym, "premiumIndex", "missing_symbol", "not in the premiumIndex response")
            if ticker_raw is not None and sym not in tickers:
                self.issues.report(sym, "ticker24h", "missing_symbol", "not in the 24h ticker response")
        stats.universe = len(selection.symbols)
        stats.bulk_seconds = time.perf_counter() - t0
        w1, _r1 = self.budget.snapshot_counters()
        stats.bulk_weight = w1 - w0

        candidates = self.candidates(selection.symbols, premium, tickers, always)
        stats.candidates = len(candidates)
        t1 = time.perf_counter()
        extra_rates = await self._extra_rates(candidates)
        deep = dict(zip(candidates, await asyncio.gather(*(self._deep(s, now, extra_rates) for s in candidates)),
                        strict=True))
        stats.deep_seconds = time.perf_counter() - t1
        w2, r2 = self.budget.snapshot_counters()
        stats.deep_weight = w2 - w1
        stats.requests = r2 - r0

        snapshots: dict[str, Snapshot] = {}
        for sym in selection.symbols:
            try:
                snapshots[sym] = self._build(sym, now, premium.get(sym), tickers.get(sym), info, deep.get(sym))
            except Exception as exc:  # one bad symbol never stops the scan
                self.issues.report(sym, "snapshot", "build_failed", f"{type(exc).__name__}: {exc}")
                snapshots[sym] = Snapshot(symbol=sym, ts=now, exchange=self.exchange)
        result = ScanResult(now, snapshots, tuple(candidates), dict(self.issues.current), stats)
        self.last = result
        await self._publish(snapshots.values())
        return result

    def candidates(self, symbols: Sequence[str], premium: Mapping[str, Premium], tickers: Mapping[str, Ticker],
                   always: Iterable[str] = ()) -> list[str]:
        """Symbols for the deep scan: forced ones first, then by pre-filter score, capped."""
        forced = [s for s in (*always, *(x.upper() for x in self.settings.universe.symbols)) if s in symbols]
        scored = [(score, s) for s in symbols
                  if s not in forced and (score := self.prefilter.score(premium.get(s), tickers.get(s))) is not None]
        scored.sort(key=lambda x: (-x[0], x[1]))
        out = list(dict.fromkeys(forced))
        room = max(0, self.prefilter.max_candidates - len(out))
        return out + [s for _, s in scored[:room]]

    # -- deep scan -------------------------------------------------------------------------------

    async def _deep(self, sym: str, now: int, extra_rates: Mapping[str, Mapping[str, tuple]]) -> _Deep:
        c = self.client
        hist = {"symbol": sym, "period": "1h", "limit": 25}
        latest = {"symbol": sym, "period": "1h", "limit": 2}
        kl = {"symbol": sym, "interval": "1h", "limit": 26}
        results = await asyncio.gather(
            self._call(sym, "oi", "openInterest", 1, lambda: c.fapiPublicGetOpenInterest({"symbol": sym})),
            self._call(sym, "oi_hist", "openInterestHist", 1, lambda: c.fapiDataGetOpenInterestHist(hist)),
            self._call(sym, "long_short", "globalLongShortAccountRatio", 1,
                       lambda: c.fapiDataGetGlobalLongShortAccountRatio(latest)),
            self._call(sym, "top_position", "topLongShortPositionRatio", 1,
                       lambda: c.fapiDataGetTopLongShortPositionRatio(latest)),
            self._call(sym, "taker", "takerlongshortRatio", 1, lambda: c.fapiDataGetTakerlongshortRatio(latest)),
            self._call(sym, "klines", "klines", endpoint_weight("klines", limit=26), lambda: c.fapiPublicGetKlines(kl)),
            self._call(sym, "mark_klines", "markPriceKlines", endpoint_weight("markPriceKlines", limit=2),
                       lambda: c.fapiPublicGetMarkPriceKlines({"symbol": sym, "interval": "1h", "limit": 3})),
            self._call(sym, "funding", "fundingRate", 1,
                       lambda: c.fapiPublicGetFundingRate({"symbol": sym, "limit": 3})),
        )
        deep = _Deep(*results)
        for venue, rates in extra_rates.items():
            rate_row = rates.get(sym)
            if rate_row is None:
                continue
            oi_notional = await self._extra_oi(venue, sym)
            deep.extra[venue] = (rate_row[0], rate_row[1], oi_notional)
        return deep

    async def _extra_rates(self, candidates: Sequence[str]) -> dict[str, dict[str, tuple]]:
        """Current funding per candidate on each extra venue: {venue: {id: (rate, interval_h)}}."""
        out: dict[str, dict[str, tuple]] = {}
        if not candidates:
            return out
        for venue, client in self.extra_clients.items():
            symbols = [_unified(s) for s in candidates]
            raw = await self._call("*", f"funding@{venue}", "fundingRates", 1,
                                   lambda client=client, symbols=symbols: client.fetch_funding_rates(symbols),
                                   self.extra_budgets[venue])
            rows: dict[str, tuple] = {}
            for key, item in (raw or {}).items():
                if not isinstance(item, Mapping):
                    continue
                rate = finite(item.get("fundingRate"))
                interval = _hours(item.get("interval"))
                if rate is not None:
                    rows[ccxt_symbol_to_id(str(item.get("symbol") or key))] = (rate, interval)
            out[venue] = rows
        return out

    async def _extra_oi(self, venue: str, sym: str) -> float | None:
        client = self.extra_clients[venue]
        raw = await self._call(sym, f"oi@{venue}", "openInterest", 1,
                               lambda: client.fetch_open_interest(_unified(sym)), self.extra_budgets[venue])
        if not isinstance(raw, Mapping):
            return None
        value = finite(raw.get("openInterestValue"))
        return value if value is not None and value > 0 else None

    # -- building the snapshot ------------------------------------------------------------------

    def _build(self, sym: str, now: int, prem: Premium | None, tick: Ticker | None,
               info: Mapping[str, FundingInfo] | None, deep: _Deep | None) -> Snapshot:
        f: dict[str, Obs] = {}
        if tick is not None:
            f["last_price"] = observe(tick.last, tick.ts, now, PRICE_MAX_AGE_MS)
            f["quote_volume_24h"] = observe(tick.quote_volume, tick.ts, now, PRICE_MAX_AGE_MS)
            f["price_change_24h"] = observe(tick.change, tick.ts, now, PRICE_MAX_AGE_MS)
        if prem is not None:
            f["mark_price"] = observe(prem.mark, prem.ts, now, PRICE_MAX_AGE_MS)
            f["index_price"] = observe(prem.index, prem.ts, now, PRICE_MAX_AGE_MS)
            f["premium"] = observe(fractional_change(prem.mark, prem.index), prem.ts, now, PRICE_MAX_AGE_MS)
            f["predicted_funding_rate"] = observe(prem.rate, prem.ts, now, PRICE_MAX_AGE_MS)
            f["next_funding_ms"] = observe(float(prem.next_ms) if prem.next_ms else None, prem.ts, now,
                                           PRICE_MAX_AGE_MS)
        interval_h: float | None = None
        if info is not None:
            row = info.get(sym)
            interval_h = row.interval_h if row else DEFAULT_FUNDING_INTERVAL_H
            f["funding_interval_hours"] = Obs(interval_h, now, Quality.FRESH) if interval_h else MISSING
            if row is not None:
                f["funding_cap"] = observe(row.cap, now, now, PRICE_MAX_AGE_MS)
                f["funding_floor"] = observe(row.floor, now, now, PRICE_MAX_AGE_MS)
        if deep is not None:
            self._build_deep(sym, now, deep, prem, interval_h, f)
        if self.liquidations is not None:
            f["liq_long_notional"], f["liq_short_notional"] = self.liquidations.totals(sym, now)
        return Snapshot(symbol=sym, ts=now, exchange=self.exchange, **f)

    def _build_deep(self, sym: str, now: int, d: _Deep, prem: Premium | None, interval_h: float | None,
                    f: dict[str, Obs]) -> None:
        # Last-price klines: candle fields, bar volume, exact-window price changes.
        if d.klines is not None:
            bars, repaired = clean_klines(d.klines, now, sym, "klines", self.issues)
            if bars:
                last = bars[-1]
                close_ts = last.open_ts + BAR_MS
                fix = degrade if repaired else (lambda o: o)
                for name, value in (("bar_open", last.open), ("bar_high", last.high), ("bar_low", last.low),
                                    ("volume", last.volume), ("quote_volume", last.quote_volume)):
                    f[name] = fix(observe(value, close_ts, now, BAR_MAX_AGE_MS))
                closes = [b.close for b in bars]
                close_times = [b.open_ts + BAR_MS for b in bars]
                for label, window in WINDOWS:
                    change, ts = window_change(close_times, closes, window)
                    f[f"price_change_{label}"] = fix(observe(change, ts, now, BAR_MAX_AGE_MS))
        if d.mark_klines is not None and "mark_price" not in f:
            bars, _ = clean_klines(d.mark_klines, now, sym, "mark_klines", self.issues)
            if bars:
                f["mark_price"] = observe(bars[-1].close, bars[-1].open_ts + BAR_MS, now, BAR_MAX_AGE_MS)
        # Last settlement.
        if d.funding is not None:
            s = clean_series(((r.get("fundingTime"), r.get("fundingRate")) for r in _dicts(d.funding)), None,
                             sym, "funding", self.issues)
            if s.ts:
                max_age = int((interval_h or DEFAULT_FUNDING_INTERVAL_H) * MS_PER_HOUR) + BAR_MS
                obs = observe(s.values[-1], s.ts[-1], now, max_age)
                f["funding_rate"] = degrade(obs) if s.repaired else obs
        # Open interest now and its hourly history.
        mark = f.get("mark_price", MISSING).value
        if isinstance(d.oi, Mapping):
            oi = _positive(d.oi.get("openInterest"))
            if oi is None:
                self.issues.report(sym, "oi", "malformed_value", f"openInterest = {d.oi.get('openInterest')!r}")
            ts = _int(d.oi.get("time"))
            f["open_interest"] = observe(oi, ts, now, PRICE_MAX_AGE_MS)
            f["open_interest_notional"] = observe(oi * mark if oi and mark else None, ts, now, PRICE_MAX_AGE_MS)
        if d.oi_hist is not None:
            s = clean_series(((r.get("timestamp"), r.get("sumOpenInterest")) for r in _dicts(d.oi_hist)), BAR_MS,
                             sym, "oi_hist", self.issues)
            for label, window in WINDOWS:
                change, ts = window_change(s.ts, s.values, window)
                obs = observe(change, ts, now, SAMPLE_MAX_AGE_MS)
                f[f"oi_change_{label}"] = degrade(obs) if s.repaired else obs
        # Positioning ratios: the latest published value of each.
        for name, raw, key in (("long_short_account_ratio", d.long_short, "longShortRatio"),
                               ("top_trader_position_ratio", d.top_position, "longShortRatio"),
                               ("taker_buy_sell_ratio", d.taker, "buySellRatio")):
            if raw is None:
                continue
            s = clean_series(((r.get("timestamp"), r.get(key)) for r in _dicts(raw)), None, sym, name, self.issues)
            if s.ts:
                obs = observe(s.values[-1], s.ts[-1], now, SAMPLE_MAX_AGE_MS)
                f[name] = degrade(obs) if s.repaired else obs
        # OI-weighted funding across venues (rates rescaled to this symbol's interval).
        own_rate = prem.rate if prem else None
        own_notional = f.get("open_interest_notional", MISSING).value
        venues = [(own_rate, own_notional)]
        for rate, venue_interval, notional in d.extra.values():
            venues.append((rescale_rate(rate, venue_interval, interval_h), notional))
        weighted = oi_weighted_funding(venues)
        if weighted is not None:
            complete = len(d.extra) == len(self.extra_clients) and all(v[0] is not None and v[1] for v in venues)
            f["oi_weighted_funding"] = Obs(weighted, now, Quality.FRESH if complete else Quality.STALE)


# -- small parsers -------------------------------------------------------------------------------

def _positive(value: Any) -> float | None:
    v = finite(value)
    return v if v is not None and v > 0 else None


def _int(value: Any) -> int | None:
    v = finite(value)
    return int(v) if v is not None else None


def _dicts(payload: Any) -> list[Mapping[str, Any]]:
    if isinstance(payload, Mapping):
        payload = [payload]
    if not isinstance(payload, list):
        return []
    return [r for r in payload if isinstance(r, Mapping)]


def _hours(value: Any) -> float | None:
    """ccxt funding interval ``'8h'`` -> 8.0."""
    if isinstance(value, str) and value.endswith("h"):
        return finite(value[:-1])
    return None


def _unified(symbol_id: str) -> str:
    return f"{symbol_id[:-4]}/USDT:USDT" if symbol_id.endswith("USDT") else symbol_id

