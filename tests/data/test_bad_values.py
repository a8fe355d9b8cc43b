"""Issue 16, item 12: impossible market values are dropped and reported, in every file format.

Each file is small and hand-made, so the expected survivors are worked out by hand from the
rules in ``bot.data.series`` (prices finite and > 0; volumes, OI, liquidations, ratios finite
and >= 0; |funding rate| <= 10% per settlement; NaN stays "unknown"). The emulator test then
asks a real HTTP server for the same history and checks no dropped value is ever served.
"""

from __future__ import annotations

import math
from pathlib import Path

import aiohttp
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.data.series import MAX_ABS_FUNDING_RATE
from bot.data.store import MarketStore
from tests.data.helpers import captured_warnings

T0 = to_ms("2025-01-01T00:00:00Z")
H = MS_PER_HOUR
INF = math.inf
NAN = math.nan


def _bad_value_warnings(messages: list[str]) -> list[str]:
    return [m for m in messages if "bad_value" in m]


def _layout_dir(root: Path, symbol: str = "AAAUSDT") -> Path:
    d = root / "binanceusdm" / symbol
    d.mkdir(parents=True, exist_ok=True)
    return d


def _write_parquet(path: Path, columns: dict[str, list]) -> Path:
    arrays = {k: pa.array(v, pa.int64() if k == "ts" else pa.float64()) for k, v in columns.items()}
    pq.write_table(pa.table(arrays), path)
    return path


def write_bad_layout(root: Path) -> dict[str, Path]:
    """Ten hourly bars, five funding settlements and five OI rows; the bad rows are marked."""
    d = _layout_dir(root)
    ts = [T0 + i * H for i in range(10)]
    good = [10.0] * 4  # bars 6..9 are clean, so the hourly step still dominates after the drops
    paths = {
        "ohlcv": _write_parquet(d / "ohlcv_1h.parquet", {
            "ts": ts,
            #        ok    close<0  close=0  high=inf  ok   volume<0
            "open": [10.0, 10.0, 10.0, 10.0, 10.0, 10.0, *good],
            "high": [11.0, 11.0, 11.0, INF, 11.0, 11.0, *good],
            "low": [9.0, 9.0, 9.0, 9.0, 9.0, 9.0, *good],
            "close": [10.5, -3.0, 0.0, 10.5, 10.6, 10.7, *good],
            "volume": [100.0, 100.0, 100.0, 100.0, 0.0, -5.0, *good],
            "quote_volume": [1000.0, 1000.0, 1000.0, 1000.0, 0.0, 1000.0, *good],
        }),
        "funding": _write_parquet(d / "funding.parquet", {
            "ts": [T0 + i * 8 * H for i in range(5)],
            #        ok      1e9   -inf   exactly the bound (kept)   just past the bound
            "rate": [0.0001, 1e9, -INF, -MAX_ABS_FUNDING_RATE, 0.1000001],
            "mark": [10.0, 10.0, 10.0, 10.0, 10.0],
        }),
        "oi": _write_parquet(d / "oi.parquet", {
            "ts": [T0 + (i + 1) * H for i in range(5)],
            #      ok     negative  inf   NaN (unknown, kept)  zero (kept)
            "oi": [500.0, -1.0, INF, NAN, 0.0],
            "notional": [5000.0, 5000.0, 5000.0, 5000.0, 0.0],
        }),
    }
    return paths


def test_layout_parquet_drops_impossible_values_and_warns_once_per_file(tmp_path: Path) -> None:
    paths = write_bad_layout(tmp_path)
    with captured_warnings() as messages:
        store = MarketStore.load(tmp_path)
    h = store["AAAUSDT"]
    # bars 1 (close -3), 2 (close 0), 3 (high inf) and 5 (volume -5) go; 0, 4 (volume 0) and 6..9 stay
    assert h.ts.tolist() == [T0, T0 + 4 * H, *(T0 + i * H for i in range(6, 10))]
    assert h.close.tolist() == [10.5, 10.6, 10.0, 10.0, 10.0, 10.0]
    assert h.volume.tolist() == [100.0, 0.0, 10.0, 10.0, 10.0, 10.0]
    # settlements 1 (1e9), 2 (-inf) and 4 (past 10%) go; 0 and 3 (exactly -10%) stay
    assert h.funding_ts.tolist() == [T0, T0 + 24 * H]
    assert h.funding_rate.tolist() == [0.0001, -0.10]
    # OI rows 1 (negative) and 2 (inf) go; NaN and 0 stay
    assert h.oi_ts.tolist() == [T0 + H, T0 + 4 * H, T0 + 5 * H]
    assert h.oi[0] == 500.0 and h.oi[2] == 0.0

    warnings = _bad_value_warnings(messages)
    assert len(warnings) == 3, warnings
    by_file = {name: next(w for w in warnings if str(p) in w) for name, p in paths.items()}
    assert "4 rows dropped" in by_file["ohlcv"]
    assert "column 'close': 2 value(s) must be finite and > 0" in by_file["ohlcv"]
    assert "column 'high': 1 value(s)" in by_file["ohlcv"]
    assert "column 'volume': 1 value(s) must be finite and >= 0" in by_file["ohlcv"]
    assert "3 rows dropped" in by_file["funding"] and "column 'rate': 3 value(s)" in by_file["funding"]
    assert "|rate| <= 0.1" in by_file["funding"]
    assert "2 rows dropped" in by_file["oi"] and "column 'oi': 2 value(s)" in by_file["oi"]


