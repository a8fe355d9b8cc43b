"""Assemble a live, testnet or paper run from settings: journal, feed, executor, engine.

Paper mode reads the real market (public data, no keys) and fills in the simulated exchange
core in-process; testnet and live modes trade through ccxt. ``--exchange-url`` points the
client of any mode at our emulator. Which endpoints and whether keys: ``bot.exchange.connect``
decides from the mode; this module only carries the ``--i-accept-live-risk`` flag
(``live_opt_in``) to every ``connect()`` call.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

from bot.config import ConfigError, Settings
from bot.core.enums import Mode
from bot.core.instrument import id_to_ccxt_symbol
from bot.core.timeutil import now_ms
from bot.engine import Engine
from bot.exchange.connect import connect, plan_endpoints
from bot.execution.base import Executor
from bot.execution.ccxt_map import instrument_from_ccxt
from bot.execution.exchange import ExchangeExecutor
from bot.execution.paper import PaperExecutor
from bot.journal import Journal
from bot.market.liquidations import LiquidationAggregator, LiquidationWatcher, supports_liquidation_stream
from bot.market.live import LiveSource
from bot.ops.alerts import AlertDispatcher
from bot.ops.crash import CrashGuard
from bot.ops.server import OpsServer, ops_server
from bot.sim.exchange import SimExchange
from bot.trading.feed import LiveFeed
from strategies.base import Strategy

#: The engine of the current process (signal handlers ask it to stop).
CURRENT_ENGINE: Engine | None = None


async def build_executor(settings: Settings, data_client: Any, *, live_opt_in: bool = False) -> Executor:
    """Paper: simulated core over the exchange's markets; otherwise ccxt with keys.

    The executor's client is the only one that holds the keys (the market-data client is
    public), so the live key-permission check asks it.
    """
    if settings.mode is Mode.PAPER:
        markets = await data_client.load_markets()
        instruments = {m["id"]: instrument_from_ccxt(m) for m in markets.values()
                       if m.get("linear") and m.get("swap") and m.get("settle") == "USDT"}
        sim = SimExchange(instruments, balance=settings.paper.starting_balance, maker_fee=settings.paper.maker_fee,
                          taker_fee=settings.paper.taker_fee, seed=settings.paper.seed)
        # Decisions run on the market's clock (an accelerated emulator's too), not the sim's.
        return PaperExecutor(sim, instruments, data_client.fetch_time, live_prices=True)
    client = connect(settings, live_opt_in=live_opt_in)
    if settings.mode is Mode.LIVE:
        try:
            await check_key_permissions(client, settings)
        except BaseException:
            await client.close()
            raise
    return ExchangeExecutor(client)


def liquidation_client(settings: Settings) -> Any | None:
    """The ccxt.pro client for public liquidations, or ``None`` against our emulator (REST only).

    Keyless in every mode (the stream is public, so the keys have no business on a WebSocket),
    and on the mode's endpoints like every client: a testnet run listens to the demo venue's
    stream, never production's with keys.
    """
    if settings.exchange.base_url:
        return None
    return connect(settings, public=True, pro=True)


def _liquidation_stream(settings: Settings) -> tuple[Any, Any, Any]:
    """Public liquidations over ccxt.pro, where the venue streams them: an aggregator for the
    snapshots, the watcher task feeding it, and the client (to close)."""
    client = liquidation_client(settings)
    if client is None:
        return None, None, None
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
        # A ConfigError, so the CLI prints it as one redacted line (exit 2) like every other refusal.
        raise ConfigError("refusing to trade live: this API key has withdrawal permission; "
                          "create a key without it (Binance: API Management, untick 'Enable Withdrawals')")


async def build_and_run(settings: Settings, strategies: dict[str, Strategy], *, max_cycles: int | None = None,
                        duration_s: float | None = None, cycle_seconds: float | None = None,
                        live_opt_in: bool = False) -> str:
    """Assemble and run the engine until it stops; returns the stop reason.

    ``live_opt_in`` is the ``--i-accept-live-risk`` flag: ``connect()`` re-checks it (with
    ``live.enabled``) for the keyed client, so a live run cannot trade without it whatever the
    caller checked. The endpoint policy is checked (``plan_endpoints``) before the journal is
    opened, so a refused combination (``EndpointPolicyError``) leaves no run behind.
    """
    global CURRENT_ENGINE
    plan_endpoints(settings, live_opt_in=live_opt_in)  # refuse early, before anything is opened
    # Alerts first (a URL apprise refuses is a ConfigError before anything opens), so that a
    # journal or venue that cannot be opened is still told as a crash (bot.ops.crash).
    alerts = AlertDispatcher.from_settings(settings.alerts)
    guard = CrashGuard(alerts) if alerts is not None else None
    if guard is not None:
        guard.arm()
    # Market data is public: its client never holds the keys, in any mode.
    data_client = connect(settings, live_opt_in=live_opt_in, public=True)
    journal = None
    watcher = pro_client = None
    ops: OpsServer | None = None
    try:
        journal = Journal.open(settings.journal.url, settings=settings.journal)
        if alerts is not None:
            alerts.attach(journal)  # alerts derive from what the journal records (bot.ops.alert_rules)
        executor = await build_executor(settings, data_client, live_opt_in=live_opt_in)
        liquidations, watcher, pro_client = _liquidation_stream(settings)
        source = LiveSource(data_client, settings, liquidations=liquidations)
        engine_ref: list[Engine] = []
        feed = LiveFeed(source, always=lambda: [t.symbol for t in engine_ref[0].book] + settings.universe.symbols)
        engine = Engine(settings, feed=feed, executor=executor, journal=journal, strategies=strategies)
        engine_ref.append(engine)
        if settings.metrics.enabled:
            ops = await start_ops(settings, journal, cycle_seconds)
            engine.cycle_observer = ops.metrics.observe_cycle
        CURRENT_ENGINE = engine
        return await engine.run(max_cycles=max_cycles, duration_s=duration_s, cycle_seconds=cycle_seconds)
    except Exception as exc:  # not a requested stop (those return a reason, or cancel)
        if guard is not None:
            guard.report(exc)
        raise
    finally:
        CURRENT_ENGINE = None
        try:
            if ops is not None:
                await ops.stop()
            if watcher is not None:
                await watcher.stop()
            if pro_client is not None:
                await pro_client.close()
            await data_client.close()
        finally:
            if guard is not None:
                guard.disarm()
            if alerts is not None:
                alerts.close()  # before the journal: queued alerts drain, drops are journaled
            if journal is not None:
                journal.close()


async def start_ops(settings: Settings, journal: Journal, cycle_seconds: float | None = None) -> OpsServer:
    """Serve /metrics and /healthz for this run (``[metrics]``); a port in use is a ConfigError
    (one line, exit 2) before any order is sent."""
    interval = cycle_seconds if cycle_seconds is not None else settings.engine.cycle_seconds
    server = ops_server(settings.metrics, interval, backlog=lambda: journal.health().pending)
    try:
        await server.start()
    except OSError as exc:
        raise ConfigError(exc.strerror or str(exc)) from None
    return server
