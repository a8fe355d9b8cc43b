"""derivbot's own normalised parquet layout (written by ``derivbot data import``).

::

    <root>/<exchange>/<SYMBOL>/ohlcv_1h.parquet      ts, open, high, low, close, volume, quote_volume
    <root>/<exchange>/<SYMBOL>/mark_1h.parquet       ts, open, high, low, close
    <root>/<exchange>/<SYMBOL>/spot_1h.parquet       ts, open, high, low, close, volume, quote_volume
    <root>/<exchange>/<SYMBOL>/funding.parquet       ts, rate, mark
    <root>/<exchange>/<SYMBOL>/oi.parquet            ts, oi, notional
    <root>/<exchange>/<SYMBOL>/metrics.parquet       ts, long_short, top_position, taker_buy_sell
    <root>/<exchange>/<SYMBOL>/liquidations.parquet  ts, long, short

``ts`` is int64 ms UTC: the bar **open** for the ``*_1h`` files, the **publication** time for
the others. Values are float64, NaN where unknown. Files are written atomically (temp file +
rename) and merged with what is already there (new rows win on equal ``ts``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bot.data.issues import IssueLog
from bot.data.series import Columns, Funding, Klines, Liquidations, OpenInterest, Ratios, clean

#: file stem -> container type
FILES: dict[str, type[Columns]] = {
    "ohlcv_1h": Klines,
    "mark_1h": Klines,
    "spot_1h": Klines,
    "funding": Funding,
    "oi": OpenInterest,
    "metrics": Ratios,
    "liquidations": Liquidations,
}
_MARK_DROP = ("volume", "quote_volume")


def symbol_dir(root: Path, exchange: str, symbol: str) -> Path:
    return root / exchange / symbol


def is_symbol_dir(path: Path) -> bool:
    return path.is_dir() and any((path / f"{stem}.parquet").is_file() for stem in FILES)


def read(path: Path) -> Columns:
    """Read one layout file into its container (missing value columns become NaN)."""
    kind = FILES.get(path.stem)
    if kind is None:
        raise ValueError(f"{path}: unknown layout file (expected one of {sorted(FILES)})")
    table = pq.read_table(path)
    if "ts" not in table.column_names:
        raise ValueError(f"{path}: no 'ts' column")
    ts = table.column("ts").to_numpy().astype(np.int64, copy=False)
    kw: dict[str, np.ndarray] = {"ts": ts}
    for name in kind.value_names():
        if name in table.column_names:
            kw[name] = table.column(name).to_numpy().astype(np.float64, copy=False)
        else:
            kw[name] = np.full(len(ts), np.nan)
    return kind(**kw)


def write(path: Path, cols: Columns, issues: IssueLog | None = None) -> int:
    """Merge ``cols`` into the file at ``path`` (new rows win) and write it atomically; returns rows.

    Overlap with the existing file is expected on re-import and is merged silently unless an
    ``issues`` log is given.
    """
    if path.exists():
        cols = type(cols).concat([read(path), cols])
    cols = clean(cols, path.parent.name, path.stem, issues)
    names = [n for n in cols.value_names() if not (path.stem == "mark_1h" and n in _MARK_DROP)]
    arrays = {"ts": pa.array(cols.ts, pa.int64())}
    arrays |= {n: pa.array(getattr(cols, n), pa.float64()) for n in names}
    table = pa.table(arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return len(cols)
