"""The CLI's basic commands work as documented."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120, env={**os.environ, "COLUMNS": "200"})


def test_help_lists_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("config", "selfcheck"):
        assert command in result.stdout


def test_version() -> None:
    from bot import __version__

    result = run("--version")
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
