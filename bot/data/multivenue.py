"""Long-format multi-venue parquet files (0xknxwledge): ``timestamp, venue, coin, <value>``.

* ``open_interest.parquet`` — ``oi_usd`` per venue, hourly (Hyperliquid, Lighter); treated as
  published at ``timestamp + 1h`` (the interval's close; conservative, as for Bybit).
  Contracts are not in the file: the store derives them from the symbol's last price.
* ``funding_rates.parquet`` — ``funding_rate`` per settlement as each venue publishes it
  (Binance/Bybit/OKX per 8h, Hyperliquid/Lighter/dYdX/Kraken hourly); ``timestamp`` is the
  settlement. Rates are per each venue's own interval, not normalised.
* ``liquidation_volume.parquet`` — daily ``long_usd, short_usd`` (Hyperliquid); ``timestamp``
  is the day start, so a row is **published at the day's end** (``timestamp + 1d``).

Coins map to USDT perpetual ids (``BTC`` -> ``BTCUSDT``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from bot.core.timeutil import MS_PER_DAY, MS_PER_HOUR
from bot.data.series import Funding, Liquidations, OpenInterest, arrow_ts_to_ms
from bot.data.symbols import coin_to_id

KINDS = {
    "open_interest.parquet": ("timestamp", "venue", "coin", "oi_usd"),
    "funding_rates.parquet": ("timestamp", "venue", "coin", "funding_rate"),
    "liquidation_volume.parquet": ("timestamp", "coin", "long_usd", "short_usd"),
}
OI_PUBLICATION_DELAY_MS = MS_PER_HOUR
LIQ_PUBLICATION_DELAY_MS = MS_PER_DAY


def kind_of(path: Path) -> str | None:
    """``open_interest`` / ``funding_rates`` / ``liquidation_volume`` if the file has that schema."""
    cols = KINDS.get(path.name)
    if cols is None:
        return None
    try:
        names = set(pq.read_schema(path).names)
    except Exception:
        return None
    return path.stem if set(cols) <= names else None


def _read(path: Path, columns: tuple[str, ...]) -> dict[str, np.ndarray]:
    table = pq.read_table(path, columns=list(columns))
    out: dict[str, np.ndarray] = {}
    for name in columns:
        col = table.column(name)
        if name == "timestamp":
            out[name] = arrow_ts_to_ms(col)
        elif name in ("venue", "coin"):
            out[name] = np.asarray(col.to_pylist(), dtype=object)
        else:
            out[name] = col.to_numpy().astype(np.float64, copy=False)
    return out


def read_open_interest(path: Path) -> dict[tuple[str, str], OpenInterest]:
    """``{(symbol, venue): OpenInterest}`` with ``notional`` in USD and ``oi`` NaN (unknown)."""
    d = _read(path, KINDS["open_interest.parquet"])
    out: dict[tuple[str, str], OpenInterest] = {}
    for coin, venue in sorted(set(zip(d["coin"], d["venue"], strict=True))):
        m = (d["coin"] == coin) & (d["venue"] == venue)
        n = int(m.sum())
        out[(coin_to_id(coin), str(venue))] = OpenInterest(
            ts=d["timestamp"][m] + OI_PUBLICATION_DELAY_MS, oi=np.full(n, np.nan), notional=d["oi_usd"][m])
    return out


def read_funding(path: Path) -> dict[tuple[str, str], Funding]:
    """``{(symbol, venue): Funding}``, raw per-settlement rates of each venue."""
    d = _read(path, KINDS["funding_rates.parquet"])
    out: dict[tuple[str, str], Funding] = {}
    for coin, venue in sorted(set(zip(d["coin"], d["venue"], strict=True))):
        m = (d["coin"] == coin) & (d["venue"] == venue)
        out[(coin_to_id(coin), str(venue))] = Funding(
            ts=d["timestamp"][m], rate=d["funding_rate"][m], mark=np.full(int(m.sum()), np.nan))
    return out


def read_liquidations(path: Path) -> dict[str, Liquidations]:
    """``{symbol: Liquidations}``: daily long/short liquidated USD, ``ts`` = end of the day."""
    d = _read(path, KINDS["liquidation_volume.parquet"])
    out: dict[str, Liquidations] = {}
    for coin in sorted(set(d["coin"])):
        m = d["coin"] == coin
        out[coin_to_id(coin)] = Liquidations(
            ts=d["timestamp"][m] + LIQ_PUBLICATION_DELAY_MS, long=d["long_usd"][m], short=d["short_usd"][m])
    return out
