"""Shared helpers of the engine tests: settings, an emulator on loopback, hour stepping."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import Settings
from bot.core.timeutil import MS_PER_HOUR
from bot.emulator import EmulatorConfig, EmulatorState, start_emulator

KEY, SECRET = "engine-test-key", "engine-test-secret"


def engine_settings(tmp_path: Path, *, base_url: str | None = None, mode: str = "paper", **risk: Any) -> Settings:
    return Settings(
        mode=mode,
        exchange={"base_url": base_url, "api_key": KEY, "api_secret": SECRET, "timeout_ms": 3000},
        risk={"risk_per_trade": 0.01, "max_leverage": 3, "cooldown_after_stop_minutes": 0, **risk},
        strategies={"scripted": {"enabled": True, "stop_loss_pct": 0.05, "take_profit_pct": 0.10, "leverage": 3}},
        engine={"halt_file": str(tmp_path / "HALT"), "cycle_seconds": 0.05},
        journal={"url": f"sqlite:///{tmp_path / 'journal.sqlite'}"},
        universe={"symbols": []},
    )


@dataclass
class Emulator:
    state: EmulatorState
    base_url: str
    runner: Any
    http: aiohttp.ClientSession

    async def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        method = self.http.post if body is not None else self.http.get
        async with method(f"{self.base_url}/_sim/{path}", json=body) as resp:
            data = await resp.json()
            assert resp.status == 200, data
            return data

    async def set_time(self, t_ms: int) -> None:
        await self.control("clock", {"now": t_ms})

    async def close(self) -> None:
        await self.http.close()
        await self.runner.cleanup()


async def start(store: Any, start_ms: int, symbols: list[str], **config: Any) -> Emulator:
    cfg = EmulatorConfig(api_key=KEY, api_secret=SECRET, **config)
    state = EmulatorState.build(store, start_ms, speed=0, config=cfg, symbols=symbols)
    runner, base_url = await start_emulator(state, port=0)
    return Emulator(state, base_url, runner, aiohttp.ClientSession())


def hours(start_ms: int, end_ms: int) -> range:
    return range(start_ms, end_ms + 1, MS_PER_HOUR)
