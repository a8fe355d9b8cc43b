"""``MarketStore`` / ``SymbolHistory``: all history of a set of symbols as read-only numpy arrays.

Contract (docs/architecture.md, "market data store"): klines are 1h bars with ``ts`` = bar open
(known at ``ts + bar_ms``); every other series carries its publication time. Arrays are sorted,
de-duplicated (last row wins) and **gaps stay gaps** (reported in ``SymbolHistory.gaps`` and the
store's :class:`~bot.data.issues.IssueLog`, never filled).

Derived values (documented because they are not in the files):

* ``quote_volume = volume * close`` where the source has no quote volume (freqtrade files).
* Open interest: if a source gives only the notional (multi-venue USD) the contracts are
  ``notional / close`` of the last bar closed at the OI's publication time, and vice versa.
  ``sources["oi"]`` says which venue the OI comes from (it can differ from the price venue).
* ``instrument``: see :mod:`bot.data.instruments`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from loguru import logger

from bot.core.instrument import Instrument, ccxt_symbol_to_id
from bot.core.timeutil import MS_PER_HOUR
from bot.data import bybit, freqtrade, layout, metrics, multivenue
from bot.data.discover import PRIORITY, Source, discover
from bot.data.instruments import derive_instrument
from bot.data.issues import IssueLog
from bot.data.series import (
    EMPTY_F8,
    EMPTY_I8,
    Columns,
    Funding,
    Klines,
    Liquidations,
    OpenInterest,
    Ratios,
    bad_value_counts,
    clean,
    describe_bad_values,
    drop_bad_values,
    drop_nan_prices,
    find_gaps,
    infer_step_ms,
)

DEFAULT_BAR_MS = MS_PER_HOUR
PREFERRED_OI_VENUES = ("hyperliquid", "binance", "bybit", "okx")


def _ro(a: np.ndarray) -> np.ndarray:
    """A read-only view: histories are shared between feeds and must not be edited in place."""
    v = a.view()
    v.flags.writeable = False
    return v


@dataclass(eq=False)
class SymbolHistory:
    """Everything known about one symbol. Arrays are numpy, read-only; see module docstring."""

    symbol: str
    exchange: str = "binanceusdm"
    bar_ms: int = DEFAULT_BAR_MS
    ts: np.ndarray = field(default_factory=lambda: EMPTY_I8)
    open: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    high: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    low: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    close: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    volume: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    quote_volume: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    mark_open: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    mark_high: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    mark_low: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    mark_close: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    funding_ts: np.ndarray = field(default_factory=lambda: EMPTY_I8)
    funding_rate: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    funding_mark: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    oi_ts: np.ndarray = field(default_factory=lambda: EMPTY_I8)
    oi: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    oi_notional: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    spot_ts: np.ndarray = field(default_factory=lambda: EMPTY_I8)  # spot bar open times
    spot_close: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    spot_volume: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    spot_quote_volume: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    liq_ts: np.ndarray = field(default_factory=lambda: EMPTY_I8)
    liq_long_notional: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    liq_short_notional: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    ratio_ts: np.ndarray = field(default_factory=lambda: EMPTY_I8)
    long_short_ratio: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    top_position_ratio: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    taker_buy_sell_ratio: np.ndarray = field(default_factory=lambda: EMPTY_F8)
    #: Interval of the OI / ratio / liquidation series (used for freshness), ms.
    oi_interval_ms: int = MS_PER_HOUR
    ratio_interval_ms: int = 5 * 60_000
    liq_interval_ms: int = 24 * MS_PER_HOUR
    #: Funding of other venues (research only): venue -> settlements.
    venue_funding: dict[str, Funding] = field(default_factory=dict)
    #: series -> where it came from, e.g. {"oi": "multivenue:hyperliquid (USD)"}.
    sources: dict[str, str] = field(default_factory=dict)
    #: series -> list of (first_missing_ts, last_missing_ts).
    gaps: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    @functools.cached_property
    def bar_close_ts(self) -> np.ndarray:
        """Publication time of each bar (``ts + bar_ms``)."""
        return _ro(self.ts + self.bar_ms)

    @functools.cached_property
    def instrument(self) -> Instrument:
        median = float(np.median(self.close)) if len(self.close) else None
        onboard = int(self.ts[0]) if len(self.ts) else 0
        return derive_instrument(self.symbol, median, onboard)

    def bars_known_at(self, t_ms: int) -> int:
        """Number of bars closed at ``t_ms`` (bar ``i`` is usable iff ``i < bars_known_at(t)``)."""
        return int(np.searchsorted(self.bar_close_ts, t_ms, "right"))

    def funding_known_at(self, t_ms: int) -> int:
        """Number of settlements with ``funding_ts <= t_ms``."""
        return int(np.searchsorted(self.funding_ts, t_ms, "right"))

    @property
    def series(self) -> dict[str, tuple[np.ndarray, int]]:
        """Present series -> (timestamps, rows) for listings."""
        out: dict[str, tuple[np.ndarray, int]] = {}
        mark_ts = self.ts[~np.isnan(self.mark_close)] if len(self.mark_close) else EMPTY_I8
        for name, ts in (("futures", self.ts), ("mark", mark_ts), ("funding", self.funding_ts),
                         ("spot", self.spot_ts), ("oi", self.oi_ts), ("ratios", self.ratio_ts),
                         ("liquidations", self.liq_ts)):
            if len(ts):
                out[name] = (ts, len(ts))
        return out


class MarketStore:
    """Histories of many symbols, discovered from files by layout (see :mod:`bot.data.discover`)."""

    def __init__(self, histories: dict[str, SymbolHistory], issues: IssueLog | None = None,
                 root: Path | None = None) -> None:
        self._h = dict(sorted(histories.items()))
        self.issues = issues or IssueLog()
        self.root = root

    @property
    def symbols(self) -> list[str]:
        return list(self._h)

    def __getitem__(self, symbol: str) -> SymbolHistory:
        try:
            return self._h[symbol]
        except KeyError:
            raise KeyError(f"no market data for {symbol!r}; have {self.symbols}") from None

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._h

    def __iter__(self) -> Iterator[str]:
        return iter(self._h)

    def __len__(self) -> int:
        return len(self._h)

    def get(self, symbol: str) -> SymbolHistory | None:
        return self._h.get(symbol)

    @classmethod
    def load(cls, path: Path, symbols: Iterable[str] | None = None, start_ms: int | None = None,
             end_ms: int | None = None) -> MarketStore:
        """Load every recognised file under ``path`` (optionally only ``symbols``, rows in [start, end]).

        Raises ``FileNotFoundError`` if ``path`` is not a directory. Unreadable or malformed files
        are skipped with one warning each; requested symbols without data are reported.
        """
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"market data folder not found: {path} (pass --data DIR or create it)")
        wanted = None if symbols is None else {ccxt_symbol_to_id(s) for s in symbols}
        issues = IssueLog()
        parts: dict[str, _Parts] = {}
        multi: list[Source] = []
        for src in discover(path):
            if src.fmt == "multivenue":
                multi.append(src)
                continue
            if src.symbol is not None and wanted is not None and src.symbol not in wanted:
                continue
            try:
                _read_source(src, parts, wanted, issues)
            except Exception as exc:  # one bad file must not stop a load
                issues.report(src.symbol or "*", src.kind, "unreadable_file", f"{src.path}: {exc}")
        for src in multi:
            try:
                _read_multivenue(src, parts, wanted, issues)
            except Exception as exc:
                issues.report("*", src.kind, "unreadable_file", f"{src.path}: {exc}")
        histories = {sym: p.assemble(sym, issues, start_ms, end_ms) for sym, p in parts.items() if p.has_any()}
        if wanted is not None:
            for sym in sorted(wanted - set(histories)):
                issues.report(sym, "*", "missing_symbol", f"no files for {sym} under {path}")
        logger.debug("loaded {} symbols from {}", len(histories), path)
        return cls(histories, issues, path)


@dataclass
class _Parts:
    """Per-symbol pieces found while scanning, grouped by series, before cleaning."""

    futures: dict[str, list[Klines]] = field(default_factory=dict)  # "fmt:exchange" -> parts
    mark: dict[str, list[Klines]] = field(default_factory=dict)
    funding: dict[str, list[Funding]] = field(default_factory=dict)
    spot: list[Klines] = field(default_factory=list)
    oi: dict[str, list[OpenInterest]] = field(default_factory=dict)
    ratios: list[Ratios] = field(default_factory=list)
    liqs: dict[str, list[Liquidations]] = field(default_factory=dict)
    venue_funding: dict[str, list[Funding]] = field(default_factory=dict)
    ext_oi: dict[str, OpenInterest] = field(default_factory=dict)  # multivenue, by venue

    def has_any(self) -> bool:
        return bool(self.futures or self.funding or self.spot or self.oi or self.ratios)

    def assemble(self, symbol: str, issues: IssueLog, start: int | None, end: int | None) -> SymbolHistory:
        h = SymbolHistory(symbol=symbol)
        src_key = _pick_source(self.futures or self.funding, symbol, issues)
        if src_key:
            h.exchange = src_key.split(":", 1)[1]
        fmt_tag = src_key or ""

        def merged(group: dict[str, list], kind: type[Columns], series: str) -> Columns:
            chunks = group.get(fmt_tag) or []
            if not chunks:
                return kind.empty()
            h.sources[series] = fmt_tag
            return clean(kind.concat(chunks), symbol, series, issues).between(start, end)

        bars: Klines = merged(self.futures, Klines, "futures")
        bars = drop_nan_prices(bars, symbol, "futures", issues)
        h.bar_ms = infer_step_ms(bars.ts, DEFAULT_BAR_MS)
        qv = np.where(np.isnan(bars.quote_volume), bars.volume * bars.close, bars.quote_volume)
        h.ts, h.open, h.high, h.low, h.close = bars.ts, bars.open, bars.high, bars.low, bars.close
        h.volume, h.quote_volume = bars.volume, qv
        _report_gaps(h, "futures", bars.ts, h.bar_ms, issues)

        mark: Klines = merged(self.mark, Klines, "mark")
        h.mark_open, h.mark_high, h.mark_low, h.mark_close = _align(mark, bars.ts)
        if len(mark) and len(bars):
            _report_gaps(h, "mark", bars.ts[~np.isnan(h.mark_close)], h.bar_ms, issues)

        fund: Funding = merged(self.funding, Funding, "funding")
        nan_rate = np.isnan(fund.rate)
        if nan_rate.any():
            issues.report(symbol, "funding", "nan_funding",
                          f"{int(nan_rate.sum())} settlements without a rate (replayed as stale/missing)")
        h.funding_ts, h.funding_rate, h.funding_mark = fund.ts, fund.rate, fund.mark

        if self.spot:
            spot = clean(Klines.concat(self.spot), symbol, "spot", issues).between(start, end)
            spot = drop_nan_prices(spot, symbol, "spot", issues)
            h.spot_ts, h.spot_close, h.spot_volume = spot.ts, spot.close, spot.volume
            h.spot_quote_volume = np.where(np.isnan(spot.quote_volume), spot.volume * spot.close, spot.quote_volume)
            h.sources["spot"] = "spot"
            _report_gaps(h, "spot", spot.ts, infer_step_ms(spot.ts, DEFAULT_BAR_MS), issues)

        oi = self._pick_oi(symbol, fmt_tag, h, issues)
        if oi is not None:
            oi = clean(oi, symbol, "oi", issues).between(start, end)
            h.oi_interval_ms = infer_step_ms(oi.ts, MS_PER_HOUR)
            h.oi_ts, h.oi, h.oi_notional = oi.ts, *_complete_oi(oi, h)
            _report_gaps(h, "oi", oi.ts, h.oi_interval_ms, issues)

        if self.ratios:
            r = clean(Ratios.concat(self.ratios), symbol, "ratios", issues).between(start, end)
            h.ratio_ts, h.long_short_ratio = r.ts, r.long_short
            h.top_position_ratio, h.taker_buy_sell_ratio = r.top_position, r.taker_buy_sell
            h.ratio_interval_ms = infer_step_ms(r.ts, 5 * 60_000)
            h.sources["ratios"] = "metrics"

        if self.liqs:
            key = sorted(self.liqs)[0]
            liq = clean(Liquidations.concat(self.liqs[key]), symbol, "liquidations", issues).between(start, end)
            h.liq_ts, h.liq_long_notional, h.liq_short_notional = liq.ts, liq.long, liq.short
            h.liq_interval_ms = infer_step_ms(liq.ts, 24 * MS_PER_HOUR)
            h.sources["liquidations"] = key

        for venue, chunks in sorted(self.venue_funding.items()):
            venue_rows = clean(Funding.concat(chunks), symbol, f"funding:{venue}", issues)
            h.venue_funding[venue] = venue_rows.between(start, end)

        for name in list(vars(h)):
            value = getattr(h, name)
            if isinstance(value, np.ndarray):
                setattr(h, name, _ro(value))
        return h

    def _pick_oi(self, symbol: str, fmt_tag: str, h: SymbolHistory, issues: IssueLog) -> OpenInterest | None:
        if fmt_tag in self.oi:
            h.sources["oi"] = fmt_tag
            return OpenInterest.concat(self.oi[fmt_tag])
        exchange = fmt_tag.split(":", 1)[-1]
        same_venue = sorted(k for k in self.oi if k.split(":", 1)[-1] == exchange or not fmt_tag)
        if same_venue:  # e.g. Binance metrics OI next to freqtrade Binance prices
            h.sources["oi"] = same_venue[0]
            return OpenInterest.concat([c for k in same_venue for c in self.oi[k]])
        if self.oi:
            issues.report(symbol, "oi", "conflicting_source",
                          f"OI from {sorted(self.oi)} does not match the price venue {exchange}; ignored")
        if self.ext_oi:
            venue = next((v for v in PREFERRED_OI_VENUES if v in self.ext_oi), sorted(self.ext_oi)[0])
            h.sources["oi"] = f"multivenue:{venue}"  # USD; contracts = notional / last price
            return self.ext_oi[venue]
        return None


def _pick_source(group: dict[str, list], symbol: str, issues: IssueLog) -> str | None:
    """Which ``fmt:exchange`` provides the prices; others are reported and ignored."""
    if not group:
        return None
    keys = sorted(group, key=lambda k: (PRIORITY.get(k.split(":", 1)[0], 9), k))
    if len(keys) > 1:
        issues.report(symbol, "futures", "conflicting_source",
                      f"prices from {keys}; using {keys[0]} and ignoring the others")
    return keys[0]


def _align(mark: Klines, ts: np.ndarray) -> tuple[np.ndarray, ...]:
    """Mark OHLC on the last-price bar times; NaN where the mark series has no such bar."""
    n = len(ts)
    out = [np.full(n, np.nan) for _ in range(4)]
    if len(mark) == 0 or n == 0:
        return tuple(out)
    idx = np.searchsorted(mark.ts, ts)
    idx_c = np.minimum(idx, len(mark.ts) - 1)
    hit = mark.ts[idx_c] == ts
    for arr, src in zip(out, (mark.open, mark.high, mark.low, mark.close), strict=True):
        arr[hit] = src[idx_c[hit]]
    return tuple(out)


def _complete_oi(oi: OpenInterest, h: SymbolHistory) -> tuple[np.ndarray, np.ndarray]:
    """Fill contracts from notional (or back) with the last close known at each OI publication."""
    contracts, notional = oi.oi.copy(), oi.notional.copy()
    if len(h.ts) == 0 or len(oi) == 0:
        return contracts, notional
    k = np.searchsorted(h.ts + h.bar_ms, oi.ts, "right") - 1
    price = np.where(k >= 0, h.close[np.maximum(k, 0)], np.nan)
    need_c = np.isnan(contracts) & ~np.isnan(notional)
    contracts[need_c] = notional[need_c] / price[need_c]
    need_n = np.isnan(notional) & ~np.isnan(contracts)
    notional[need_n] = contracts[need_n] * price[need_n]
    return contracts, notional


def _report_gaps(h: SymbolHistory, series: str, ts: np.ndarray, step: int, issues: IssueLog) -> None:
    gaps = find_gaps(ts, step)
    if gaps:
        h.gaps[series] = gaps
        missing = sum((b - a) // step + 1 for a, b in gaps)
        issues.report(h.symbol, series, "gap", f"{len(gaps)} gaps, {missing} missing rows (left unfilled)")


#: Container column -> the column it comes from, where a format names it differently (for warnings).
FREQTRADE_FUNDING_COLUMNS = {"rate": "open"}
BYBIT_COLUMNS = {"quote_volume": "turnover", "oi": "open_interest", "notional": "open_interest * close",
                 "rate": "funding_rate"}
METRICS_COLUMNS = {"oi": "sum_open_interest", "notional": "sum_open_interest_value",
                   "long_short": "count_long_short_ratio", "top_position": "sum_toptrader_long_short_ratio",
                   "taker_buy_sell": "sum_taker_long_short_vol_ratio"}
#: freqtrade kind / layout stem -> the series name used in issues and ``h.sources``.
SERIES_OF = {"futures": "futures", "mark": "mark", "funding_rate": "funding", "spot": "spot",
             "ohlcv_1h": "futures", "mark_1h": "mark", "spot_1h": "spot", "funding": "funding", "oi": "oi",
             "metrics": "ratios", "liquidations": "liquidations"}


def _read_source(src: Source, parts: dict[str, _Parts], wanted: set[str] | None,
                 issues: IssueLog | None = None) -> None:
    """Read one file into ``parts``; impossible values are dropped here, where the file is known."""
    tag = f"{src.fmt}:{src.exchange}"
    path = str(src.path)
    if src.fmt == "freqtrade":
        reader = freqtrade.read_funding if src.kind == "funding_rate" else freqtrade.read_klines
        data = reader(src.path)  # read before touching ``parts``: a bad file leaves no trace
        series = SERIES_OF[src.kind]
        columns = FREQTRADE_FUNDING_COLUMNS if src.kind == "funding_rate" else None
        data = drop_bad_values(data, path, src.symbol or "*", series, issues, columns)
        p = parts.setdefault(src.symbol or "", _Parts())
        if src.kind == "futures":
            p.futures.setdefault(tag, []).append(data)
        elif src.kind == "mark":
            p.mark.setdefault(tag, []).append(data)
        elif src.kind == "funding_rate":
            p.funding.setdefault(tag, []).append(data)
        elif src.kind == "spot":
            p.spot.append(data)
    elif src.fmt == "layout":
        cols = layout.read(src.path)
        cols = drop_bad_values(cols, path, src.symbol or "*", SERIES_OF.get(src.kind, src.kind), issues)
        p = parts.setdefault(src.symbol or "", _Parts())
        target = {"ohlcv_1h": p.futures, "mark_1h": p.mark, "funding": p.funding, "oi": p.oi,
                  "liquidations": p.liqs}.get(src.kind)
        if target is not None:
            target.setdefault(tag, []).append(cols)
        elif src.kind == "spot_1h":
            p.spot.append(cols)
        elif src.kind == "metrics":
            p.ratios.append(cols)
    elif src.fmt == "bybit":
        frame = bybit.read_bybit_frame(src.path)
        if wanted is not None and frame.symbol not in wanted:
            return
        sym = frame.symbol
        p = parts.setdefault(sym, _Parts())
        p.futures.setdefault(tag, []).append(drop_bad_values(frame.klines, path, sym, "futures", issues,
                                                             BYBIT_COLUMNS))
        p.funding.setdefault(tag, []).append(drop_bad_values(frame.funding, path, sym, "funding", issues,
                                                             BYBIT_COLUMNS))
        p.oi.setdefault(tag, []).append(drop_bad_values(frame.open_interest, path, sym, "oi", issues,
                                                        BYBIT_COLUMNS))
    elif src.fmt == "metrics":
        oi, ratios = metrics.read_metrics(src.path)
        sym = src.symbol or "*"
        p = parts.setdefault(src.symbol or "", _Parts())
        p.oi.setdefault(tag, []).append(drop_bad_values(oi, path, sym, "oi", issues, METRICS_COLUMNS))
        p.ratios.append(drop_bad_values(ratios, path, sym, "ratios", issues, METRICS_COLUMNS))


class _FileCheck:
    """Drops impossible values from the many (symbol, venue) pieces of one long-format file and
    reports them once for the whole file (one warning per file, not one per coin)."""

    def __init__(self, path: Path, series: str, file_columns: dict[str, str]) -> None:
        self.path, self.series, self.file_columns = path, series, file_columns
        self.rows = 0
        self.counts: dict[str, int] = {}

    def __call__(self, cols: Columns) -> Columns:
        drop, counts = bad_value_counts(cols)
        if not counts:
            return cols
        self.rows += int(drop.sum())
        for name, n in counts.items():
            self.counts[name] = self.counts.get(name, 0) + n
        return cols.select(~drop)

    def report(self, issues: IssueLog | None) -> None:
        if self.counts and issues is not None:
            issues.report("*", self.series, "bad_value",
                          f"{self.path}: {describe_bad_values(self.counts, self.rows, self.file_columns)}",
                          source=str(self.path))


def _read_multivenue(src: Source, parts: dict[str, _Parts], wanted: set[str] | None,
                     issues: IssueLog | None = None) -> None:
    """Attach multi-venue series to symbols that already have data (they carry no prices)."""
    def use(sym: str) -> bool:
        return sym in parts and (wanted is None or sym in wanted)

    if src.kind == "open_interest":
        check = _FileCheck(src.path, "oi", {"notional": "oi_usd"})
        for (sym, venue), oi in multivenue.read_open_interest(src.path).items():
            if use(sym):
                parts[sym].ext_oi[venue] = check(oi)
    elif src.kind == "funding_rates":
        check = _FileCheck(src.path, "funding", {"rate": "funding_rate"})
        for (sym, venue), fr in multivenue.read_funding(src.path).items():
            if use(sym):
                parts[sym].venue_funding.setdefault(venue, []).append(check(fr))
    elif src.kind == "liquidation_volume":
        check = _FileCheck(src.path, "liquidations", {"long": "long_usd", "short": "short_usd"})
        for sym, liq in multivenue.read_liquidations(src.path).items():
            if use(sym):
                parts[sym].liqs.setdefault("multivenue:hyperliquid", []).append(check(liq))
    else:
        return
    check.report(issues)
