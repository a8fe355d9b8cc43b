"""Errors reach the user as one redacted line with what to fix, never a traceback (issue 16,
items 4, 5, 8 and the markup part of 9).

The console entry (``bot.cli.main.run``) is exercised in-process with a throwaway command that
raises, and with the real commands: in-process through the same entry (``tests/cli_inprocess``:
typer's parsing, the command, ``report_error``'s line and exit code) for the validation cases,
and in a subprocess (``python -m bot``) for a failed start, which must also close the run row
the next process reads. Nothing here reaches an exchange: every run points ``--exchange-url``
at a closed loopback port, and failures are meant to happen before or at the first request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import ccxt
import pytest
import typer

from bot.cli import common
from bot.cli.main import app
from bot.cli.main import run as console_entry
from bot.config import ConfigError
from tests.cli_inprocess import CliResult, derivbot

ROOT = Path(__file__).resolve().parents[2]
#: A 64-hex-digit HMAC as Binance signs requests with; it must never be printed.
SIGNATURE = "9f" * 32
SIGNED_URL = f"https://fapi.binance.com/fapi/v2/account?timestamp=1700000000000&recvWindow=10000&signature={SIGNATURE}"
#: Nothing listens on port 1: a connection there is refused at once, and stays on this machine.
CLOSED_URL = "http://127.0.0.1:1"
KEY, SECRET = "cli-errors-key-123", "cli-errors-secret-456"


# -- the console entry, in-process --------------------------------------------------------------

@pytest.fixture
def boom(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[BaseException], None]]:
    """Register ``derivbot boom`` raising the given exception; removed after the test."""
    raised: list[BaseException] = []

    def command() -> None:
        """Raise the test's exception (test only)."""
        raise raised[0]

    app.command("boom")(command)
    monkeypatch.setattr(sys, "argv", ["derivbot", "boom"])
    monkeypatch.delenv(common.DEBUG_ENV, raising=False)
    try:
        yield raised.append
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "boom"]


def _entry_exit_code() -> int:
    with pytest.raises(SystemExit) as exited:
        console_entry()
    return exited.value.code


def test_a_crash_prints_one_redacted_line_without_a_traceback(boom, capsys) -> None:
    """Item 4: the ccxt message carries the signed URL; the printed error must not."""
    boom(ccxt.ExchangeNotAvailable(f"binanceusdm GET {SIGNED_URL}"))
    assert _entry_exit_code() == 1
    err = capsys.readouterr().err
    assert SIGNATURE not in err and "signature=9f" not in err
    assert "Traceback" not in err
    [line] = err.strip().splitlines()
    assert line.startswith("error: ExchangeNotAvailable: binanceusdm GET https://fapi.binance.com/fapi/v2/account")
    assert "REDACTED" in line
    assert "could not reach the exchange" in line  # the hint says what to check


