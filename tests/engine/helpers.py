"""Shared helpers of the engine tests: settings, an emulator on loopback, hour stepping."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import Settings
from bot.core.timeutil import MS_PER_HOUR
from bot.emulator import EmulatorConfig, EmulatorState, start_emulator
from bot.emulator.faults import Fault

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


def fault_once(emu: Emulator, kind: str) -> None:
    """After the first fault of ``kind`` ("5xx", "429") the venue is healthy again (p_5xx and
    p_429 back to 0), whatever the client does next.

    The faults are cleared in the same step that draws the first one, before the client reads its
    answer. (A healer task polling the fault counts raced the client's retry: when the retry came
    first, as it may on a busy machine, it met a second fault.) Configure the fault itself with
    ``/_sim/faults`` as usual; the emulator runs in the test's process, so its injector is patched
    directly."""
    injector = emu.state.faults
    draw = injector.draw

    def draw_until_first(method: str, path: str) -> Fault:
        fault = draw(method, path)
        if fault.value == kind:
            injector.update({"p_5xx": 0.0, "p_429": 0.0})
            del injector.draw  # back to the class's own draw
        return fault

    injector.draw = draw_until_first  # type: ignore[method-assign]


def hours(start_ms: int, end_ms: int) -> range:
    return range(start_ms, end_ms + 1, MS_PER_HOUR)


@dataclass
class EngineParts:
    """A testnet engine on the real ccxt client against the emulator, with what a test inspects."""

    engine: Any
    executor: Any
    client: Any
    journal: Any

    async def stop(self) -> None:
        """Stop as a bot does (the stops stay on the exchange) and release the clients and journal."""
        await self.engine.shutdown("completed")
        await self.client.close()
        self.journal.close()


async def build_engine(tmp_path: Path, emu: Emulator, symbols: list[str], strategy: Any, *,
                       executor_cls: Any = None, risk: dict[str, Any] | None = None,
                       strategy_cfg: dict[str, Any] | None = None, start: bool = True) -> EngineParts:
    """Build (and by default start) an engine trading ``symbols`` with ``strategy`` as its
    "scripted" strategy, in testnet mode against ``emu``.

    Every engine test repeated this set-up. ``risk`` overrides risk settings (the cooldown is 0
    unless given), ``strategy_cfg`` fields of the strategy's config; ``executor_cls`` is an
    ``ExchangeExecutor`` subclass with test hooks on the wire. Fast retries: the executor backs
    off 0.01 s and tries twice.
    """
    from bot.engine import Engine
    from bot.exchange.connect import connect
    from bot.execution.exchange import ExchangeExecutor
    from bot.journal import Journal
    from bot.market.budget import RequestBudget
    from bot.market.live import LiveSource
    from bot.risk.files import RiskFiles
    from bot.trading.feed import LiveFeed

    settings = engine_settings(tmp_path, base_url=emu.base_url, mode="testnet", **(risk or {}))
    settings.universe.symbols = list(symbols)
    cfg = settings.strategies["scripted"]
    cfg.stop_loss_pct = getattr(strategy, "stop_pct", cfg.stop_loss_pct)
    cfg.take_profit_pct = getattr(strategy, "tp_pct", cfg.take_profit_pct)
    for name, value in (strategy_cfg or {}).items():
        setattr(cfg, name, value)
    client = connect(settings)
    client.enableRateLimit = False
    executor = (executor_cls or ExchangeExecutor)(connect(settings), backoff_s=0.01, max_attempts=2)
    executor.client.enableRateLimit = False
    journal = Journal.open(settings.journal.url)
    engine = Engine(settings, feed=LiveFeed(LiveSource(client, settings, budget=RequestBudget(10_000_000))),
                    executor=executor, journal=journal, strategies={"scripted": strategy},
                    risk_files=RiskFiles.from_halt_file(tmp_path / "HALT"))
    if start:
        await engine.start()
    return EngineParts(engine, executor, client, journal)
