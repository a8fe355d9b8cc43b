"""Binance's public daily ``metrics`` CSVs (data.binance.vision ``futures/um/daily/metrics``).

One file per symbol and day, ``<SYMBOL>-metrics-YYYY-MM-DD.csv``, 5-minute rows::

    create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,
    sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio

Mapping: ``sum_open_interest`` -> OI in contracts, ``sum_open_interest_value`` -> OI notional
(USDT), ``count_long_short_ratio`` -> account long/short ratio, ``sum_toptrader_long_short_ratio``
-> top-trader position ratio, ``sum_taker_long_short_vol_ratio`` -> taker buy/sell volume ratio.

``create_time`` (UTC, ``YYYY-MM-DD HH:MM:SS``) stamps a 5-minute statistic; whether it marks the
start or the end of the period is not documented, so rows are treated as **published at
``create_time + 5 min``** (never earlier than they could be known). Unparseable values become
NaN (reported by the store), never zero.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bot.core.timeutil import MS_PER_MINUTE
from bot.data.series import OpenInterest, Ratios, to_ms

COLUMNS = (
    "create_time", "symbol", "sum_open_interest", "sum_open_interest_value",
    "count_toptrader_long_short_ratio", "sum_toptrader_long_short_ratio", "count_long_short_ratio",
    "sum_taker_long_short_vol_ratio",
)
FILE_RE = re.compile(r"^(?P<symbol>[A-Z0-9]+)-metrics-\d{4}-\d{2}-\d{2}\.csv$")
PUBLICATION_DELAY_MS = 5 * MS_PER_MINUTE


def symbol_of(path: Path) -> str | None:
    m = FILE_RE.match(path.name)
    return m["symbol"] if m else None


def read_metrics(path: Path) -> tuple[OpenInterest, Ratios]:
    """OI and positioning ratios of one daily CSV (raises ValueError on a wrong header)."""
    import pandas as pd  # here, not at import: loading a store without metrics CSVs needs no pandas (issue 12)

    df = pd.read_csv(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not a Binance metrics CSV, missing columns {missing}")
    times = pd.to_datetime(df["create_time"], utc=True, errors="coerce")
    ts = to_ms(times.to_numpy(dtype="datetime64[ns]")) + PUBLICATION_DELAY_MS
    ts[times.isna().to_numpy()] = np.iinfo(np.int64).min  # dropped (and reported) by clean()

    def num(name: str) -> np.ndarray:
        return pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    oi = OpenInterest(ts=ts, oi=num("sum_open_interest"), notional=num("sum_open_interest_value"))
    ratios = Ratios(ts=ts.copy(), long_short=num("count_long_short_ratio"),
                    top_position=num("sum_toptrader_long_short_ratio"),
                    taker_buy_sell=num("sum_taker_long_short_vol_ratio"))
    return oi, ratios
