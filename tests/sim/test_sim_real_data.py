"""Scenarios on real Binance ORCA bars from the bundled sample (skipped when it is absent).

Reads the three freqtrade feather files with pandas directly (the general loader is bot/data's).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bot.core.enums import OrderSide, OrderType
from bot.sim.exchange import SimExchange
from bot.sim.margin import funding_payment
from bot.sim.models import EventKind, IncomeType

from .conftest import SYMBOL, make_instrument

FUT = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample" / "binance" / "futures"


def _load() -> tuple[pd.DataFrame, pd.DataFrame]:
    files = {k: FUT / f"ORCA_USDT_USDT-1h-{k}.feather" for k in ("futures", "mark", "funding_rate")}
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        pytest.skip(f"bundled ORCA sample not present yet: {missing}")
    bars = pd.read_feather(files["futures"]).merge(
        pd.read_feather(files["mark"])[["date", "open", "high", "low", "close"]], on="date", suffixes=("", "_m"))
    bars["ts"] = bars["date"].astype("int64") // 1_000_000
    funding = pd.read_feather(files["funding_rate"])
    funding["ts"] = funding["date"].astype("int64") // 1_000_000
    return bars, funding


def _replay(ex: SimExchange, bars: pd.DataFrame, funding: pd.DataFrame, start: int, end: int,
            on_step=None) -> list:
    """Bars and settlements in time order: a settlement at T is applied after the bar closing at T."""
    events = []
    rates = list(funding.itertuples())
    j = 0
    for row in bars.iloc[start:end].itertuples():
        close_ts = row.ts + 3_600_000
        if on_step is not None:
            on_step(row)
        events += ex.on_bar(SYMBOL, row.ts, row.open, row.high, row.low, row.close, row.volume,
                            row.open_m, row.high_m, row.low_m, row.close_m)
        while j < len(rates) and rates[j].ts < close_ts:
            if rates[j].ts >= row.ts:
                events += ex.on_funding(SYMBOL, rates[j].ts, rates[j].open, row.close_m)
            j += 1
    return events


def test_short_into_the_march_squeeze_is_liquidated_at_the_reported_price() -> None:
    bars, funding = _load()
    start = int(bars.index[bars["date"] == pd.Timestamp("2025-03-19 00:00", tz="UTC")][0])
    ex = SimExchange({SYMBOL: make_instrument()}, balance=1_000.0)
    _replay(ex, bars, funding, 0, start)
    ex.set_leverage(SYMBOL, 10)
    ex.place_order(SYMBOL, OrderSide.SELL, OrderType.MARKET, 200)
    reported: list[float] = []

    def remember(_row) -> None:
        pos = ex.position(SYMBOL)
        if pos is not None:
            reported.append(pos.liquidation_price)

    events = _replay(ex, bars, funding, start, start + 24 * 5, remember)
    liq = [e for e in events if e.kind is EventKind.LIQUIDATION]
    assert len(liq) == 1
    assert liq[0].payload["liquidation_price"] == pytest.approx(reported[-1], rel=1e-12)
    (force,) = ex.force_orders(SYMBOL)
    assert force.avg_price == pytest.approx(reported[-1], rel=1e-12)
    # money conservation through real funding and a liquidation
    acc = ex.account
    assert acc.wallet == pytest.approx(1_000 + sum(i.amount for i in acc.incomes), abs=1e-9)
    assert ex.position(SYMBOL) is None and ex.balance().available == pytest.approx(acc.wallet)


def test_long_collects_real_negative_funding_each_settlement() -> None:
    bars, funding = _load()
    start = int(bars.index[bars["date"] == pd.Timestamp("2025-03-20 00:00", tz="UTC")][0])
    ex = SimExchange({SYMBOL: make_instrument()}, balance=10_000.0)
    _replay(ex, bars, funding, 0, start)
    ex.set_leverage(SYMBOL, 1)
    ex.place_order(SYMBOL, OrderSide.BUY, OrderType.MARKET, 100)
    events = _replay(ex, bars, funding, start, start + 72)
    paid = [e.payload for e in events if e.kind is EventKind.FUNDING]
    window = funding[(funding.ts >= bars.ts.iloc[start]) & (funding.ts < bars.ts.iloc[start + 72])]
    assert len(paid) == len(window) > 3  # one booking per settlement, whatever the interval
    for p in paid:
        assert p["income"].amount == pytest.approx(funding_payment("long", 100, p["mark_price"], p["rate"]))
    assert sum(p["rate"] < 0 for p in paid) > 0
    total = sum(i.amount for i in ex.income(SYMBOL, IncomeType.FUNDING_FEE))
    assert total == pytest.approx(sum(-100 * p["mark_price"] * p["rate"] for p in paid))
    assert total > 0  # the squeeze paid longs
