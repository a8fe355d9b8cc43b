"""``derivbot selfcheck``: prove an installation works, offline, in a few seconds."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

import typer
from rich.markup import escape

from bot.cli.common import ConfigOption, console, settings_from_cli
from bot.logging import mask_url_passwords, redact

#: How long selfcheck waits for the configured PostgreSQL journal: an unreachable host must
#: fail quickly, not hang for the driver's default.
JOURNAL_CONNECT_TIMEOUT_S = 3


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


def _check_sqlite_file(path: Path) -> str:
    """Open an existing SQLite journal read-only, or check that a new one can be created.

    Read-only and without creating anything: selfcheck must not change the journal it checks.
    """
    if path.exists():
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.close()
        return f"SQLite journal {path} opens"
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise OSError(f"cannot create the SQLite journal {path}: {ancestor} is not a writable folder")
    return f"SQLite journal {path} will be created on first run"


def _check_configured_journal(url: str) -> str:
    """Reach the journal the configuration names (not only a scratch SQLite file).

    A PostgreSQL URL is connected to with a short timeout and one ``SELECT 1``, so an
    unreachable server or wrong password is reported here instead of "ok".
    """
    import sqlalchemy as sa

    from bot.journal.db import create_journal_engine, normalise_url, sqlite_path
    from bot.journal.errors import JournalError

    if normalise_url(url).startswith("sqlite"):
        path = sqlite_path(url)
        if path is None:
            raise JournalError("in-memory SQLite cannot hold a journal; use sqlite:///path/to/file.sqlite")
        return _check_sqlite_file(path)
    engine = create_journal_engine(url, connect_args={"connect_timeout": JOURNAL_CONNECT_TIMEOUT_S})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    finally:
        engine.dispose()
    return f"{mask_url_passwords(url)} reachable"


def _one_line(exc: BaseException) -> str:
    """The first line of an error, redacted (drivers append "Background on this error" etc.)."""
    text = str(exc).strip().splitlines()
    return redact(f"{type(exc).__name__}: {text[0] if text else ''}")


def selfcheck(config: ConfigOption = None) -> None:
    """Validate config, ccxt, the journal schema and the configured journal; exit 1 if anything fails."""
    settings = settings_from_cli(config)
    checks: list[tuple[str, Callable[[], str]]] = [
        ("config", lambda: f"mode={settings.mode.value}, exchange={settings.exchange.id}"),
        ("ccxt", _check_ccxt),
        ("journal", _check_journal),
        ("journal url", lambda: _check_configured_journal(settings.journal.url)),
    ]
    failed = 0
    for name, check in checks:
        try:
            detail = check()
        except Exception as exc:  # report every failure, then exit non-zero
            failed += 1
            console.print(f"[red]FAIL[/] {name}: {escape(_one_line(exc))}")
        else:
            console.print(f"[green]ok[/]   {name}: {escape(redact(detail))}")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("selfcheck")(selfcheck)
