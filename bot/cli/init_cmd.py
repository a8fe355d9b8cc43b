"""``derivbot init [DIR]``: the starter files for a new user (see :mod:`bot.ops.scaffold`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.panel import Panel

from bot.cli.common import console, fail


def init(
    folder: Annotated[Path, typer.Argument(help="Folder to write into (created if missing).")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite starter files that already exist.")] = False,
) -> None:
    """Write a commented paper-mode config, .env.example and a docker-compose file to start from."""
    from bot.ops.scaffold import TargetsExistError, write_starters

    try:
        written = write_starters(folder, force=force)
    except TargetsExistError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write the starter files into {folder}: {exc.strerror or exc}")
    for path in written:
        console.print(f"wrote {escape(str(path))}")
    config = escape(str(folder / "derivbot.toml"))
    steps = "\n".join((
        f"1. Read {config}: paper mode, every safety limit explained. Check it:",
        f"     derivbot config check --config {config}",
        "2. Paper-trade (public market data, no keys):",
        f"     derivbot run --config {config}",
        f"   and in another terminal: derivbot health --config {config}; metrics at "
        "http://127.0.0.1:9464/metrics",
        "3. Or run it with a PostgreSQL journal in Docker: build the image once from the derivbot source "
        "(docker build -t derivbot .), then",
        f"     cd {escape(str(folder))} && cp .env.example .env   # set the three passwords",
        "     docker-compose up -d",
        "4. Testnet later: put testnet API keys (without withdrawal permission) in .env, then",
        f"     derivbot run --mode testnet --config {config}",
    ))
    console.print(Panel(steps, title="next steps", expand=False))


def register(app: typer.Typer) -> None:
    app.command("init")(init)
