"""``derivbot selfcheck``: prove an installation works, offline, in a few seconds."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import typer

from bot.cli.common import ConfigOption, console, settings_from_cli


def _check_ccxt() -> str:
    import ccxt.async_support as ccxt_async

    exchange = ccxt_async.binanceusdm({"enableRateLimit": False})
    name = exchange.id
    return f"ccxt {ccxt_async.__version__} ({name})"


def _check_journal() -> str:
    from bot.journal.db import create_journal_engine
    from bot.journal.migrate import upgrade_to_head

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'selfcheck.sqlite'}"
        upgrade_to_head(url)
        engine = create_journal_engine(url)
        engine.dispose()
    return "journal migrations apply on SQLite"


def selfcheck(config: ConfigOption = None) -> None:
    """Validate config, ccxt and the journal schema; exit 1 if anything fails."""
    settings = settings_from_cli(config)
    checks: list[tuple[str, Callable[[], str]]] = [
        ("config", lambda: f"mode={settings.mode.value}, exchange={settings.exchange.id}"),
        ("ccxt", _check_ccxt),
        ("journal", _check_journal),
    ]
    failed = 0
    for name, check in checks:
        try:
            detail = check()
        except Exception as exc:  # report every failure, then exit non-zero
            failed += 1
            console.print(f"[red]FAIL[/] {name}: {type(exc).__name__}: {exc}")
        else:
            console.print(f"[green]ok[/]   {name}: {detail}")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("selfcheck")(selfcheck)
