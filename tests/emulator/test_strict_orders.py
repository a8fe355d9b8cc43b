"""Order-level behaviours of the emulator that Binance USDⓈ-M always (or under load) shows, through
the real ccxt client: client ids unique among OPEN orders only, orders invisible for a while after
acceptance, the PERCENT_PRICE band on market orders, -2021 on both working types, and the ORDERS
rate limits with their headers (issue 11, Part 1).

Expected values are hand-worked from Binance's documented rules (see each test); ccxt's exception
classes are the ones the reference (``ccxt-binanceusdm.md`` §4) lists for each code.
"""

from __future__ import annotations

from typing import Any

import ccxt.async_support as ccxt
import pytest

from bot.core.enums import OrderStatus
from bot.emulator.private import OrderVisibility

from .conftest import Emu

S = "ORCA/USDT:USDT"
SYM = "ORCAUSDT"


async def _price(emu: Emu, last: float, mark: float | None = None) -> None:
    await emu.control("price", {"symbol": SYM, "last": last, "mark": mark if mark is not None else last})


class _StillClock:
    """A monotonic clock (seconds) that only moves when the test adds to ``t``."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _orders(emu: Emu, cid: str, conditional: bool = False) -> list[Any]:
    return [o for o in emu.state.exchange.all_orders(SYM, conditional=conditional) if o.client_order_id == cid]


# -- 1. newClientOrderId: unique among open orders only -------------------------------------------

async def test_client_id_is_reusable_once_the_order_is_closed(emu: Emu) -> None:
    ex = emu.ex
    await _price(emu, 2.0)
    resting = await ex.create_order(S, "limit", "buy", 10, 1.0, {"clientOrderId": "reuse-1"})
    with pytest.raises(ccxt.InvalidOrder, match="-4116"):  # still open: duplicated
        await ex.create_order(S, "limit", "buy", 10, 1.0, {"clientOrderId": "reuse-1"})
    await ex.cancel_order(resting["id"], S)
    again = await ex.create_order(S, "limit", "buy", 20, 1.0, {"clientOrderId": "reuse-1"})
    assert again["id"] != resting["id"]
    latest = await ex.fetch_order(None, S, {"clientOrderId": "reuse-1"})  # the most recent one answers
    assert (latest["id"], latest["amount"], latest["status"]) == (again["id"], 20, "open")

    # A filled MARKET order's id makes a second, real order: the duplicate entry Binance allows.
    first = await ex.create_order(S, "market", "buy", 10, None, {"clientOrderId": "entry-1"})
    second = await ex.create_order(S, "market", "buy", 10, None, {"clientOrderId": "entry-1"})
    assert first["status"] == second["status"] == "closed" and first["id"] != second["id"]
    assert [o.status for o in _orders(emu, "entry-1")] == [OrderStatus.FILLED, OrderStatus.FILLED]
    position = emu.state.exchange.position(SYM)
    assert position is not None and position.quantity == pytest.approx(20)  # 10 + 10: entered twice
    assert (await ex.fetch_order(None, S, {"clientOrderId": "entry-1"}))["id"] == second["id"]


async def test_algo_client_id_is_reusable_once_cancelled(emu: Emu) -> None:
    ex = emu.ex
    await _price(emu, 2.0)
    stop = {"stopPrice": 1.5, "reduceOnly": True, "clientOrderId": "stop-1"}
    placed = await ex.create_order(S, "STOP_MARKET", "sell", 10, None, dict(stop))
    with pytest.raises(ccxt.InvalidOrder, match="-4116"):
        await ex.create_order(S, "STOP_MARKET", "sell", 10, None, dict(stop))
    await ex.cancel_order(placed["id"], S, {"trigger": True})
    replaced = await ex.create_order(S, "STOP_MARKET", "sell", 10, None, dict(stop, stopPrice=1.4))
    assert replaced["id"] != placed["id"]
    found = await ex.fetch_order(None, S, {"clientOrderId": "stop-1", "trigger": True})
    assert (found["id"], found["triggerPrice"], found["status"]) == (replaced["id"], 1.4, "open")
    assert [o.status for o in _orders(emu, "stop-1", conditional=True)] == [OrderStatus.CANCELED, OrderStatus.NEW]


# -- 2. accepted but not yet visible ---------------------------------------------------------------

async def test_orders_are_invisible_during_the_visibility_lag(emu: Emu) -> None:
    ex = emu.ex
    await _price(emu, 2.0)
    assert (await emu.control("scenario"))["order_visibility_lag_ms"] == 0  # off by default
    await ex.create_order(S, "market", "buy", 10, None, {"clientOrderId": "seen-now"})
    assert (await ex.fetch_order(None, S, {"clientOrderId": "seen-now"}))["status"] == "closed"

    # the lag is wall time; here it runs on a clock that stands still until the test moves it, so
    # "inside the lag" holds however slowly the four reads below are served
    clock = _StillClock()
    emu.state.visibility = OrderVisibility(clock=clock)
    await emu.control("scenario", {"order_visibility_lag_ms": 400})
    filled = await ex.create_order(S, "market", "buy", 10, None, {"clientOrderId": "lagged"})
    limit = await ex.create_order(S, "limit", "buy", 10, 1.0, {"clientOrderId": "lagged-limit"})
    stop = await ex.create_order(S, "STOP_MARKET", "sell", 10, None,
                                 {"stopPrice": 1.5, "reduceOnly": True, "clientOrderId": "lagged-stop"})
    assert filled["status"] == "closed"  # accepted and filled: the response says so...
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):  # ...but the query side does not know it yet
        await ex.fetch_order(None, S, {"clientOrderId": "lagged"})
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        await ex.fetch_order(None, S, {"clientOrderId": "lagged-stop", "trigger": True})
    assert await ex.fetch_open_orders(S) == []
    assert await ex.fetch_open_orders(S, None, None, {"trigger": True}) == []
    position = emu.state.exchange.position(SYM)
    assert position is not None and position.quantity == pytest.approx(20)  # the fill is real

    clock.t += 0.401  # just past the 400 ms lag
    assert (await ex.fetch_order(None, S, {"clientOrderId": "lagged"}))["id"] == filled["id"]
    assert [o["id"] for o in await ex.fetch_open_orders(S)] == [limit["id"]]
    assert [o["id"] for o in await ex.fetch_open_orders(S, None, None, {"trigger": True})] == [stop["id"]]


# -- 3. fast markets -------------------------------------------------------------------------------

async def test_market_order_beyond_percent_price_band_is_rejected(emu: Emu) -> None:
    ex = emu.ex
    band = next(f for f in ex.market(S)["info"]["filters"] if f["filterType"] == "PERCENT_PRICE")
    assert (band["multiplierUp"], band["multiplierDown"]) == ("1.0500", "0.9500")
    # last 2.0, mark 1.8: a buy fills at >= 2.0 > 1.8 * 1.05 = 1.89 -> -4131 (ccxt: OperationRejected)
    await _price(emu, 2.0, 1.8)
    with pytest.raises(ccxt.OperationRejected, match="-4131"):
        await ex.create_order(S, "market", "buy", 10, None, {"clientOrderId": "fast-buy"})
    assert _orders(emu, "fast-buy") == [] and emu.state.exchange.position(SYM) is None
    # a sell fills near 2.0 >= 1.8 * 0.95 = 1.71: inside the band, accepted
    sold = await ex.create_order(S, "market", "sell", 10, None, {"clientOrderId": "fast-sell"})
    assert sold["status"] == "closed"
    # last 2.0, mark 2.2: a sell at <= 2.0 < 2.2 * 0.95 = 2.09 is rejected too
    await _price(emu, 2.0, 2.2)
    with pytest.raises(ccxt.OperationRejected, match="-4131"):
        await ex.create_order(S, "market", "sell", 10, None)
    # the band check can be switched off for tests that need a wild fill
    await emu.control("scenario", {"percent_price_check": False})
    assert (await ex.create_order(S, "market", "sell", 10, None))["status"] == "closed"


@pytest.mark.parametrize(("kind", "side", "trigger", "working", "rejected"), [
    # last 2.0, mark 1.8. A SELL stop fires at price <= trigger, a BUY stop at >= trigger,
    # a SELL take-profit at >= trigger: already there on arrival -> -2021.
    ("STOP_MARKET", "sell", 1.9, "MARK_PRICE", True),       # mark 1.8 <= 1.9
    ("STOP_MARKET", "sell", 1.9, "CONTRACT_PRICE", False),  # last 2.0 > 1.9
    ("STOP_MARKET", "buy", 1.9, "CONTRACT_PRICE", True),    # last 2.0 >= 1.9
    ("STOP_MARKET", "buy", 1.9, "MARK_PRICE", False),       # mark 1.8 < 1.9
    ("TAKE_PROFIT_MARKET", "sell", 1.9, "CONTRACT_PRICE", True),  # last 2.0 >= 1.9
    ("TAKE_PROFIT_MARKET", "sell", 1.9, "MARK_PRICE", False),     # mark 1.8 < 1.9
])
async def test_stop_already_crossed_is_rejected_on_either_working_type(
        emu: Emu, kind: str, side: str, trigger: float, working: str, rejected: bool) -> None:
    await _price(emu, 2.0, 1.8)
    params = {"stopPrice": trigger, "reduceOnly": True, "workingType": working, "clientOrderId": "trig"}
    if rejected:
        with pytest.raises(ccxt.OrderImmediatelyFillable, match="-2021"):
            await emu.ex.create_order(S, kind, side, 10, None, params)
        assert _orders(emu, "trig", conditional=True) == []
    else:
        placed = await emu.ex.create_order(S, kind, side, 10, None, params)
        assert placed["status"] == "open"


# -- 4. ORDERS rate limits -------------------------------------------------------------------------

async def test_order_count_limit_blocks_new_orders_not_cancels(emu: Emu) -> None:
    ex = emu.ex
    status, info, _ = await emu.raw("GET", "/fapi/v1/exchangeInfo")
    orders = sorted((r["intervalNum"], r["interval"], r["limit"]) for r in info["rateLimits"]
                    if r["rateLimitType"] == "ORDERS")
    assert status == 200 and orders == [(1, "MINUTE", 1200), (10, "SECOND", 300)]  # Binance's defaults
    await _price(emu, 2.0)
    await emu.control("scenario", {"orders_per_10s": 3})
    placed = []
    for n in range(1, 4):
        placed.append(await ex.create_order(S, "limit", "buy", 10, 1.0))
        assert ex.last_response_headers["X-MBX-ORDER-COUNT-10S"] == str(n)
        assert ex.last_response_headers["X-MBX-ORDER-COUNT-1M"] == str(n)
    with pytest.raises(ccxt.DDoSProtection, match="-1015"):  # HTTP 429: ccxt's class for any 429
        await ex.create_order(S, "limit", "buy", 10, 1.0, {"clientOrderId": "one-too-many"})
    assert ex.last_response_headers["X-MBX-ORDER-COUNT-10S"] == "3"
    assert "Retry-After" not in ex.last_response_headers  # Binance sends none for order limits
    with pytest.raises(ccxt.DDoSProtection, match="-1015"):  # algo orders are new orders too
        await ex.create_order(S, "STOP_MARKET", "sell", 10, None, {"stopPrice": 1.5, "reduceOnly": True})
    assert _orders(emu, "one-too-many") == [] and len(emu.state.exchange.open_orders(SYM)) == 3
    await ex.cancel_order(placed[0]["id"], S)  # cancels are never blocked
    await ex.cancel_all_orders(S)
    assert emu.state.exchange.open_orders(SYM) == []

    await emu.control("scenario", {"orders_per_10s": 300, "orders_per_minute": 4})
    await ex.create_order(S, "limit", "buy", 10, 1.0)  # the 4th in the minute
    with pytest.raises(ccxt.DDoSProtection, match="1 MINUTE"):
        await ex.create_order(S, "limit", "buy", 10, 1.0)
    _, info, _ = await emu.raw("GET", "/fapi/v1/exchangeInfo")
    assert {(r["interval"], r["limit"]) for r in info["rateLimits"] if r["rateLimitType"] == "ORDERS"} == {
        ("MINUTE", 4), ("SECOND", 300)}


# -- the control route ------------------------------------------------------------------------------

_BAD_SCENARIOS = [
    ({"order_visibility_lag_ms": -1}, "order_visibility_lag_ms"),
    ({"order_visibility_lag_ms": 60_001}, "order_visibility_lag_ms"),
    ({"order_visibility_lag_ms": "100"}, "order_visibility_lag_ms"),
    ({"percent_price_check": 1}, "percent_price_check"),
    ({"orders_per_10s": 0}, "orders_per_10s"),
    ({"orders_per_minute": 2.5}, "orders_per_minute"),
    ({"order_visibility_lag_ms": 100, "orders_per_10s": True}, "orders_per_10s"),
    ({"lag": 100}, "unknown scenario setting(s): lag"),
]


async def test_scenario_inputs_are_validated_before_anything_changes(emu: Emu) -> None:
    for body, named in _BAD_SCENARIOS:
        status, data, _ = await emu.raw("POST", "/_sim/scenario", json=body)
        assert status == 400 and named in data["error"], (body, data)
        assert await emu.control("scenario") == {"order_visibility_lag_ms": 0, "percent_price_check": True,
                                                 "orders_per_10s": 300, "orders_per_minute": 1200}
    status, _, _ = await emu.raw("POST", "/_sim/scenario", data="order_visibility_lag_ms=5",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415  # JSON only, like every control route
