"""``connect()``: endpoint rewiring, demo trading, keys, and no secret in the log."""

from __future__ import annotations

import io

from loguru import logger

from bot.config import Settings
from bot.exchange.connect import connect, connected


def _settings(mode: str = "testnet", **exchange: object) -> Settings:
    """Testnet by default: paper-mode clients never hold the keys (issue 16 item 1)."""
    return Settings(mode=mode, exchange={"api_key": "KEY-abcdef123", "api_secret": "SECRET-xyz987654", **exchange})


async def test_emulator_rewires_every_api_url_and_error_table() -> None:
    sink = io.StringIO()
    handle = logger.add(sink, level="DEBUG")
    try:
        ex = connect(_settings(base_url="http://127.0.0.1:8765/"))
    finally:
        logger.remove(handle)
    try:
        urls = {k: v for k, v in ex.urls["api"].items() if isinstance(v, str)}
        assert urls["fapiPrivateV3"] == "http://127.0.0.1:8765/fapi/v3"
        assert urls["fapiData"] == "http://127.0.0.1:8765/futures/data"
        assert urls["sapi"] == "http://127.0.0.1:8765/sapi/v1"
        assert all(v.startswith("http://127.0.0.1:8765/") for v in urls.values())
        assert ex.exceptions["exact"]["-2019"].__name__ == "InsufficientFunds"
        assert ex.options["fetchCurrencies"] is False
        assert ex.options["fetchOpenOrders"]["warnWithoutSymbol"] is False
        assert (ex.apiKey, ex.secret, ex.timeout, ex.enableRateLimit) == (
            "KEY-abcdef123", "SECRET-xyz987654", 10_000, True)
    finally:
        await ex.close()
    text = sink.getvalue()
    assert "emulator" in text and "KEY-abcdef123" not in text and "SECRET-xyz987654" not in text


async def test_testnet_uses_demo_trading_not_sandbox() -> None:
    async with connected(_settings(testnet=True)) as ex:
        assert ex.urls["api"]["fapiPrivate"].startswith("https://demo-fapi.binance.com")
        assert not ex.isSandboxModeEnabled
    assert ex.session is None or ex.session.closed


async def test_paper_keeps_real_hosts_without_keys_and_other_ids_are_not_rewired() -> None:
    async with connected(_settings("paper")) as ex:
        assert ex.urls["api"]["fapiPublic"] == "https://fapi.binance.com/fapi/v1"
        assert not ex.apiKey and not ex.secret
    async with connected(_settings(base_url="http://127.0.0.1:1"), exchange_id="bybit") as other:
        assert "127.0.0.1" not in str(other.urls["api"])
