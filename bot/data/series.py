"""Column containers shared by every loader, and the one cleaning pass they all go through.

Times are int64 ms UTC, values float64. Kline ``ts`` are bar **open** times (a bar is known at
``ts + bar_ms``); every other series carries its **publication** time (a funding settlement's
``fundingTime``, the close of an OI/ratio/liquidation interval), so "known at t" is always
``ts <= t`` for them.

Cleaning (:func:`clean`): rows with a missing time are dropped, rows are sorted, duplicate
times keep the last row (the latest download wins). Each fix is reported once to the
:class:`~bot.data.issues.IssueLog`. Gaps are *not* filled; :func:`find_gaps` reports them.

Implausible values (:func:`drop_bad_values`, applied to every file as it is read): NaN means
"unknown" and is allowed where the series allows it, but a value that is present must be usable:

* prices (OHLC, mark at settlement): finite and > 0;
* volumes, open interest, liquidations, positioning ratios: finite and >= 0 (0 is a real value);
* funding rates: finite and ``|rate| <=`` :data:`MAX_ABS_FUNDING_RATE`.

A row with any such value is dropped (not repaired: one corrupt column makes the whole row
suspect) and reported once per file, naming the file, the column and the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TypeVar

import numpy as np
import pyarrow as pa

from bot.data.issues import IssueLog

#: Largest believable |funding rate| per settlement (a fraction). Binance caps USDⓈ-M funding at
#: a few percent per settlement (the -2% floor seen on RIVER in Dec 2025 is among the widest);
#: other venues settle hourly with smaller caps. 10% per settlement is several times any cap,
#: so a rate beyond it is corrupt data (e.g. percent written as a fraction, or 1e9), not a market.
MAX_ABS_FUNDING_RATE = 0.10

EMPTY_I8 = np.empty(0, dtype=np.int64)
EMPTY_F8 = np.empty(0, dtype=np.float64)


def _empty_f8() -> np.ndarray:
    return EMPTY_F8


def _empty_i8() -> np.ndarray:
    return EMPTY_I8


C = TypeVar("C", bound="Columns")


@dataclass(frozen=True)
class Columns:
    """Base for a time series of float columns; subclasses list their columns as fields."""

    ts: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def value_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name != "ts")

    def select(self: C, mask_or_index: np.ndarray) -> C:
        """Rows picked by a boolean mask or an index array (same type back)."""
        kw = {name: getattr(self, name)[mask_or_index] for name in ("ts", *self.value_names())}
        return type(self)(**kw)

    def between(self: C, start_ms: int | None, end_ms: int | None) -> C:
        """Rows with ``start_ms <= ts <= end_ms`` (either bound optional)."""
        if start_ms is None and end_ms is None:
            return self
        lo = 0 if start_ms is None else int(np.searchsorted(self.ts, start_ms, "left"))
        hi = len(self.ts) if end_ms is None else int(np.searchsorted(self.ts, end_ms, "right"))
        return self.select(np.arange(lo, hi))

    @classmethod
    def concat(cls: type[C], parts: list[C]) -> C:
        """Rows of all parts in order (call :func:`clean` afterwards)."""
        names = ("ts", *cls.value_names())
        return cls(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})

    @classmethod
    def empty(cls: type[C]) -> C:
        return cls(ts=EMPTY_I8, **{n: EMPTY_F8 for n in cls.value_names()})


@dataclass(frozen=True)
class Klines(Columns):
    """OHLCV bars; ``ts`` = bar open; ``volume`` in base units; ``quote_volume`` NaN if unknown."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    quote_volume: np.ndarray


@dataclass(frozen=True)
class Funding(Columns):
    """One row per settlement; ``rate`` is a fraction per settlement (NaN = rate unknown)."""

    rate: np.ndarray
    mark: np.ndarray  # mark price at settlement, NaN where the source has none


@dataclass(frozen=True)
class OpenInterest(Columns):
    """OI at publication ``ts``: ``oi`` in contracts (base units), ``notional`` in quote; NaN if unknown."""

    oi: np.ndarray
    notional: np.ndarray


@dataclass(frozen=True)
class Ratios(Columns):
    """Positioning ratios (Binance metrics): account long/short, top-trader position, taker buy/sell."""

    long_short: np.ndarray
    top_position: np.ndarray
    taker_buy_sell: np.ndarray


@dataclass(frozen=True)
class Liquidations(Columns):
    """Liquidated notional (quote) per interval, ``ts`` = interval end; long = longs liquidated."""

    long: np.ndarray
    short: np.ndarray


def to_ms(values: object) -> np.ndarray:
    """Datetime-like column (tz-aware or naive-UTC pandas/numpy) -> int64 ms; NaT -> INT64 min."""
    arr = np.asarray(values)
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr.astype("datetime64[ms]").astype(np.int64)
    return arr.astype(np.int64)


_NAT = np.iinfo(np.int64).min


