"""USDC-margined perpetuals in the same account (issue 11, Part 1, account modes).

Binance lists ``BTCUSDC`` (``quoteAsset``/``marginAsset`` USDC, ccxt ``BTC/USDC:USDC``) next to
``BTCUSDT``. In Single-Asset mode a USDC position takes its margin from the USDC wallet and books
its P&L and fees there; the account's ``total*`` figures are "only for USDT asset" (USDⓈ-M
"Account Information V3"). The emulator lists the USDC twin of a data-backed symbol
(``EmulatorConfig.usdc_variants``), priced from the USDT series. Taker fee 0.05%.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import ccxt.async_support as ccxt
import pytest

from bot.emulator import EmulatorConfig
from tests.emulator.conftest import KEY, SECRET, Emu, open_emu

USDC_BTC = "BTC/USDC:USDC"
TAKER = 0.0005


@pytest.fixture
async def emu(store: Any) -> AsyncIterator[Emu]:
    config = EmulatorConfig(api_key=KEY, api_secret=SECRET, usdc_variants=("BTCUSDT",), usdc_balance=5_000.0)
    runner, e = await open_emu(store, config=config, symbols=["ORCAUSDT", "BTCUSDT"])
    try:
        await e.ex.load_markets()
        yield e
    finally:
        await e.ex.close()
        await e.http.close()
        await runner.cleanup()


async def test_the_usdc_twin_is_listed_with_usdc_as_quote_and_margin_asset(emu: Emu) -> None:
    info = await emu.ex.fapiPublicGetExchangeInfo()
    row = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDC")
    assert (row["quoteAsset"], row["marginAsset"], row["status"]) == ("USDC", "USDC", "TRADING")
    market = emu.ex.market(USDC_BTC)
    assert (market["settle"], market["linear"], market["swap"]) == ("USDC", True, True)
    usdt, usdc = await emu.ex.fetch_ticker("BTC/USDT:USDT"), await emu.ex.fetch_ticker(USDC_BTC)
    assert usdc["last"] == usdt["last"]  # priced from the USDT series


async def test_a_usdc_position_is_margined_and_booked_in_usdc_only(emu: Emu) -> None:
    buy = await emu.ex.create_order(USDC_BTC, "market", "buy", 0.01)
    (pos,) = [p for p in await emu.ex.fetch_positions() if p["symbol"] == USDC_BTC]
    assert pos["contracts"] == 0.01 and pos["info"]["marginAsset"] == "USDC"
    p_in = float(buy["average"])
    sell = await emu.ex.create_order(USDC_BTC, "market", "sell", 0.01)
    p_out = float(sell["average"])
    trades = [t["info"] for t in await emu.ex.fetch_my_trades(USDC_BTC)]
    assert [(t["marginAsset"], t["commissionAsset"]) for t in trades] == [("USDC", "USDC")] * 2
    income = await emu.ex.fapiPrivateGetIncome({})
    assert {r["asset"] for r in income} == {"USDC"} and {r["symbol"] for r in income} == {"BTCUSDC"}
    # USDC wallet: 5,000 + 0.01 x (p_out - p_in) - 0.0005 x 0.01 x (p_in + p_out)
    expected_usdc = 5_000 + 0.01 * (p_out - p_in) - TAKER * 0.01 * (p_in + p_out)
    account = await emu.ex.fapiPrivateV3GetAccount()
    assets = {a["asset"]: a for a in account["assets"]}
    assert float(assets["USDC"]["walletBalance"]) == pytest.approx(expected_usdc, abs=1e-6)
    assert float(account["totalWalletBalance"]) == 10_000.0  # the USDT wallet never moved
    assert float(assets["USDT"]["walletBalance"]) == 10_000.0
    assert len({r["tranId"] for r in income}) == len(income)


async def test_usdc_margin_comes_from_the_usdc_wallet(store: Any) -> None:
    """100 USDC cannot carry 0.1 BTC at 20x (about 415 USDC of margin), whatever the USDT wallet holds."""
    config = EmulatorConfig(api_key=KEY, api_secret=SECRET, usdc_variants=("BTCUSDT",), usdc_balance=100.0)
    runner, e = await open_emu(store, config=config, symbols=["ORCAUSDT", "BTCUSDT"])
    try:
        await e.ex.load_markets()
        with pytest.raises(ccxt.InsufficientFunds):
            await e.ex.create_order(USDC_BTC, "market", "buy", 0.1)
        await e.ex.create_order("BTC/USDT:USDT", "market", "buy", 0.1)  # the USDT wallet can
        assert [p.symbol for p in e.state.exchange.positions()] == ["BTCUSDT"]
    finally:
        await e.ex.close()
        await e.http.close()
        await runner.cleanup()


def test_a_usdc_variant_of_an_unlisted_symbol_is_refused(store: Any) -> None:
    from bot.emulator import EmulatorState

    config = EmulatorConfig(usdc_variants=("RIVERUSDT",))
    with pytest.raises(ValueError, match="RIVERUSDT"):
        EmulatorState.build(store, 0, config=config, symbols=["ORCAUSDT"])
