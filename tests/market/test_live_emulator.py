"""LiveSource against the Binance emulator, compared with ReplaySource on the same sample.

The emulator fixture copies the few lines of ``tests/emulator/conftest.py`` it needs.
Malformed payloads are produced by patching one raw ccxt method of the client in the test.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from bot.core.enums import Quality
from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from bot.emulator import EmulatorConfig, EmulatorState, start_emulator
from bot.exchange.connect import connect
from bot.market.budget import RequestBudget, RetryPolicy
from bot.market.live import LiveSource, PreFilter
from bot.market.replay import ReplaySource
from bot.market.snapshot import Snapshot

START = to_ms("2025-03-21T08:00:00Z")  # ORCA squeeze: funding at the -2% floor, 2h interval
SYMBOLS = ["ORCAUSDT", "BTCUSDT"]  # the sample symbols with data at START
H = 3_600_000

#: Fields only the live source can know (the replay data has no index price, no current
#: funding estimate, no per-symbol cap/floor, no multi-venue OI).
LIVE_ONLY = {"index_price", "premium", "predicted_funding_rate", "funding_cap", "funding_floor",
             "oi_weighted_funding"}
#: Fields only the replay source knows: spot volumes come from the spot exchange, which the
#: USDⓈ-M client does not query.
REPLAY_ONLY = {"spot_quote_volume_24h", "spot_futures_volume_ratio"}
#: Compared by value (to the symbol's tick or 1e-6 relative) and presence.
COMMON = set(Snapshot.field_names()) - LIVE_ONLY - REPLAY_ONLY


@pytest.fixture(scope="module")
def store() -> MarketStore:
    return MarketStore.load(Path(__file__).resolve().parents[2] / "bot" / "data" / "sample")


class Emu:
    def __init__(self, state: EmulatorState, base_url: str, ex: Any) -> None:
        self.state, self.base_url, self.ex = state, base_url, ex

    async def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.post(f"{self.base_url}/_sim/{path}", json=body) as r:
            data = await r.json()
            assert r.status == 200, data
            return data


@pytest.fixture
async def emu(store: MarketStore) -> AsyncIterator[Emu]:
    state = EmulatorState.build(store, START, speed=0, config=EmulatorConfig(), symbols=SYMBOLS)
    runner, base_url = await start_emulator(state, port=0)
    ex = connect(Settings(exchange={"base_url": base_url, "timeout_ms": 3000}))
    ex.enableRateLimit = False
    try:
        yield Emu(state, base_url, ex)
    finally:
        await ex.close()
        await runner.cleanup()


def _source(emu: Emu, **kw: Any) -> LiveSource:
    settings = Settings(exchange={"base_url": emu.base_url}, universe={"min_quote_volume_24h": 0})
    kw.setdefault("prefilter", PreFilter(funding_band=0.0, change_band=0.0))  # deep-scan everything
    return LiveSource(emu.ex, settings, clock=emu.state.now_ms, **kw)


def _close(a: float, b: float, tick: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=tick * 0.51 + 1e-12)


async def test_live_matches_replay_on_common_fields(emu: Emu, store: MarketStore) -> None:
    result = await _source(emu).scan()
    assert set(result.snapshots) == set(SYMBOLS)
    replay = ReplaySource(store)
    compared = 0
    for sym, live in result.snapshots.items():
        rep = replay.snapshot(sym, result.ts)
        tick = store[sym].instrument.tick_size
        for name in COMMON:
            a, b = live.get(name), rep.get(name)
            assert a.known == b.known, f"{sym}.{name}: live {a} vs replay {b}"
            if a.known:
                assert _close(a.value, b.value, tick if "price" in name or name.startswith("bar_") else 0.0), \
                    f"{sym}.{name}: live {a.value} vs replay {b.value}"
                compared += 1
        for name in LIVE_ONLY - {"oi_weighted_funding", "funding_cap", "funding_floor"}:
            assert live.get(name).known, f"{sym}.{name} should be known live"
        for name in REPLAY_ONLY:
            assert not live.get(name).known
    assert compared >= 26  # 14 common fields are known for each of the two symbols
    orca = result.snapshots["ORCAUSDT"]
    assert orca.funding_rate.value == pytest.approx(-0.02)
    assert orca.funding_interval_hours.value == 4.0 and orca.funding_floor.value == pytest.approx(-0.02)
    assert orca.open_interest.quality is Quality.MISSING  # no Binance OI in the sample: MISSING, not 0


async def test_scan_costs_and_prefilter(emu: Emu) -> None:
    src = _source(emu, prefilter=PreFilter(funding_band=0.01, change_band=10.0))
    result = await src.scan()
    assert result.candidates == ("ORCAUSDT",)  # only ORCA's funding estimate is beyond 1%
    assert result.stats.bulk_weight == 1 + 10 + 40 + 1  # exchangeInfo, premiumIndex, ticker, fundingInfo
    assert result.stats.deep_weight == 8
    btc = result.snapshots["BTCUSDT"]
    assert btc.mark_price.known and not btc.funding_rate.known  # bulk fields only
    again = await src.scan()
    assert again.stats.bulk_weight == 51  # markets are not reloaded before refresh_minutes


async def test_null_and_nan_funding_and_missing_symbol_are_flagged(emu: Emu) -> None:
    src = _source(emu)
    await emu.ex.load_markets()
    original = emu.ex.fapiPublicGetPremiumIndex

    bad_rate: list[Any] = [None]

    async def broken(params: Any = None) -> list[dict]:
        rows = await original()
        out = []
        for row in rows:
            if row["symbol"] == "ORCAUSDT":
                row["lastFundingRate"] = bad_rate[0]
            elif row["symbol"] == "BTCUSDT":
                continue  # missing from the bulk response
            out.append(row)
        return out

    emu.ex.fapiPublicGetPremiumIndex = broken
    result = await src.scan()
    orca, btc = result.snapshots["ORCAUSDT"], result.snapshots["BTCUSDT"]
    assert orca.predicted_funding_rate.quality is Quality.MISSING and orca.predicted_funding_rate.value is None
    assert orca.mark_price.known  # the rest of the row still counts
    assert "funding:nan_funding" in result.issues["ORCAUSDT"]
    assert "premiumIndex:missing_symbol" in result.issues["BTCUSDT"]
    assert btc.mark_price.known  # fell back to the mark klines of the deep scan
    assert btc.mark_price.ts % H == 0
    assert btc.predicted_funding_rate.quality is Quality.MISSING
    bad_rate[0] = "NaN"
    again = await src.scan()
    assert again.snapshots["ORCAUSDT"].predicted_funding_rate.quality is Quality.MISSING
    assert "funding:nan_funding" in again.issues["ORCAUSDT"]


async def test_out_of_order_duplicate_and_gapped_klines(emu: Emu, caplog: Any) -> None:
    src = _source(emu)
    original = emu.ex.fapiPublicGetKlines

    async def shuffled(params: dict) -> list:
        rows = await original(params)
        if params["symbol"] != "ORCAUSDT":
            return rows
        rows = list(rows)
        del rows[-3]  # a gap one hour before the 2nd-to-last closed bar
        return [rows[-1], *rows[:-1], rows[0]]  # newest first, plus a duplicate

    emu.ex.fapiPublicGetKlines = shuffled
    result = await src.scan()
    orca = result.snapshots["ORCAUSDT"]
    flags = result.issues["ORCAUSDT"]
    assert {"klines:unsorted", "klines:duplicate_ts", "klines:gap"} <= set(flags)
    assert orca.bar_high.quality is Quality.STALE  # repaired data is flagged, not trusted
    assert orca.price_change_1h.quality is Quality.STALE
    assert orca.price_change_4h.known  # 4h back still exists
    assert result.snapshots["BTCUSDT"].bar_high.quality is Quality.FRESH  # other symbols unaffected


async def test_garbage_payload_and_exception_never_escape(emu: Emu) -> None:
    src = _source(emu)

    async def garbage(params: Any = None) -> Any:
        return {"unexpected": "shape"}

    async def boom(params: Any = None) -> Any:
        raise ValueError("decoder exploded")

    await src.scan()  # a good scan first: the universe is known
    emu.ex.fapiPublicGetTicker24hr = garbage
    emu.ex.fapiDataGetOpenInterestHist = boom
    result = await src.scan()
    assert set(result.snapshots) == set(SYMBOLS)  # previous universe kept
    assert "universe:kept_previous" in result.issues["*"]
    for snap in result.snapshots.values():
        assert snap.quote_volume_24h.quality is Quality.MISSING
    assert any(f.endswith("request_failed") for f in result.issues.get("ORCAUSDT", []))


async def test_rate_limited_bulk_call_is_retried_after_retry_after(emu: Emu) -> None:
    budget = RequestBudget(1200, policy=RetryPolicy(max_attempts=2, max_wait_s=5))
    src = _source(emu, budget=budget)
    await emu.control("faults", {"p_429": 1.0, "paths": ["/fapi/v1/fundingInfo"], "seed": 1})
    result = await src.scan()
    assert budget.retries == 1
    assert "fundingInfo:request_failed" in result.issues["*"]
    orca = result.snapshots["ORCAUSDT"]
    assert orca.funding_interval_hours.quality is Quality.MISSING  # unknown, not a default
    assert orca.mark_price.known and orca.funding_rate.known  # the rest of the scan went on


async def test_every_snapshot_reaches_the_subscriber_and_the_journal(emu: Emu, sqlite_url: str) -> None:
    from bot.journal import Journal

    src = _source(emu)
    seen: list[Snapshot] = []
    src.subscribe(seen.append)
    src.subscribe(lambda s: 1 / 0)  # a broken subscriber must not stop the others
    journal = Journal.open(sqlite_url)
    try:
        journal.start_run("paper", "cfg", "test")
        src.subscribe(journal.record_observation)
        result = await src.scan()
        journal.flush()
        from sqlalchemy import create_engine, text

        with create_engine(sqlite_url).connect() as conn:
            rows = conn.execute(text("select symbol from market_observations")).fetchall()
    finally:
        journal.close()
    assert sorted(s.symbol for s in seen) == sorted(result.snapshots)
    assert sorted(r[0] for r in rows) == sorted(result.snapshots)
