"""HALTED flattens in one cycle (issue 17, mutants of ``Engine._flatten`` that survived): every
order that could add exposure is cancelled (a resting limit entry and a conditional entry, each
by its own endpoint), the position is closed at market on its trade, what was done is counted,
and a close the venue will not take is journaled with the halt as its detail.

Through the real ccxt client against the emulator. The two entry orders are placed by hand, as
a person (or a crashed earlier run) leaves them: the bot's own entries are market orders.
"""

from __future__ import annotations

from pathlib import Path

from bot.core.enums import IntentKind, OrderType, RiskState
from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.data.store import MarketStore
from bot.journal.reader import JournalReader
from bot.risk.files import RiskFiles
from tests.engine import helpers
from tests.engine.scripted import Scripted

SYMBOL, MARKET = "ORCAUSDT", "ORCA/USDT:USDT"
T0 = to_ms("2025-03-19T05:00:00Z")


async def _held_then_manual_entries(tmp_path: Path, sample_dir: Path):
    """A scripted long on ORCA with its stop and take-profit, plus a resting limit buy below the
    market and a stop-market buy above it (neither reduce-only: both would add exposure)."""
    store = MarketStore.load(sample_dir, symbols=[SYMBOL])
    emu = await helpers.start(store, T0, [SYMBOL], max_weight=10_000_000)
    parts = await helpers.build_engine(tmp_path, emu, [SYMBOL], Scripted({SYMBOL: (T0, IntentKind.ENTER_LONG)}))
    await parts.engine.cycle(await parts.executor.now_ms())
    pos = emu.state.exchange.position(SYMBOL)
    assert pos is not None
    mark = pos.entry_price
    await parts.client.create_order(MARKET, "limit", "buy", 100, round(mark * 0.98, 4))
    await parts.client.create_order(MARKET, "STOP_MARKET", "buy", 100, None, {"stopPrice": round(mark * 1.05, 4)})
    return emu, parts


def _open(emu: helpers.Emulator) -> list:
    return emu.state.exchange.open_orders(SYMBOL)  # regular and conditional


async def test_halt_cancels_every_entry_order_closes_the_trade_and_counts_it(tmp_path: Path,
                                                                             sample_dir: Path) -> None:
    emu, parts = await _held_then_manual_entries(tmp_path, sample_dir)
    try:
        kinds = sorted((o.type.value, o.reduce_only or o.close_position) for o in _open(emu))
        # before: the bot's stop and take-profit (reduce-only) and the two manual entries
        assert kinds == sorted([(OrderType.LIMIT.value, False), (OrderType.STOP_MARKET.value, False),
                                (OrderType.STOP_MARKET.value, True), (OrderType.TAKE_PROFIT_MARKET.value, True)])
        (trade,) = list(parts.engine.book)
        RiskFiles.from_halt_file(tmp_path / "HALT").write_halt("test", "operator pressed the kill switch")
        await emu.set_time(T0 + MS_PER_HOUR)
        report = await parts.engine.cycle(await parts.executor.now_ms())
        assert parts.engine.breaker.state is RiskState.HALTED
        assert emu.state.exchange.position(SYMBOL) is None
        assert _open(emu) == []  # both entries cancelled; the stop and take-profit, orphaned, too
        # Counted by hand: the flatten sends 1 close and cancels 2 entry orders (3). The account is
        # read again and the watchdog cancels the stop and take-profit that now protect nothing;
        # the watchdog's count is of orders sent (Protector.apply), so those cancels add 0.
        assert report.orders == 1 + 2
        await parts.stop()
    finally:
        await emu.close()
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        (close,) = [o for o in reader.orders(symbol=SYMBOL) if o.purpose == "exit:halt"]
        assert close.trade_id == trade.trade_id and trade.key in close.client_order_id  # on its trade
        assert close.reduce_only and close.type == "market"
        [booked] = reader.trades()
        assert booked.exit_reason == "halt"


async def test_a_halt_close_the_venue_refuses_is_journaled_with_the_halt_as_detail(tmp_path: Path,
                                                                                  sample_dir: Path) -> None:
    emu, parts = await _held_then_manual_entries(tmp_path, sample_dir)
    try:
        RiskFiles.from_halt_file(tmp_path / "HALT").write_halt("test", "operator pressed the kill switch")
        await emu.set_time(T0 + MS_PER_HOUR)
        # the venue takes no order and cancels none (both are /fapi/v1/order), algo cancels work
        await emu.control("faults", {"p_5xx": 1.0, "paths": ["/fapi/v1/order"]})
        await parts.engine.cycle(await parts.executor.now_ms())  # the cycle completes, nothing raises
        assert emu.state.exchange.position(SYMBOL) is not None  # still held: the close failed
        assert [o.type for o in _open(emu) if not o.reduce_only] == [OrderType.LIMIT]  # the algo entry went
        parts.journal.flush()
        with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
            (failed,) = reader.events(kind="exit_failed")
            (not_cancelled,) = reader.events(kind="cancel_failed")
        assert failed.data == {"symbol": SYMBOL, "detail": "circuit breaker halted"}
        assert "halt exit not placed" in failed.message
        assert not_cancelled.data["symbol"] == SYMBOL and not_cancelled.severity == "error"
        await emu.control("faults", {"p_5xx": 0.0, "paths": []})
        await emu.set_time(T0 + 2 * MS_PER_HOUR)
        await parts.engine.cycle(await parts.executor.now_ms())  # the next cycle flattens
        assert emu.state.exchange.position(SYMBOL) is None
        assert _open(emu) == []
        await parts.stop()
    finally:
        await emu.close()
