"""Helpers shared by every command: loading settings with CLI overrides, clean exits.

Every error a user sees goes through :func:`fail` or :func:`report_error`: one line, redacted
with :func:`bot.logging.redact` (keys, signed URLs, URL passwords), printed as plain text (never
Rich markup: messages carry data such as ``[strategies.NAME]``), and an exit code (2 for a
configuration problem, 1 otherwise). ``DERIVBOT_DEBUG=1`` adds the (redacted) traceback.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import click
import typer
from rich.console import Console
from rich.markup import escape

from bot.config import ConfigError, Settings, load_settings
from bot.core.text import one_line, shorten
from bot.logging import mask_url_passwords, redact, setup_logging

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file (default: config/paper.toml)."),
]
JournalOption = Annotated[
    str | None,
    typer.Option("--journal", help="Journal database URL (sqlite:///... or postgresql://...)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]

EXIT_CONFIG = 2
EXIT_ERROR = 1
#: Set to 1 to see the (redacted) traceback behind an error line.
DEBUG_ENV = "DERIVBOT_DEBUG"
#: An exception's own message is cut here: a 10,000-character value must not flood the terminal.
MAX_DETAIL_CHARS = 400


def print_error(message: str) -> None:
    """Print ``error: message``, redacted; the message is escaped so it is never Rich markup
    (``[strategies.NAME]`` stays visible and ``[/oops]`` cannot crash the printer)."""
    err_console.print(f"[bold red]error:[/] {escape(redact(message))}", markup=True, soft_wrap=True)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print a clean, redacted error (never a traceback) and exit."""
    print_error(message)
    raise typer.Exit(code)


def report_error(exc: BaseException, *, journal_url: str | None = None) -> int:
    """Print an unexpected exception as one redacted line with a hint; return the exit code.

    Used by the console entry (any command) and by commands that know more context (the
    journal URL). The traceback is printed only with ``DERIVBOT_DEBUG=1``, redacted as well.
    """
    if os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes"):
        sys.stderr.write(redact("".join(traceback.format_exception(exc))))
    print_error(describe_error(exc, journal_url=journal_url))
    return EXIT_CONFIG if isinstance(exc, ConfigError) else EXIT_ERROR


def describe_error(exc: BaseException, *, journal_url: str | None = None) -> str:
    """``Type: message; hint`` on one line, redacted before it is shortened (a cut can never
    expose the part of a secret the redaction would have recognised)."""
    if isinstance(exc, ConfigError):
        return str(exc)
    detail = shorten(one_line(redact(_exception_text(exc))), MAX_DETAIL_CHARS, "...")
    text = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    hint = error_hint(exc, journal_url=journal_url)
    return f"{text}; {hint}" if hint else text


def _exception_text(exc: BaseException) -> str:
    """The useful part of the message: SQLAlchemy's wrapper adds the SQL and a help link."""
    orig = getattr(exc, "orig", None)
    return str(orig) if orig is not None else str(exc)


def error_hint(exc: BaseException, *, journal_url: str | None = None) -> str | None:
    """What to fix, for the errors an ordinary user meets (keys, network, journal, files).

    The cause chain is searched too: a start-up that gave up after its retries wraps the network
    error it last met (``StartupError`` from ``ccxt.ExchangeNotAvailable``), and the hint is the
    network's."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        hint = _hint_for(cause, journal_url)
        if hint is not None:
            return hint
        cause = cause.__cause__
    return None


def _hint_for(exc: BaseException, journal_url: str | None) -> str | None:
    import ccxt
    import sqlalchemy.exc

    from bot.journal.errors import JournalError, JournalVersionError

    if isinstance(exc, JournalVersionError):  # the URL is right: the code is too old for it
        return "upgrade derivbot: this version cannot use a journal a newer version wrote"
    if isinstance(exc, ccxt.AuthenticationError | ccxt.PermissionDenied):
        return ("the exchange refused the API key: check DERIVBOT_EXCHANGE__API_KEY and "
                "DERIVBOT_EXCHANGE__API_SECRET (testnet keys for testnet, futures enabled, IP allowed)")
    if isinstance(exc, ccxt.NetworkError):
        return "could not reach the exchange: check the network and --exchange-url (exchange.base_url)"
    if isinstance(exc, sqlalchemy.exc.SQLAlchemyError | JournalError):
        where = f" {mask_url_passwords(journal_url)}" if journal_url else ""
        return (f"the journal{where} could not be used: check --journal (journal.url): a SQLite file in a "
                "writable folder, or a PostgreSQL server that is running and accepts the user")
    if isinstance(exc, PermissionError):
        return "permission denied: check the path and its permissions"
    if isinstance(exc, FileNotFoundError):
        return "a file or folder is missing: check the path"
    return None


def nested_overrides(**flat: Any) -> dict[str, Any]:
    """Turn ``{"journal.url": x, "mode": y}`` into nested dicts, dropping ``None`` values."""
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        if value is None:
            continue
        parts = dotted.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def settings_from_cli(config: Path | None, overrides: dict[str, Any] | None = None,
                      *, configure_logging: bool = True, flags: Mapping[str, str] | None = None) -> Settings:
    """Load settings or exit 2 with the validation message.

    ``flags`` maps a dotted field to the command-line flag that set it (``{"engine.cycle_seconds":
    "--cycle-seconds"}``): a flag is validated as the field it overrides, and the message names
    both, with the field's limits.
    """
    try:
        settings = load_settings(config, overrides)
        if configure_logging:
            setup_logging(settings.logging, secrets=settings.secret_values())
    except ConfigError as exc:
        fail(_name_flags(str(exc), flags or {}), EXIT_CONFIG)
    return settings


def _name_flags(message: str, flags: Mapping[str, str]) -> str:
    """Add ``(--flag, limits)`` after each flag-set field a validation message mentions."""
    for field, flag in flags.items():
        limits = field_limits(field)
        message = message.replace(f"{field}:", f"{field} ({flag}{', ' + limits if limits else ''}):")
    return message


def field_limits(dotted: str) -> str:
    """``"> 0, <= 3600"`` for a numeric settings field, read from its declared constraints."""
    model: Any = Settings
    info = None
    for part in dotted.split("."):
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return ""
        info = fields[part]
        model = info.annotation
    symbols = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    out = [f"{sym} {getattr(m, key):g}" for m in (info.metadata if info else []) for key, sym in symbols.items()
           if isinstance(getattr(m, key, None), int | float)]
    return ", ".join(out)


@contextmanager
def clean_errors(journal_url: str | None = None) -> Iterator[None]:
    """Turn failures into an error line and exit code instead of a traceback; the journal URL
    (password masked) goes into the hint when the journal is what failed."""
    try:
        yield
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)
    except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException, click.Abort):
        raise  # click's own exits and usage errors print themselves
    except Exception as exc:
        raise typer.Exit(report_error(exc, journal_url=journal_url)) from None


def bundled_sample() -> Path:
    """The real-data sample shipped inside the package (the default ``--data``), or exit 1 saying
    it is missing from this installation."""
    from bot.data.bundled import sample_dir

    try:
        return sample_dir()
    except FileNotFoundError as exc:
        fail(str(exc))


def print_json(data: Any) -> None:
    """Indented JSON on stdout: highlighted on a terminal; piped, the same text written directly
    (rich's renderer took ~0.5 s on a backtest's trade list, issue 12)."""
    text = redact(json.dumps(data, default=str))
    if console.is_terminal:
        console.print_json(text)
        return
    console.file.write(json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n")
