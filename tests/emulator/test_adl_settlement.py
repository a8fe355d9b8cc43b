"""Issue 11, Part 1: auto-deleverage and a symbol leaving trading, through the real ccxt client.

What Binance reports (USDⓈ-M docs): an ADL close is listed by ``GET /fapi/v1/forceOrders`` (both
kinds when ``autoCloseType`` is not sent) with client id ``adl_autoclose``; a liquidation's starts
with ``autoclose-``; a settlement order for a delisting starts with ``settlement_autoclose-``
(user data stream, "Event: Order Update"). A symbol being settled answers -4140 "Invalid symbol
status for opening position.", a closed one -4141 "Symbol is closed." (error-code list), and its
``exchangeInfo`` status is SETTLING, then CLOSE. Assumed, as the docs name no fee for either: the
ADL and settlement fills pay no commission. Expected P&L is worked by hand from the entry fill's
price and the price the test gives.
"""

from __future__ import annotations

from typing import Any

import ccxt.async_support as ccxt
import pytest

from bot.core.timeutil import MS_PER_HOUR
from tests.emulator.conftest import Emu

SYM, S = "ORCAUSDT", "ORCA/USDT:USDT"
QTY = 100.0


async def _long_with_stop(emu: Emu) -> tuple[float, dict[str, Any]]:
    """Open a 100 ORCA long at the replayed price (~1.64 on 2025-03-18) at 2x, with a resting stop
    at 1.2 that the next bars (lows ~1.55) do not reach; returns (entry price, stop order)."""
    await emu.ex.set_leverage(2, S)
    await emu.ex.create_order(S, "market", "buy", QTY, None, {"clientOrderId": "entry-1"})
    stop = await emu.ex.create_order(S, "STOP_MARKET", "sell", QTY, None,
                                     {"stopPrice": 1.2, "reduceOnly": True, "clientOrderId": "stop-1"})
    [entry] = await emu.ex.fapiPrivateGetUserTrades({"symbol": SYM})
    return float(entry["price"]), stop


