"""Format loaders against the real bundled sample (and small hand-made files for the CSV format)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.data import bybit, freqtrade, metrics, multivenue
from bot.data.symbols import coin_to_id, freqtrade_pair_to_id
from tests.data.helpers import FUT, SAMPLE


@pytest.mark.parametrize(("pair", "expected"), [
    ("ORCA_USDT_USDT", "ORCAUSDT"), ("1000PEPE_USDT_USDT", "1000PEPEUSDT"), ("BTC_USDT", "BTCUSDT"),
])
def test_freqtrade_pair_names_map_to_exchange_ids(pair: str, expected: str) -> None:
    assert freqtrade_pair_to_id(pair) == expected


def test_bad_pair_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a freqtrade pair"):
        freqtrade_pair_to_id("ORCAUSDT")


def test_coin_to_id() -> None:
    assert coin_to_id("btc") == "BTCUSDT"
    assert coin_to_id("BTCUSDT") == "BTCUSDT"


def test_classify_freqtrade_names() -> None:
    f = freqtrade.classify(FUT / "ORCA_USDT_USDT-1h-funding_rate.feather")
    assert f is not None and (f.symbol, f.kind, f.timeframe) == ("ORCAUSDT", "funding_rate", "1h")
    s = freqtrade.classify(SAMPLE / "binance" / "ORCA_USDT-1h.feather")
    assert s is not None and (s.symbol, s.kind) == ("ORCAUSDT", "spot")
    assert freqtrade.classify(Path("x/README.feather")) is None


def test_read_klines_matches_pandas() -> None:
    path = FUT / "ORCA_USDT_USDT-1h-futures.feather"
    bars = freqtrade.read_klines(path)
    df = pd.read_feather(path)
    assert bars.ts.dtype == np.int64 and bars.close.dtype == np.float64
    assert bars.ts[0] == to_ms("2025-02-15T00:00:00Z")
    assert np.all(np.diff(bars.ts) == MS_PER_HOUR)
    np.testing.assert_array_equal(bars.close, df["close"].to_numpy())
    assert np.isnan(bars.quote_volume).all()  # freqtrade has no quote volume


def test_read_funding_takes_rate_from_open() -> None:
    fund = freqtrade.read_funding(FUT / "ORCA_USDT_USDT-1h-funding_rate.feather")
    at = np.searchsorted(fund.ts, to_ms("2025-03-21T08:00:00Z"))
    assert fund.rate[at] == pytest.approx(-0.02)
    assert fund.rate.min() == pytest.approx(-0.02)


def test_bybit_frame_settlements_are_inferred_on_grid_and_changes() -> None:
    frame = bybit.read_bybit_frame(SAMPLE / "bybit" / "SOL_bybit_1h.parquet")
    assert frame.symbol == "SOLUSDT"
    f = frame.funding
    squeeze = to_ms("2022-11-10T08:00:00Z")
    assert f.rate[np.searchsorted(f.ts, squeeze)] == pytest.approx(-0.025)
    # 14:00 is off the 8h grid but the rate changed there: an inferred settlement
    assert to_ms("2022-11-10T14:00:00Z") in set(f.ts.tolist())
    # 13:00 is neither on the grid nor a change
    assert to_ms("2022-11-10T13:00:00Z") not in set(f.ts.tolist())
    # every inferred row is on the 8h grid or a change of the forward-filled rate
    raw = pd.read_parquet(SAMPLE / "bybit" / "SOL_bybit_1h.parquet")["funding_rate"]
    expected = (raw.index.hour % 8 == 0) | (raw != raw.shift())
    assert len(f.ts) == int(expected.sum())


def test_bybit_oi_is_published_at_interval_close_with_notional() -> None:
    frame = bybit.read_bybit_frame(SAMPLE / "bybit" / "SOL_bybit_1h.parquet")
    raw = pd.read_parquet(SAMPLE / "bybit" / "SOL_bybit_1h.parquet")
    assert frame.open_interest.ts[0] == to_ms(raw.index[0].to_pydatetime()) + MS_PER_HOUR
    assert frame.open_interest.oi[0] == raw["open_interest"].iloc[0]
    assert frame.open_interest.notional[0] == pytest.approx(raw["open_interest"].iloc[0] * raw["close"].iloc[0])
    np.testing.assert_array_equal(frame.klines.quote_volume, raw["turnover"].to_numpy())


def test_infer_settlements_skips_nan() -> None:
    ts = np.arange(10, dtype=np.int64) * MS_PER_HOUR
    rate = np.array([1, 1, 1, 2, 2, np.nan, np.nan, 2, 3, 3], dtype=float) * 1e-4
    f = bybit.infer_settlements(ts, rate)
    # grid at 0 and 8h; changes at 3h (1->2), 8h (2->3); 7h differs from NaN -> "change"
    assert f.ts.tolist() == [0, 3 * MS_PER_HOUR, 7 * MS_PER_HOUR, 8 * MS_PER_HOUR]


def test_multivenue_loaders() -> None:
    oi = multivenue.read_open_interest(SAMPLE / "multivenue" / "open_interest.parquet")
    assert set(oi) == {("BTCUSDT", "hyperliquid"), ("BTCUSDT", "lighter")}
    hl = oi[("BTCUSDT", "hyperliquid")]
    raw = pd.read_parquet(SAMPLE / "multivenue" / "open_interest.parquet")
    first = raw[raw.venue == "hyperliquid"].sort_values("timestamp").iloc[0]
    assert hl.ts.min() == to_ms(first.timestamp.to_pydatetime()) + MS_PER_HOUR
    assert np.isnan(hl.oi).all()
    fr = multivenue.read_funding(SAMPLE / "multivenue" / "funding_rates.parquet")
    assert ("BTCUSDT", "binance") in fr and len(fr[("BTCUSDT", "binance")]) == 168
    liq = multivenue.read_liquidations(SAMPLE / "multivenue" / "liquidation_volume.parquet")["BTCUSDT"]
    assert liq.ts[0] == to_ms("2025-12-08T00:00:00Z")  # the 12-07 day is known at its end
    assert liq.long[0] > 0 and liq.short[0] > 0


METRICS_HEADER = ("create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,"
                  "sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio\n")


def write_metrics_csv(folder: Path, symbol: str, day: str, rows: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{symbol}-metrics-{day}.csv"
    path.write_text(METRICS_HEADER + "".join(r + "\n" for r in rows))
    return path


def test_metrics_csv(tmp_path: Path) -> None:
    path = write_metrics_csv(tmp_path, "ORCAUSDT", "2025-03-21", [
        "2025-03-21 00:00:00,ORCAUSDT,1000.5,3500.0,1.2,1.5,0.8,1.1",
        "2025-03-21 00:05:00,ORCAUSDT,1010.0,3600.0,1.3,,0.9,abc",
    ])
    assert metrics.symbol_of(path) == "ORCAUSDT"
    oi, ratios = metrics.read_metrics(path)
    assert oi.ts.tolist() == [to_ms("2025-03-21T00:05:00Z"), to_ms("2025-03-21T00:10:00Z")]
    assert oi.oi.tolist() == [1000.5, 1010.0]
    assert oi.notional.tolist() == [3500.0, 3600.0]
    assert ratios.long_short.tolist() == [0.8, 0.9]
    assert ratios.top_position[0] == 1.5 and np.isnan(ratios.top_position[1])  # empty -> NaN, not 0
    assert np.isnan(ratios.taker_buy_sell[1])


def test_metrics_wrong_header_is_clear(tmp_path: Path) -> None:
    path = tmp_path / "ORCAUSDT-metrics-2025-03-21.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a Binance metrics CSV"):
        metrics.read_metrics(path)
