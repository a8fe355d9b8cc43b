"""The pre-screen (issue 12) never changes a decision or a trade.

A strategy's vectorised pre-screen lets the engine skip ``decide`` on replayed bars of symbols
without a position. Two proofs, and each fails if the pre-screen is wrong:

* property: on arbitrary field values (thresholds hit exactly, NaN, infinities, missing
  fields), wherever the pre-screen says False, a flat symbol's ``decide`` returns nothing and no
  required field is missing (so skipping also loses no warning);
* backtests on the real sample, with and without the pre-screen, journal the same trades and
  the same signals, while the pre-screen did skip most bars.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.backtest import run_backtest
from bot.config import StrategyConfig
from bot.core.timeutil import MS_PER_HOUR
from bot.data.store import MarketStore
from bot.market.replay import Columns
from strategies.base import Strategy
from strategies.funding_rule import FundingRule
from tests.data.helpers import SAMPLE
from tests.engine import helpers
from tests.strategies.strategy_builders import flat

CONFIG = StrategyConfig(enabled=True, stop_loss_pct=0.0167, take_profit_pct=0.0333, leverage=3)
#: Loose enough that the sample trades often, so the comparison has something to compare.
LOOSE = {"long_max_funding": -0.0001, "long_min_change_24h": 0.03, "short_min_funding": 0.0002,
         "short_max_change_24h": -0.03, "exit_abs_funding": 0.00005}
#: Every threshold of both parameter sets, the floats next to it and values just either side.
EDGES = sorted({x for t in (-0.001, 0.001, 0.10, -0.05, 0.0001, -0.0001, 0.0002, 0.03, -0.03, 0.00005, 0.0)
                for x in (t, float(np.nextafter(t, np.inf)), float(np.nextafter(t, -np.inf)), t + 0.005, t - 0.005)})
value = st.one_of(st.sampled_from(EDGES), st.floats(-0.5, 0.5), st.sampled_from([np.nan, np.inf, -np.inf]))


def _columns(rows: list[tuple[float, float, float]]) -> Columns:
    times = np.arange(len(rows), dtype=np.int64) * MS_PER_HOUR
    arrays = {}
    for k, name in enumerate(("funding_rate", "price_change_24h", "last_price")):
        values = np.array([r[k] for r in rows], dtype=np.float64)
        codes = np.where(np.isnan(values), 2, 0).astype(np.int8)  # NaN is MISSING, as in replay_prep
        arrays[name] = (values, times.copy(), codes)
    return Columns("ORCAUSDT", "binanceusdm", times, arrays)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(value, value, st.one_of(st.just(1.0), value)), min_size=1, max_size=40),
       loose=st.booleans())
def test_a_screened_out_bar_gives_no_intent_and_lacks_no_field(rows: list, loose: bool) -> None:
    strategy = FundingRule(LOOSE if loose else None, config=CONFIG)
    cols = _columns(rows)
    for row in range(len(rows)):
        snap = cols.snapshot(row)
        if snap.prescreened(strategy) is False:
            assert strategy.missing_required(snap) == []
            assert FundingRule(LOOSE if loose else None, config=CONFIG).decide([snap], flat()) == []


@pytest.mark.parametrize("params", [None, LOOSE])
def test_every_pair_of_threshold_values_is_screened_correctly(params: dict | None) -> None:
    """Exhaustive around the thresholds: every pair of edge values (and unusable prices)."""
    specials = [np.nan, np.inf, -np.inf]
    grid = [(r, c, p) for r in EDGES + specials for c in EDGES + specials for p in (1.0, np.nan)]
    cols = _columns(grid)
    strategy = FundingRule(params, config=CONFIG)
    screened_out = 0
    for row in range(len(grid)):
        snap = cols.snapshot(row)
        if snap.prescreened(strategy) is False:
            screened_out += 1
            assert strategy.missing_required(snap) == [], grid[row]
            assert FundingRule(params, config=CONFIG).decide([snap], flat()) == [], grid[row]
    assert 0 < screened_out < len(grid)


def test_live_snapshots_are_never_screened() -> None:
    strategy = FundingRule(config=CONFIG)
    snap = _columns([(0.0, 0.0, 1.0)]).snapshot(0)
    assert snap.prescreened(strategy) is False
    live = type(snap)(symbol=snap.symbol, ts=snap.ts, funding_rate=snap.funding_rate,
                      price_change_24h=snap.price_change_24h, last_price=snap.last_price)
    assert live.prescreened(strategy) is None and not strategy.skips([live])


def _journal(url: str) -> dict[str, list]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
        return {
            "trades": con.execute("select symbol, side, entry_ts, entry_price, quantity, stop_price from trades "
                                  "order by rowid").fetchall(),
            "exits": con.execute("select exit_ts, exit_price, exit_reason, realised_pnl, fees, funding "
                                 "from trade_exits order by rowid").fetchall(),
            "signals": con.execute("select ts, symbol, kind, side, reasons from signals order by rowid").fetchall(),
        }


async def _run(tmp_path: Path, name: str) -> tuple[list[dict], dict[str, list]]:
    settings = helpers.engine_settings(tmp_path / name, max_open_positions=3)
    store = MarketStore.load(SAMPLE)
    result = await run_backtest(settings, store, {"funding_rule": FundingRule(LOOSE, config=CONFIG)},
                                journal_url=settings.journal.url)
    trades = [{k: v for k, v in t.items() if k != "trade_id"} for t in result.trades]
    return trades, _journal(settings.journal.url)


async def test_backtests_with_and_without_the_prescreen_are_identical(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    skipped = []
    real_skips = Strategy.skips

    def counting(self: Strategy, history) -> bool:
        out = real_skips(self, history)
        skipped.append(out)
        return out

    monkeypatch.setattr(Strategy, "skips", counting)
    with_screen = await _run(tmp_path, "screened")
    assert sum(skipped) > 0.9 * len(skipped) > 1000  # it did skip, and most bars
    monkeypatch.setattr(FundingRule, "prescreen", lambda self, column: None)
    skipped.clear()
    without = await _run(tmp_path, "plain")
    assert not any(skipped)
    assert len(with_screen[0]) > 10
    assert with_screen[0] == without[0]
    for table in ("trades", "exits", "signals"):
        assert with_screen[1][table] == without[1][table], table
