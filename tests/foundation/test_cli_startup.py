"""The CLI imports only what the command needs (issue 12's start-up bullet).

``derivbot --help`` lists every command from ``bot.cli.main.COMMANDS`` without importing any
command module; a command imports its own module and not the others'. These are structural
checks on ``sys.modules`` in a fresh interpreter (no timings: ``scripts/bench_startup.py``
measures those). The stored one-line help of each command must stay what the command itself
says, and every command a ``bot/cli`` module registers must be listed.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import typer

from bot.cli.main import COMMANDS, load_command
from tests.cli_inprocess import derivbot

REPO = Path(__file__).resolve().parents[2]
#: Libraries no command-independent start-up may import (the listing needs none of them).
HEAVY = ("fastapi", "uvicorn", "matplotlib", "ccxt", "aiohttp", "sqlalchemy", "alembic", "pandas", "numpy",
         "pyarrow", "pydantic_settings", "loguru")

#: Runs the CLI with ARGV in a fresh interpreter, then prints (on stderr, after the command's own
#: output) the modules it imported: the heavy libraries and the CLI's command modules.
PROBE = """
import json, sys
from bot.cli.main import app
try:
    app(sys.argv[1:], prog_name="derivbot")
except SystemExit as exited:
    code = exited.code
heavy = %r
loaded = sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in heavy}
                | {m for m in sys.modules if m.startswith("bot.cli.")})
sys.stderr.write("\\nLOADED " + json.dumps({"code": code, "modules": loaded}) + "\\n")
"""


def probe(*args: str) -> tuple[str, int, list[str]]:
    """(stdout, exit code, imported heavy libraries and ``bot.cli.*`` modules) of ``derivbot ARGS``."""
    result = subprocess.run([sys.executable, "-c", PROBE % (HEAVY,), *args], cwd=REPO, capture_output=True,
                            text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"})
    found = re.search(r"^LOADED (.*)$", result.stderr, flags=re.MULTILINE)
    assert found, result.stderr[-3000:]
    report = json.loads(found.group(1))
    return result.stdout, report["code"], report["modules"]


def test_help_lists_every_command_and_imports_none_of_them() -> None:
    out, code, modules = probe("--help")
    assert code == 0
    assert modules == ["bot.cli.main"], "the listing must not import a command module or a heavy library"
    for command in COMMANDS:
        assert re.search(rf"│ {re.escape(command.name)} +{re.escape(command.help)} +│", out), command.name


def test_a_command_imports_its_own_module_only() -> None:
    out, code, modules = probe("config", "show", "--json")
    assert code == 0 and json.loads(out)["mode"] == "paper"
    assert [m for m in modules if m.startswith("bot.cli.")] == ["bot.cli.common", "bot.cli.config_cmd",
                                                               "bot.cli.main"]
    for library in ("fastapi", "uvicorn", "matplotlib", "ccxt", "aiohttp", "sqlalchemy", "pandas"):
        assert library not in modules


def test_backtest_help_needs_no_web_plotting_or_exchange_library() -> None:
    out, code, modules = probe("backtest", "--help")
    assert code == 0 and "--data" in out
    assert not {"fastapi", "uvicorn", "matplotlib", "ccxt", "aiohttp"} & set(modules)


def _first_paragraph(text: str | None) -> str:
    return " ".join((text or "").strip().split("\n\n")[0].split())


def test_the_stored_help_is_each_commands_own() -> None:
    """``derivbot --help`` shows COMMANDS' help without importing: it must equal what the
    imported command would show (the first paragraph of its docstring or group help)."""
    for command in COMMANDS:
        loaded = load_command(command)
        assert loaded.name == command.name
        assert command.help == _first_paragraph(loaded.help), command.name


def test_every_registered_command_is_listed() -> None:
    """A new ``register(app)`` in ``bot/cli`` must add its commands to COMMANDS, or ``derivbot``
    would not know them."""
    scratch = typer.Typer()
    modules = sorted(p.stem for p in (REPO / "bot" / "cli").glob("*.py")
                     if re.search(r"^def register\(", p.read_text(encoding="utf-8"), flags=re.MULTILINE))
    assert len(modules) >= 11
    for name in modules:
        importlib.import_module(f"bot.cli.{name}").register(scratch)
    registered = set(typer.main.get_group(scratch).commands)
    assert registered == {c.name for c in COMMANDS}
    assert {m.removeprefix("bot.cli.") for c in COMMANDS for m in c.modules} == set(modules)


def test_a_mistyped_command_is_still_suggested() -> None:
    """Typer suggests from the commands it holds; the lazy ones must be suggested too."""
    result = derivbot("rn")
    assert result.returncode == 2
    assert "No such command 'rn'. Did you mean 'run'?" in result.stderr


def test_a_command_runs_through_the_lazy_group() -> None:
    result = derivbot("risk", "show", "--json")
    assert result.returncode == 0, result.stderr
    assert "state" in json.loads(result.stdout)


def test_a_no_op_backtest_imports_no_exchange_or_web_library(tmp_path: Path) -> None:
    """The engine names ccxt's errors without importing ccxt (bot.core.venue_errors): a backtest
    runs the live engine on the paper core, which never talks to a venue (issue 12)."""
    out, code, modules = probe("backtest", "--data", "bot/data/sample", "--symbol", "ORCAUSDT", "--from", "2025-03-10",
                               "--to", "2025-03-10", "--json", "--journal", f"sqlite:///{tmp_path / 'noop.sqlite'}")
    assert code in (0, None) and json.loads(out)["closed_trades"] == []
    assert not {"fastapi", "uvicorn", "matplotlib", "ccxt", "aiohttp"} & set(modules), modules
    # a new SQLite journal is created from the stored head schema (bot.journal.fresh), not migrated
    assert "alembic" not in modules, modules
