"""Assembly of live runs (no network: only the decisions that need none are exercised here)."""

from __future__ import annotations

from bot.config import Settings
from bot.exchange.connect import connect
from bot.market.liquidations import supports_liquidation_stream
from bot.runner import _liquidation_stream


def test_no_liquidation_stream_against_the_emulator() -> None:
    """Our emulator speaks REST only: no WebSocket watcher is started for it."""
    settings = Settings(exchange={"base_url": "http://127.0.0.1:9"})
    assert _liquidation_stream(settings) == (None, None, None)


async def test_the_pro_client_is_the_same_exchange_with_the_stream() -> None:
    settings = Settings(exchange={"api_key": "k" * 16, "api_secret": "s" * 16})
    rest, ws = connect(settings), connect(settings, pro=True)
    try:
        assert ws.id == rest.id == "binanceusdm"
        assert supports_liquidation_stream(ws) and not supports_liquidation_stream(rest)
        assert ws.apiKey == rest.apiKey and ws.rateLimit == rest.rateLimit
    finally:
        await rest.close()
        await ws.close()
