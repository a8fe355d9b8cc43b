"""freqtrade ``download-data`` feather files (Binance USDⓈ-M futures and spot).

Columns are ``date, open, high, low, close, volume`` with ``date`` a tz-aware UTC bar open
time. Four kinds, told apart by the file name:

* ``<PAIR>-<tf>-futures.feather``: last-price klines; ``volume`` in contracts (base units).
* ``<PAIR>-<tf>-mark.feather``: mark-price klines; ``volume`` is always 0 and is ignored.
* ``<PAIR>-<tf>-funding_rate.feather``: one row per settlement; **the rate is in ``open``**,
  ``date`` is ``fundingTime`` (may carry a few ms). The ``<tf>`` is freqtrade's candle type,
  not the funding interval.
* ``<BASE>_<QUOTE>-<tf>.feather`` outside ``futures/``: spot klines.

freqtrade files carry no quote volume: it is left NaN here and estimated downstream as
``volume * close`` (documented in the store).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.feather as feather

from bot.data.series import Funding, Klines, arrow_ts_to_ms
from bot.data.symbols import freqtrade_pair_to_id

FUTURES_RE = re.compile(
    r"^(?P<pair>[A-Z0-9]+_[A-Z0-9]+_[A-Z0-9]+)-(?P<tf>\d+[mhdw])-(?P<kind>futures|mark|funding_rate)\.feather$"
)
SPOT_RE = re.compile(r"^(?P<pair>[A-Z0-9]+_[A-Z0-9]+)-(?P<tf>\d+[mhdw])\.feather$")


@dataclass(frozen=True, slots=True)
class FeatherFile:
    """A discovered freqtrade file: which symbol, which kind (futures/mark/funding_rate/spot), timeframe."""

    path: Path
    symbol: str
    kind: str
    timeframe: str


def classify(path: Path) -> FeatherFile | None:
    """Recognise a freqtrade feather file by name, or None if it is not one."""
    m = FUTURES_RE.match(path.name)
    if m:
        return FeatherFile(path, freqtrade_pair_to_id(m["pair"]), m["kind"], m["tf"])
    m = SPOT_RE.match(path.name)
    if m and path.parent.name != "futures":
        return FeatherFile(path, freqtrade_pair_to_id(m["pair"]), "spot", m["tf"])
    return None


def _read(path: Path, columns: list[str]) -> dict[str, np.ndarray]:
    table = feather.read_table(path, columns=columns, memory_map=False)
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: missing columns {missing} (has {table.column_names})")
    out: dict[str, np.ndarray] = {}
    for name in columns:
        col = table.column(name)
        if name == "date":
            out[name] = arrow_ts_to_ms(col)
        else:
            out[name] = col.to_numpy().astype(np.float64, copy=False)
    return out


def read_klines(path: Path) -> Klines:
    """Last-price, mark or spot klines (for mark, ``volume`` is 0 as freqtrade writes it)."""
    d = _read(path, ["date", "open", "high", "low", "close", "volume"])
    return Klines(
        ts=d["date"], open=d["open"], high=d["high"], low=d["low"], close=d["close"],
        volume=d["volume"], quote_volume=np.full(len(d["date"]), np.nan),
    )


def read_funding(path: Path) -> Funding:
    """Funding settlements: rate from ``open``; no mark price in this format (NaN)."""
    d = _read(path, ["date", "open"])
    return Funding(ts=d["date"], rate=d["open"], mark=np.full(len(d["date"]), np.nan))