def test_clean_files_raise_no_bad_value_warning(tmp_path: Path) -> None:
    d = _layout_dir(tmp_path)
    _write_parquet(d / "ohlcv_1h.parquet", {"ts": [T0, T0 + H], "open": [1.0, 1.0], "high": [1.0, 1.0],
                                            "low": [1.0, 1.0], "close": [1.0, 1.0], "volume": [0.0, 2.0],
                                            "quote_volume": [NAN, 2.0]})
    with captured_warnings() as messages:
        store = MarketStore.load(tmp_path)
    assert len(store["AAAUSDT"].ts) == 2
    assert _bad_value_warnings(messages) == []


def test_the_same_problem_in_two_files_is_reported_for_each_file(tmp_path: Path) -> None:
    """Binance metrics come one CSV per day: a bad value in two days is two warnings (one per file)."""
    header = ("create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,"
              "sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio\n")
    paths = []
    for day in ("2025-01-01", "2025-01-02"):
        p = tmp_path / f"AAAUSDT-metrics-{day}.csv"
        p.write_text(header
                     + f"{day} 00:00:00,AAAUSDT,100,1000,1.0,1.1,1.2,0.9\n"
                     + f"{day} 00:05:00,AAAUSDT,-7,1000,1.0,1.1,1.2,0.9\n"
                     + f"{day} 00:10:00,AAAUSDT,100,inf,1.0,-1.1,1.2,0.9\n")
        paths.append(p)
    d = _layout_dir(tmp_path)  # metrics attach to a symbol with prices
    _write_parquet(d / "ohlcv_1h.parquet", {"ts": [T0], "open": [1.0], "high": [1.0], "low": [1.0],
                                            "close": [1.0], "volume": [1.0], "quote_volume": [1.0]})
    with captured_warnings() as messages:
        store = MarketStore.load(tmp_path)
    h = store["AAAUSDT"]
    # per day: OI row 2 (-7) and row 3 (inf notional) dropped; ratios row 3 (top_position -1.1) dropped
    assert h.oi.tolist() == [100.0, 100.0]
    assert len(h.ratio_ts) == 4
    oi_warnings = [w for w in _bad_value_warnings(messages) if "AAAUSDT/oi" in w]
    assert len(oi_warnings) == 2
    for p, w in zip(paths, oi_warnings, strict=True):
        assert str(p) in w and "2 rows dropped" in w
        assert "column 'oi' (file column 'sum_open_interest'): 1 value(s)" in w
        assert "column 'notional' (file column 'sum_open_interest_value'): 1 value(s)" in w


def test_freqtrade_feather_drops_bad_prices_and_funding(tmp_path: Path) -> None:
    fut = tmp_path / "binance" / "futures"
    fut.mkdir(parents=True)
    dates = pd.date_range("2025-01-01", periods=4, freq="1h", tz="UTC")
    pd.DataFrame({"date": dates, "open": [1.0, 1.0, 1.0, 1.0], "high": [1.0, 1.0, 1.0, 1.0],
                  "low": [1.0, -1.0, 1.0, 1.0], "close": [1.0, 1.0, INF, 1.0],
                  "volume": [5.0, 5.0, 5.0, 5.0]}).to_feather(fut / "AAA_USDT_USDT-1h-futures.feather")
    fdates = pd.date_range("2025-01-01", periods=3, freq="8h", tz="UTC")
    funding_path = fut / "AAA_USDT_USDT-1h-funding_rate.feather"
    pd.DataFrame({"date": fdates, "open": [0.0001, 1e9, -0.02], "high": [0.0] * 3, "low": [0.0] * 3,
                  "close": [0.0] * 3, "volume": [0.0] * 3}).to_feather(funding_path)
    with captured_warnings() as messages:
        store = MarketStore.load(tmp_path)
    h = store["AAAUSDT"]
    assert h.ts.tolist() == [T0, T0 + 3 * H]  # bar 1 (low -1) and bar 2 (close inf) dropped
    assert h.funding_rate.tolist() == [0.0001, -0.02]
    funding_warning = next(w for w in _bad_value_warnings(messages) if str(funding_path) in w)
    assert "column 'rate' (file column 'open'): 1 value(s)" in funding_warning


