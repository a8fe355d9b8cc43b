"""PietroC21 Bybit hourly frames: price + open interest + funding of one linear perp in one file.

Source columns (index ``timestamp``, tz-aware UTC, hourly): ``symbol, open, high, low, close,
volume`` (base), ``turnover`` (USDT), ``typical_price, tp_x_vol`` (ignored), ``open_interest``
(base units), ``funding_rate`` (per 8h settlement, **forward-filled to every hour**).

What is read directly and what is inferred:

* Klines: ``timestamp`` is the bar open; ``turnover`` is the quote volume. Rows without a
  price (the frame starts where OI or funding starts) are dropped by the store's cleaning.
* Open interest: the hourly value at ``timestamp``. We do not know whether Bybit's number is
  the OI at the start or the end of the hour, so it is treated as **published at
  ``timestamp + 1h``** (the close of its interval): never earlier than it could be known.
  ``notional = open_interest * close`` of the same hourly bar (also known at ``timestamp + 1h``).
* Funding settlements are **inferred**: a settlement row is emitted at every row on Bybit's 8h
  grid (00/08/16 UTC) and at every row where the forward-filled rate changes off that grid (an
  interval change). Two equal consecutive rates on the grid are both emitted (indistinguishable
  from one rate carried forward, which is what forward-filling means). The rate is taken as
  known at the settlement time; no mark price at settlement is available (NaN).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from bot.core.timeutil import MS_PER_HOUR
from bot.data.series import Funding, Klines, OpenInterest, arrow_ts_to_ms
from bot.data.symbols import coin_to_id

REQUIRED = ("open", "high", "low", "close", "volume", "turnover", "open_interest", "funding_rate")
SETTLEMENT_GRID_MS = 8 * MS_PER_HOUR
OI_PUBLICATION_DELAY_MS = MS_PER_HOUR


@dataclass(frozen=True)
class BybitFrame:
    symbol: str
    klines: Klines
    open_interest: OpenInterest
    funding: Funding


def looks_like_bybit_frame(path: Path) -> bool:
    """True for a parquet file whose schema has the PietroC21 columns."""
    try:
        names = set(pq.read_schema(path).names)
    except Exception:  # unreadable files are reported by the loader that tries to use them
        return False
    return set(REQUIRED) <= names


def infer_settlements(ts: np.ndarray, rate: np.ndarray) -> Funding:
    """Settlement rows from an hourly forward-filled funding column (see module docstring)."""
    valid = ~np.isnan(rate)
    on_grid = (ts % SETTLEMENT_GRID_MS) == 0
    changed = np.zeros(len(ts), dtype=bool)
    if len(ts) > 1:
        changed[1:] = rate[1:] != rate[:-1]
    keep = valid & (on_grid | changed)
    return Funding(ts=ts[keep], rate=rate[keep], mark=np.full(int(keep.sum()), np.nan))


def read_bybit_frame(path: Path) -> BybitFrame:
    table = pq.read_table(path)
    names = table.column_names
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ValueError(f"{path}: not a Bybit price+OI+funding frame, missing columns {missing}")
    time_col = "timestamp" if "timestamp" in names else ("__index_level_0__" if "__index_level_0__" in names else None)
    if time_col is None:
        raise ValueError(f"{path}: no 'timestamp' column or index")
    ts = arrow_ts_to_ms(table.column(time_col))

    def col(name: str) -> np.ndarray:
        return table.column(name).to_numpy().astype(np.float64, copy=False)

    symbol = ""
    if "symbol" in names and table.num_rows:
        values = {v for v in table.column("symbol").to_pylist() if v}
        if len(values) > 1:
            raise ValueError(f"{path}: several symbols in one frame: {sorted(values)}")
        symbol = values.pop() if values else ""
    if not symbol:
        symbol = coin_to_id(path.name.split("_")[1] if path.name.startswith("bybit_") else path.name.split("_")[0])

    close = col("close")
    oi = col("open_interest")
    klines = Klines(ts=ts, open=col("open"), high=col("high"), low=col("low"), close=close,
                    volume=col("volume"), quote_volume=col("turnover"))
    has_oi = ~np.isnan(oi)
    open_interest = OpenInterest(ts=ts[has_oi] + OI_PUBLICATION_DELAY_MS, oi=oi[has_oi],
                                 notional=(oi * close)[has_oi])
    return BybitFrame(symbol=symbol.upper(), klines=klines, open_interest=open_interest,
                      funding=infer_settlements(ts, col("funding_rate")))
