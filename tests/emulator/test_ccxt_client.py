"""The real, unmodified ccxt ``binanceusdm`` client against the emulator over loopback HTTP."""

from __future__ import annotations

from typing import Any

import ccxt.async_support as ccxt
import numpy as np
import pytest

from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.emulator import EmulatorConfig

from .conftest import KEY, SECRET, START, Emu, make_settings, open_emu

S = "ORCA/USDT:USDT"


def _closed(store: Any, symbol: str, t: int) -> int:
    return int(store[symbol].bars_known_at(t))


# -- market data --------------------------------------------------------------------------------

async def test_markets_tickers_book_candles(emu: Emu, store: Any) -> None:
    ex = emu.ex
    m = ex.market(S)
    inst = emu.state.instruments["ORCAUSDT"]
    assert (m["precision"]["price"], m["precision"]["amount"]) == (inst.tick_size, inst.step_size)
    assert m["limits"]["cost"]["min"] == inst.min_notional and m["swap"] and m["linear"]

    h = store["ORCAUSDT"]
    n = _closed(store, "ORCAUSDT", START)
    ticker = await ex.fetch_ticker(S)
    assert ticker["last"] == pytest.approx(float(h.close[n - 1]))
    assert ticker["timestamp"] == START
    tickers = await ex.fetch_tickers([S, "BTC/USDT:USDT"])
    assert set(tickers) == {S, "BTC/USDT:USDT"}

    book = await ex.fetch_order_book(S, 5)
    assert len(book["bids"]) == 5 and len(book["asks"]) == 5
    assert book["bids"][0][0] < ticker["last"] < book["asks"][0][0]
    assert all(a[0] < b[0] for a, b in zip(book["asks"], book["asks"][1:], strict=False))

    candles = await ex.fetch_ohlcv(S, "1h", limit=3)
    assert [c[0] for c in candles] == [int(h.ts[i]) for i in range(n - 3, n)]
    assert candles[-1][4] == pytest.approx(float(h.close[n - 1]))
    assert candles[-1][0] + MS_PER_HOUR <= START  # never a bar that is still open
    mark = await ex.fetch_ohlcv(S, "1h", limit=2, params={"price": "mark"})
    assert mark[-1][4] == pytest.approx(float(h.mark_close[n - 1])) and mark[-1][5] == 0
    four = await ex.fetch_ohlcv(S, "4h", limit=2)
    assert all(c[0] % (4 * MS_PER_HOUR) == 0 for c in four)
    assert await ex.fetch_ohlcv(S, "1h", since=START + MS_PER_HOUR, limit=5) == []  # the future is unknown


async def test_funding_endpoints_answer_as_of_the_clock(emu: Emu, store: Any) -> None:
    ex = emu.ex
    h = store["ORCAUSDT"]
    m = int(h.funding_known_at(START))
    fr = await ex.fetch_funding_rate(S)
    assert fr["fundingRate"] == pytest.approx(float(h.funding_rate[m - 1]))
    assert fr["fundingTimestamp"] > START
    hist = await ex.fetch_funding_rate_history(S, limit=5)
    assert [r["timestamp"] for r in hist] == [int(t) for t in h.funding_ts[m - 5:m]]
    rates = await ex.fetch_funding_rates([S, "BTC/USDT:USDT"])
    assert set(rates) == {S, "BTC/USDT:USDT"}
    intervals = await ex.fetch_funding_intervals()
    assert intervals[S]["interval"] == "4h"  # ORCA ran 4h funding then; BTC (8h) is not listed
    assert "BTC/USDT:USDT" not in intervals


async def test_open_interest_and_ratios_from_bybit_sample(store: Any) -> None:
    t = to_ms("2022-11-10T12:00:00Z")
    runner, e = await open_emu(store, start=t, symbols=["SOLUSDT"])
    try:
        await e.ex.load_markets()
        h = store["SOLUSDT"]
        known = int(np.searchsorted(h.oi_ts, t, "right"))
        oi = await e.ex.fetch_open_interest("SOL/USDT:USDT")
        assert oi["openInterestAmount"] == pytest.approx(float(h.oi[known - 1]), rel=1e-6)
        hist = await e.ex.fetch_open_interest_history("SOL/USDT:USDT", "1h", limit=3)
        assert [r["timestamp"] for r in hist] == [int(x) for x in h.oi_ts[known - 3:known]]
        assert await e.ex.fetch_open_interest_history("SOL/USDT:USDT", "5m", limit=3) == []  # no 5m data
        ratios = await e.ex.fetch_long_short_ratio_history("SOL/USDT:USDT", "5m", None, 3)
        assert ratios == []  # the sample carries no long/short ratios
    finally:
        await e.ex.close()
        await e.http.close()
        await runner.cleanup()


# -- account and orders -------------------------------------------------------------------------

