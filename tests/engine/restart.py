"""An in-process testnet engine on the real ccxt client against the emulator, restartable.

Each :func:`open_engine` is what a new bot process has: its own ccxt clients, its own
``Journal`` object (nothing remembered in memory) on the same journal file and risk files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.engine import Engine
from bot.exchange.connect import connect
from bot.execution.exchange import ExchangeExecutor
from bot.journal import Journal
from bot.market.budget import RequestBudget
from bot.market.live import LiveSource
from bot.risk.files import RiskFiles
from bot.trading.feed import LiveFeed
from tests.engine import helpers


@dataclass
class Bot:
    engine: Engine
    client: Any
    journal: Journal

    async def stop(self) -> None:
        """Stop as a bot does (the stops stay on the exchange) and release everything."""
        await self.engine.shutdown("completed")
        await self.client.close()
        self.journal.close()


async def open_engine(tmp_path: Path, emu: helpers.Emulator, symbol: str, strategy: Any, **cfg: Any) -> Bot:
    """Start an engine trading ``symbol`` with ``strategy`` as the "scripted" strategy; ``cfg``
    sets fields of its strategy config (trailing_stop_pct, breakeven_trigger_pct, ...)."""
    settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet")
    settings.universe.symbols = [symbol]
    scripted = settings.strategies["scripted"]
    scripted.stop_loss_pct, scripted.take_profit_pct = strategy.stop_pct, strategy.tp_pct
    for name, value in cfg.items():
        setattr(scripted, name, value)
    client = connect(settings)
    client.enableRateLimit = False
    executor = ExchangeExecutor(connect(settings), backoff_s=0.01, max_attempts=2)
    executor.client.enableRateLimit = False
    journal = Journal.open(settings.journal.url)
    engine = Engine(settings, feed=LiveFeed(LiveSource(client, settings, budget=RequestBudget(10_000_000))),
                    executor=executor, journal=journal, strategies={"scripted": strategy},
                    risk_files=RiskFiles.from_halt_file(tmp_path / "HALT"))
    await engine.start()
    return Bot(engine, client, journal)