async def _post(emu: Emu, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    status, data, _ = await emu.raw("POST", f"/_sim/{path}", json=body)
    return status, data


async def _status(emu: Emu, symbol: str) -> str | None:
    _, info, _ = await emu.raw("GET", "/fapi/v1/exchangeInfo")
    return next((s["status"] for s in info["symbols"] if s["symbol"] == symbol), None)


async def test_adl_closes_the_position_and_is_reported_as_binance_does(emu: Emu) -> None:
    entry, stop = await _long_with_stop(emu)
    order = await emu.control("adl", {"symbol": SYM, "price": 2.2})
    assert order["clientOrderId"] == "adl_autoclose"

    assert [p for p in await emu.ex.fetch_positions([S]) if p["contracts"]] == []
    [adl] = await emu.ex.fapiPrivateGetForceOrders({"symbol": SYM, "autoCloseType": "ADL"})
    assert (adl["clientOrderId"], adl["side"], adl["status"]) == ("adl_autoclose", "SELL", "FILLED")
    assert float(adl["executedQty"]) == QTY and float(adl["avgPrice"]) == pytest.approx(2.2)
    assert await emu.ex.fapiPrivateGetForceOrders({"symbol": SYM, "autoCloseType": "LIQUIDATION"}) == []
    assert [r["clientOrderId"] for r in await emu.ex.fapiPrivateGetForceOrders({"symbol": SYM})] == ["adl_autoclose"]

    trades = await emu.ex.fapiPrivateGetUserTrades({"symbol": SYM})
    close = trades[-1]
    expected = QTY * (2.2 - entry)  # 100 x (2.2 - entry): a long closed higher
    assert (close["side"], float(close["price"]), float(close["qty"])) == ("SELL", 2.2, QTY)
    assert float(close["realizedPnl"]) == pytest.approx(expected, abs=1e-6)
    assert float(close["commission"]) == 0.0
    pnl = await emu.ex.fapiPrivateGetIncome({"symbol": SYM, "incomeType": "REALIZED_PNL"})
    assert [float(r["income"]) for r in pnl] == [pytest.approx(expected, abs=1e-6)]
    assert pnl[0]["tradeId"] == str(close["id"])

    # The stop is orphaned, as on the venue: the owner has to cancel it.
    assert [o["id"] for o in await emu.ex.fetch_open_orders(S, params={"trigger": True})] == [stop["id"]]


async def test_adl_without_a_position_and_bad_input_are_refused(emu: Emu) -> None:
    status, data = await _post(emu, "adl", {"symbol": SYM})
    assert status == 400 and "no ORCAUSDT position" in data["error"]
    status, data = await _post(emu, "adl", {"symbol": SYM, "price": -1})
    assert status == 400 and "'price'" in data["error"]
    status, data = await _post(emu, "adl", {"symbol": "NOPEUSDT"})
    assert status == 400 and "'symbol'" in data["error"]


async def test_delisting_settles_at_the_delivery_price_then_refuses_orders(emu: Emu) -> None:
    entry, stop = await _long_with_stop(emu)
    await emu.ex.create_order(S, "limit", "buy", QTY, 1.0, {"clientOrderId": "rest-1"})
    now = emu.state.now_ms()
    out = await emu.control("delist", {"symbol": SYM, "delivery_price": 1.8, "at": now + MS_PER_HOUR})
    assert (out["status"], out["at"], out["close_at"]) == ("TRADING", now + MS_PER_HOUR, now + 2 * MS_PER_HOUR)
    assert await _status(emu, SYM) == "TRADING"

    await emu.step(MS_PER_HOUR)
    assert await _status(emu, SYM) == "SETTLING"
    assert [p for p in await emu.ex.fetch_positions([S]) if p["contracts"]] == []
    assert await emu.ex.fetch_open_orders(S) == []
    assert await emu.ex.fetch_open_orders(S, params={"trigger": True}) == []
    cancelled = await emu.ex.fetch_order(stop["id"], S, {"trigger": True})
    assert cancelled["status"] == "canceled"

    close = (await emu.ex.fapiPrivateGetUserTrades({"symbol": SYM}))[-1]
    expected = QTY * (1.8 - entry)  # 100 x (1.8 - entry)
    assert (close["side"], float(close["price"]), int(close["time"])) == ("SELL", 1.8, now + MS_PER_HOUR)
    assert float(close["realizedPnl"]) == pytest.approx(expected, abs=1e-6)
    assert float(close["commission"]) == 0.0
    pnl = await emu.ex.fapiPrivateGetIncome({"symbol": SYM, "incomeType": "REALIZED_PNL"})
    assert [float(r["income"]) for r in pnl] == [pytest.approx(expected, abs=1e-6)]
    settled = [o for o in await emu.ex.fapiPrivateGetAllOrders({"symbol": SYM})
               if o["clientOrderId"].startswith("settlement_autoclose-")]
    assert len(settled) == 1 and settled[0]["orderId"] == close["orderId"]
    assert await emu.ex.fapiPrivateGetForceOrders({"symbol": SYM}) == []  # not a forced close

    with pytest.raises(ccxt.ExchangeError, match="-4140"):
        await emu.ex.create_order(S, "market", "buy", QTY)
    await emu.step(MS_PER_HOUR)
    assert await _status(emu, SYM) == "CLOSE"
    with pytest.raises(ccxt.ExchangeError, match="-4141"):
        await emu.ex.create_order(S, "market", "buy", QTY)
    with pytest.raises(ccxt.ExchangeError, match="-4141"):
        await emu.ex.set_leverage(5, S)
    markets = await emu.ex.load_markets(reload=True)
    assert markets[S]["active"] is False and markets["BTC/USDT:USDT"]["active"] is True
    # the other symbols trade on
    await emu.control("price", {"symbol": "BTCUSDT", "last": 80_000.0})
    placed = await emu.ex.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    assert placed["status"] == "closed"


async def test_delist_input_is_validated_and_a_settled_symbol_cannot_be_delisted_twice(emu: Emu) -> None:
    status, data = await _post(emu, "delist", {"symbol": SYM, "delivery_price": 0})
    assert status == 400 and "'delivery_price'" in data["error"]
    status, data = await _post(emu, "delist", {"symbol": SYM, "delivery_price": 1.0, "when": 1})
    assert status == 400 and "unknown delist field" in data["error"]
    assert await _status(emu, SYM) == "TRADING"  # a refused request changed nothing
    out = await emu.control("delist", {"symbol": SYM, "delivery_price": 1.0})  # now
    assert out["status"] == "SETTLING"
    status, data = await _post(emu, "delist", {"symbol": SYM, "delivery_price": 1.0})
    assert status == 400 and "-4141" in data["error"]
