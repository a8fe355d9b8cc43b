"""The CLI's basic commands work as documented.

The console script (``derivbot``, as installed) and ``python -m bot`` run in real processes; the
configuration commands run through the same entry in-process (``tests/cli_inprocess``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_inprocess import CliResult, derivbot

REPO = Path(__file__).resolve().parents[2]


def process(*args: str, module: bool = True) -> subprocess.CompletedProcess:
    """``python -m bot ARGS``, or with ``module=False`` the installed ``derivbot`` console script."""
    script = Path(sys.executable).with_name("derivbot")
    if not module and not script.is_file():
        pytest.fail(f"the console script is not installed next to {sys.executable} (pip install -e .)")
    argv = [sys.executable, "-m", "bot"] if module else [str(script)]
    return subprocess.run([*argv, *args], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**os.environ, "COLUMNS": "200"})


def run(*args: str) -> CliResult:
    return derivbot(*args)


def test_help_lists_commands() -> None:
    result = process("--help", module=False)
    assert result.returncode == 0
    for command in ("config", "selfcheck", "run", "backtest", "journal", "exchange-sim"):
        assert command in result.stdout


def test_the_console_script_exits_2_on_a_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk]\nmax_leverage = 25\n")
    result = process("config", "check", "--config", str(bad), module=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "risk.max_leverage" in result.stderr
    assert "Traceback" not in result.stderr


def test_version() -> None:
    from bot import __version__

    result = process("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"derivbot {__version__}"


def test_config_check_ok_and_bad(tmp_path: Path) -> None:
    assert run("config", "check").returncode == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk]\nmax_leverage = 25\n")
    result = run("config", "check", "--config", str(bad))
    assert result.returncode == 2
    assert "risk.max_leverage" in result.stderr and "10" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_show_prints_effective_values(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[risk]\nmax_open_positions = 2\nmax_same_side_positions = 2\n")
    result = run("config", "show", "--config", str(cfg), "--json")
    assert result.returncode == 0, result.stderr
    import json

    data = json.loads(result.stdout)
    assert data["risk"]["max_open_positions"] == 2
    assert data["mode"] == "paper"