def arrow_ts_to_ms(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An Arrow timestamp column (any unit, any tz) -> int64 ms UTC; nulls -> INT64 min (dropped by clean)."""
    if not pa.types.is_timestamp(col.type):
        raise ValueError(f"expected a timestamp column, got {col.type}")
    ms = col.cast(pa.timestamp("ms", tz="UTC"), safe=False).cast(pa.int64())
    return ms.fill_null(_NAT).to_numpy().astype(np.int64, copy=False)


def clean(cols: C, symbol: str, series: str, issues: IssueLog | None) -> C:
    """Drop rows without a time, sort by time and keep the last row of each duplicate time.

    ``issues=None`` fixes silently (used when merging an import into existing files, where
    overlapping rows are expected rather than a data problem).
    """
    report = issues.report if issues is not None else (lambda *_: None)
    ts = cols.ts
    if len(ts) == 0:
        return cols
    bad = ts == _NAT
    if bad.any():
        report(symbol, series, "missing_ts", f"{int(bad.sum())} rows without a timestamp dropped")
        cols = cols.select(~bad)
        ts = cols.ts
    if len(ts) > 1 and (np.diff(ts) < 0).any():
        report(symbol, series, "unsorted", "rows were out of time order; sorted")
        cols = cols.select(np.argsort(ts, kind="stable"))
        ts = cols.ts
    if len(ts) > 1:
        dup = np.empty(len(ts), dtype=bool)
        dup[:-1] = ts[1:] == ts[:-1]  # a row followed by the same time is superseded
        dup[-1] = False
        if dup.any():
            report(symbol, series, "duplicate_ts", f"{int(dup.sum())} duplicate timestamps; kept the last")
            cols = cols.select(~dup)
    return cols


def drop_nan_prices(bars: Klines, symbol: str, series: str, issues: IssueLog) -> Klines:
    """Bars without a close cannot be used for anything; drop them (reported once)."""
    bad = np.isnan(bars.close)
    if bad.any():
        issues.report(symbol, series, "nan_price", f"{int(bad.sum())} bars without a close dropped")
        return bars.select(~bad)
    return bars


POSITIVE, NON_NEGATIVE, FUNDING_RATE = "positive", "non_negative", "funding_rate"

#: Container -> value column -> rule a present (non-NaN) value must satisfy.
VALUE_RULES: dict[str, dict[str, str]] = {
    "Klines": {"open": POSITIVE, "high": POSITIVE, "low": POSITIVE, "close": POSITIVE,
               "volume": NON_NEGATIVE, "quote_volume": NON_NEGATIVE},
    "Funding": {"rate": FUNDING_RATE, "mark": POSITIVE},
    "OpenInterest": {"oi": NON_NEGATIVE, "notional": NON_NEGATIVE},
    "Ratios": {"long_short": NON_NEGATIVE, "top_position": NON_NEGATIVE, "taker_buy_sell": NON_NEGATIVE},
    "Liquidations": {"long": NON_NEGATIVE, "short": NON_NEGATIVE},
}
_RULE_TEXT = {POSITIVE: "must be finite and > 0", NON_NEGATIVE: "must be finite and >= 0",
              FUNDING_RATE: f"must be finite with |rate| <= {MAX_ABS_FUNDING_RATE:g} per settlement"}


def _violates(values: np.ndarray, rule: str) -> np.ndarray:
    """Mask of present (non-NaN) values that break ``rule``; NaN stays "unknown", not bad."""
    present = ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        if rule == POSITIVE:
            ok = np.isfinite(values) & (values > 0)
        elif rule == NON_NEGATIVE:
            ok = np.isfinite(values) & (values >= 0)
        else:
            ok = np.isfinite(values) & (np.abs(values) <= MAX_ABS_FUNDING_RATE)
    return present & ~ok


def bad_value_counts(cols: Columns) -> tuple[np.ndarray, dict[str, int]]:
    """(mask of rows to drop, column -> number of bad values) under :data:`VALUE_RULES`."""
    rules = VALUE_RULES.get(type(cols).__name__, {})
    drop = np.zeros(len(cols), dtype=bool)
    counts: dict[str, int] = {}
    for name, rule in rules.items():
        bad = _violates(np.asarray(getattr(cols, name), dtype=np.float64), rule)
        if bad.any():
            counts[name] = int(bad.sum())
            drop |= bad
    return drop, counts


def describe_bad_values(counts: dict[str, int], rows: int, file_columns: dict[str, str] | None = None) -> str:
    """``"2 rows dropped: column 'close' (file column 'close'): 2 values must be finite and > 0"``."""
    rules = {n: r for table in VALUE_RULES.values() for n, r in table.items()}
    parts = []
    for name, n in counts.items():
        label = f"column {name!r}"
        if file_columns and file_columns.get(name, name) != name:
            label += f" (file column {file_columns[name]!r})"
        parts.append(f"{label}: {n} value(s) {_RULE_TEXT[rules[name]]}")
    return f"{rows} rows dropped: " + "; ".join(parts)


def drop_bad_values(cols: C, source: str, symbol: str, series: str, issues: IssueLog | None,
                    file_columns: dict[str, str] | None = None) -> C:
    """Drop rows holding a present but impossible value (see module docstring); report once per file.

    ``source`` is the file the rows came from (named in the warning); ``file_columns`` maps a
    container column to the file's own column name where they differ (freqtrade funding: ``open``).
    """
    if len(cols) == 0:
        return cols
    drop, counts = bad_value_counts(cols)
    if not counts:
        return cols
    if issues is not None:
        issues.report(symbol, series, "bad_value",
                      f"{source}: {describe_bad_values(counts, int(drop.sum()), file_columns)}", source=source)
    return cols.select(~drop)


def infer_step_ms(ts: np.ndarray, default: int) -> int:
    """The series' regular step: the most common positive difference (``default`` if < 2 rows)."""
    if len(ts) < 2:
        return default
    d = np.diff(ts)
    d = d[d > 0]
    if len(d) == 0:
        return default
    values, counts = np.unique(d, return_counts=True)
    return int(values[np.argmax(counts)])


def find_gaps(ts: np.ndarray, step_ms: int) -> list[tuple[int, int]]:
    """Missing stretches as ``(first_missing_ts, last_missing_ts)`` for a regular series."""
    if len(ts) < 2:
        return []
    d = np.diff(ts)
    where = np.nonzero(d > step_ms * 1.5)[0]
    return [(int(ts[i] + step_ms), int(ts[i + 1] - step_ms)) for i in where]
