"""Assemble a live, testnet or paper run from settings: journal, feed, executor, engine.

Paper mode reads the real market (public data, no keys) and fills in the simulated exchange
core in-process; testnet and live modes trade through ccxt. ``--exchange-url`` points the
client of any mode at our emulator.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

from bot.config import Settings
from bot.core.enums import Mode
from bot.core.instrument import id_to_ccxt_symbol
from bot.core.timeutil import now_ms
from bot.engine import Engine
from bot.exchange.connect import connect
from bot.execution.base import Executor
from bot.execution.ccxt_map import instrument_from_ccxt
from bot.execution.exchange import ExchangeExecutor
from bot.execution.paper import PaperExecutor
from bot.journal import Journal
from bot.market.liquidations import LiquidationAggregator, LiquidationWatcher, supports_liquidation_stream
from bot.market.live import LiveSource
from bot.sim.exchange import SimExchange
from bot.trading.feed import LiveFeed
from strategies.base import Strategy

#: The engine of the current process (signal handlers ask it to stop).
CURRENT_ENGINE: Engine | None = None


async def build_executor(settings: Settings, data_client: Any) -> Executor:
    """Paper: simulated core over the exchange's markets; otherwise ccxt with keys."""
    if settings.mode is Mode.PAPER:
        markets = await data_client.load_markets()
        instruments = {m["id"]: instrument_from_ccxt(m) for m in markets.values()
                       if m.get("linear") and m.get("swap") and m.get("settle") == "USDT"}
        sim = SimExchange(instruments, balance=settings.paper.starting_balance, maker_fee=settings.paper.maker_fee,
                          taker_fee=settings.paper.taker_fee, seed=settings.paper.seed)
        # Decisions run on the market's clock (an accelerated emulator's too), not the sim's.
        return PaperExecutor(sim, instruments, data_client.fetch_time, live_prices=True)
    if settings.mode is Mode.LIVE:
        await check_key_permissions(data_client, settings)
    return ExchangeExecutor(connect(settings))


def _liquidation_stream(settings: Settings) -> tuple[Any, Any, Any]:
    """Public liquidations over ccxt.pro, where the venue streams them (not our emulator, which
    has no WebSocket): an aggregator for the snapshots and the watcher task feeding it."""
    if settings.exchange.base_url:
        return None, None, None
    client = connect(settings, pro=True)
    if not supports_liquidation_stream(client):
        return None, None, client
    aggregator = LiquidationAggregator()
    symbols = [id_to_ccxt_symbol(s) for s in settings.universe.symbols]
    watcher = LiquidationWatcher(client.watch_liquidations_for_symbols, symbols, aggregator, now_ms)
    watcher.start()
    return aggregator, watcher, client


async def check_key_permissions(client: Any, settings: Settings) -> None:
    """Refuse a live API key that can withdraw, where the exchange lets us check."""
    if settings.exchange.base_url:
        return  # an emulator has no such endpoint
    try:
        restrictions = await client.sapiGetAccountApiRestrictions()
    except Exception as exc:  # not every exchange/key can answer: say so, don't guess
        logger.warning("could not check the API key's permissions ({}); make sure it cannot withdraw",
                       type(exc).__name__)
        return
    if restrictions.get("enableWithdrawals"):
        raise SystemExit("refusing to trade live: this API key has withdrawal permission; create one without it")


async def build_and_run(settings: Settings, strategies: dict[str, Strategy], *, max_cycles: int | None = None,
                        duration_s: float | None = None, cycle_seconds: float | None = None) -> str:
    global CURRENT_ENGINE
    journal = Journal.open(settings.journal.url, settings=settings.journal)
    data_client = connect(settings)
    watcher = pro_client = None
    try:
        executor = await build_executor(settings, data_client)
        liquidations, watcher, pro_client = _liquidation_stream(settings)
        source = LiveSource(data_client, settings, liquidations=liquidations)
        engine_ref: list[Engine] = []
        feed = LiveFeed(source, always=lambda: [t.symbol for t in engine_ref[0].book] + settings.universe.symbols)
        engine = Engine(settings, feed=feed, executor=executor, journal=journal, strategies=strategies)
        engine_ref.append(engine)
        CURRENT_ENGINE = engine
        return await engine.run(max_cycles=max_cycles, duration_s=duration_s, cycle_seconds=cycle_seconds)
    finally:
        CURRENT_ENGINE = None
        if watcher is not None:
            await watcher.stop()
        if pro_client is not None:
            await pro_client.close()
        await data_client.close()
        journal.close()
