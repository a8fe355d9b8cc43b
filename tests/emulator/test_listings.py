"""Issue 11, Part 1 "listings follow the data", through the real ccxt client.

A symbol is in ``exchangeInfo`` only once the replay has a price for it (its first bar closed);
after its last bar it is settled at the last mark price and shows SETTLING, then CLOSE. Dates are
those of the bundled sample (bot/data/sample README and file contents): PIPPIN's first bar opens
2025-11-01T00:00Z, ORCA's last bar opens 2025-04-15T23:00Z, SOL's last 2022-11-30T23:00Z, RIVER's
first 2025-11-20T00:00Z.
"""

from __future__ import annotations

from typing import Any

import ccxt.async_support as ccxt
import pytest

from bot.cli.emulator_cmd import _start_ms, busiest_start
from bot.core.timeutil import MS_PER_DAY, MS_PER_HOUR, to_ms
from tests.emulator.conftest import Emu, open_emu


async def _listed(emu: Emu) -> dict[str, str]:
    _, info, _ = await emu.raw("GET", "/fapi/v1/exchangeInfo")
    return {s["symbol"]: s["status"] for s in info["symbols"]}


async def _close(runner: Any, emu: Emu) -> None:
    await emu.ex.close()
    await emu.http.close()
    await runner.cleanup()


async def test_a_symbol_is_listed_from_its_first_bar_and_unknown_before(store: Any) -> None:
    runner, emu = await open_emu(store, start=to_ms("2025-10-31T23:30:00Z"), symbols=["PIPPINUSDT", "BTCUSDT"])
    try:
        assert await _listed(emu) == {"BTCUSDT": "TRADING"}
        status, body, _ = await emu.raw("GET", "/fapi/v1/ticker/24hr", params={"symbol": "PIPPINUSDT"})
        assert (status, body["code"]) == (400, -1121)
        assert [t["symbol"] for t in await emu.ex.fapiPublicGetTicker24hr()] == ["BTCUSDT"]
        status, body, _ = await emu.raw("GET", "/fapi/v1/klines", params={"symbol": "PIPPINUSDT", "interval": "1h"})
        assert (status, body["code"]) == (400, -1121)

        await emu.step(2 * MS_PER_HOUR)  # 23:30 -> 01:30: the 00:00 bar closed at 01:00
        assert await _listed(emu) == {"PIPPINUSDT": "TRADING", "BTCUSDT": "TRADING"}
        ticker = await emu.ex.fetch_ticker("PIPPIN/USDT:USDT")
        assert ticker["last"] == pytest.approx(float(store["PIPPINUSDT"].close[0]))
    finally:
        await _close(runner, emu)


async def test_a_symbol_settles_after_its_last_bar(store: Any) -> None:
    runner, emu = await open_emu(store, start=to_ms("2025-04-15T22:30:00Z"), symbols=["ORCAUSDT", "BTCUSDT"])
    try:
        await emu.ex.load_markets()
        await emu.ex.set_leverage(2, "ORCA/USDT:USDT")
        await emu.ex.create_order("ORCA/USDT:USDT", "market", "buy", 100)
        [entry] = await emu.ex.fapiPrivateGetUserTrades({"symbol": "ORCAUSDT"})
        await emu.step(MS_PER_HOUR)  # 23:30: the last bar (23:00) has not closed yet
        assert (await _listed(emu))["ORCAUSDT"] == "TRADING"
        await emu.step(MS_PER_HOUR)  # 00:30: data over at 00:00
        assert await _listed(emu) == {"ORCAUSDT": "SETTLING", "BTCUSDT": "TRADING"}
        assert [p for p in await emu.ex.fetch_positions() if p["contracts"]] == []
        delivery = float(store["ORCAUSDT"].mark_close[-1])  # the last mark close of the data
        close = (await emu.ex.fapiPrivateGetUserTrades({"symbol": "ORCAUSDT"}))[-1]
        assert float(close["price"]) == pytest.approx(delivery, abs=1e-3)  # printed to the 0.001 tick
        assert int(close["time"]) == to_ms("2025-04-16T00:00:00Z")
        assert float(close["realizedPnl"]) == pytest.approx(100 * (float(close["price"]) - float(entry["price"])),
                                                           abs=1e-3)
        with pytest.raises(ccxt.ExchangeError, match="-4140"):
            await emu.ex.create_order("ORCA/USDT:USDT", "market", "buy", 100)
        await emu.step(MS_PER_HOUR)
        assert (await _listed(emu))["ORCAUSDT"] == "CLOSE"
    finally:
        await _close(runner, emu)


async def test_a_symbol_whose_data_ended_long_ago_is_listed_closed(emu: Emu) -> None:
    # the shared fixture serves ORCA, BTC and SOL on 2025-03-18; SOL's data ended in 2022
    assert await _listed(emu) == {"ORCAUSDT": "TRADING", "BTCUSDT": "TRADING", "SOLUSDT": "CLOSE"}
    markets = await emu.ex.load_markets(reload=True)
    assert markets["SOL/USDT:USDT"]["active"] is False


def test_busiest_start_is_where_most_symbols_have_data() -> None:
    day = MS_PER_DAY
    # a: days 0-10, b: days 5-20, c: days 30-40 -> day 6 (a and b), not day 1 (a only) or day 31 (c)
    assert busiest_start([(0, 10 * day), (5 * day, 20 * day), (30 * day, 40 * day)]) == 6 * day
    assert busiest_start([(0, 10 * day)]) == day


async def test_the_default_start_on_the_sample_lists_three_symbols_with_tickers(store: Any) -> None:
    start = _start_ms(store, None, None)
    # RIVER begins 2025-11-20; then BTC, PIPPIN and RIVER have data (ORCA and SOL have ended)
    assert start == to_ms("2025-11-21T00:00:00Z")
    runner, emu = await open_emu(store, start=start, symbols=list(store.symbols))
    try:
        listed = await _listed(emu)
        trading = sorted(s for s, status in listed.items() if status == "TRADING")
        assert trading == ["BTCUSDT", "PIPPINUSDT", "RIVERUSDT"]
        for symbol in listed:  # every listed symbol answers its ticker (no -1121)
            status, _, _ = await emu.raw("GET", "/fapi/v1/ticker/24hr", params={"symbol": symbol})
            assert status == 200, symbol
    finally:
        await _close(runner, emu)
