"""Unit tests of the live feed's building blocks: budget/retries, derivations, cleaning, liquidations."""

from __future__ import annotations

import asyncio
import math

import ccxt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.enums import Quality
from bot.market.budget import BudgetExhausted, RequestBudget, RetryPolicy, endpoint_weight, retry_after_seconds
from bot.market.derive import oi_weighted_funding, rescale_rate, window_change
from bot.market.liquidations import LiquidationAggregator, LiquidationWatcher, parse_liquidation
from bot.market.live import FeedIssues, PreFilter, Premium, Ticker, clean_klines, clean_series

H = 3_600_000


class FakeTime:
    """Deterministic sleep + monotonic clock: sleeping advances the clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def _budget(ft: FakeTime, **policy: float) -> RequestBudget:
    return RequestBudget(1200, policy=RetryPolicy(**policy), seed=1, sleep=ft.sleep, monotonic=ft.monotonic)


# -- budget --------------------------------------------------------------------------------

def test_weights_follow_binance_docs() -> None:
    assert endpoint_weight("ticker/24hr", with_symbol=False) == 40
    assert endpoint_weight("ticker/24hr") == 1
    assert endpoint_weight("premiumIndex", with_symbol=False) == 10
    assert [endpoint_weight("klines", limit=n) for n in (26, 100, 500, 1000, 1500)] == [1, 2, 5, 5, 10]


async def test_429_honours_retry_after_then_succeeds() -> None:
    ft = FakeTime()
    budget = _budget(ft)
    calls = []

    async def fn() -> str:
        calls.append(ft.now)
        if len(calls) == 1:
            raise ccxt.DDoSProtection("429 Too Many Requests")
        return "ok"

    result = await budget.call("ticker/24hr", 40, fn, headers=lambda: {"retry-after": "7"})
    assert result == "ok"
    assert calls == [0.0, 7.0]  # the second attempt waited exactly Retry-After
    assert budget.retries == 1
    assert budget.used_weight == 80 and budget.requests == 2


async def test_ban_longer_than_max_wait_fails_fast_and_pauses_following_calls() -> None:
    ft = FakeTime()
    budget = _budget(ft, max_wait_s=30.0)

    async def banned() -> None:
        raise ccxt.DDoSProtection("418 banned")

    with pytest.raises(BudgetExhausted, match="wait 120s"):
        await budget.call("premiumIndex", 10, banned, headers=lambda: {"Retry-After": "120"})

    async def ok() -> int:
        return 1

    assert await budget.call("time", 1, ok) == 1
    assert ft.sleeps == [120.0]  # the next request waited out the ban instead of hammering


async def test_network_errors_retry_with_bounded_jittered_backoff() -> None:
    ft = FakeTime()
    budget = _budget(ft, max_attempts=4, base_delay_s=0.5, max_delay_s=1.0)

    async def down() -> None:
        raise ccxt.RequestTimeout("timeout")

    with pytest.raises(BudgetExhausted, match="gave up after 4 attempts"):
        await budget.call("openInterest", 1, down)
    assert len(ft.sleeps) == 3
    caps = [0.5, 1.0, 1.0]
    assert all(cap / 2 <= s <= cap for s, cap in zip(ft.sleeps, caps, strict=True))


async def test_non_network_errors_are_not_retried() -> None:
    ft = FakeTime()
    budget = _budget(ft)
    attempts = 0

    async def bad_symbol() -> None:
        nonlocal attempts
        attempts += 1
        raise ccxt.BadSymbol("-1121 Invalid symbol")

    with pytest.raises(ccxt.BadSymbol):
        await budget.call("openInterest", 1, bad_symbol)
    assert attempts == 1 and ft.sleeps == []


def test_retry_after_parsing() -> None:
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds(None) is None


# -- derivations ---------------------------------------------------------------------------

rates = st.floats(-0.05, 0.05, allow_nan=False)
notionals = st.floats(1.0, 1e10, allow_nan=False)


@given(st.lists(st.tuples(rates, notionals), min_size=1, max_size=6))
def test_oi_weighted_funding_is_a_weighted_mean(venues: list[tuple[float, float]]) -> None:
    value = oi_weighted_funding(venues)
    assert value is not None
    lo, hi = min(r for r, _ in venues), max(r for r, _ in venues)
    assert lo - 1e-12 <= value <= hi + 1e-12
    # scaling every notional by the same factor does not change the mean
    scaled = oi_weighted_funding([(r, n * 3.0) for r, n in venues])
    assert scaled == pytest.approx(value, rel=1e-9, abs=1e-15)


def test_oi_weighted_funding_ignores_unknown_venues_and_never_invents_zero() -> None:
    assert oi_weighted_funding([(0.01, 100.0), (None, 1e9), (0.03, None)]) == pytest.approx(0.01)
    assert oi_weighted_funding([(0.01, 300.0), (-0.01, 100.0)]) == pytest.approx(0.005)
    assert oi_weighted_funding([(None, 1.0)]) is None


@given(rates, st.sampled_from([1.0, 2.0, 4.0, 8.0]), st.sampled_from([1.0, 4.0, 8.0]))
def test_rescale_rate_round_trips(rate: float, a: float, b: float) -> None:
    assert rescale_rate(rescale_rate(rate, a, b), b, a) == pytest.approx(rate, abs=1e-15)
    assert rescale_rate(rate, 8.0, 4.0) == pytest.approx(rate / 2)


def test_window_change_needs_the_exact_point() -> None:
    ts = [0, H, 2 * H, 4 * H]  # 3h missing
    values = [100.0, 110.0, 120.0, 150.0]
    assert window_change(ts, values, 4 * H) == (pytest.approx(0.5), 4 * H)
    assert window_change(ts, values, H) == (None, 4 * H)  # 3h missing: unknown, not interpolated


# -- cleaning ------------------------------------------------------------------------------

def test_clean_series_sorts_dedupes_skips_junk_and_counts_gaps() -> None:
    issues = FeedIssues()
    rows = [(3 * H, "3"), (H, "1"), (H, "1.5"), (None, "9"), (2 * H, "NaN"), (6 * H, "6")]
    s = clean_series(rows, H, "XUSDT", "oi_hist", issues)
    assert s.ts == [H, 3 * H, 6 * H]
    assert s.values == [1.5, 3.0, 6.0]
    assert s.repaired and s.gaps == 2
    assert set(issues.for_symbol("XUSDT")) == {"oi_hist:malformed_rows", "oi_hist:unsorted",
                                              "oi_hist:duplicate_ts", "oi_hist:gap"}


def test_clean_klines_keeps_closed_bars_only() -> None:
    issues = FeedIssues()
    now = 10 * H
    rows = [[8 * H, "1", "2", "0.5", "1.5", "10", 0, "15"], [9 * H, "1.5", "2", "1", "1.8", "5", 0, "9"],
            [10 * H, "1.8", "1.9", "1.7", "1.85", "1", 0, "2"]]  # the 10h bar is still open
    bars, repaired = clean_klines(rows, now, "XUSDT", "klines", issues)
    assert [b.open_ts for b in bars] == [8 * H, 9 * H]
    assert bars[-1].close == 1.8 and bars[-1].quote_volume == 9.0
    assert not repaired and issues.current == {}


def test_prefilter_scores_by_band() -> None:
    pf = PreFilter(funding_band=0.001, change_band=0.1)
    assert pf.score(Premium(1, 1, -0.003, None, 0), Ticker(1, 0.05, 1, 0)) == pytest.approx(3.0)
    assert pf.score(Premium(1, 1, 0.0001, None, 0), Ticker(1, -0.25, 1, 0)) == pytest.approx(2.5)
    assert pf.score(Premium(1, 1, None, None, 0), Ticker(1, None, 1, 0)) is None
    with pytest.raises(ValueError):
        PreFilter(funding_band=-1)


# -- liquidations --------------------------------------------------------------------------

def _liq(side: str, ts: int, contracts: float = 2.0, price: float = 10.0, symbol: str = "ORCA/USDT:USDT") -> dict:
    return {"symbol": symbol, "side": side, "timestamp": ts, "contracts": contracts, "price": price,
            "contractSize": 1.0, "quoteValue": None}


def test_forced_sell_is_a_long_liquidation() -> None:
    liq = parse_liquidation(_liq("sell", 5))
    assert liq is not None and liq.symbol == "ORCAUSDT"
    assert (liq.long_notional, liq.short_notional) == (20.0, 0.0)
    assert parse_liquidation({"symbol": "X/USDT:USDT", "side": "sell", "timestamp": 1}) is None


async def test_watcher_survives_disconnects_and_flags_quality() -> None:
    """A fake stream: events, a disconnect, junk, more events, then another disconnect."""
    clock = {"now": 0}
    script: list[object] = [
        [_liq("sell", 100), _liq("buy", 200, contracts=1.0)],
        ConnectionError("socket closed"),
        [{"symbol": None}, _liq("sell", 300)],
        [_liq("buy", 400, contracts=3.0)],
        ConnectionError("socket closed again"),
    ]
    done = asyncio.Event()

    async def watch(symbols: list[str]) -> list[dict]:
        if not script:
            done.set()
            await asyncio.sleep(3600)
        item = script.pop(0)
        if isinstance(item, Exception):
            raise item
        clock["now"] += 1
        return item  # type: ignore[return-value]

    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)

    agg = LiquidationAggregator(window_ms=H)
    assert agg.totals("ORCAUSDT", 0)[0].quality is Quality.MISSING  # never connected: MISSING
    watcher = LiquidationWatcher(watch, ["ORCA/USDT:USDT"], agg, lambda: clock["now"], seed=3,
                                 base_backoff_s=1.0, max_backoff_s=4.0, sleep=fake_sleep)
    task = watcher.start()
    await asyncio.wait_for(done.wait(), 5)
    long_obs, short_obs = agg.totals("ORCAUSDT", 1000)
    assert long_obs.value == 40.0 and short_obs.value == 10.0 + 30.0
    assert long_obs.quality is Quality.STALE  # stream down at the end
    assert watcher.reconnects == 2 and agg.malformed == 1
    assert len(slept) == 2 and all(0.5 <= s <= 1.0 for s in slept)  # reset after a good read
    await watcher.stop()
    assert task.done()


def test_totals_fresh_only_after_a_full_window_connected() -> None:
    agg = LiquidationAggregator(window_ms=H)
    agg.mark_connected(0)
    agg.add([_liq("sell", 10)])
    assert agg.totals("ORCAUSDT", H // 2)[0].quality is Quality.STALE
    long_obs, _ = agg.totals("ORCAUSDT", H + 20)
    assert long_obs.quality is Quality.FRESH and long_obs.value == 0.0  # event left the window
    assert math.isclose(agg.totals("ORCAUSDT", H)[0].value, 20.0)
