"""Crash safety end to end: the real bot process, the real ccxt client, our emulator.

1. The bot enters and protects a position; it is killed with SIGKILL.
2. Restarted, it resumes the trade: no duplicate order, the same stop still on the exchange,
   the journal consistent (one open trade, a reconciliation event).
3. Stopped again, the price gaps through the stop while no bot runs; the exchange-side stop
   closes the position. Restarted, the bot records a stop-loss exit at the real fill price.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.core.enums import OrderType
from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from bot.journal.reader import JournalReader
from tests.engine import helpers
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]
SYMBOL = "ORCAUSDT"
T0 = to_ms("2025-03-19T05:00:00Z")


async def _spawn(url: str, workdir: Path, entry: str, cycles: int) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "tests" / "engine" / "bot_proc.py"), url, str(workdir), SYMBOL, entry,
        str(cycles), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)


async def _finish(proc: asyncio.subprocess.Process) -> str:
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode()[-3000:]
    return out.decode()


def _stops(exchange) -> list:
    return [o for o in exchange.open_orders(SYMBOL, conditional=True)
            if o.type is OrderType.STOP_MARKET and o.reduce_only]


def _account_reads(emu: helpers.Emulator) -> int:
    """Account syncs the bot sent since the request log was (re)started (one in a steady cycle)."""
    return sum(1 for method, path, _, _ in emu.state.request_log or [] if (method, path) == ("GET", "/fapi/v3/account"))


def _entries(exchange) -> list:
    return [o for o in exchange.all_orders(SYMBOL, conditional=False)
            if o.client_order_id and o.client_order_id.endswith("-e0")]


@pytest.mark.slow
async def test_kill9_restart_then_gap_through_stop_while_down(tmp_path: Path, sample_dir: Path) -> None:
    store = MarketStore.load(sample_dir, symbols=[SYMBOL])
    emu = await helpers.start(store, T0, [SYMBOL], max_weight=10_000_000)
    sim = emu.state.exchange
    try:
        # 1. enter, protect, SIGKILL
        proc = await _spawn(emu.base_url, tmp_path, str(T0), 100_000)
        try:
            await until(lambda: proc.returncode is not None or (sim.position(SYMBOL) is not None and _stops(sim)),
                        "the bot opening and protecting a position")
            assert proc.returncode is None, "the bot exited"
        except AssertionError as exc:
            if proc.returncode is None:
                proc.kill()
            pytest.fail(f"{exc}: " + (await proc.stderr.read()).decode()[-2000:])
        # a few more cycles with the position open: each cycle syncs the account (GET /fapi/v3/account)
        emu.state.request_log = []
        await until(lambda: _account_reads(emu) >= 3, "three more cycles with the position open")
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        position = sim.position(SYMBOL)
        stops = _stops(sim)
        assert position is not None and len(stops) == 1
        assert stops[0].quantity == pytest.approx(position.quantity)
        stop_id = stops[0].order_id
        assert len(_entries(sim)) == 1

        # 2. restart: reconcile and resume, nothing duplicated
        out = await _finish(await _spawn(emu.base_url, tmp_path, str(T0), 3))
        assert "EXIT max_cycles" in out
        assert len(_entries(sim)) == 1, "a restarted bot must not enter again"
        assert [o.order_id for o in _stops(sim)] == [stop_id], "the original stop must stay, alone"
        journal_url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
        with JournalReader(journal_url) as reader:
            open_trades = reader.open_trades()
            assert [t.symbol for t in open_trades] == [SYMBOL]
            recon = reader.events(kind="reconciliation")
            assert recon and SYMBOL in (recon[-1].data or {}).get("resumed", [])
            assert len(reader.runs()) == 2
            trade_id = open_trades[0].id
            stop_price = float(open_trades[0].current_stop)

        # 3. the price gaps through the stop while no bot runs
        gap = stop_price * 0.9
        await emu.control("price", {"symbol": SYMBOL, "last": gap, "mark": gap})
        assert sim.position(SYMBOL) is None, "the exchange-side stop must close the position"
        fills = [f for f in sim.user_trades(SYMBOL) if f.side.value == "sell"]
        assert fills and fills[-1].price <= stop_price
        real_exit = fills[-1].price

        out = await _finish(await _spawn(emu.base_url, tmp_path, "none", 2))
        assert "EXIT max_cycles" in out
        with JournalReader(journal_url) as reader:
            trade = reader.trade(trade_id)
            assert trade is not None and trade.exit_reason == "stop_loss"
            assert float(trade.exit_price) == pytest.approx(real_exit, rel=1e-9)
            assert not reader.open_trades()
            assert float(trade.realised_pnl) < 0
    finally:
        await emu.close()