async def test_account_orders_and_positions(emu: Emu) -> None:
    ex = emu.ex
    bal = await ex.fetch_balance()
    assert bal["USDT"]["total"] == 10_000 and bal["USDT"]["free"] == 10_000
    assert (await ex.set_leverage(5, S))["leverage"] == 5
    with pytest.raises(ccxt.MarginModeAlreadySet):
        await ex.set_margin_mode("isolated", S)

    buy = await ex.create_order(S, "market", "buy", 100)
    assert buy["status"] == "closed" and buy["filled"] == 100
    last = (await ex.fetch_ticker(S))["last"]
    assert last <= buy["average"] <= last * 1.01  # taker pays the spread, not more than a few ticks

    limit = await ex.create_order(S, "limit", "buy", 10, round(last * 0.8, 4), {"clientOrderId": "lim-1"})
    assert limit["status"] == "open" and limit["clientOrderId"] == "lim-1"
    stop = await ex.create_order(S, "market", "sell", 100, None, {"stopLossPrice": round(last * 0.9, 4),
                                                                  "reduceOnly": True})
    tp = await ex.create_order(S, "market", "sell", 100, None, {"takeProfitPrice": round(last * 1.2, 4),
                                                                "reduceOnly": True})
    assert stop["triggerPrice"] == pytest.approx(round(last * 0.9, 4)) and stop["type"] == "market"
    assert tp["takeProfitPrice"] == pytest.approx(round(last * 1.2, 4))
    regular = await ex.fetch_open_orders(S)
    trigger = await ex.fetch_open_orders(S, params={"trigger": True})
    assert [o["id"] for o in regular] == [limit["id"]]
    assert {o["id"] for o in trigger} == {stop["id"], tp["id"]}

    fetched = await ex.fetch_order(limit["id"], S)
    assert fetched["price"] == limit["price"] and fetched["status"] == "open"
    assert (await ex.fetch_order(stop["id"], S, {"trigger": True}))["status"] == "open"
    canceled = await ex.cancel_order(limit["id"], S)
    assert canceled["status"] == "canceled"
    await ex.cancel_order(tp["id"], S, {"trigger": True})
    assert [o["id"] for o in await ex.fetch_open_orders(S, params={"trigger": True})] == [stop["id"]]

    (pos,) = await ex.fetch_positions([S])
    assert pos["side"] == "long" and pos["contracts"] == 100 and pos["marginMode"] == "isolated"
    assert 0 < pos["liquidationPrice"] < pos["entryPrice"]
    assert pos["entryPrice"] == pytest.approx(buy["average"])
    trades = await ex.fetch_my_trades(S)
    assert [t["order"] for t in trades] == [buy["id"]] and trades[0]["fee"]["cost"] > 0


async def test_errors_map_to_ccxt_exceptions(emu: Emu) -> None:
    ex = emu.ex
    await ex.set_leverage(1, S)
    with pytest.raises(ccxt.InsufficientFunds):  # ~150k USDT notional at 1x on a 10k wallet
        await ex.create_order(S, "market", "buy", 90_000)
    with pytest.raises(ccxt.InvalidOrder):  # notional below 5 USDT
        await ex.create_order(S, "market", "buy", 1)
    with pytest.raises(ccxt.InvalidOrder):  # reduce-only with no position
        await ex.create_order(S, "market", "sell", 10, None, {"reduceOnly": True})
    with pytest.raises(ccxt.OrderNotFound):
        await ex.cancel_order("999", S)
    with pytest.raises(ccxt.OrderNotFound):
        await ex.fetch_order("999", S)
    await ex.create_order(S, "limit", "buy", 10, 1.0, {"clientOrderId": "dup"})
    with pytest.raises(ccxt.InvalidOrder, match="-4116"):
        await ex.create_order(S, "limit", "buy", 10, 1.0, {"clientOrderId": "dup"})
    with pytest.raises(ccxt.BadSymbol):
        await ex.fapiPublicGetTicker24hr({"symbol": "NOPEUSDT"})


async def test_bad_secret_and_stale_timestamp(emu: Emu) -> None:
    from bot.exchange.connect import connect

    bad = connect(make_settings(emu.base_url, KEY, "wrong-secret"))
    bad.enableRateLimit = False
    try:
        await bad.load_markets()
        with pytest.raises(ccxt.AuthenticationError):
            await bad.fetch_balance()
    finally:
        await bad.close()
    # Timestamps are checked against wall time, as on Binance: a market-clock jump does not
    # invalidate a client signing with its own clock...
    await emu.control("clock", {"step_ms": 3600_000})
    emu.ex.options["timeDifference"] = 0
    assert (await emu.ex.fetch_balance())["USDT"]["total"] == 10_000
    # ...but a timestamp two minutes old is outside the 10 s recvWindow: -1021.
    emu.ex.options["timeDifference"] = 120_000
    with pytest.raises(ccxt.InvalidNonce):
        await emu.ex.fetch_balance()
    emu.ex.options["timeDifference"] = 0
    assert (await emu.ex.fetch_balance())["USDT"]["total"] == 10_000


