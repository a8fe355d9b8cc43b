"""Every registered strategy on the bundled real sample (bot/data/sample) through ReplaySource.

1. Live path == batch path: a long-lived instance fed bar by bar with a growing history
   decides exactly what the batch path (one fresh state run over the whole history) decides,
   for a flat portfolio and with an open long/short of the strategy; a fresh instance per call
   agrees at sampled bars.
2. Known episodes: the RIVER December 2025 run and the ORCA March 2025 squeeze produce
   ``short_squeeze`` entries; quiet BTC produces none.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from loguru import logger

from bot.core.enums import IntentKind, PositionSide
from bot.core.intents import PortfolioView, PositionView
from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from bot.market.replay import ReplaySource
from bot.market.snapshot import Snapshot
from strategies import registry
from strategies.short_squeeze import ShortSqueeze

SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample"


@pytest.fixture(scope="module")
def histories() -> dict[str, list[Snapshot]]:
    if not SAMPLE.is_dir():
        pytest.fail(f"bundled sample missing: {SAMPLE}")
    logger.disable("bot.data")
    try:
        store = MarketStore.load(SAMPLE)
    finally:
        logger.enable("bot.data")
    src = ReplaySource(store)
    out = {}
    for symbol in store.symbols:
        h = store[symbol]
        if len(h.ts) and len(h.funding_ts):
            out[symbol] = list(src.iter_snapshots(symbol, int(h.ts[0]) + h.bar_ms, int(h.ts[-1]) + h.bar_ms))
    assert {"ORCAUSDT", "RIVERUSDT", "BTCUSDT"} <= set(out)
    return out


def _portfolios(name: str, symbol: str, t0: int) -> list[PortfolioView]:
    out = [PortfolioView.of(t0, 10_000.0, [])]
    for side in (PositionSide.LONG, PositionSide.SHORT):
        out.append(PortfolioView.of(t0, 10_000.0, [PositionView(symbol, side, 1.0, 1.0, t0, strategy=name)]))
    return out


@pytest.mark.parametrize("name", registry.names())
def test_bar_by_bar_equals_whole_history(name, histories) -> None:
    cls = registry.get(name)
    decided = 0
    for symbol, history in histories.items():
        for portfolio in _portfolios(name, symbol, history[0].ts):
            live, batch = cls(), cls()
            frames = batch.frames(history)
            grown: list[Snapshot] = []
            checks = set(range(0, len(history), max(1, len(history) // 8)))
            fresh_checked = 0
            for i, snap in enumerate(history):
                grown.append(snap)
                got = live.decide(grown, portfolio)
                expected = batch.evaluate(snap, frames[i], portfolio,
                                          can_enter=not batch.missing_required(snap))
                assert got == expected, (symbol, i)
                decided += len(got)
                if i in checks or (got and fresh_checked < 3):  # fresh instance per call, sampled
                    fresh_checked += bool(got)
                    assert cls().decide(history[: i + 1], portfolio) == got
    assert decided > 0  # the comparison covered real intents, not only empty lists


def _entries(history: list[Snapshot], strategy, start: str, end: str) -> list:
    flat = PortfolioView.of(0, 10_000.0, [])
    lo, hi = to_ms(start), to_ms(end)
    out, grown = [], []
    for snap in history:
        grown.append(snap)
        intents = strategy.decide(grown, flat)
        if lo <= snap.ts <= hi:
            out.extend(x for x in intents if x.kind is IntentKind.ENTER_LONG)
    return out


def test_river_december_run_fires_short_squeeze(histories) -> None:
    entries = _entries(histories["RIVERUSDT"], ShortSqueeze(), "2025-12-01", "2026-01-01")
    times = {e.ts for e in entries}
    # 2025-12-14 (funding -0.62%, 1h interval) and the 2025-12-31 leg (+124% in 24h, -1.67%)
    assert to_ms("2025-12-14T02:00") in times
    assert sum(to_ms("2025-12-31") <= t < to_ms("2026-01-01") for t in times) >= 5
    assert len(entries) >= 10  # 18 with the default parameters (see docs/strategies.md)
    assert all(e.reasons["open_interest_change"]["missing"] for e in entries)  # no OI: reduced strength
    assert max(e.strength for e in entries) <= 0.6


def test_orca_march_squeeze_fires_when_spot_veto_allows(histories) -> None:
    """ORCA's spot/futures 24h volume ratio fell to 0.10-0.14 during the squeeze (futures
    volume exploded), so the specified 0.2 veto stands aside; with the veto at 0.1 the
    squeeze of 2025-03-21 fires from the first -2% settlement on."""
    history = histories["ORCAUSDT"]
    assert _entries(history, ShortSqueeze(), "2025-03-18", "2025-03-25") == []
    entries = _entries(history, ShortSqueeze(params={"min_spot_futures_ratio": 0.1}), "2025-03-18", "2025-03-25")
    assert entries and entries[0].ts == to_ms("2025-03-21T08:00")
    assert entries[0].reasons["funding_rate"]["value"] == -0.02
    assert len(entries) >= 4  # 6 hourly entries on 2025-03-21 08:00-14:00
    ratios = [e.reasons["spot_futures_volume_ratio"]["value"] for e in entries]
    assert all(0.1 <= r < 0.2 for r in ratios)


def test_quiet_btc_produces_no_squeeze_entries(histories) -> None:
    history = histories["BTCUSDT"]
    assert len(history) > 8000
    assert _entries(history, ShortSqueeze(), "2025-01-01", "2027-01-01") == []
