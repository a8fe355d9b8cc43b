"""Convert any recognised history (freqtrade feather, Binance metrics CSV, Bybit frames, our own
layout) into derivbot's parquet layout (:mod:`bot.data.layout`).

It goes through :meth:`MarketStore.load`, so an import applies exactly the cleaning a replay
would (sort, de-duplicate, report gaps) and the result loads back to the same arrays.
Multi-venue research extras (``venue_funding``) are not exported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.data import layout
from bot.data.series import Columns, Funding, Klines, Liquidations, OpenInterest, Ratios
from bot.data.store import MarketStore, SymbolHistory


@dataclass(frozen=True, slots=True)
class ImportedFile:
    symbol: str
    path: Path
    rows: int


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def history_tables(h: SymbolHistory) -> dict[str, Columns]:
    """Layout stem -> rows to write for one symbol (only the series it has)."""
    out: dict[str, Columns] = {}
    if len(h.ts):
        out["ohlcv_1h"] = Klines(h.ts, h.open, h.high, h.low, h.close, h.volume, h.quote_volume)
        has_mark = ~np.isnan(h.mark_close)
        if has_mark.any():
            n = int(has_mark.sum())
            out["mark_1h"] = Klines(h.ts[has_mark], h.mark_open[has_mark], h.mark_high[has_mark],
                                    h.mark_low[has_mark], h.mark_close[has_mark], _nan(n), _nan(n))
    if len(h.spot_ts):
        n = len(h.spot_ts)
        out["spot_1h"] = Klines(h.spot_ts, _nan(n), _nan(n), _nan(n), h.spot_close, h.spot_volume,
                                h.spot_quote_volume)
    if len(h.funding_ts):
        out["funding"] = Funding(h.funding_ts, h.funding_rate, h.funding_mark)
    if len(h.oi_ts):
        out["oi"] = OpenInterest(h.oi_ts, h.oi, h.oi_notional)
    if len(h.ratio_ts):
        out["metrics"] = Ratios(h.ratio_ts, h.long_short_ratio, h.top_position_ratio, h.taker_buy_sell_ratio)
    if len(h.liq_ts):
        out["liquidations"] = Liquidations(h.liq_ts, h.liq_long_notional, h.liq_short_notional)
    return out


def import_history(src: Path, dst: Path, symbols: Iterable[str] | None = None) -> list[ImportedFile]:
    """Load everything under ``src`` and merge it into the layout under ``dst``."""
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError(f"--from and --to are the same folder ({src}); import into a different one")
    store = MarketStore.load(src, symbols=symbols)
    written: list[ImportedFile] = []
    for symbol in store.symbols:
        h = store[symbol]
        folder = layout.symbol_dir(dst, h.exchange, symbol)
        for stem, cols in history_tables(h).items():
            path = folder / f"{stem}.parquet"
            rows = layout.write(path, cols)
            written.append(ImportedFile(symbol, path, rows))
    return written
