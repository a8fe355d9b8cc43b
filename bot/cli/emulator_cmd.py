"""``derivbot exchange-sim``: serve the offline Binance USDⓈ-M emulator over recorded data."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import fail

DEFAULT_DATA = Path("data/sample")


def _run(data: Path, host: str, port: int, speed: float, start: str | None, balance: float,
         api_key: str, api_secret: str, symbols: list[str] | None, max_weight: int) -> None:
    from loguru import logger

    from bot.core.timeutil import MS_PER_DAY, iso, to_ms
    from bot.data.store import MarketStore
    from bot.emulator import EmulatorConfig, EmulatorState, start_emulator
    from bot.logging import register_secrets

    register_secrets(api_key, api_secret)
    if not data.is_dir():
        fail(f"data directory not found: {data} (give --data DIR; default {DEFAULT_DATA})", 2)
    store = MarketStore.load(data)
    chosen = [s.upper().replace("/", "").split(":")[0] for s in symbols] if symbols else None
    if not store.symbols:
        fail(f"no market data found under {data}", 2)
    first = min(int(store[s].ts[0]) for s in (chosen or store.symbols) if s in store and len(store[s].ts))
    try:
        start_ms = to_ms(start) if start else first + MS_PER_DAY
    except ValueError as exc:
        fail(f"--start: {exc}", 2)
    config = EmulatorConfig(api_key=api_key, api_secret=api_secret, balance=balance, max_weight=max_weight)
    try:
        state = EmulatorState.build(store, start_ms, speed=speed, config=config, symbols=chosen)
    except ValueError as exc:
        fail(str(exc), 2)

    async def serve() -> None:
        runner, base_url = await start_emulator(state, host, port)
        logger.info("emulator clock starts at {} (speed x{}), symbols: {}", iso(start_ms), speed,
                    ", ".join(state.symbols))
        logger.info("point the bot at it with exchange.base_url = {!r}", base_url)
        try:
            while True:
                await asyncio.sleep(3600)
        finally:
            await runner.cleanup()

    asyncio.run(serve())


def exchange_sim(
    data: Annotated[Path, typer.Option("--data", help="Market data directory (freqtrade layout).")] = DEFAULT_DATA,
    port: Annotated[int, typer.Option("--port", help="TCP port on 127.0.0.1 (0 = any free port).")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
    speed: Annotated[float, typer.Option("--speed", help="Clock rate vs wall time; 0 = step via /_sim/clock.")] = 1.0,
    start: Annotated[str | None, typer.Option(
        "--start", help="Start time, ISO UTC (default: data start + 1 day).")] = None,
    balance: Annotated[float, typer.Option("--balance", help="Starting USDT wallet.")] = 10_000.0,
    api_key: Annotated[str, typer.Option("--api-key", help="API key the emulator accepts.")] = "test",
    api_secret: Annotated[str, typer.Option("--api-secret", help="API secret the emulator accepts.")] = "test",
    symbols: Annotated[list[str] | None, typer.Option("--symbols", help="Symbols to serve (repeatable).")] = None,
    max_weight: Annotated[int, typer.Option("--max-weight", help="Request weight per minute before 429.")] = 2400,
) -> None:
    """Serve a Binance USDⓈ-M compatible REST API over recorded market data (offline)."""
    if speed < 0:
        fail("--speed must be >= 0", 2)
    if balance < 0:
        fail("--balance must be >= 0", 2)
    if max_weight <= 0:
        fail("--max-weight must be positive", 2)
    try:
        _run(data, host, port, speed, start, balance, api_key, api_secret, symbols, max_weight)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def register(app: typer.Typer) -> None:
    app.command("exchange-sim")(exchange_sim)
