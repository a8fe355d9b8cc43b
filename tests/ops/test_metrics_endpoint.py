"""/metrics and /healthz of a running bot, read over HTTP as Prometheus and docker-compose do.

The end-to-end test runs the real run assembly (``bot.runner.build_and_run``, what ``derivbot
run`` calls) in paper mode against the emulator on loopback, with a scripted strategy that enters
ORCAUSDT and BTCUSDT long on its first decision, with room for one position only (the other
is refused by the risk manager, every cycle, as it keeps asking). The emulator's clock stands
still (speed 0), so the price, and with it equity and exposure, stay put between cycles and the
scraped values can be compared with the journal's rows. The stall test drives the health clock
by hand (an injected clock), so "older than the bound" is reached by a condition, never by
sleeping.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import runner
from bot.core.enums import IntentKind
from bot.core.instrument import Instrument
from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from bot.engine import Engine
from bot.execution.paper import PaperExecutor
from bot.journal import Journal
from bot.journal.reader import JournalReader
from bot.market.snapshot import Snapshot
from bot.ops.server import ops_server
from bot.risk.files import RiskFiles
from bot.sim.exchange import SimExchange
from tests.cli_inprocess import derivbot
from tests.engine import helpers
from tests.engine.scripted import Scripted

SYMBOL, OTHER = "ORCAUSDT", "BTCUSDT"
T0 = to_ms("2025-03-19T05:00:00Z")
#: A test that needs longer than this has hung on the bug it checks.
BOUND_S = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, keyed by (name, sorted labels)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as resp:
        return resp.status, await resp.text()


async def _until(http: aiohttp.ClientSession, url: str, ready) -> dict:  # type: ignore[no-untyped-def]
    """Scrape ``url`` until ``ready(samples)`` (the server starts with the run); the bound only
    stops a hung test."""
    async with asyncio.timeout(BOUND_S):
        while True:
            try:
                status, text = await _get(http, url)
            except aiohttp.ClientConnectorError:  # not listening yet
                await asyncio.sleep(0.05)
                continue
            assert status == 200, text
            samples = _samples(text)
            if ready(samples):
                return samples
            await asyncio.sleep(0.05)


async def test_a_paper_run_serves_its_positions_equity_and_health(tmp_path: Path, sample_dir: Path) -> None:
    symbols = [SYMBOL, OTHER]
    emu = await helpers.start(MarketStore.load(sample_dir, symbols=symbols), T0, symbols, max_weight=10_000_000)
    port = _free_port()
    settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="paper", max_open_positions=1)
    settings.universe.symbols = symbols
    settings.metrics.enabled, settings.metrics.port = True, port
    settings.metrics.stale_after_cycles = 1000.0  # 50 s at 0.05 s cycles: no timing race on a busy machine
    strategy = Scripted({s: (T0, IntentKind.ENTER_LONG) for s in symbols}, tp_pct=None)
    base = f"http://127.0.0.1:{port}"
    run = asyncio.create_task(runner.build_and_run(settings, {"scripted": strategy}, cycle_seconds=0.05))
    try:
        async with aiohttp.ClientSession() as http:
            # the entry fills on the first cycle; three more cycles see the same account
            samples = await _until(http, f"{base}/metrics",
                                   lambda s: s.get(("derivbot_cycles_total", (("outcome", "ok"),)), 0) >= 4)
            status, body = await _get(http, f"{base}/healthz")
            health = await asyncio.to_thread(derivbot, "health", env={
                "DERIVBOT_METRICS__ENABLED": "true", "DERIVBOT_METRICS__PORT": str(port)})
            # a request addressed to another host name (DNS rebinding) is not answered
            async with http.get(f"{base}/metrics", headers={"Host": f"attacker.example:{port}"}) as resp:
                rebound = resp.status
            assert runner.CURRENT_ENGINE is not None
            runner.CURRENT_ENGINE.request_stop("test")
        assert await asyncio.wait_for(run, BOUND_S) == "test"
    finally:
        if not run.done():
            run.cancel()
        await emu.close()

    assert status == 200 and '"ok": true' in body
    assert health.returncode == 0 and health.stdout.startswith("healthy: last good cycle"), health
    assert rebound == 421
    assert samples[("derivbot_open_positions", ())] == 1  # the one entry room was left for, still open
    # the other symbol was refused once per completed cycle (both counters move in the same update)
    ok_cycles = samples[("derivbot_cycles_total", (("outcome", "ok"),))]
    assert samples[("derivbot_rejects_total", (("reason", "max_open_positions"),))] == ok_cycles
    assert samples[("derivbot_cycles_total", (("outcome", "skipped"),))] == 0
    assert samples[("derivbot_breaker_state", (("derivbot_breaker_state", "active"),))] == 1
    # one entry (its first stop is part of it); the watchdog then finds that stop: nothing to repair
    assert samples[("derivbot_orders_total", ())] == 1
    assert samples[("derivbot_journal_backlog_rows", ())] >= 0
    with JournalReader(settings.journal.url) as reader:
        equity = reader.equity()
        trades = reader.open_trades()
    # the price stood still after the entry: every equity row since is the same, and so is the gauge
    last = equity[-1]
    assert samples[("derivbot_equity_usdt", ())] == pytest.approx(float(last.equity), abs=1e-9)
    assert samples[("derivbot_gross_exposure_usdt", ())] == pytest.approx(float(last.exposure), abs=1e-9)
    assert samples[("derivbot_unrealised_pnl_usdt", ())] == pytest.approx(float(last.unrealised), abs=1e-9)
    assert len(trades) == 1 and trades[0].symbol in symbols
    # paper accounting by hand: wallet = 10,000 start - taker fee 0.05% of the filled notional;
    # equity = wallet + unrealised
    fee = 0.0005 * float(trades[0].quantity) * float(trades[0].entry_price)
    assert samples[("derivbot_equity_usdt", ())] == pytest.approx(
        10_000 - fee + samples[("derivbot_unrealised_pnl_usdt", ())], abs=1e-6)
    # exposure is the position's notional: quantity x a price near the fill (same bar, no move)
    notional = float(trades[0].quantity) * float(trades[0].entry_price)
    assert samples[("derivbot_gross_exposure_usdt", ())] == pytest.approx(notional, rel=0.01)


class _EmptyFeed:
    async def snapshots(self, now: int) -> dict[str, Snapshot]:
        return {}


async def test_healthz_turns_unhealthy_when_cycles_stop_and_recovers_with_the_next(tmp_path: Path) -> None:
    settings = helpers.engine_settings(tmp_path)
    settings.metrics.stale_after_cycles = 3.0
    now = [1000.0]  # the health clock, moved by hand
    ops = ops_server(settings.metrics.model_copy(update={"port": 0}), cycle_seconds=60.0, clock=lambda: now[0])
    instruments = {SYMBOL: Instrument(SYMBOL, "ORCA")}
    journal = Journal.open(settings.journal.url)
    engine = Engine(settings, feed=_EmptyFeed(), journal=journal, strategies={},
                    executor=PaperExecutor(SimExchange(instruments), instruments, lambda: T0),
                    risk_files=RiskFiles.from_halt_file(tmp_path / "HALT"))
    engine.cycle_observer = ops.metrics.observe_cycle
    base = await ops.start()
    try:
        await engine.start()
        async with aiohttp.ClientSession() as http:
            await engine.safe_cycle()
            now[0] += 180.0  # exactly the bound (3 x 60 s): still healthy
            ok_status, _ = await _get(http, f"{base}/healthz")
            now[0] += 0.5  # the loop made no cycle for 180.5 s > 180 s
            stale_status, stale_body = await _get(http, f"{base}/healthz")
            _, page = await _get(http, f"{base}/metrics")
            cli = await asyncio.to_thread(derivbot, "health", "--url", f"{base}/healthz")
            await engine.safe_cycle()  # cycling again
            back_status, _ = await _get(http, f"{base}/healthz")
        await engine.shutdown("completed")
    finally:
        await ops.stop()
        journal.close()
    assert ok_status == 200
    assert stale_status == 503 and "180.5 s ago (bound 180 s)" in stale_body
    assert _samples(page)[("derivbot_last_good_cycle_age_seconds", ())] == 180.5
    assert _samples(page)[("derivbot_healthy", ())] == 0
    assert cli.returncode == 1 and cli.stdout.startswith("unhealthy: last good cycle 180.5 s ago"), cli
    assert back_status == 200


async def test_a_taken_port_stops_the_run_before_it_starts_with_one_line(tmp_path: Path) -> None:
    settings = helpers.engine_settings(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings.metrics.port = taken.getsockname()[1]
        journal = Journal.open(settings.journal.url)
        try:
            with pytest.raises(runner.ConfigError, match=rf"metrics.port {settings.metrics.port} is already in use"):
                await runner.start_ops(settings, journal)
        finally:
            journal.close()
