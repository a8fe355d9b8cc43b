"""The offline demo: the real bot, through the real ccxt client, against our emulator.

It starts the Binance USDⓈ-M emulator on a free loopback port with the bundled real sample,
runs the engine in testnet mode at accelerated speed across the RIVER run of late December
2025 (funding pinned near the -2% floor on 1h intervals while price doubled), and ends by
printing the journal summary. Nothing is shortcut: orders, stops, fills, funding and
reconciliation all go over HTTP through ``ccxt.async_support.binanceusdm``.

The emulator compresses hours into fractions of a second, so the request-weight limits (which
protect a real exchange per wall-clock minute) are scaled up by the same factor for the demo.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from loguru import logger
from pydantic import SecretStr

from bot.config import Settings
from bot.core.enums import Mode
from bot.core.timeutil import MS_PER_HOUR, iso, to_ms
from bot.data.store import MarketStore
from bot.emulator import EmulatorConfig, EmulatorState
from bot.emulator.background import BackgroundEmulator
from bot.engine import Engine
from bot.exchange.connect import connect
from bot.execution.exchange import ExchangeExecutor
from bot.journal import Journal
from bot.market.budget import RequestBudget
from bot.market.live import LiveSource
from bot.risk.files import RiskFiles
from bot.trading.feed import LiveFeed
from strategies.base import Strategy

DEMO_SYMBOLS = ["RIVERUSDT", "PIPPINUSDT", "BTCUSDT"]
DEMO_START = "2025-12-27T00:00:00Z"
DEMO_HOURS = 9 * 24
DEMO_KEY, DEMO_SECRET = "demo-key", "demo-secret"


@dataclass
class DemoResult:
    journal_url: str
    run_id: str | None
    cycles: int
    closed_trades: int
    open_trades: int
    wall_seconds: float
    start_ms: int
    end_ms: int
    base_url: str


async def run_demo(settings: Settings, strategies: dict[str, Strategy], *, data_dir: Path, journal_url: str,
                   workdir: Path, hours: int = DEMO_HOURS, speed: float = 4 * 3600.0,
                   start: str = DEMO_START) -> DemoResult:
    """Run the demo; ``speed`` is simulated seconds per wall second (default: 4 hours/s)."""
    store = MarketStore.load(data_dir, symbols=DEMO_SYMBOLS)
    start_ms = to_ms(start)
    end_ms = start_ms + hours * MS_PER_HOUR
    scale = max(1, int(speed / 60))
    config = EmulatorConfig(api_key=DEMO_KEY, api_secret=DEMO_SECRET, max_weight=2400 * scale,
                            balance=settings.paper.starting_balance)
    state = EmulatorState.build(store, start_ms, speed=speed, config=config, symbols=DEMO_SYMBOLS)
    started = time.monotonic()
    with BackgroundEmulator(state) as emulator:
        demo_settings = settings.model_copy(update={"mode": Mode.TESTNET}, deep=True)
        demo_settings.exchange.base_url = emulator.base_url
        demo_settings.exchange.api_key = _secret(DEMO_KEY)
        demo_settings.exchange.api_secret = _secret(DEMO_SECRET)
        demo_settings.universe.symbols = list(DEMO_SYMBOLS)
        logger.info("demo: emulator at {} replaying {} .. {} at {:.0f}x", emulator.base_url, iso(start_ms),
                    iso(end_ms), speed)
        journal = Journal.open(journal_url)
        data_client = connect(demo_settings, public=True)  # market data needs no keys
        executor = ExchangeExecutor(connect(demo_settings))
        for client in (data_client, executor.client):
            client.enableRateLimit = False  # our own budget paces requests (scaled, see above)
        source = LiveSource(data_client, demo_settings, budget=RequestBudget(2400 * scale))
        engine = Engine(demo_settings, feed=LiveFeed(source, always=lambda: DEMO_SYMBOLS), executor=executor,
                        journal=journal, strategies=strategies,
                        risk_files=RiskFiles.from_halt_file(workdir / "HALT"))
        try:
            await engine.start()
            # one cycle per simulated hour, until the episode is over
            cycle_wall = MS_PER_HOUR / 1000.0 / speed
            while await executor.now_ms() < end_ms:
                began = time.monotonic()
                await engine.safe_cycle()
                spare = cycle_wall - (time.monotonic() - began)
                if spare > 0:
                    await asyncio.sleep(spare)
            run_id = engine.run_id
            await engine.shutdown("demo_complete")
        finally:
            await data_client.close()
            journal.close()
    return DemoResult(journal_url, run_id, engine.cycles, len(engine.closed_trades), len(engine.book),
                      time.monotonic() - started, start_ms, end_ms, emulator.base_url)


def _secret(value: str) -> SecretStr:
    return SecretStr(value)
