"""Find market-data files under a folder by their layout, without reading them.

Recognised (any depth below the root, so both ``bot/data/sample`` and a freqtrade
``user_data/data/binance`` folder work):

* derivbot layout: ``<exchange>/<SYMBOL>/{ohlcv_1h,mark_1h,spot_1h,funding,oi,metrics,liquidations}.parquet``
* freqtrade: ``<exchange>/futures/<PAIR>-<tf>-{futures,mark,funding_rate}.feather`` (klines only
  for ``1h``; funding for any ``<tf>``) and spot ``<exchange>/<BASE>_<QUOTE>-1h.feather``
* Bybit price+OI+funding frames: ``*.parquet`` with the PietroC21 columns
* long-format multi-venue files: ``open_interest.parquet``, ``funding_rates.parquet``,
  ``liquidation_volume.parquet``
* Binance daily metrics: ``<SYMBOL>-metrics-YYYY-MM-DD.csv``
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot.data import bybit, freqtrade, layout, metrics, multivenue
from bot.data.symbols import is_symbol_id

#: Lower number wins when two exchanges provide klines for the same symbol id.
PRIORITY = {"layout": 0, "freqtrade": 1, "bybit": 2}
KLINE_TIMEFRAME = "1h"


@dataclass(frozen=True, slots=True)
class Source:
    """One file to load. ``symbol`` is None for multi-symbol (long-format) files."""

    path: Path
    fmt: str  # layout | freqtrade | bybit | multivenue | metrics
    kind: str  # futures/mark/spot/funding_rate (freqtrade), layout stem, multivenue stem, "frame", "metrics"
    symbol: str | None
    exchange: str


def _freqtrade_exchange(path: Path) -> str:
    folder = path.parent.parent if path.parent.name == "futures" else path.parent
    name = folder.name.lower()
    if path.parent.name == "futures" and name == "binance":
        return "binanceusdm"
    return name


def discover(root: Path) -> list[Source]:
    """All recognised files under ``root``, in a deterministic order."""
    out: list[Source] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        here = Path(dirpath)
        for name in sorted(filenames):
            src = _classify(here / name)
            if src is not None:
                out.append(src)
    return out


def _classify(path: Path) -> Source | None:
    name = path.name
    if name.endswith(".feather"):
        ft = freqtrade.classify(path)
        if ft is None:
            return None
        if ft.kind != "funding_rate" and ft.timeframe != KLINE_TIMEFRAME:
            return None
        return Source(path, "freqtrade", ft.kind, ft.symbol, _freqtrade_exchange(path))
    if name.endswith(".csv"):
        sym = metrics.symbol_of(path)
        return Source(path, "metrics", "metrics", sym, "binanceusdm") if sym else None
    if not name.endswith(".parquet"):
        return None
    if path.stem in layout.FILES and is_symbol_id(path.parent.name):
        return Source(path, "layout", path.stem, path.parent.name, path.parent.parent.name)
    kind = multivenue.kind_of(path)
    if kind is not None:
        return Source(path, "multivenue", kind, None, "multivenue")
    if bybit.looks_like_bybit_frame(path):
        return Source(path, "bybit", "frame", None, "bybit")
    return None
