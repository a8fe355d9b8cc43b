"""``derivbot data download`` against the emulator: layout files, pagination, resume, dedup, CLI."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from bot.config import Settings
from bot.core.timeutil import to_ms
from bot.data import layout
from bot.data.download import Downloader, DownloadError
from bot.data.store import MarketStore
from bot.emulator import EmulatorConfig, EmulatorState, start_emulator
from bot.exchange.connect import connect
from bot.market.budget import RequestBudget

SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample"
NOW = to_ms("2025-03-10T00:00:00Z")
SINCE = to_ms("2025-03-01T00:00:00Z")
H = 3_600_000


@pytest.fixture(scope="module")
def store() -> MarketStore:
    return MarketStore.load(SAMPLE)


@pytest.fixture
async def client(store: MarketStore) -> AsyncIterator[Any]:
    state = EmulatorState.build(store, NOW, speed=0, config=EmulatorConfig(), symbols=["ORCAUSDT", "BTCUSDT"])
    runner, base_url = await start_emulator(state, port=0)
    ex = connect(Settings(exchange={"base_url": base_url, "timeout_ms": 3000}))
    ex.enableRateLimit = False
    try:
        yield ex
    finally:
        await ex.close()
        await runner.cleanup()


async def test_download_writes_layout_paginates_and_matches_source(client: Any, store: MarketStore,
                                                                   tmp_path: Path) -> None:
    progress: list[tuple[str, str, int, float]] = []
    d = Downloader(client, tmp_path, exchange="binanceusdm", budget=RequestBudget(2400),
                   progress=lambda *a: progress.append(a), page_limit=50)
    report = await d.run(["ORCAUSDT"], SINCE)
    expected_bars = (NOW - SINCE) // H  # closed bars from SINCE up to NOW
    assert report.rows("ORCAUSDT", "ohlcv_1h") == expected_bars
    assert report.results[("ORCAUSDT", "ohlcv_1h")].pages == -(-expected_bars // 50)
    assert report.results[("ORCAUSDT", "mark_1h")].rows == expected_bars
    src = store["ORCAUSDT"]
    n_fund = int(np.sum((src.funding_ts >= SINCE) & (src.funding_ts <= NOW)))
    assert report.rows("ORCAUSDT", "funding") == n_fund
    assert progress[-1][3] == 1.0

    got = MarketStore.load(tmp_path)["ORCAUSDT"]
    lo = int(np.searchsorted(src.ts, SINCE))
    assert np.array_equal(got.ts, src.ts[lo:lo + expected_bars])
    tick = src.instrument.tick_size
    assert np.allclose(got.close, src.close[lo:lo + expected_bars], atol=tick)
    assert np.allclose(got.funding_rate, src.funding_rate[(src.funding_ts >= SINCE) & (src.funding_ts <= NOW)],
                       atol=1e-8)


async def test_download_resumes_from_last_row_without_duplicates(client: Any, tmp_path: Path) -> None:
    d = Downloader(client, tmp_path, exchange="binanceusdm", budget=RequestBudget(2400))
    first = await d.run(["BTCUSDT"], SINCE, until_ms=SINCE + 24 * H)
    assert first.rows("BTCUSDT", "ohlcv_1h") == 24  # bars closed by `until` (the last opens at until - 1h)
    before = d.budget.requests
    second = await d.run(["BTCUSDT"], SINCE)
    assert second.rows("BTCUSDT", "ohlcv_1h") == (NOW - SINCE) // H - 24  # only the missing bars
    path = layout.symbol_dir(tmp_path, "binanceusdm", "BTCUSDT") / "ohlcv_1h.parquet"
    ts = layout.read(path).ts
    assert len(ts) == (NOW - SINCE) // H and len(np.unique(ts)) == len(ts)
    third = await d.run(["BTCUSDT"], SINCE)
    assert sum(r.rows for r in third.results.values()) == 0
    assert d.budget.requests - before > 0


async def test_bad_requests_fail_with_clear_errors(client: Any, tmp_path: Path) -> None:
    d = Downloader(client, tmp_path, exchange="binanceusdm", budget=RequestBudget(2400))
    with pytest.raises(DownloadError, match="timeframe '5m' is not supported"):
        await d.run(["ORCAUSDT"], SINCE, timeframe="5m")
    with pytest.raises(DownloadError, match="not listed by binanceusdm: NOPEUSDT"):
        await d.run(["NOPEUSDT"], SINCE)


@pytest.fixture
def emulator_url(store: MarketStore) -> Iterator[str]:
    """The emulator in a background thread, so the synchronous CLI can call it."""
    loop = asyncio.new_event_loop()
    ready: dict[str, Any] = {}
    started = threading.Event()

    async def boot() -> None:
        state = EmulatorState.build(store, NOW, speed=0, config=EmulatorConfig(), symbols=["ORCAUSDT"])
        ready["runner"], ready["url"] = await start_emulator(state, port=0)
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(boot()), loop.run_forever()), daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield ready["url"]
    finally:
        asyncio.run_coroutine_threadsafe(ready["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_cli_download_command(emulator_url: str, tmp_path: Path) -> None:
    from bot.cli import data_cmd, download_cmd

    app = typer.Typer()
    data_cmd.register(app)  # owns the `data` group
    download_cmd.register(app)
    args = ["data", "download", "--exchange", "binanceusdm", "--symbols", "ORCAUSDT", "--since", "2025-03-08",
            "--timeframe", "1h", "--exchange-url", emulator_url, "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    assert len(MarketStore.load(tmp_path)["ORCAUSDT"].ts) == 48
    bad = CliRunner().invoke(app, [*args[:-6], "--timeframe", "5m", "--exchange-url", emulator_url,
                                   "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "not supported" in bad.output
