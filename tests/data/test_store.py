"""MarketStore / SymbolHistory: contract shape, cleaning, gaps, bad input, instruments, layouts."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.data.instruments import derive_instrument, major_brackets
from bot.data.store import MarketStore
from tests.data.helpers import SAMPLE, captured_warnings, copy_symbol, sample_frame, write_freqtrade
from tests.data.test_loaders import write_metrics_csv


@pytest.fixture(scope="module")
def store() -> MarketStore:
    return MarketStore.load(SAMPLE)


def test_sample_symbols_and_sources(store: MarketStore) -> None:
    assert store.symbols == ["BTCUSDT", "ORCAUSDT", "PIPPINUSDT", "RIVERUSDT", "SOLUSDT"]
    assert store["ORCAUSDT"].exchange == "binanceusdm"
    assert store["SOLUSDT"].exchange == "bybit"
    assert store["BTCUSDT"].sources["oi"] == "multivenue:hyperliquid"


def test_arrays_follow_the_contract(store: MarketStore) -> None:
    h = store["ORCAUSDT"]
    assert h.bar_ms == MS_PER_HOUR
    for name in ("ts", "funding_ts", "spot_ts", "oi_ts", "liq_ts", "ratio_ts"):
        arr = getattr(h, name)
        assert arr.dtype == np.int64
        assert np.all(np.diff(arr) > 0), name
    for name in ("open", "close", "quote_volume", "mark_close", "funding_rate", "spot_quote_volume"):
        assert getattr(h, name).dtype == np.float64
    assert len(h.mark_close) == len(h.ts)
    assert len(h.oi_ts) == 0 and len(h.oi) == 0  # no Binance OI in the sample
    raw = sample_frame("ORCA", "futures")
    np.testing.assert_allclose(h.quote_volume, raw["volume"] * raw["close"])
    with pytest.raises(ValueError):
        h.close[0] = 1.0  # histories are shared: read-only


def test_known_at_counts(store: MarketStore) -> None:
    h = store["ORCAUSDT"]
    t0 = int(h.ts[0])
    assert h.bars_known_at(t0) == 0
    assert h.bars_known_at(t0 + MS_PER_HOUR - 1) == 0
    assert h.bars_known_at(t0 + MS_PER_HOUR) == 1
    assert h.bars_known_at(t0 + 5 * MS_PER_HOUR + 30_000) == 5
    f0 = int(h.funding_ts[0])
    assert h.funding_known_at(f0 - 1) == 0
    assert h.funding_known_at(f0) == 1


def test_symbols_and_time_filters() -> None:
    store = MarketStore.load(SAMPLE, symbols=["ORCA/USDT:USDT"], start_ms=to_ms("2025-03-01T00:00:00Z"),
                             end_ms=to_ms("2025-03-02T23:00:00Z"))
    assert store.symbols == ["ORCAUSDT"]
    h = store["ORCAUSDT"]
    assert len(h.ts) == 48 and h.ts[0] == to_ms("2025-03-01T00:00:00Z")
    assert len(h.spot_ts) == 48


def test_load_shared_freqtrade_folder_if_present() -> None:
    shared = Path("/work/shared/data/Harthor_marketlab/user_data/data/binance")
    if not shared.is_dir():
        pytest.skip("shared data not mounted")
    store = MarketStore.load(shared, symbols=["ORCAUSDT"])
    assert len(store["ORCAUSDT"].ts) == 9978


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="market data folder not found"):
        MarketStore.load(tmp_path / "nope")


def test_duplicates_and_unsorted_rows_are_fixed_with_one_warning(tmp_path: Path) -> None:
    bars = sample_frame("ORCA", "futures").iloc[:100]
    changed = bars.iloc[10].copy()
    changed["close"] = 9.99
    messy = pd.concat([bars.iloc[50:], bars.iloc[:50], changed.to_frame().T, bars.iloc[20:22]])
    messy = messy.astype(bars.dtypes.to_dict())
    write_freqtrade(tmp_path, "ORCA", "futures", messy)
    with captured_warnings() as warnings:
        store = MarketStore.load(tmp_path)
    h = store["ORCAUSDT"]
    assert len(h.ts) == 100 and np.all(np.diff(h.ts) == MS_PER_HOUR)
    assert h.close[10] == 9.99  # the later duplicate wins
    kinds = store.issues.kinds("ORCAUSDT")
    assert ("futures", "unsorted") in kinds and ("futures", "duplicate_ts") in kinds
    assert sum("duplicate" in w for w in warnings) == 1
    assert sum("out of time order" in w for w in warnings) == 1


def test_gaps_are_kept_and_reported(tmp_path: Path) -> None:
    bars = sample_frame("ORCA", "futures").iloc[:100]
    write_freqtrade(tmp_path, "ORCA", "futures", pd.concat([bars.iloc[:40], bars.iloc[45:]]))
    with captured_warnings() as warnings:
        store = MarketStore.load(tmp_path)
    h = store["ORCAUSDT"]
    assert len(h.ts) == 95  # not filled
    first_missing = int(bars["date"].iloc[40].value // 1_000_000)
    assert h.gaps["futures"] == [(first_missing, first_missing + 4 * MS_PER_HOUR)]
    expected = "market data ORCAUSDT/futures: gap: 1 gaps, 5 missing rows (left unfilled)"
    assert [w for w in warnings if "gap" in w] == [expected]


def test_nan_funding_is_kept_and_reported_once(tmp_path: Path) -> None:
    fund = sample_frame("ORCA", "funding_rate").iloc[:50].copy()
    fund.loc[[10, 20, 30], "open"] = np.nan
    write_freqtrade(tmp_path, "ORCA", "futures", sample_frame("ORCA", "futures").iloc[:300])
    write_freqtrade(tmp_path, "ORCA", "funding_rate", fund)
    with captured_warnings() as warnings:
        store = MarketStore.load(tmp_path)
    h = store["ORCAUSDT"]
    assert len(h.funding_ts) == 50 and int(np.isnan(h.funding_rate).sum()) == 3
    assert sum("nan_funding" in w for w in warnings) == 1


def test_unreadable_file_and_missing_symbol_do_not_stop_the_load(tmp_path: Path) -> None:
    copy_symbol(tmp_path, "ORCA")
    bad = tmp_path / "binance" / "futures" / "PIPPIN_USDT_USDT-1h-futures.feather"
    bad.write_bytes(b"not a feather file")
    with captured_warnings() as warnings:
        store = MarketStore.load(tmp_path, symbols=["ORCAUSDT", "PIPPINUSDT", "NOPEUSDT"])
    assert store.symbols == ["ORCAUSDT"]
    kinds = {(i.symbol, i.kind) for i in store.issues.issues}
    assert ("PIPPINUSDT", "unreadable_file") in kinds
    assert ("NOPEUSDT", "missing_symbol") in kinds
    assert ("PIPPINUSDT", "missing_symbol") in kinds
    assert len(warnings) == 3


def test_missing_mark_file_gives_nan_marks(tmp_path: Path) -> None:
    copy_symbol(tmp_path, "ORCA", ("futures", "funding_rate"))
    h = MarketStore.load(tmp_path)["ORCAUSDT"]
    assert len(h.mark_close) == len(h.ts) and np.isnan(h.mark_close).all()


def test_metrics_csv_gives_oi_and_ratios(tmp_path: Path) -> None:
    copy_symbol(tmp_path, "ORCA", ("futures",))
    write_metrics_csv(tmp_path / "metrics", "ORCAUSDT", "2025-03-21", [
        "2025-03-21 00:00:00,ORCAUSDT,1000,3000,1.2,1.5,0.8,1.1",
        "2025-03-21 00:05:00,ORCAUSDT,1100,3300,1.2,1.6,0.7,1.0",
    ])
    h = MarketStore.load(tmp_path)["ORCAUSDT"]
    assert h.oi.tolist() == [1000, 1100] and h.oi_notional.tolist() == [3000, 3300]
    assert h.long_short_ratio.tolist() == [0.8, 0.7]
    assert h.sources["oi"] == "metrics:binanceusdm"
    assert h.oi_interval_ms == 5 * 60_000


def test_multivenue_oi_contracts_use_last_known_close(store: MarketStore) -> None:
    h = store["BTCUSDT"]
    i = 100
    k = h.bars_known_at(int(h.oi_ts[i])) - 1
    assert h.oi[i] == pytest.approx(h.oi_notional[i] / h.close[k])
    assert h.ts[k] + h.bar_ms <= h.oi_ts[i]


def test_derived_instruments(store: MarketStore) -> None:
    orca = store["ORCAUSDT"].instrument
    assert (orca.tick_size, orca.step_size, orca.price_precision, orca.quantity_precision) == (1e-05, 0.1, 5, 1)
    assert orca.max_leverage_for(1_000) == 50  # default small-cap brackets
    btc = store["BTCUSDT"].instrument
    assert (btc.tick_size, btc.step_size) == (1.0, 0.001)
    assert btc.max_leverage_for(10_000) == 125 and btc.max_leverage_for(5_000_000) == 50
    assert btc.round_price(88570.64) == 88571.0


def test_major_bracket_maintenance_is_continuous() -> None:
    tiers = major_brackets()
    for lower, upper in itertools.pairwise(tiers):
        x = upper.notional_floor
        assert x * lower.maint_margin_ratio - lower.cum == pytest.approx(x * upper.maint_margin_ratio - upper.cum)


def test_instrument_without_prices_uses_defaults() -> None:
    inst = derive_instrument("NEWUSDT", None)
    assert inst.base == "NEW" and inst.tick_size == 0.0001
