"""ReplaySource against the real bundled sample: values, publication times, quality, bad input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.enums import Quality
from bot.core.timeutil import MS_PER_HOUR, MS_PER_MINUTE, to_ms
from bot.data.store import MarketStore, SymbolHistory
from bot.market.replay import ReplaySource
from bot.market.snapshot import MISSING, Snapshot
from tests.data.helpers import SAMPLE, captured_warnings, sample_frame, write_freqtrade

FRESH, STALE = Quality.FRESH, Quality.STALE


@pytest.fixture(scope="module")
def store() -> MarketStore:
    return MarketStore.load(SAMPLE)


@pytest.fixture(scope="module")
def src(store: MarketStore) -> ReplaySource:
    return ReplaySource(store)


def _bars(base: str) -> pd.DataFrame:
    df = sample_frame(base, "futures").set_index("date")
    df["qv"] = df["volume"] * df["close"]
    return df


def test_fields_at_the_orca_squeeze_match_the_raw_files(src: ReplaySource) -> None:
    t = to_ms("2025-03-21T12:00:00Z")
    s = src.snapshot("ORCAUSDT", t)
    bars = _bars("ORCA")
    last = bars.loc["2025-03-21 11:00:00+00:00"]  # the bar that closed at 12:00
    assert s.symbol == "ORCAUSDT" and s.ts == t and s.exchange == "binanceusdm"
    assert s.last_price == (last["close"], t, FRESH)
    assert (s.bar_open.value, s.bar_high.value, s.bar_low.value) == (last["open"], last["high"], last["low"])
    mark = sample_frame("ORCA", "mark").set_index("date").loc["2025-03-21 11:00:00+00:00"]
    assert s.mark_price == (mark["close"], t, FRESH)
    assert s.volume.value == last["volume"]
    assert s.quote_volume.value == pytest.approx(last["qv"])
    window = bars.loc["2025-03-20 12:00:00+00:00":"2025-03-21 11:00:00+00:00"]
    assert len(window) == 24
    assert s.quote_volume_24h.value == pytest.approx(window["qv"].sum(), rel=1e-12)
    closes = bars["close"]
    assert s.price_change_1h.value == pytest.approx(last["close"] / closes.loc["2025-03-21 10:00:00+00:00"] - 1)
    assert s.price_change_4h.value == pytest.approx(last["close"] / closes.loc["2025-03-21 07:00:00+00:00"] - 1)
    assert s.price_change_24h.value == pytest.approx(last["close"] / closes.loc["2025-03-20 11:00:00+00:00"] - 1)
    assert s.price_change_24h.value > 1.0  # the squeeze: more than doubled in a day
    # funding settled at 12:00 exactly (published at its settlement), interval now 2h
    assert s.funding_rate == (-0.02, t, FRESH)
    assert s.funding_interval_hours == (2.0, t, FRESH)
    assert s.next_funding_ms == (float(t + 2 * MS_PER_HOUR), t, FRESH)
    spot = sample_frame("ORCA", "spot").set_index("date").loc["2025-03-20 12:00:00+00:00":"2025-03-21 11:00:00+00:00"]
    spot_qv = float((spot["volume"] * spot["close"]).sum())
    assert s.spot_quote_volume_24h.value == pytest.approx(spot_qv, rel=1e-12)
    assert s.spot_futures_volume_ratio.value == pytest.approx(spot_qv / window["qv"].sum(), rel=1e-12)


def test_unknowable_fields_stay_missing(src: ReplaySource) -> None:
    s = src.snapshot("ORCAUSDT", to_ms("2025-03-21T12:00:00Z"))
    for name in ("index_price", "premium", "predicted_funding_rate", "funding_cap", "funding_floor",
                 "oi_weighted_funding", "open_interest", "oi_change_1h", "long_short_account_ratio",
                 "liq_long_notional"):
        assert s.get(name) is MISSING, name


def test_a_bar_is_not_known_before_its_close(src: ReplaySource) -> None:
    s = src.snapshot("ORCAUSDT", to_ms("2025-03-21T11:59:59.999Z"))
    assert s.last_price.value == _bars("ORCA").loc["2025-03-21 10:00:00+00:00", "close"]
    assert s.last_price.ts == to_ms("2025-03-21T11:00:00Z")
    # the 12:00 settlement is not known yet: the 10:00 one is the latest
    assert s.funding_rate.ts == to_ms("2025-03-21T10:00:00Z")


def test_funding_interval_follows_the_exchange(src: ReplaySource) -> None:
    before = src.snapshot("ORCAUSDT", to_ms("2025-03-21T09:00:00Z"))
    assert before.funding_interval_hours.value == 4.0  # 04:00 -> 08:00
    assert before.next_funding_ms.value == to_ms("2025-03-21T12:00:00Z")  # expected, on the old schedule
    after = src.snapshot("ORCAUSDT", to_ms("2025-03-21T10:30:00Z"))
    assert after.funding_interval_hours.value == 2.0
    assert after.next_funding_ms.value == to_ms("2025-03-21T12:00:00Z")


def test_oi_and_liquidations_for_btc(src: ReplaySource, store: MarketStore) -> None:
    h = store["BTCUSDT"]
    t = to_ms("2025-12-21T12:30:00Z")
    s = src.snapshot("BTCUSDT", t)
    k = int(np.searchsorted(h.oi_ts, t, "right")) - 1
    assert s.open_interest == (h.oi[k], int(h.oi_ts[k]), FRESH)
    assert s.oi_change_1h.value == pytest.approx(h.oi[k] / h.oi[k - 1] - 1)
    assert s.oi_change_24h.value == pytest.approx(h.oi[k] / h.oi[k - 24] - 1)
    raw = pd.read_parquet(SAMPLE / "multivenue" / "liquidation_volume.parquet").set_index("timestamp")
    day = raw.loc["2025-12-20 00:00:00+00:00"]  # the last full day known on 12-21
    assert s.liq_long_notional == (day["long_usd"], to_ms("2025-12-21T00:00:00Z"), FRESH)
    assert s.liq_short_notional.value == day["short_usd"]


def test_bybit_oi_for_sol_squeeze(src: ReplaySource) -> None:
    s = src.snapshot("SOLUSDT", to_ms("2022-11-10T09:00:00Z"))
    raw = pd.read_parquet(SAMPLE / "bybit" / "SOL_bybit_1h.parquet")
    assert s.exchange == "bybit"
    assert s.funding_rate.value == pytest.approx(-0.025)
    assert s.open_interest.value == raw.loc["2022-11-10 08:00:00+00:00", "open_interest"]
    assert s.open_interest.ts == to_ms("2022-11-10T09:00:00Z")


def test_before_the_data_everything_is_missing(src: ReplaySource) -> None:
    s = src.snapshot("ORCAUSDT", to_ms("2025-01-01T00:00:00Z"))
    assert all(s.get(n) is MISSING for n in Snapshot.field_names())


def test_after_the_data_values_turn_stale(src: ReplaySource, store: MarketStore) -> None:
    h = store["ORCAUSDT"]
    end = int(h.ts[-1] + h.bar_ms)
    fresh = src.snapshot("ORCAUSDT", end + MS_PER_HOUR // 2)
    assert fresh.last_price.quality is FRESH
    late = src.snapshot("ORCAUSDT", end + 2 * MS_PER_HOUR)
    assert late.last_price.quality is STALE and late.last_price.value == h.close[-1]
    assert late.price_change_1h.quality is STALE
    much_later = src.snapshot("ORCAUSDT", end + 48 * MS_PER_HOUR)
    assert much_later.funding_rate.quality is STALE
    assert much_later.next_funding_ms.quality is STALE
    assert much_later.next_funding_ms.value > much_later.ts  # rolled forward on the schedule


def test_gap_makes_prices_stale_and_changes_missing(tmp_path: Path) -> None:
    bars = sample_frame("ORCA", "futures").iloc[:200]
    write_freqtrade(tmp_path, "ORCA", "futures", pd.concat([bars.iloc[:100], bars.iloc[110:]]))
    src = ReplaySource(MarketStore.load(tmp_path))
    gap_start = int(bars["date"].iloc[100].value // 1_000_000)  # first missing bar's open
    during = src.snapshot("ORCAUSDT", gap_start + 5 * MS_PER_HOUR)
    assert during.last_price.quality is STALE
    assert during.last_price.value == bars["close"].iloc[99]
    after = src.snapshot("ORCAUSDT", gap_start + 11 * MS_PER_HOUR)  # bar 110 closed
    assert after.last_price.quality is FRESH
    assert after.price_change_1h is MISSING  # bar 109 is missing: no fake change
    assert after.quote_volume_24h.quality is STALE  # incomplete window


def test_nan_funding_falls_back_to_previous_rate_as_stale(tmp_path: Path) -> None:
    fund = sample_frame("ORCA", "funding_rate").iloc[:60].copy()
    fund.loc[40, "open"] = np.nan
    write_freqtrade(tmp_path, "ORCA", "futures", sample_frame("ORCA", "futures").iloc[:400])
    write_freqtrade(tmp_path, "ORCA", "funding_rate", fund)
    with captured_warnings() as warnings:
        src = ReplaySource(MarketStore.load(tmp_path))
        t = int(fund["date"].iloc[40].value // 1_000_000)
        s = src.snapshot("ORCAUSDT", t + MS_PER_MINUTE)
    assert s.funding_rate == (fund["open"].iloc[39], t - 4 * MS_PER_HOUR, STALE)
    assert s.funding_interval_hours == (4.0, t, FRESH)  # the settlement itself happened on time
    assert sum("nan_funding" in w for w in warnings) == 1


def test_unknown_symbol_gives_missing_snapshots_and_one_warning(src: ReplaySource) -> None:
    with captured_warnings() as warnings:
        snaps = [src.snapshot("NOPEUSDT", to_ms("2025-03-01T00:00:00Z") + i * MS_PER_HOUR) for i in range(3)]
        snaps += list(src.iter_snapshots("NOPEUSDT", 0, 2 * MS_PER_HOUR))
    assert len(snaps) == 6
    assert all(s.get(n) is MISSING for s in snaps for n in Snapshot.field_names())
    assert len([w for w in warnings if "NOPEUSDT" in w]) == 1


def test_broken_history_does_not_escape_the_feed() -> None:
    bad = SymbolHistory(symbol="BADUSDT", ts=np.array([0, MS_PER_HOUR], dtype=np.int64),
                        close=np.array([1.0]))  # inconsistent lengths
    src = ReplaySource(MarketStore({"BADUSDT": bad}))
    with captured_warnings() as warnings:
        s = src.snapshot("BADUSDT", 5 * MS_PER_HOUR)
    assert s.last_price is MISSING
    assert len(warnings) == 1 and "replay_error" in warnings[0]


def test_snapshots_covers_every_symbol(src: ReplaySource, store: MarketStore) -> None:
    out = src.snapshots(to_ms("2025-12-30T00:00:00Z"))
    assert sorted(out) == store.symbols
    assert out["RIVERUSDT"].last_price.ok
    assert out["ORCAUSDT"].last_price.quality is STALE  # its data ended in April
    assert out["SOLUSDT"].open_interest.quality is STALE


def test_iter_snapshots_includes_end_and_rejects_bad_step(src: ReplaySource) -> None:
    start = to_ms("2025-03-20T00:00:00Z")
    times = [s.ts for s in src.iter_snapshots("ORCAUSDT", start, start + 3 * MS_PER_HOUR)]
    assert times == [start + i * MS_PER_HOUR for i in range(4)]
    assert list(src.iter_snapshots("ORCAUSDT", start, start - 1)) == []
    with pytest.raises(ValueError, match="step_ms"):
        list(src.iter_snapshots("ORCAUSDT", start, start, 0))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(symbol=st.sampled_from(["ORCAUSDT", "BTCUSDT", "SOLUSDT", "RIVERUSDT"]),
       offset=st.integers(min_value=-2 * 86_400_000, max_value=40 * 86_400_000),
       step=st.sampled_from([MS_PER_MINUTE * 7, MS_PER_HOUR, 4 * MS_PER_HOUR]),
       count=st.integers(min_value=1, max_value=60))
def test_fast_path_equals_single_snapshots(src: ReplaySource, store: MarketStore, symbol: str, offset: int,
                                           step: int, count: int) -> None:
    start = int(store[symbol].ts[0]) + offset
    fast = list(src.iter_snapshots(symbol, start, start + (count - 1) * step, step))
    assert len(fast) == count
    for s in fast[:: max(1, count // 6)]:
        assert s == src.snapshot(symbol, s.ts)


def _truncated(h: SymbolHistory, t: int) -> SymbolHistory:
    """``h`` restricted to rows published at or before ``t`` (the definition of "known at t")."""
    def cut(n: int, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        return {name: getattr(h, name)[:n] for name in names}

    kw: dict[str, np.ndarray] = {}
    kw |= cut(int(np.sum(h.ts + h.bar_ms <= t)), ("ts", "open", "high", "low", "close", "volume", "quote_volume",
                                                  "mark_open", "mark_high", "mark_low", "mark_close"))
    kw |= cut(int(np.sum(h.funding_ts <= t)), ("funding_ts", "funding_rate", "funding_mark"))
    kw |= cut(int(np.sum(h.oi_ts <= t)), ("oi_ts", "oi", "oi_notional"))
    kw |= cut(int(np.sum(h.spot_ts + h.bar_ms <= t)), ("spot_ts", "spot_close", "spot_volume", "spot_quote_volume"))
    kw |= cut(int(np.sum(h.liq_ts <= t)), ("liq_ts", "liq_long_notional", "liq_short_notional"))
    kw |= cut(int(np.sum(h.ratio_ts <= t)), ("ratio_ts", "long_short_ratio", "top_position_ratio",
                                             "taker_buy_sell_ratio"))
    return dataclasses.replace(h, **kw)


def test_no_look_ahead_on_real_data(src: ReplaySource, store: MarketStore) -> None:
    """For many random t, the snapshot from all data equals the one from data published <= t."""
    rng = np.random.default_rng(20250321)
    checked = 0
    for symbol in store.symbols:
        h = store[symbol]
        lo, hi = int(h.ts[0]) - MS_PER_HOUR, int(h.ts[-1]) + 3 * MS_PER_HOUR
        times = rng.integers(lo, hi, size=20).tolist()
        # also exactly at publication instants, where an off-by-one would show
        times += [int(x) + d for x in rng.choice(h.ts + h.bar_ms, size=4) for d in (-1, 0)]
        times += [int(x) + d for x in rng.choice(h.funding_ts, size=4) for d in (-1, 0)]
        for t in times:
            full = src.snapshot(symbol, t)
            cut = ReplaySource(MarketStore({symbol: _truncated(h, t)})).snapshot(symbol, t)
            assert full == cut, (symbol, t)
            assert all(full.get(n).ts is None or full.get(n).ts <= t for n in Snapshot.field_names())
            checked += 1
    assert checked == 36 * len(store.symbols)


def test_stepping_snapshot_calls_equal_the_fast_path(store: MarketStore) -> None:
    """snapshot() reads ahead once it sees a regular step; irregular calls must still be exact."""
    src, ref = ReplaySource(store), ReplaySource(store)
    start = to_ms("2025-03-19T00:00:00Z")
    expected = {s.ts: s for s in ref.iter_snapshots("ORCAUSDT", start, start + 400 * MS_PER_HOUR)}
    calls = [start + i * MS_PER_HOUR for i in range(300)]
    calls += [start + 5 * MS_PER_HOUR, start + 299 * MS_PER_HOUR + 1, start + 350 * MS_PER_HOUR]  # back, off-grid
    for t in calls:
        got = src.snapshot("ORCAUSDT", t)
        want = expected.get(t) or ref.snapshot("ORCAUSDT", t)
        assert got == want, t


def test_binance_funding_time_jitter_does_not_break_the_schedule(tmp_path: Path) -> None:
    """fundingTime can be a few ms after the hour: interval and next settlement stay on the grid."""
    fund = sample_frame("BTC", "funding_rate").iloc[:30].copy()
    jitter = pd.to_timedelta([17, 3, 0, 25, 9] * 6, unit="ms")
    fund["date"] = fund["date"] + jitter
    write_freqtrade(tmp_path, "BTC", "futures", sample_frame("BTC", "futures").iloc[:240])
    write_freqtrade(tmp_path, "BTC", "funding_rate", fund)
    src = ReplaySource(MarketStore.load(tmp_path))
    settle = int(fund["date"].iloc[10].value // 1_000_000)  # 17 ms after the hour
    on_the_hour = settle - 17
    before = src.snapshot("BTCUSDT", on_the_hour)  # the settlement is not published yet
    assert before.funding_rate.ts == int(fund["date"].iloc[9].value // 1_000_000)
    assert before.funding_rate.quality is FRESH  # 8h minus a few ms old: on time
    assert before.next_funding_ms.value == on_the_hour
    after = src.snapshot("BTCUSDT", settle)
    assert after.funding_rate.value == fund["open"].iloc[10]
    assert after.funding_interval_hours.value == 8.0
    assert after.next_funding_ms.value == on_the_hour + 8 * MS_PER_HOUR
