"""Issue 11, Part 1: the bot survives auto-deleveraging and a symbol leaving trading.

The engine trades the emulator through the real ccxt client (testnet mode). The exchange closes
the position by ADL (``POST /_sim/adl``) or settles it because the symbol is delisted
(``POST /_sim/delist``); the next cycle must see the position gone, attribute the exit (ADL:
``forceOrders`` row with client id ``adl_autoclose``; settlement: the symbol is no longer TRADING),
book the P&L from the fill, cancel the orphaned stop and take-profit, journal the exit as ``adl``
or ``settlement`` with a note (journal revision 0004), never
enter the delisted symbol again, and keep trading the others. P&L is worked by hand from the entry
fill's price and the price the test gives (neither close pays commission on the emulator).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.core.enums import IntentKind
from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.data.store import MarketStore
from bot.engine import Engine
from bot.exchange.connect import connect
from bot.execution.exchange import ExchangeExecutor
from bot.journal import Journal
from bot.market.budget import RequestBudget
from bot.market.live import LiveSource
from bot.risk.files import RiskFiles
from bot.trading.feed import LiveFeed
from tests.engine import helpers
from tests.engine.scripted import Scripted

ORCA, BTC = "ORCAUSDT", "BTCUSDT"
T0 = to_ms("2025-03-19T05:00:00Z")


def _engine(settings: Any, journal: Journal, script: Scripted) -> tuple[Engine, Any, ExchangeExecutor]:
    client = connect(settings)
    client.enableRateLimit = False
    executor = ExchangeExecutor(connect(settings))
    executor.client.enableRateLimit = False
    engine = Engine(settings, feed=LiveFeed(LiveSource(client, settings, budget=RequestBudget(10_000_000))),
                    executor=executor, journal=journal,
                    risk_files=RiskFiles.from_halt_file(Path(settings.engine.halt_file)),
                    strategies={"scripted": script})
    return engine, client, executor


def _exit_row(url: str) -> tuple[str, str | None, float]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            [row] = conn.execute(sa.text("SELECT exit_reason, note, exit_price FROM trade_exits")).all()
    finally:
        engine.dispose()
    return str(row[0]), row[1], float(row[2])


async def _setup(tmp_path: Path, sample_dir: Path, symbols: list[str], script: Scripted,
                 refresh_minutes: int = 60) -> tuple[Any, ...]:
    emu = await helpers.start(MarketStore.load(sample_dir, symbols=symbols), T0, symbols, max_weight=10_000_000)
    settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet")
    settings.universe.symbols = list(symbols)
    settings.universe.refresh_minutes = refresh_minutes
    journal = Journal.open(settings.journal.url)
    engine, client, executor = _engine(settings, journal, script)
    return emu, settings, journal, engine, client, executor


def _entry(sim: Any, symbol: str) -> tuple[float, float]:
    """(price, quantity) of the position's opening fill, as the exchange recorded it."""
    first = sim.user_trades(symbol)[0]
    return first.price, first.quantity


@pytest.mark.parametrize("server_offset_ms", [0, 4000])
async def test_an_adl_close_is_attributed_booked_and_its_orphans_cancelled(tmp_path: Path, sample_dir: Path,
                                                                           server_offset_ms: int) -> None:
    """Also with the server's clock 4 s ahead of the market clock its fills are stamped with (the
    soak's clock offset): the ADL comes in the same instant as the entry fill, so a trade dated by
    the bot's clock instead of its fill saw the ADL "before" its entry and booked a manual exit."""
    script = Scripted({ORCA: (T0, IntentKind.ENTER_LONG)})
    emu, settings, journal, engine, client, executor = await _setup(tmp_path, sample_dir, [ORCA], script)
    sim = emu.state.exchange
    try:
        await emu.control("account", {"server_time_offset_ms": server_offset_ms})
        await engine.start()
        await engine.cycle(await executor.now_ms())
        assert sim.position(ORCA) is not None
        assert len(sim.open_orders(ORCA, conditional=True)) == 2  # stop and take-profit
        entry, qty = _entry(sim, ORCA)
        price = round(entry * 1.03, 3)  # on ORCA's 0.001 tick, between the stop and the take-profit
        await emu.control("adl", {"symbol": ORCA, "price": price})

        await engine.cycle(await executor.now_ms())
        [closed] = engine.closed_trades
        assert closed["reason"] == "adl"
        assert closed["exit_price"] == pytest.approx(price)
        assert closed["pnl"] == pytest.approx(qty * (price - entry), abs=1e-6)  # long: qty x (exit - entry)
        assert sim.open_orders(ORCA) == []  # the orphaned stop and take-profit were cancelled
        assert ORCA not in engine.book
        journal.flush()
        reason, note, exit_price = _exit_row(settings.journal.url)
        assert reason == "adl" and note is not None and "auto-deleveraged" in note
        assert exit_price == pytest.approx(price)
        await engine.shutdown("test")
    finally:
        await client.close()
        journal.close()
        await emu.close()