def test_debug_shows_the_traceback_redacted(boom, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(common.DEBUG_ENV, "1")
    boom(ccxt.ExchangeNotAvailable(f"binanceusdm GET {SIGNED_URL}"))
    assert _entry_exit_code() == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert SIGNATURE not in err


def test_ctrl_c_exits_130(boom, capsys) -> None:
    boom(KeyboardInterrupt())
    assert _entry_exit_code() == 130
    assert "Traceback" not in capsys.readouterr().err


def test_a_config_error_exits_2(boom, capsys) -> None:
    boom(ConfigError("risk.max_leverage: must be <= 5 (got 6)"))
    assert _entry_exit_code() == 2
    assert capsys.readouterr().err.strip() == "error: risk.max_leverage: must be <= 5 (got 6)"


def test_a_huge_message_is_cut(boom, capsys) -> None:
    boom(ValueError("x" * 10_000))
    assert _entry_exit_code() == 1
    line = capsys.readouterr().err.strip()
    assert line.startswith("error: ValueError: xxx") and line.endswith("...")
    assert len(line) < common.MAX_DETAIL_CHARS + 100


@pytest.mark.parametrize("message", [
    "no strategy enabled: enable one in the config ([strategies.NAME] enabled = true)",
    "value [/oops] is not markup",
    "[link=https://evil.example]click[/link] [bold]not bold[/bold]",
])
def test_fail_prints_brackets_as_text(message: str, capsys) -> None:
    """Rich markup would eat ``[strategies.NAME]`` and crash on ``[/oops]``: messages are data."""
    with pytest.raises(typer.Exit) as exited:
        common.fail(message, 2)
    assert exited.value.exit_code == 2
    assert capsys.readouterr().err.strip() == f"error: {message}"


def test_crash_messages_are_escaped_too(boom, capsys) -> None:
    boom(RuntimeError("reason [/oops] from the journal"))
    assert _entry_exit_code() == 1
    assert capsys.readouterr().err.strip() == "error: RuntimeError: reason [/oops] from the journal"


# -- the real CLI ------------------------------------------------------------------------------

def cli(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """``derivbot ARGS`` through the console entry, in this process (conftest drops DERIVBOT_*)."""
    return derivbot(*args, env=env)


def cli_process(*args: str, env: dict[str, str] | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    """``python -m bot ARGS`` in a fresh process, as a user runs it."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DERIVBOT_")}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**base, "COLUMNS": "200", **(env or {})})


@pytest.fixture
def run_env(tmp_path: Path) -> dict[str, str]:
    """Keys present (they must never be printed); logs and the halt file in the test's folder."""
    return {"DERIVBOT_EXCHANGE__API_KEY": KEY, "DERIVBOT_EXCHANGE__API_SECRET": SECRET,
            "DERIVBOT_LOGGING__JSON_FILE": str(tmp_path / "log.jsonl"),
            "DERIVBOT_ENGINE__HALT_FILE": str(tmp_path / "HALT"), "DERIVBOT_UNIVERSE__SYMBOLS": '["RIVERUSDT"]'}


def _one_error_line(result: CliResult | subprocess.CompletedProcess) -> str:
    """The single ``error:`` line of a failed command (log lines may precede it)."""
    out = result.stdout + result.stderr
    assert "Traceback" not in out, out[-3000:]
    assert KEY not in out and SECRET not in out
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    return errors[0]


@pytest.mark.parametrize("value", ["-5", "0", "nan", "inf", "3601"])
def test_cycle_seconds_flag_is_validated_like_the_field(value: str, tmp_path: Path, run_env) -> None:
    """Item 5: the flag goes through ``engine.cycle_seconds`` (gt=0, le=3600) and the error
    names the flag, the field and the limits."""
    result = cli("run", "--exchange-url", CLOSED_URL, "--journal", f"sqlite:///{tmp_path / 'j.sqlite'}",
                 "--max-cycles", "1", "--cycle-seconds", value, env=run_env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "engine.cycle_seconds (--cycle-seconds, > 0, <= 3600)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "j.sqlite").exists(), "refused before anything was opened"


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
def test_duration_must_be_finite_and_positive(value: str, tmp_path: Path, run_env) -> None:
    result = cli("run", "--exchange-url", CLOSED_URL, "--journal", f"sqlite:///{tmp_path / 'j.sqlite'}",
                 "--duration", value, env=run_env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert _one_error_line(result).startswith("error: --duration must be a finite number of seconds > 0")


def test_max_cycles_below_one_is_refused(tmp_path: Path, run_env) -> None:
    result = cli("run", "--exchange-url", CLOSED_URL, "--max-cycles", "0", env=run_env)
    assert result.returncode == 2 and "--max-cycles" in result.stderr


def test_max_cycles_help_says_skipped_cycles_count() -> None:
    result = cli("run", "--help")
    assert "skipped" in result.stdout and "counts" in result.stdout


def test_unreachable_exchange_url_is_one_line_and_closes_the_run(tmp_path: Path, run_env) -> None:
    """Items 8 and 10: ccxt NetworkError at the start: one line with the hint, exit 1, and the
    journal's run row is closed with the error (``status`` must not say "running")."""
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    result = cli_process("run", "--mode", "testnet", "--exchange-url", CLOSED_URL, "--journal", url,
                         "--max-cycles", "1", env=run_env)
    assert result.returncode == 1
    line = _one_error_line(result)
    assert "127.0.0.1:1" in line and "could not reach the exchange" in line and "--exchange-url" in line
    status = cli("status", "--journal", url, "--json", env={"DERIVBOT_ENGINE__HALT_FILE": str(tmp_path / "HALT")})
    assert status.returncode == 0, status.stderr
    run = json.loads(status.stdout)["run"]
    assert run["stopped"] is not None and run["exit_reason"].startswith("error: start failed (")


PG_PASSWORD = "Sekret99pw"


@pytest.mark.parametrize(("journal", "expected"), [
    # status reads only existing journals: the missing file is named instead
    ("sqlite:////proc/x", {"run": "unable to open database file", "status": "/proc/x does not exist"}),
    (f"postgresql+psycopg://postgres:{PG_PASSWORD}@127.0.0.1:1/x", {"run": "Connection refused"}),
    ("sqlite:///", {"run": "in-memory SQLite cannot hold a journal"}),
    ("GARBAGE", {"run": "file is not a database"}),
])
@pytest.mark.parametrize("command", ["run", "status"])
def test_a_journal_that_cannot_be_opened(command: str, journal: str, expected: dict[str, str], tmp_path: Path,
                                         run_env) -> None:
    """Item 8: one line naming the journal (password masked) and what to check; exit 1."""
    if journal == "GARBAGE":
        (tmp_path / "garbage.sqlite").write_bytes(b"this is not a SQLite database file, just text" * 100)
        journal = f"sqlite:///{tmp_path / 'garbage.sqlite'}"
    args = ("run", "--exchange-url", CLOSED_URL, "--max-cycles", "1") if command == "run" else ("status",)
    result = cli(*args, "--journal", journal, env=run_env)
    assert result.returncode == 1, result.stderr[-2000:]
    line = _one_error_line(result)
    assert expected.get(command, expected["run"]) in line and "--journal" in line
    assert PG_PASSWORD not in result.stdout + result.stderr
    if "postgresql" in journal:
        assert "postgresql+psycopg://postgres:***@127.0.0.1:1/x" in line


def test_status_does_not_create_a_missing_journal(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "journal.sqlite"
    result = cli("status", "--journal", f"sqlite:///{path}", env={"DERIVBOT_ENGINE__HALT_FILE": str(tmp_path / "H")})
    assert result.returncode == 1
    assert _one_error_line(result) == (f"error: journal file {path} does not exist: pass --journal sqlite:///PATH of "
                                       "an existing journal (the bot creates it on its first run)")
    assert not path.parent.exists()


@pytest.mark.parametrize("layout", ["empty", "unrelated"])
def test_backtest_without_usable_history_says_which_layout(layout: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    if layout == "unrelated":
        (data / "notes.txt").write_text("not market data\n")
        (data / "binance").mkdir()
        (data / "binance" / "prices.csv").write_text("a,b\n1,2\n")
    result = cli("backtest", "--data", str(data), "--journal", f"sqlite:///{tmp_path / 'bt.sqlite'}",
                 env={"DERIVBOT_LOGGING__JSON_FILE": str(tmp_path / "log.jsonl")})
    assert result.returncode == 1, result.stderr[-2000:]
    line = _one_error_line(result)
    assert line.startswith(f"error: no usable market history in {data}: expected 1h price bars")
    assert "ohlcv_1h.parquet" in line and "-1h-futures.feather" in line


def test_no_strategy_enabled_hint_keeps_its_brackets(tmp_path: Path, run_env) -> None:
    """The config hint used to print as ``( enabled = true)``."""
    env = {**run_env, "DERIVBOT_STRATEGIES__SHORT_SQUEEZE__ENABLED": "false",
           "DERIVBOT_STRATEGIES__FUNDING_EXTREME__ENABLED": "false"}
    result = cli("run", "--exchange-url", CLOSED_URL, "--journal", f"sqlite:///{tmp_path / 'j.sqlite'}", env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert _one_error_line(result) == ("error: no strategy enabled: enable one in the config "
                                       "([strategies.NAME] enabled = true)")