async def test_rate_limit_429_then_418(store: Any) -> None:
    config = EmulatorConfig(api_key=KEY, api_secret=SECRET, max_weight=10, ban_after_429s=2)
    runner, e = await open_emu(store, config=config)
    try:
        status, _, headers = await e.raw("GET", "/fapi/v1/ticker/24hr?symbol=ORCAUSDT")
        assert status == 200 and headers["X-MBX-USED-WEIGHT-1M"] == "1"
        await e.ex.load_markets()
        with pytest.raises(ccxt.DDoSProtection):
            for _ in range(20):
                await e.ex.fetch_order_book(S, 5)
        status, body, headers = await e.raw("GET", "/fapi/v1/depth?symbol=ORCAUSDT&limit=5")
        assert status == 429 and body["code"] == -1003 and int(headers["Retry-After"]) >= 1
        statuses = [(await e.raw("GET", "/fapi/v1/depth?symbol=ORCAUSDT&limit=5"))[0] for _ in range(3)]
        assert statuses[-1] == 418
    finally:
        await e.ex.close()
        await e.http.close()
        await runner.cleanup()


async def test_fault_injection_5xx_and_dropped_order(emu: Emu) -> None:
    await emu.control("faults", {"p_5xx": 1.0, "seed": 1})
    with pytest.raises(ccxt.OperationFailed):  # -1001 at HTTP 503, as Binance answers an overload
        await emu.ex.fetch_ticker(S)
    await emu.control("faults", {"p_5xx": 0.0, "p_drop_response": 1.0, "hang_seconds": 5.0})
    emu.ex.timeout = 500
    with pytest.raises(ccxt.RequestTimeout):
        await emu.ex.create_order(S, "limit", "buy", 10, 1.0, {"clientOrderId": "lost-1"})
    await emu.control("faults", {"p_drop_response": 0.0})
    emu.ex.timeout = 3000
    # The order exists although the client never heard back: reconcile by clientOrderId.
    found = await emu.ex.fetch_order(None, S, {"clientOrderId": "lost-1"})
    assert found["status"] == "open" and found["amount"] == 10


# -- scenarios on the real ORCA squeeze ---------------------------------------------------------

async def _advance_until(emu: Emu, done: Any, max_hours: int) -> int:
    for hour in range(1, max_hours + 1):
        await emu.step(MS_PER_HOUR)
        if await done():
            return hour
    raise AssertionError(f"condition not reached within {max_hours} hours")


async def test_stop_loss_triggers_and_closes_at_a_realistic_price(emu: Emu, store: Any) -> None:
    ex = emu.ex
    await ex.set_leverage(2, S)
    short = await ex.create_order(S, "market", "sell", 200)
    stop_px = round(short["average"] * 1.08, 4)
    stop = await ex.create_order(S, "market", "buy", 200, None, {"stopLossPrice": stop_px, "reduceOnly": True})

    async def flat() -> bool:
        return not await ex.fetch_positions([S])

    await _advance_until(emu, flat, 96)
    algo = await ex.fetch_order(stop["id"], S, {"trigger": True})
    assert algo["status"] == "closed"
    trades = await ex.fetch_my_trades(S)
    close = trades[-1]
    assert close["side"] == "buy" and close["amount"] == 200
    # The fill is at or beyond the stop (slippage against us) and inside the bar that triggered it.
    h = store["ORCAUSDT"]
    i = int(np.searchsorted(h.ts, close["timestamp"], "right")) - 1
    assert stop_px <= close["price"] <= float(h.high[i]) * 1.01
    assert close["price"] <= stop_px * 1.05


async def test_isolated_10x_liquidated_at_reported_price(emu: Emu) -> None:
    ex = emu.ex
    await ex.set_leverage(10, S)
    await ex.create_order(S, "market", "sell", 500)
    (pos,) = await ex.fetch_positions([S])
    reported = pos["liquidationPrice"]
    assert pos["entryPrice"] < reported < pos["entryPrice"] * 1.1

    async def liquidated() -> bool:
        return bool(await ex.fetch_my_liquidations(S))

    await _advance_until(emu, liquidated, 120)
    (liq,) = await ex.fetch_my_liquidations(S)
    assert liq["side"] == "buy" and liq["contracts"] == 500
    assert liq["price"] == pytest.approx(reported, rel=2e-3)
    assert not await ex.fetch_positions([S])


async def test_funding_history_sign_and_settlement_times(emu: Emu, store: Any) -> None:
    ex = emu.ex
    await ex.set_leverage(2, S)
    await ex.create_order(S, "market", "buy", 200)
    await emu.step(12 * MS_PER_HOUR)
    rows = await ex.fetch_funding_history(S)
    h = store["ORCAUSDT"]
    settlements = [int(t) for t in h.funding_ts if START < t <= START + 12 * MS_PER_HOUR]
    assert len(rows) == len(settlements) >= 2
    assert [r["timestamp"] for r in rows] == settlements
    for row in rows:
        j = int(np.searchsorted(h.funding_ts, row["timestamp"]))
        rate = float(h.funding_rate[j])
        # A long receives when the rate is negative and pays when it is positive.
        assert np.sign(row["amount"]) == -np.sign(rate)