async def test_a_delisted_symbol_is_settled_never_reentered_and_others_trade_on(tmp_path: Path,
                                                                               sample_dir: Path) -> None:
    script = Scripted({ORCA: (T0, IntentKind.ENTER_LONG), BTC: (T0 + 2 * MS_PER_HOUR, IntentKind.ENTER_SHORT)})
    # markets reloaded once a day: the feed still serves ORCA after its delisting, the engine must refuse
    emu, settings, journal, engine, client, executor = await _setup(tmp_path, sample_dir, [ORCA, BTC], script,
                                                                    refresh_minutes=24 * 60)
    sim = emu.state.exchange
    try:
        await engine.start()
        await engine.cycle(await executor.now_ms())
        entry, qty = _entry(sim, ORCA)
        delivery = round(entry * 0.98, 3)  # above the 5% stop: only the settlement closes it
        await emu.control("delist", {"symbol": ORCA, "delivery_price": delivery, "at": T0 + MS_PER_HOUR})

        await emu.set_time(T0 + MS_PER_HOUR)
        await engine.cycle(await executor.now_ms())
        [closed] = engine.closed_trades
        assert closed["reason"] == "settlement"
        assert closed["exit_price"] == pytest.approx(delivery)
        assert closed["pnl"] == pytest.approx(qty * (delivery - entry), abs=1e-6)
        assert closed["exit_ts"] == T0 + MS_PER_HOUR
        assert sim.open_orders(ORCA) == []
        journal.flush()
        reason, note, _ = _exit_row(settings.journal.url)
        assert reason == "settlement" and note is not None and "delivery price" in note

        script.held.discard(ORCA)  # the strategy asks to enter ORCA again: the engine must not send it
        emu.state.request_log = []
        for hour in (2, 3):
            await emu.set_time(T0 + hour * MS_PER_HOUR)
            await engine.cycle(await executor.now_ms())
        sent = [(path, query + body) for method, path, query, body in emu.state.request_log
                if method == "POST" and path in ("/fapi/v1/order", "/fapi/v1/algoOrder")]
        assert not [p for p, params in sent if f"symbol={ORCA}" in params]  # nothing sent to the settling symbol
        assert [p for p, params in sent if f"symbol={BTC}" in params]
        assert sim.position(ORCA) is None
        assert sim.position(BTC) is not None  # the loop went on and traded BTC
        await engine.shutdown("test")
    finally:
        await client.close()
        journal.close()
        await emu.close()


async def test_one_exchange_info_read_answers_every_symbols_status(tmp_path: Path, sample_dir: Path) -> None:
    """The engine asks a symbol's status per entry intent: one exchangeInfo read (every symbol of
    the venue) serves all of them for a minute; ``fresh`` reads again (exit attribution)."""
    from bot.core.timeutil import to_ms as _to_ms
    from bot.data.store import MarketStore as _Store
    from bot.exchange.connect import connect as _connect
    from bot.execution.exchange import ExchangeExecutor as _Executor

    symbols = ["BTCUSDT", "ORCAUSDT"]
    emu = await helpers.start(_Store.load(sample_dir, symbols=symbols), _to_ms("2025-03-18T06:00:00Z"), symbols,
                              max_weight=10_000_000)
    executor = _Executor(_connect(helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet")))
    executor.client.enableRateLimit = False
    reads = 0
    real = executor.client.fapiPublicGetExchangeInfo

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        return await real(*args, **kwargs)

    executor.client.fapiPublicGetExchangeInfo = counted
    try:
        statuses = [await executor.symbol_status(s) for s in (*symbols, *symbols)]
        cached_reads = reads
        fresh = await executor.symbol_status("BTCUSDT", fresh=True)
    finally:
        await executor.close()
        await emu.close()
    assert statuses == ["TRADING"] * 4
    assert cached_reads == 1 and reads == 2 and fresh == "TRADING"
