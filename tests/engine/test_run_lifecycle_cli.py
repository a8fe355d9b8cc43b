"""``derivbot run`` against the emulator on loopback (issue 16, items 4, 8 and 10): Ctrl-C/SIGTERM
during the pause between cycles stops at once without another cycle (a real subprocess: a signal
needs one); wrong keys (-2015) give one line and close the run row; a crash whose ccxt message
holds a signed URL prints it redacted (a subprocess with a timeout: its requests hang). Wrong
keys run through the console entry in-process (``tests/cli_inprocess``: the same command, error
line and exit code)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
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
KEY, SECRET = "lifecycle-key-1234", "lifecycle-secret-5678"
SYMBOL = "RIVERUSDT"


def _state() -> EmulatorState:
    store = MarketStore.load(ROOT / "bot" / "data" / "sample", symbols=[SYMBOL])
    return EmulatorState.build(store, to_ms("2025-12-31T12:00:00Z"), speed=0,
                               config=EmulatorConfig(api_key=KEY, api_secret=SECRET), symbols=[SYMBOL])


@pytest.fixture(scope="module")
def emulator() -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(_state()) as emu:
        yield emu


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DERIVBOT_")}
    return {**base, "COLUMNS": "200", "DERIVBOT_EXCHANGE__API_KEY": KEY, "DERIVBOT_EXCHANGE__API_SECRET": SECRET,
            "DERIVBOT_UNIVERSE__SYMBOLS": f'["{SYMBOL}"]', "DERIVBOT_ENGINE__HALT_FILE": str(tmp_path / "HALT"),
            "DERIVBOT_LOGGING__JSON_FILE": str(tmp_path / "log.jsonl"), **extra}


def _process(*args: str, env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess:
    """``python -m bot ARGS`` in a real process, with a timeout (for runs a bug could hang)."""
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def _cli(*args: str, env: dict[str, str]) -> CliResult:
    """``derivbot ARGS`` through the console entry, in this process, with ``env``'s DERIVBOT_*
    variables (the rest of ``env`` is this process's environment already)."""
    return derivbot(*args, env={k: v for k, v in env.items() if k.startswith("DERIVBOT_")})


def _wait_for_cycles(url: str, path: Path, proc: subprocess.Popen, cycles: int) -> None:
    """Until the journal holds ``cycles`` equity snapshots (one per completed cycle)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        if path.exists():
            try:
                with JournalReader(url) as reader:
                    if len(reader.equity()) >= cycles:
                        return
            except OperationalError:  # the file exists before the bot has migrated it
                pass
        time.sleep(0.2)
    pytest.fail(f"the bot never completed {cycles} cycle(s)")


@pytest.mark.parametrize(("sig", "name"), [(signal.SIGINT, "sigint"), (signal.SIGTERM, "sigterm")])
def test_a_signal_during_the_pause_stops_at_once_without_another_cycle(emulator, tmp_path: Path, sig: int,
                                                                       name: str) -> None:
    """An hour between cycles: the signal must end the pause now (the old loop slept it out and
    then traded one more cycle)."""
    path = tmp_path / "sig.sqlite"
    url = f"sqlite:///{path}"
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--mode", "testnet", "--exchange-url",
                             emulator.base_url, "--journal", url, "--cycle-seconds", "3600"], cwd=ROOT,
                            env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_cycles(url, path, proc, 1)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)  # before the fix: asleep for the rest of the hour
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    assert f"stopped: {name}" in out, out + err[-2000:]
    with JournalReader(url) as reader:
        [run] = reader.runs()
        assert run.exit_reason == name and run.stopped_at is not None
        assert len(reader.equity()) == 1, "no cycle may run after the stop request"


def test_wrong_keys_give_one_line_and_close_the_run(emulator, tmp_path: Path) -> None:
    """Binance -2015 at the start: the hint names the key variables, exit 1, no traceback, and
    ``status`` shows the run stopped with the error instead of "running" forever."""
    url = f"sqlite:///{tmp_path / 'keys.sqlite'}"
    env = _env(tmp_path, DERIVBOT_EXCHANGE__API_KEY="wrong-key-000000",
               DERIVBOT_EXCHANGE__API_SECRET="wrong-secret-0000")
    result = _cli("run", "--mode", "testnet", "--exchange-url", emulator.base_url, "--journal", url,
                  "--max-cycles", "1", env=env)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "wrong-secret-0000" not in result.stdout + result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert line.startswith("error: AuthenticationError:") and "-2015" in line
    assert "DERIVBOT_EXCHANGE__API_KEY" in line and "DERIVBOT_EXCHANGE__API_SECRET" in line
    status = _cli("status", "--journal", url, "--json", env=_env(tmp_path))
    assert status.returncode == 0, status.stderr
    run = json.loads(status.stdout)["run"]
    assert run["stopped"] is not None and run["exit_reason"] == "error: start failed (AuthenticationError)"


@pytest.mark.slow
def test_a_signed_url_in_a_venue_error_is_redacted(tmp_path: Path) -> None:
    """Item 4: account reads time out (the emulator hangs them), the retries give up and ccxt's
    RequestTimeout names the signed GET URL. The run goes on with trading blocked (a venue error
    during the start-up reconciliation does not end the process), and every line that reports
    the error, printed or journaled, carries the URL redacted."""
    state = _state()
    state.faults.update({"p_timeout": 1.0, "hang_seconds": 5.0,
                         "paths": ["/fapi/v2/account", "/fapi/v3/account", "/fapi/v2/positionRisk",
                                   "/fapi/v3/positionRisk"]})
    journal = tmp_path / "signed.sqlite"
    with BackgroundEmulator(state) as emu:
        result = _process("run", "--mode", "testnet", "--exchange-url", emu.base_url, "--journal",
                          f"sqlite:///{journal}", "--max-cycles", "1",
                          env=_env(tmp_path, DERIVBOT_EXCHANGE__TIMEOUT_MS="1000"), timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    output = result.stdout + result.stderr
    assert "signature=" not in output
    reported = [x for x in output.splitlines() if "RequestTimeout: binanceusdm GET" in x]
    assert reported and all("<signed-request ***REDACTED***>" in x for x in reported)
    with JournalReader(f"sqlite:///{journal}") as reader:
        messages = [e.message for e in reader.events()]
    [failed] = [m for m in messages if m.startswith("reconciliation at start failed")]
    assert "<signed-request ***REDACTED***>" in failed and "signature=" not in "".join(messages)


def test_a_signal_before_the_engine_exists_stops_cleanly(tmp_path: Path) -> None:
    """SIGTERM while the markets are still loading (the emulator hangs them): the assembly is
    cancelled and the command says so, instead of dying with a CancelledError traceback."""
    state = _state()
    state.faults.update({"p_timeout": 1.0, "hang_seconds": 60.0, "paths": ["/fapi/v1/exchangeInfo"]})
    log = tmp_path / "log.jsonl"
    with BackgroundEmulator(state) as emu:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--mode", "paper", "--exchange-url",
                                 emu.base_url, "--journal", f"sqlite:///{tmp_path / 'early.sqlite'}"], cwd=ROOT,
                                env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            # connect() logs this inside the event loop, after the signal handlers are installed;
            # the markets request that follows hangs
            while not (log.exists() and "client built" in log.read_text()):
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:]
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert "Traceback" not in err, err[-3000:]
    assert proc.returncode == 0, err[-2000:]
    assert "stopped: sigterm" in out
