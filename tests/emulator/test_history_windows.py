"""userTrades and income answer with Binance's time windows, paging and ordering (issue 11, Part 1).

Rules (Binance USDⓈ-M "Account Trade List" and "Get Income History", quoted in ccxt 4.5's
``fetch_my_trades``): userTrades without startTime/endTime returns the last 7 days only; the two
at most 7 days apart (-1127); ``fromId`` pages by trade id and cannot be sent with startTime or
endTime (-1128); ascending order; ``limit`` caps the page. Income without times returns the recent
7 days; with startTime it pages forward by time. All through the real ccxt client.

Fixture: ORCA market orders (buy, sell, buy; leverage 1) at day 0, day 1 and day 9 of the emulator
clock (now = day 9), so a 7-day window hand-works to: default window -> the day-9 trade only;
day 0..day 7 -> days 0 and 1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import ccxt.async_support as ccxt
import pytest

from bot.core.timeutil import MS_PER_HOUR

from .conftest import Emu, open_emu

S = "ORCA/USDT:USDT"
DAY = 24 * MS_PER_HOUR


@pytest.fixture
async def traded(store: Any) -> AsyncIterator[tuple[Emu, list[dict[str, Any]]]]:
    """The emulator after buys on days 0, 1 and 9; yields it with the three orders."""
    runner, emu = await open_emu(store, symbols=["ORCAUSDT"])
    try:
        await emu.ex.load_markets()
        await emu.ex.set_leverage(1, S)  # no liquidation (its fill would be a fourth trade)
        orders = [await emu.ex.create_order(S, "market", "buy", 10)]
        await emu.step(DAY)
        orders.append(await emu.ex.create_order(S, "market", "sell", 10, None, {"reduceOnly": True}))
        await emu.step(8 * DAY)
        orders.append(await emu.ex.create_order(S, "market", "buy", 10))
        yield emu, orders
    finally:
        await emu.ex.close()
        await emu.http.close()
        await runner.cleanup()


async def _trades(emu: Emu, **params: Any) -> list[dict[str, Any]]:
    return await emu.ex.fapiPrivateGetUserTrades({"symbol": "ORCAUSDT", **params})


async def test_user_trades_default_is_the_last_7_days(traded: tuple[Emu, list[dict[str, Any]]]) -> None:
    emu, orders = traded
    got = await emu.ex.fetch_my_trades(S)
    assert [t["order"] for t in got] == [orders[2]["id"]]


async def test_user_trades_window_longer_than_7_days_is_refused(traded: tuple[Emu, list[dict[str, Any]]]) -> None:
    emu, orders = traded
    t0 = orders[0]["timestamp"]
    with pytest.raises(ccxt.BadRequest, match="-1127"):
        await _trades(emu, startTime=t0, endTime=t0 + 7 * DAY + 1)
    exactly_7 = await _trades(emu, startTime=t0, endTime=t0 + 7 * DAY)
    assert [str(r["orderId"]) for r in exactly_7] == [orders[0]["id"], orders[1]["id"]]  # ascending


async def test_user_trades_start_only_covers_7_days(traded: tuple[Emu, list[dict[str, Any]]]) -> None:
    emu, orders = traded
    rows = await _trades(emu, startTime=orders[0]["timestamp"])
    assert [str(r["orderId"]) for r in rows] == [orders[0]["id"], orders[1]["id"]]


async def test_user_trades_from_id_pages_past_the_window(traded: tuple[Emu, list[dict[str, Any]]]) -> None:
    emu, orders = traded
    first = (await _trades(emu, startTime=orders[0]["timestamp"], limit=1))[0]
    page1 = await _trades(emu, fromId=first["id"], limit=2)
    assert [str(r["orderId"]) for r in page1] == [orders[0]["id"], orders[1]["id"]]
    page2 = await _trades(emu, fromId=int(page1[-1]["id"]) + 1, limit=2)
    assert [str(r["orderId"]) for r in page2] == [orders[2]["id"]]  # 9 days after the first: no window
    with pytest.raises(ccxt.BadRequest, match="-1128"):
        await _trades(emu, fromId=first["id"], startTime=orders[0]["timestamp"])


async def test_user_trades_limit_without_times_keeps_the_most_recent(
        traded: tuple[Emu, list[dict[str, Any]]]) -> None:
    emu, _ = traded
    await emu.step(MS_PER_HOUR)
    extra = await emu.ex.create_order(S, "market", "buy", 10)
    rows = await _trades(emu, limit=1)
    assert [str(r["orderId"]) for r in rows] == [extra["id"]]


async def test_income_default_is_the_recent_7_days_and_pages_by_time(
        traded: tuple[Emu, list[dict[str, Any]]]) -> None:
    emu, orders = traded
    default = await emu.ex.fapiPrivateGetIncome({"incomeType": "COMMISSION"})
    assert [int(r["time"]) for r in default] == [orders[2]["timestamp"]]
    page1 = await emu.ex.fapiPrivateGetIncome({"incomeType": "COMMISSION", "startTime": orders[0]["timestamp"],
                                               "limit": 2})
    assert [int(r["time"]) for r in page1] == [orders[0]["timestamp"], orders[1]["timestamp"]]
    page2 = await emu.ex.fapiPrivateGetIncome({"incomeType": "COMMISSION", "startTime": int(page1[-1]["time"]) + 1,
                                               "limit": 2})
    assert [int(r["time"]) for r in page2] == [orders[2]["timestamp"]]
