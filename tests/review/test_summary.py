"""Summary numbers against values recomputed independently from the scenario's inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.review import service
from bot.review.db import open_readonly
from bot.review.queries import ReviewFilter
from bot.review.summary import to_jsonable

from . import expected as x
from .journal_builder import TRADES, at, build_journal


@pytest.fixture(scope="module")
def engine(scenario):
    eng = open_readonly(scenario.url)
    yield eng
    eng.dispose()


def test_totals_match_independent_computation(engine):
    s = service.summary(engine)["total"]
    closed = x.closed()
    pnl = [x.net(t) for t in closed]
    assert s["trades"] == 5 and s["open_trades"] == 1
    assert s["net_pnl"] == pytest.approx(sum(pnl)) == pytest.approx(236.0)
    assert s["fees"] == pytest.approx(sum(t[11] for t in closed))
    assert s["funding"] == pytest.approx(sum(t[12] for t in closed))
    assert s["win_rate"] == pytest.approx(3 / 5)
    wins, losses = [p for p in pnl if p > 0], [p for p in pnl if p < 0]
    assert s["profit_factor"] == pytest.approx(sum(wins) / -sum(losses))
    assert s["expectancy"] == pytest.approx(np.mean(pnl))
    assert s["avg_win"] == pytest.approx(np.mean(wins))
    assert s["avg_loss"] == pytest.approx(np.mean(losses))
    rets, _ = x.daily_returns()
    assert s["days"] == 6
    assert s["sharpe"] == pytest.approx(x.sharpe(rets))
    assert s["sortino"] == pytest.approx(x.sortino(rets))
    assert s["max_drawdown"] == pytest.approx(x.max_dd(rets))
    growth = float(np.prod(1 + np.asarray(rets)))
    assert s["calmar"] == pytest.approx((growth ** (365 / 6) - 1) / abs(x.max_dd(rets)))
    assert s["max_drawdown_days"] == 2  # day-1 peak 10100 -> 9900 on day 2, recovered on day 3
    assert s["time_in_market"] == pytest.approx(x.time_in_market(TRADES))


def test_corrected_exit_uses_newest_row(engine, scenario):
    df = service.trade_list(engine)
    t3 = df[df["trade_id"] == scenario.trades["T3"]].iloc[0]
    assert t3["realised_pnl"] == pytest.approx(310.0)
    assert t3["net_pnl"] == pytest.approx(300.0)


def test_per_strategy_and_symbol(engine):
    data = service.summary(engine)
    _, starts = x.daily_returns()
    for name in ("short_squeeze", "funding_extreme"):
        closed = x.closed(strategy=name)
        s = data["by_strategy"][name]
        assert s["trades"] == len(closed)
        assert s["net_pnl"] == pytest.approx(sum(x.net(t) for t in closed))
        contrib = [0.0] * 6
        for t in closed:
            contrib[(t[6] - at(0, 0)).days] += x.net(t)
        contrib = [c / st for c, st in zip(contrib, starts, strict=True)]
        assert s["sharpe"] == pytest.approx(x.sharpe(contrib))
        assert s["max_drawdown"] == pytest.approx(x.max_dd(contrib))
    assert data["by_strategy"]["short_squeeze"]["profit_factor"] == math.inf  # no losing trade
    assert data["by_strategy"]["funding_extreme"]["win_rate"] == 0.0
    for sym in ("ORCAUSDT", "BTCUSDT"):
        closed = x.closed(symbol=sym)
        assert data["by_symbol"][sym]["net_pnl"] == pytest.approx(sum(x.net(t) for t in closed))
    assert to_jsonable(data)["by_strategy"]["short_squeeze"]["profit_factor"] == "inf"
    assert to_jsonable(data)["by_strategy"]["short_squeeze"]["avg_loss"] is None


def test_execution_paper_vs_live(engine, scenario):
    ex = service.summary(engine)["execution"]
    for mode in ("paper", "live"):
        fills = [f for f in scenario.fills if f["mode"] == mode]
        slips = [(1 if f["side"] == "buy" else -1) * (f["price"] - f["requested"]) / f["requested"] * 1e4
                 for f in fills]
        assert ex["by_mode"][mode]["fills"] == len(fills)
        assert ex["by_mode"][mode]["slippage_bps_mean"] == pytest.approx(np.mean(slips))
        assert ex["by_mode"][mode]["latency_ms_mean"] == pytest.approx(np.mean([f["latency"] for f in fills]))
    diff = ex["live_minus_paper"]
    assert diff["latency_ms_mean"] == pytest.approx(
        ex["by_mode"]["live"]["latency_ms_mean"] - ex["by_mode"]["paper"]["latency_ms_mean"])


def test_filters(engine, scenario):
    live = service.summary(engine, ReviewFilter(mode="live"))["total"]
    assert live["trades"] == 1 and live["net_pnl"] == pytest.approx(57.0)
    assert live["days"] == 2
    run = service.summary(engine, ReviewFilter(run_id=scenario.runs["paper"]))["total"]
    assert run["trades"] == 4 and run["net_pnl"] == pytest.approx(118 - 199 + 300 - 40)
    since = service.summary(engine, ReviewFilter(since=at(2, 0)))["total"]
    assert since["trades"] == 3  # T3, T4, T6 (T5 open)
    strat = service.summary(engine, ReviewFilter(strategy="funding_extreme"))
    assert list(strat["by_strategy"]) == ["funding_extreme"]
    assert strat["total"]["net_pnl"] == pytest.approx(-239.0)


def test_trade_story_tells_everything(engine, scenario):
    story = service.trade_story(engine, scenario.trades["T1"][:8])
    assert story["trade"]["trade_id"] == scenario.trades["T1"]
    assert story["signal"]["reasons"]["funding_rate"]["threshold"] == -0.005
    assert story["snapshot"]["ts"] == at(0, 0)  # newest observation at or before the signal (00:30)
    assert story["decision"]["verdict"] == "approved"
    purposes = [o["purpose"] for o in story["orders"]]
    assert purposes == ["entry", "stop", "exit"]
    assert [h["status"] for h in story["orders"][1]["history"]] == ["new", "canceled"]
    assert float(story["orders"][0]["fills"][0]["requested_price"]) == pytest.approx(0.999)
    assert float(story["funding"][0]["amount"]) == -0.5
    assert float(story["stop_moves"][0]["new_stop"]) == 1.05
    assert float(story["trade"]["net_pnl"]) == 118.0
    assert service.trade_story(engine, scenario.trades["T3"])["exit_rows"] == 2
    with pytest.raises(service.NotFoundError, match="no trade"):
        service.trade_story(engine, "zzzz")


def test_empty_journal_gives_nan_not_crash(tmp_path):
    from bot.journal import Journal

    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    Journal.open(url).close()
    eng = open_readonly(url)
    s = service.summary(eng)["total"]
    eng.dispose()
    assert s["trades"] == 0 and s["net_pnl"] == 0.0
    assert math.isnan(s["sharpe"]) and math.isnan(s["profit_factor"])


@pytest.mark.postgres
def test_postgres_summary_matches_sqlite(pg_url, engine):
    build_journal(pg_url)
    pg = open_readonly(pg_url)
    try:
        a = to_jsonable(service.summary(pg))
    finally:
        pg.dispose()
    b = to_jsonable(service.summary(engine))
    assert a["total"] == b["total"]
    assert a["by_symbol"] == b["by_symbol"]
