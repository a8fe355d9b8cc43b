"""The ``run``, ``backtest`` and ``status`` commands, and the journal review commands on the
journals they produce (backtest and a live-mode run against the emulator).

Commands run through the console entry in-process (``tests/cli_inprocess``: same parsing,
commands, error lines and exit codes, without a second or two of interpreter start-up each);
the SIGTERM test runs ``python -m bot`` in a real process, because a signal needs one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from bot.emulator import EmulatorConfig, EmulatorState
from bot.emulator.background import BackgroundEmulator
from bot.journal.reader import JournalReader
from tests.cli_inprocess import CliResult, derivbot

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """``derivbot ARGS`` through the console entry, in this process."""
    return derivbot(*args, env=env)


def test_live_mode_needs_both_opt_ins(tmp_path: Path) -> None:
    cfg = tmp_path / "live.toml"
    text = (ROOT / "config" / "live.example.toml").read_text()
    cfg.write_text(text)
    keys = {"DERIVBOT_EXCHANGE__API_KEY": "k" * 16, "DERIVBOT_EXCHANGE__API_SECRET": "s" * 16,
            "DERIVBOT_LOGGING__JSON_FILE": str(tmp_path / "live.jsonl")}  # not into the repository
    refused = cli("run", "--config", str(cfg), "--i-accept-live-risk", env=keys)
    assert refused.returncode == 2 and "live.enabled = true" in refused.stderr
    cfg.write_text(text.replace("enabled = false", "enabled = true", 1))
    assert "[live]\nenabled = true" in cfg.read_text()
    refused = cli("run", "--config", str(cfg), env=keys)
    assert refused.returncode == 2 and "--i-accept-live-risk" in refused.stderr
    too_high = cli("run", "--config", str(cfg), "--i-accept-live-risk",
                   env={**keys, "DERIVBOT_RISK__MAX_LEVERAGE": "6"})
    assert too_high.returncode == 2 and "risk.max_leverage" in too_high.stderr and "5" in too_high.stderr
    assert "Traceback" not in refused.stderr + too_high.stderr


def test_testnet_mode_needs_keys() -> None:
    result = cli("run", "--mode", "testnet", "--max-cycles", "1")
    assert result.returncode == 2 and "DERIVBOT_EXCHANGE__API_KEY" in result.stderr


@pytest.fixture(scope="module")
def emulator(sample_dir_module: Path):
    store = MarketStore.load(sample_dir_module, symbols=["RIVERUSDT", "BTCUSDT"])
    state = EmulatorState.build(store, to_ms("2025-12-31T12:00:00Z"), speed=0,
                                config=EmulatorConfig(api_key="cli-key", api_secret="cli-secret"),
                                symbols=["RIVERUSDT", "BTCUSDT"])
    with BackgroundEmulator(state) as emu:
        yield emu


@pytest.fixture(scope="module")
def sample_dir_module() -> Path:
    return ROOT / "bot" / "data" / "sample"


@pytest.mark.parametrize("mode", ["paper", "testnet"])
def test_run_against_the_emulator_and_status(emulator, tmp_path: Path, mode: str) -> None:
    url = f"sqlite:///{tmp_path / 'run.sqlite'}"
    env = {"DERIVBOT_EXCHANGE__API_KEY": "cli-key", "DERIVBOT_EXCHANGE__API_SECRET": "cli-secret",
           "DERIVBOT_UNIVERSE__SYMBOLS": '["RIVERUSDT","BTCUSDT"]',
           "DERIVBOT_ENGINE__HALT_FILE": str(tmp_path / "HALT")}
    result = cli("run", "--mode", mode, "--exchange-url", emulator.base_url, "--journal", url, "--max-cycles", "2",
                 "--cycle-seconds", "0.05", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "stopped: max_cycles" in result.stdout
    assert "cli-secret" not in result.stdout + result.stderr
    with JournalReader(url) as reader:
        [run] = reader.runs()
        assert run.mode == mode and run.exit_reason == "max_cycles"
        assert len(reader.equity()) == 2
        assert reader.observations("RIVERUSDT"), "live snapshots are journaled as market observations"
    status = cli("status", "--journal", url, "--json", env={"DERIVBOT_ENGINE__HALT_FILE": str(tmp_path / "HALT")})
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["run"]["mode"] == mode and data["run"]["exit_reason"] == "max_cycles"
    assert data["equity"] == pytest.approx(10_000.0, rel=0.01)


def test_review_commands_on_a_backtest_journal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bt.sqlite'}"
    bt = cli("backtest", "--data", "bot/data/sample", "--symbol", "RIVERUSDT", "--from", "2025-12-20", "--to",
             "2026-01-10", "--journal", url, "--json")
    assert bt.returncode == 0, bt.stderr[-3000:]
    out_bt = json.loads(bt.stdout)
    stats = out_bt["stats"]
    assert stats["trades"] > 5
    # the report comes from the journal; the engine kept its own record of the same trades
    closed = out_bt["closed_trades"]
    assert len(closed) == stats["trades"]
    assert sum(t["net"] for t in closed) == pytest.approx(stats["net_pnl"], abs=0.01)
    summary = json.loads(cli("journal", "summary", "--journal", url, "--json").stdout)
    assert summary["total"]["trades"] == stats["trades"]
    assert summary["total"]["net_pnl"] == pytest.approx(stats["net_pnl"], abs=0.01)
    trades = json.loads(cli("journal", "trades", "--journal", url, "--json").stdout)
    assert len(trades) == stats["trades"]
    story = cli("journal", "trade", str(trades[0]["trade_id"])[:12], "--journal", url, "--json")
    assert story.returncode == 0, story.stderr
    story_data = json.loads(story.stdout)
    text = json.dumps(story_data)
    assert "stop" in text and "entry" in text
    for args in (("signals",), ("decisions",), ("events",)):
        assert cli("journal", *args, "--journal", url, "--json").returncode == 0
    out = tmp_path / "trades.csv"
    assert cli("journal", "export", "--format", "csv", "--what", "trades", "--out", str(out), "--journal",
               url).returncode == 0
    assert len(out.read_text().strip().splitlines()) == stats["trades"] + 1
    report = tmp_path / "report.html"
    assert cli("journal", "report", "--out", str(report), "--journal", url).returncode == 0
    assert "data:image/png;base64" in report.read_text()


def test_sigterm_stops_cleanly_and_leaves_the_stops(emulator, tmp_path: Path) -> None:
    """SIGTERM: the current cycle ends, no new orders, the run row closes with its reason."""
    import signal
    import time

    url = f"sqlite:///{tmp_path / 'term.sqlite'}"
    env = {**os.environ, "COLUMNS": "200", "DERIVBOT_EXCHANGE__API_KEY": "cli-key",
           "DERIVBOT_EXCHANGE__API_SECRET": "cli-secret", "DERIVBOT_UNIVERSE__SYMBOLS": '["RIVERUSDT"]',
           "DERIVBOT_ENGINE__HALT_FILE": str(tmp_path / "HALT")}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--mode", "testnet", "--exchange-url",
                             emulator.base_url, "--journal", url, "--cycle-seconds", "0.2"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (tmp_path / "term.sqlite").exists():
                try:
                    with JournalReader(url) as reader:
                        if reader.runs() and len(reader.equity()) >= 2:
                            break
                except OperationalError:  # the file exists before the bot has migrated it
                    pass
            time.sleep(0.2)
        else:
            pytest.fail("the bot never completed two cycles")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "stopped: sigterm" in out, out + err[-2000:]
    with JournalReader(url) as reader:
        [run] = reader.runs()
        assert run.exit_reason == "sigterm" and run.stopped_at is not None
        assert reader.events(kind="run_stop")
