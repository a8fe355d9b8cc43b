"""A bot process for the crash tests: the real engine, the real ccxt client, a scripted entry.

Run as a separate process so a test can SIGKILL it mid-position and start it again:
``python tests/engine/bot_proc.py URL WORKDIR [SYMBOL ENTRY_MS|none] CYCLES``
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.core.enums import IntentKind  # noqa: E402
from bot.engine import Engine  # noqa: E402
from bot.exchange.connect import connect  # noqa: E402
from bot.execution.exchange import ExchangeExecutor  # noqa: E402
from bot.journal import Journal  # noqa: E402
from bot.logging import setup_logging  # noqa: E402
from bot.market.budget import RequestBudget  # noqa: E402
from bot.market.live import LiveSource  # noqa: E402
from bot.trading.feed import LiveFeed  # noqa: E402
from tests.engine import helpers  # noqa: E402
from tests.engine.scripted import Scripted  # noqa: E402


async def main(url: str, workdir: Path, symbol: str, entry_ms: int | None, cycles: int) -> str:
    settings = helpers.engine_settings(workdir, base_url=url, mode="testnet")
    settings.universe.symbols = [symbol] if symbol != "none" else ["ORCAUSDT"]
    setup_logging(settings.logging, secrets=settings.secret_values())
    client = connect(settings)
    client.enableRateLimit = False
    executor = ExchangeExecutor(connect(settings), backoff_s=0.05)
    executor.client.enableRateLimit = False
    entries = {symbol: (entry_ms, IntentKind.ENTER_LONG)} if entry_ms is not None else {}
    journal = Journal.open(settings.journal.url)
    engine = Engine(settings, feed=LiveFeed(LiveSource(client, settings, budget=RequestBudget(10_000_000))),
                    executor=executor, journal=journal, strategies={"scripted": Scripted(entries, stop_pct=0.05,
                                                                                         tp_pct=None)})
    try:
        return await engine.run(max_cycles=cycles, cycle_seconds=0.1)
    finally:
        await client.close()
        journal.close()


if __name__ == "__main__":
    url, workdir, symbol, entry, cycles = sys.argv[1:6]
    reason = asyncio.run(main(url, Path(workdir), symbol, None if entry == "none" else int(entry), int(cycles)))
    print(f"EXIT {reason}", flush=True)
