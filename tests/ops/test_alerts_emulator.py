"""Every alert event of issue 15, produced by a bot trading the local emulator through the real
ccxt client and received by a real local HTTP server through apprise's JSON webhook
(``json://127.0.0.1:PORT/path``); and a receiver that is slow or down never holds up a cycle.

Alerts derive from what the journal records (bot.ops.alert_rules), so each scenario drives the
venue (``/_sim/`` prices and faults, orders placed by hand as a person would) and checks what the
receiver got: the event, the severity and the fields a person acts on.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from bot.config import AlertTarget
from bot.core.enums import IntentKind, OrderSide, OrderType
from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.data.store import MarketStore
from bot.journal.reader import JournalReader
from bot.ops.alerts import AlertDispatcher, Target
from tests.engine import helpers
from tests.engine.scripted import Scripted
from tests.ops.receiver import Receiver, fields

ORCA, BTC = "ORCAUSDT", "BTCUSDT"
T0 = to_ms("2025-03-18T22:00:00Z")
ALGO_5XX = {"p_5xx": 1.0, "paths": ["/fapi/v1/algoOrder"]}
ALL_5XX = {"p_5xx": 1.0, "paths": []}
HEALTHY = {"p_5xx": 0.0, "paths": []}


@pytest.fixture
def receiver() -> Any:
    r = Receiver()
    yield r
    r.close()


async def _bot(tmp_path: Path, emu: helpers.Emulator, symbols: list[str], strategy: Scripted, url: str, *,
               queue_size: int = 1000, retries: int = 1, **kwargs: Any) -> tuple[helpers.EngineParts, AlertDispatcher]:
    """A started testnet engine whose journal feeds an alert dispatcher sending to ``url``."""
    bot = await helpers.build_engine(tmp_path, emu, symbols, strategy, start=False, **kwargs)
    alerts = AlertDispatcher([Target(0, AlertTarget(url=url, level="debug"))], queue_size=queue_size,
                             merge_window_s=60, retries=retries, backoff_s=0.01, drain_s=10)
    alerts.start()
    alerts.attach(bot.journal)
    await bot.engine.start()
    return bot, alerts


async def _release(bot: helpers.EngineParts, alerts: AlertDispatcher, emu: helpers.Emulator) -> None:
    """Whatever happened: the run closed (if still open), alerts, clients, journal, emulator."""
    try:
        if bot.engine.run_id is not None:
            await bot.engine.shutdown("test ended")
        alerts.close(timeout=0)
    finally:
        await bot.client.close()
        bot.journal.close()
        await emu.close()


def _received(receiver: Receiver) -> list[dict[str, str]]:
    return [fields(b) | {"title": b["title"], "type": b["type"]} for b in receiver.bodies]


def _of(received: list[dict[str, str]], event: str, **match: str) -> list[dict[str, str]]:
    return [r for r in received if r["event"] == event and all(r.get(k) == v for k, v in match.items())]


def _stop_orders(emu: helpers.Emulator, symbol: str) -> list[Any]:
    return [o for o in emu.state.exchange.open_orders(symbol, conditional=True) if o.type is OrderType.STOP_MARKET]


async def test_a_trading_day_sends_every_trade_risk_and_lifecycle_alert(tmp_path: Path, sample_dir: Path,
                                                                        receiver: Receiver) -> None:
    emu = await helpers.start(MarketStore.load(sample_dir, symbols=[ORCA, BTC]), T0, [ORCA, BTC],
                              max_weight=10_000_000)
    sim = emu.state.exchange
    btc_mark = sim._state_or_raise(BTC).mark
    # A person's BTC long of 40% of the 10,000 USDT wallet: adopted at start (a reconciliation
    # difference) with the fallback stop 5% under its entry.
    btc_qty = round(4000 / btc_mark, 3)
    sim.set_leverage(BTC, 2)  # its liquidation far below its stop
    sim.place_order(BTC, OrderSide.BUY, OrderType.MARKET, quantity=btc_qty)
    btc_entry = sim.position(BTC).entry_price
    strategy = Scripted({ORCA: (T0, IntentKind.ENTER_LONG)}, tp_pct=None)
    bot, alerts = await _bot(tmp_path, emu, [ORCA, BTC], strategy, receiver.url("alerts"),
                             risk={"daily_loss_limit": 0.01, "max_consecutive_losses": 1},
                             strategy_cfg={"breakeven_trigger_pct": 0.02})
    engine = bot.engine
    try:
        await engine.safe_cycle()  # ORCA entry, its stop, and the adopted BTC's stop
        orca = engine.book.get(ORCA)
        assert orca is not None and sim.position(BTC) is not None
        entry = orca.entry_price
        # ORCA 3% up: past the 2% break-even trigger, the stop moves to the entry
        await emu.control("price", {"symbol": ORCA, "last": entry * 1.03})
        await engine.safe_cycle()
        await engine.safe_cycle()  # the moved stop shows in the open orders (no longer trusted unseen)
        # the stop is cancelled by hand and the venue refuses new ones: the position is bare, the
        # stop placement fails, and the bot closes at market instead
        for order in _stop_orders(emu, ORCA):
            sim.cancel_order(ORCA, order_id=order.order_id)
        await emu.control("faults", ALGO_5XX)
        await engine.safe_cycle()
        assert sim.position(ORCA) is None
        await emu.control("faults", HEALTHY)
        await engine.safe_cycle()  # the ORCA exit is attributed (a profit: closed 3% up)
        # BTC falls 10%: its stop fills, a loss of ~2% of the wallet: PAUSED (1 loss in a row) and
        # REDUCING (daily loss >= 1%)
        await emu.control("price", {"symbol": BTC, "last": btc_mark * 0.90})
        await engine.safe_cycle()
        assert sim.position(BTC) is None
        await emu.set_time(to_ms("2025-03-19T00:00:00Z"))  # a new UTC day: the daily summary
        await engine.safe_cycle()
        (tmp_path / "HALT").write_text("operator: stop everything")
        await engine.safe_cycle()  # HALTED by the kill switch; nothing to flatten: stop requested
        assert engine._stop_reason == "kill_switch"
        await engine.shutdown("kill_switch")
        stats = alerts.close()
    finally:
        await _release(bot, alerts, emu)

    got = _received(receiver)
    assert set(receiver.paths) == {"/alerts"}
    assert stats.dropped == 0 and stats.sent == len(got)
    assert _of(got, "start", mode="testnet")
    (recon,) = _of(got, "reconciliation")
    assert recon["adopted"] == "1" and recon["severity"] == "warning"
    (entry_alert,) = _of(got, "entry", symbol=ORCA)
    assert entry_alert["side"] == "long" and entry_alert["strategy"] == "scripted"
    assert float(entry_alert["price"]) == pytest.approx(entry)
    placed = _of(got, "stop_placed", symbol=ORCA)
    # the initial stop: 5% under the fill (the strategy's stop distance)
    assert placed and float(placed[0]["stop"]) == pytest.approx(entry * 0.95, rel=1e-3)
    assert _of(got, "stop_placed", symbol=BTC)
    (moved,) = _of(got, "stop_moved", symbol=ORCA)
    assert float(moved["stop"]) == pytest.approx(entry, rel=1e-3)  # break-even: the entry price
    (bare,) = _of(got, "no_stop", symbol=ORCA)
    assert bare["kind"] == "position_unprotected" and bare["severity"] == "error"
    (failed,) = _of(got, "stop_failed", symbol=ORCA)
    assert failed["kind"] == "stop_placement_failed"
    (orca_exit,) = _of(got, "exit", symbol=ORCA)
    assert orca_exit["reason"] == "stop_loss"  # the market close stands in for the stop
    assert float(orca_exit["net"]) > 0 and float(orca_exit["pnl"]) > 0
    (btc_exit,) = _of(got, "exit", symbol=BTC)
    # a long's price P&L: quantity x (exit - entry), a loss; net is after the fees on top
    assert float(btc_exit["pnl"]) == pytest.approx(btc_qty * (float(btc_exit["price"]) - btc_entry), rel=1e-3)
    assert float(btc_exit["pnl"]) < 0 and float(btc_exit["net"]) < float(btc_exit["pnl"])
    assert btc_exit["severity"] == "warning" and btc_exit["type"] == "warning"
    states = [(r["from"], r["to"], r["reason"]) for r in _of(got, "risk_state")]
    assert ("active", "paused", "consecutive_losses") in states
    assert ("paused", "reducing", "daily_loss") in states
    (summary,) = _of(got, "daily_summary")
    assert summary["day"] == "2025-03-18" and summary["exits"] == "2" and summary["entries"] == "1"
    # the day's net is the two trades' net P&L
    assert float(summary["net_pnl"]) == pytest.approx(float(orca_exit["net"]) + float(btc_exit["net"]))
    (kill,) = _of(got, "kill_switch")
    assert kill["to"] == "halted" and kill["severity"] == "critical"
    (stop,) = _of(got, "stop")
    assert stop["reason"] == "kill_switch"
    assert not _of(got, "crash")


async def test_failing_cycles_a_drawdown_halt_and_a_crash_are_alerted(tmp_path: Path, sample_dir: Path,
                                                                      receiver: Receiver) -> None:
    emu = await helpers.start(MarketStore.load(sample_dir, symbols=[ORCA]), T0, [ORCA], max_weight=10_000_000)
    bot, alerts = await _bot(tmp_path, emu, [ORCA], Scripted({}), receiver.url(), risk={"max_drawdown": 0.05})
    engine = bot.engine
    try:
        await engine.safe_cycle()  # the breaker's baseline: 10,000 USDT
        await emu.control("faults", ALL_5XX)
        for _ in range(5):  # the fifth failure in a row is escalated (engine.FAILURES_ESCALATE_AFTER)
            assert await engine.safe_cycle() is None
        await emu.control("faults", HEALTHY)
        await emu.control("balance", {"balance": 9000})  # equity 10% under its peak: HALTED
        await engine.safe_cycle()

        async def broken_feed(now: int) -> dict:
            raise RuntimeError("feed bug")

        engine.feed.snapshots = broken_feed  # a bug, not a venue error: the loop ends with it
        with pytest.raises(RuntimeError, match="feed bug"):
            await engine.run(max_cycles=engine.attempts + 3, cycle_seconds=0.05)  # attempts so far count
        stats = alerts.close()
    finally:
        await _release(bot, alerts, emu)
    got = _received(receiver)
    assert stats.dropped == 0
    (failing,) = _of(got, "cycle_failures")
    assert failing["consecutive"] == "5" and failing["severity"] == "error"
    (halt,) = [r for r in _of(got, "risk_state") if r["to"] == "halted"]
    assert halt["reason"] == "drawdown" and halt["severity"] == "critical" and halt["type"] == "failure"
    assert float(halt["drawdown"]) == pytest.approx(0.10)  # (10,000 - 9,000) / 10,000
    (crash,) = _of(got, "crash")
    assert crash["reason"] == "error: RuntimeError" and crash["severity"] == "critical"
    assert crash["last_error"] == "RuntimeError: feed bug"
    assert not _of(got, "stop")


async def test_a_slow_receiver_never_holds_up_a_cycle(tmp_path: Path, sample_dir: Path, receiver: Receiver) -> None:
    emu = await helpers.start(MarketStore.load(sample_dir, symbols=[ORCA]), T0, [ORCA], max_weight=10_000_000)
    receiver.hold()  # every request stays open until release()
    strategy = Scripted({ORCA: (T0, IntentKind.ENTER_LONG)}, tp_pct=None)
    bot, alerts = await _bot(tmp_path, emu, [ORCA], strategy, receiver.url(), queue_size=1)
    try:
        assert receiver.wait_for(lambda r: r.holding == 1)  # the start alert, held
        report = await bot.engine.safe_cycle()
        await emu.set_time(T0 + MS_PER_HOUR)
        assert await bot.engine.safe_cycle() is not None
        # Both cycles completed, entry and stop included, while the receiver still holds the
        # first request: the sender waits, the loop does not.
        assert report is not None and report.entries == 1
        assert receiver.holding == 1 and receiver.bodies == []
        queued = alerts.stats()
        # the entry's alert waits (the bound is 1); the stop's, behind it, is dropped and counted
        assert queued.queued == 1 and queued.dropped_queue_full == 1
        receiver.release()
        stats = alerts.close()
        await bot.engine.shutdown("completed")
    finally:
        await _release(bot, alerts, emu)
    assert [fields(b)["event"] for b in receiver.bodies] == ["start", "entry"]
    assert stats.dropped_queue_full == 1
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        drops = reader.events(kind="alert_dropped")
    assert [d.data["reason"] for d in drops] == ["queue_full"]
    assert drops[0].data["count"] == stats.dropped_queue_full


async def test_a_receiver_that_is_down_costs_retries_and_a_journaled_drop_not_a_cycle(
        tmp_path: Path, sample_dir: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    emu = await helpers.start(MarketStore.load(sample_dir, symbols=[ORCA]), T0, [ORCA], max_weight=10_000_000)
    strategy = Scripted({ORCA: (T0, IntentKind.ENTER_LONG)}, tp_pct=None)
    bot, alerts = await _bot(tmp_path, emu, [ORCA], strategy, f"json://127.0.0.1:{port}/hook", retries=2)
    try:
        report = await bot.engine.safe_cycle()
        assert report is not None and report.entries == 1
        await bot.engine.shutdown("completed")
        stats = alerts.close()
    finally:
        await _release(bot, alerts, emu)
    # start, entry, stop_placed, stop: each tried 3 times (2 retries), then dropped
    assert stats.sent == 0 and stats.dropped_send_failed == 4
    with JournalReader(helpers.engine_settings(tmp_path).journal.url) as reader:
        drops = reader.events(kind="alert_dropped")
    assert sorted(d.data["event"] for d in drops) == ["entry", "start", "stop", "stop_placed"]
    assert all(d.data["reason"] == "send_failed" and d.data["attempts"] == 3 for d in drops)
    assert all(str(port) not in d.message for d in drops)  # the target is named, never its URL