def test_bybit_frame_drops_bad_rows(tmp_path: Path) -> None:
    idx = pd.date_range("2025-01-01", periods=4, freq="1h", tz="UTC", name="timestamp")
    pd.DataFrame({"symbol": "AAAUSDT", "open": [1.0] * 4, "high": [1.0] * 4, "low": [1.0] * 4,
                  "close": [1.0, 0.0, 1.0, 1.0], "volume": [1.0] * 4, "turnover": [1.0, 1.0, -2.0, 1.0],
                  "open_interest": [10.0, 10.0, 10.0, -10.0], "funding_rate": [5.0, 5.0, 5.0, 5.0],
                  }, index=idx).to_parquet(tmp_path / "bybit_AAA_1h.parquet")
    with captured_warnings() as messages:
        store = MarketStore.load(tmp_path)
    h = store["AAAUSDT"]
    assert h.ts.tolist() == [T0, T0 + 3 * H]  # close 0 and turnover -2 dropped
    assert len(h.funding_rate) == 0  # 500% per settlement is corrupt: the only settlement goes
    assert h.oi.tolist() == [10.0, 10.0, 10.0]  # the negative OI row goes (OI published at ts + 1h)
    warned = " ".join(_bad_value_warnings(messages))
    assert "column 'quote_volume' (file column 'turnover')" in warned
    assert "column 'rate' (file column 'funding_rate')" in warned


def test_multivenue_file_is_reported_once_for_all_coins(tmp_path: Path) -> None:
    d = _layout_dir(tmp_path)
    _write_parquet(d / "ohlcv_1h.parquet", {"ts": [T0], "open": [1.0], "high": [1.0], "low": [1.0],
                                            "close": [1.0], "volume": [1.0], "quote_volume": [1.0]})
    b = _layout_dir(tmp_path, "BBBUSDT")
    _write_parquet(b / "ohlcv_1h.parquet", {"ts": [T0], "open": [1.0], "high": [1.0], "low": [1.0],
                                            "close": [1.0], "volume": [1.0], "quote_volume": [1.0]})
    ts = pd.to_datetime([T0, T0 + H, T0, T0 + H], unit="ms", utc=True)
    path = tmp_path / "open_interest.parquet"
    pd.DataFrame({"timestamp": ts, "venue": ["hyperliquid"] * 4, "coin": ["AAA", "AAA", "BBB", "BBB"],
                  "oi_usd": [100.0, -1.0, INF, 300.0]}).to_parquet(path)
    with captured_warnings() as messages:
        store = MarketStore.load(tmp_path)
    assert store["AAAUSDT"].oi_notional.tolist() == [100.0]
    assert store["BBBUSDT"].oi_notional.tolist() == [300.0]
    warnings = [w for w in _bad_value_warnings(messages) if str(path) in w]
    assert len(warnings) == 1
    assert "2 rows dropped: column 'notional' (file column 'oi_usd'): 2 value(s)" in warnings[0]


async def test_the_emulator_never_serves_a_dropped_value(tmp_path: Path) -> None:
    """Plain HTTP against the real server: klines, funding history and OI hold only the survivors."""
    from bot.emulator import EmulatorState, start_emulator

    write_bad_layout(tmp_path)
    store = MarketStore.load(tmp_path)
    state = EmulatorState.build(store, T0 + 2 * 24 * H, speed=0)
    runner, base = await start_emulator(state, port=0)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/fapi/v1/klines", params={"symbol": "AAAUSDT", "interval": "1h"}) as r:
                assert r.status == 200
                klines = await r.json()
            async with http.get(f"{base}/fapi/v1/fundingRate", params={"symbol": "AAAUSDT"}) as r:
                assert r.status == 200
                funding = await r.json()
            async with http.get(f"{base}/fapi/v1/openInterest", params={"symbol": "AAAUSDT"}) as r:
                assert r.status == 200
                oi = await r.json()
    finally:
        await runner.cleanup()
    assert [k[0] for k in klines] == [T0, T0 + 4 * H, *(T0 + i * H for i in range(6, 10))]
    for row in klines:
        prices = [float(x) for x in row[1:5]]
        assert all(math.isfinite(p) and p > 0 for p in prices), row
        assert float(row[5]) >= 0, row
    assert [f["fundingTime"] for f in funding] == [T0, T0 + 24 * H]
    assert [float(f["fundingRate"]) for f in funding] == [0.0001, -0.10]
    assert np.isfinite(float(oi["openInterest"])) and float(oi["openInterest"]) >= 0


@pytest.mark.parametrize("rate", [0.0999, -0.0999])
def test_rates_inside_the_bound_pass_untouched(tmp_path: Path, rate: float) -> None:
    d = _layout_dir(tmp_path)
    _write_parquet(d / "funding.parquet", {"ts": [T0], "rate": [rate], "mark": [NAN]})
    _write_parquet(d / "ohlcv_1h.parquet", {"ts": [T0], "open": [1.0], "high": [1.0], "low": [1.0],
                                            "close": [1.0], "volume": [1.0], "quote_volume": [1.0]})
    assert MarketStore.load(tmp_path)["AAAUSDT"].funding_rate.tolist() == [rate]
