"""Fees paid in BNB are booked at their USDT value at the fill time (issue 11, Part 2 item 9).

Through the real ccxt client against the emulator, with BNB paying the fees (Binance "BNB burn":
``commission = USDT fee x 0.9 / BNB price``, ``commissionAsset: "BNB"``) and BNBUSDT replayed
from real data (tests/engine/bnb_data). The bot values each BNB fee with BNBUSDT's price at the
fill time, so

    fee in USDT = BNB fee x BNB price = (q x p x 0.0005 x 0.9 / BNB price) x BNB price
                = 0.00045 x q x p                      (taker 0.05%, 10% BNB discount)

and a trade's fees are ``0.00045 x q x (p_entry + p_exit)``, up to the 8-decimal rounding of the
BNB amount on the wire (1e-8 BNB x ~630 USDT = 6.3e-6 USDT per fill). Counted as if USDT (the
old behaviour), the fees would be about 1/700 of that.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.enums import IntentKind
from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.exchange.connect import connect
from bot.execution.exchange import ExchangeExecutor
from bot.journal import Journal
from bot.journal.reader import JournalReader
from bot.trading.orders import OrderRouter
from tests.engine import helpers
from tests.engine.bnb_store import bnb_close_at, load_bnb_store
from tests.engine.scripted import Scripted

SYM = "ORCAUSDT"
T0 = to_ms("2025-03-18T06:00:00Z")
FEE_PER_NOTIONAL = 0.0005 * 0.9  # taker rate x (1 - 10% BNB discount)
WIRE_ROUNDING = 1e-5  # 8-decimal BNB amounts x a ~630 USDT price, per fill, with margin


async def _emulator(tmp_path: Path) -> helpers.Emulator:
    emu = await helpers.start(load_bnb_store(tmp_path), T0, [SYM, "BNBUSDT"], max_weight=10_000_000)
    await emu.control("account", {"bnb_fee": True, "bnb_balance": 5.0})  # the price: replayed BNBUSDT
    return emu


async def test_a_trade_with_bnb_fees_books_their_usdt_value(tmp_path: Path) -> None:
    emu = await _emulator(tmp_path)
    settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet")
    strategy = Scripted({SYM: (T0, IntentKind.ENTER_LONG)}, stop_pct=0.30, tp_pct=None, leverage=1.0,
                        exits={SYM: T0 + 2 * MS_PER_HOUR})
    parts = await helpers.build_engine(tmp_path, emu, [SYM], strategy, start=False)
    engine, executor, client, journal = parts.engine, parts.executor, parts.client, parts.journal
    try:
        await engine.start()
        await engine.safe_cycle()  # entry at 06:00
        strategy.held.add(SYM)
        await emu.set_time(T0 + 2 * MS_PER_HOUR)
        await engine.safe_cycle()  # the scripted market exit at 08:00, attributed as the position is gone
        assert emu.state.exchange.position(SYM) is None
        await engine.shutdown("completed")
        venue = list(emu.state.exchange.user_trades(SYM))
        funding = sum(r.amount for r in emu.state.exchange.income(SYM, "FUNDING_FEE"))  # the 08:00 settlement
    finally:
        await client.close()
        journal.close()
        await emu.close()
        await executor.client.close()
    entry, exit_fill = venue  # the venue's two trades, in time order: the buy, then the sell
    assert (entry.fee_asset, exit_fill.fee_asset) == ("BNB", "BNB")
    expected = FEE_PER_NOTIONAL * (entry.quantity * entry.price + exit_fill.quantity * exit_fill.price)
    with JournalReader(settings.journal.url) as reader:
        (trade,) = reader.trades()
        fills = sorted(reader.fills(trade_id=trade.id), key=lambda f: f.ts)
    assert float(trade.fees) == pytest.approx(expected, abs=2 * WIRE_ROUNDING)
    assert float(trade.fees) > 100 * (entry.fee + exit_fill.fee), "BNB amounts were counted as USDT"
    # the journal keeps what was paid (BNB) and its value at each fill's own BNB price
    assert [(f.fee_asset, float(f.fee)) for f in fills] == [("BNB", pytest.approx(entry.fee, abs=1e-8)),
                                                            ("BNB", pytest.approx(exit_fill.fee, abs=1e-8))]
    for f, at in zip(fills, (T0, T0 + 2 * MS_PER_HOUR), strict=True):
        assert float(f.fee_usdt) == pytest.approx(float(f.fee) * bnb_close_at(at), abs=1e-9)
    price_pnl = entry.quantity * (exit_fill.price - entry.price)
    assert float(trade.net_pnl) == pytest.approx(price_pnl - expected + funding, abs=2 * WIRE_ROUNDING)


async def test_an_unreadable_bnb_price_uses_the_latest_known_one_and_is_journaled(tmp_path: Path) -> None:
    """The BNB price at the second fill cannot be read (every klines request answers 5xx): the
    fee is valued at the BNB price known from the first fill, a warning event says so, nothing
    raises, and the BNB amount is never counted as USDT."""
    emu = await _emulator(tmp_path)
    settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet")
    executor = ExchangeExecutor(connect(settings), backoff_s=0.01, max_attempts=2)
    executor.client.enableRateLimit = False
    journal = Journal.open(settings.journal.url)
    journal.start_run("testnet", "cfg", "test")
    OrderRouter(executor, journal)  # routes the executor's fee warnings to the journal
    try:
        await executor.start()
        await executor.client.create_order("ORCA/USDT:USDT", "market", "buy", 100)
        (first,) = await executor.fills(SYM, T0)
        await emu.set_time(T0 + 2 * MS_PER_HOUR)
        await executor.client.create_order("ORCA/USDT:USDT", "market", "sell", 100)
        await emu.control("faults", {"p_5xx": 1.0, "paths": ["/fapi/v1/klines"]})
        _, second = await executor.fills(SYM, T0)
        again = (await executor.fills(SYM, T0))[1]  # read again: same value, no second warning
    finally:
        await executor.close()
        await emu.close()
    journal.flush()
    bnb_at_entry = bnb_close_at(T0)
    assert first.fee_usdt == pytest.approx(first.fee * bnb_at_entry, abs=1e-12)
    assert second.fee_asset == "BNB"
    assert second.fee_usdt == pytest.approx(second.fee * bnb_at_entry, abs=1e-12)  # not the 08:00 price
    assert again.fee_usdt == second.fee_usdt
    with JournalReader(settings.journal.url) as reader:
        events = reader.events(kind="fee_conversion")
    journal.close()
    assert len(events) == 1 and events[0].severity == "warning"
    assert "latest known BNB price" in events[0].message and second.trade_id in events[0].message
    # dated at the fill (the venue clock stood at T0 + 2h when it filled), not when it was journaled
    assert events[0].ts == datetime.fromtimestamp((T0 + 2 * MS_PER_HOUR) / 1000, tz=UTC) == \
        datetime.fromtimestamp(second.ts / 1000, tz=UTC)
    assert events[0].data == {"asset": "BNB", "ts": T0 + 2 * MS_PER_HOUR, "price_used": pytest.approx(bnb_at_entry),
                              "trade_id": second.trade_id, "symbol": SYM}


async def test_one_failed_bnb_price_read_is_retried_not_valued_at_a_stale_price(tmp_path: Path) -> None:
    """The first klines read for the exit's BNB price answers 5xx, the retry succeeds: the fee is
    valued at the 08:00 BNB price, not at the entry's, and no warning is journaled (the soak
    found two fees valued at a stale price after one routine 5xx)."""
    emu = await _emulator(tmp_path)
    settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet")
    # the 5xx is switched off as it is drawn (helpers.fault_once): the retry meets a healthy venue
    # however soon it comes, so the backoff need not leave time for anything
    executor = ExchangeExecutor(connect(settings), backoff_s=0.01, max_attempts=3)
    executor.client.enableRateLimit = False
    journal = Journal.open(settings.journal.url)
    journal.start_run("testnet", "cfg", "test")
    OrderRouter(executor, journal)
    try:
        await executor.start()
        await executor.client.create_order("ORCA/USDT:USDT", "market", "buy", 100)
        await executor.fills(SYM, T0)
        await emu.set_time(T0 + 2 * MS_PER_HOUR)
        await executor.client.create_order("ORCA/USDT:USDT", "market", "sell", 100)
        await emu.control("faults", {"p_5xx": 1.0, "paths": ["/fapi/v1/klines"]})
        helpers.fault_once(emu, "5xx")
        _, second = await executor.fills(SYM, T0)
    finally:
        await executor.close()
        await emu.close()
    journal.flush()
    assert emu.state.faults.counts["5xx"] == 1
    assert second.fee_usdt == pytest.approx(second.fee * bnb_close_at(T0 + 2 * MS_PER_HOUR), abs=1e-12)
    assert bnb_close_at(T0 + 2 * MS_PER_HOUR) != bnb_close_at(T0)
    with JournalReader(settings.journal.url) as reader:
        events = reader.events(kind="fee_conversion")
    journal.close()
    assert events == []

