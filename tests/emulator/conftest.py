"""Fixtures: the emulator over the bundled sample on a free loopback port, and a real ccxt client.

``Emu.step()`` moves the emulator clock and re-syncs ccxt's time difference, as a bot must do
after the clock jumps (ccxt signs with its own clock minus ``options['timeDifference']``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from bot.core.timeutil import to_ms
from bot.emulator import EmulatorConfig, EmulatorState, start_emulator
from bot.exchange.connect import connect

KEY, SECRET = "emu-test-key", "emu-test-secret"
START = to_ms("2025-03-18T00:00:00Z")
SYMBOLS = ["ORCAUSDT", "BTCUSDT", "SOLUSDT"]


@pytest.fixture(scope="session")
def store() -> Any:
    from bot.data.store import MarketStore

    sample = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample"
    if not sample.is_dir():
        pytest.fail(f"bundled sample missing: {sample}")
    return MarketStore.load(sample)


@dataclass
class Emu:
    state: EmulatorState
    base_url: str
    ex: Any
    http: aiohttp.ClientSession

    async def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        method = self.http.post if body is not None else self.http.get
        async with method(f"{self.base_url}/_sim/{path}", json=body) as resp:
            data = await resp.json()
            assert resp.status == 200, data
            return data

    async def step(self, ms: int) -> dict[str, Any]:
        out = await self.control("clock", {"step_ms": ms})
        await self.ex.load_time_difference()
        return out

    async def raw(self, method: str, path: str, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        async with self.http.request(method, f"{self.base_url}{path}", **kw) as resp:
            text = await resp.text()
            try:
                import json

                data = json.loads(text)
            except ValueError:
                data = text
            return resp.status, data, dict(resp.headers)


def make_settings(base_url: str, key: str = KEY, secret: str = SECRET) -> Settings:
    # testnet mode: paper-mode clients never carry keys (bot.exchange.connect), these calls are signed
    return Settings(mode="testnet",
                    exchange={"base_url": base_url, "api_key": key, "api_secret": secret, "timeout_ms": 3000})


async def open_emu(store: Any, *, start: int = START, config: EmulatorConfig | None = None,
                   symbols: list[str] | None = None) -> tuple[Any, Emu]:
    config = config or EmulatorConfig(api_key=KEY, api_secret=SECRET)
    state = EmulatorState.build(store, start, speed=0, config=config, symbols=symbols or SYMBOLS)
    runner, base_url = await start_emulator(state, port=0)
    ex = connect(make_settings(base_url))
    ex.enableRateLimit = False
    http = aiohttp.ClientSession()
    return runner, Emu(state, base_url, ex, http)


@pytest.fixture
async def emu(store: Any) -> AsyncIterator[Emu]:
    runner, e = await open_emu(store)
    try:
        await e.ex.load_markets()
        yield e
    finally:
        await e.ex.close()
        await e.http.close()
        await runner.cleanup()
