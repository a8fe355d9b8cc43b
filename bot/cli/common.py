"""Helpers shared by every command: loading settings with CLI overrides, clean exits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from bot.config import ConfigError, Settings, load_settings
from bot.logging import redact, setup_logging

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


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a clean, redacted error (never a traceback) and exit."""
    err_console.print(f"[bold red]error:[/] {redact(message)}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


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
                      *, configure_logging: bool = True) -> Settings:
    """Load settings or exit 2 with the validation message."""
    try:
        settings = load_settings(config, overrides)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)
    if configure_logging:
        setup_logging(settings.logging, secrets=settings.secret_values())
    return settings


@contextmanager
def clean_errors() -> Iterator[None]:
    """Turn expected failures into an error line and exit code instead of a traceback."""
    try:
        yield
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)


def print_json(data: Any) -> None:
    console.print_json(redact(json.dumps(data, default=str)))
