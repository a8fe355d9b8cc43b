"""``derivbot data download``: fetch exchange history into the parquet layout, with a progress bar.

The command joins the ``data`` group owned by :mod:`bot.cli.data_cmd` (the group object is
imported, so the order of the ``data`` entry's modules in ``bot.cli.main.COMMANDS`` does not
matter while that module exists). Until it exists, a ``data`` group is created here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bot.cli.common import ConfigOption, console, fail, settings_from_cli
from bot.core.instrument import ccxt_symbol_to_id
from bot.core.timeutil import to_ms

if TYPE_CHECKING:
    from bot.data.download import DownloadReport


def _data_group(app: typer.Typer) -> typer.Typer:
    try:
        from bot.cli import data_cmd
    except ImportError:
        group = typer.Typer(name="data", help="Market history: download, import, inspect.", no_args_is_help=True)
        app.add_typer(group, name="data")
        return group
    for name in ("data_app", "app", "group"):
        group = getattr(data_cmd, name, None)
        if isinstance(group, typer.Typer):
            return group
    raise RuntimeError("bot.cli.data_cmd defines no typer group (expected `data_app`)")


def _parse_time(text: str, option: str) -> int:
    try:
        return to_ms(text)
    except (ValueError, TypeError):
        fail(f"{option}: cannot read {text!r} as a time (use e.g. 2025-03-01 or 2025-03-01T08:00:00Z)", 2)


async def _download(settings, symbols: list[str], since: int, until: int | None, timeframe: str,
                    out: Path) -> DownloadReport:
    from bot.data.download import Downloader
    from bot.exchange.connect import connected
    from bot.market.budget import RequestBudget

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[rows]} rows"),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        tasks: dict[tuple[str, str], int] = {}

        def progress(symbol: str, series: str, rows: int, fraction: float) -> None:
            key = (symbol, series)
            if key not in tasks:
                tasks[key] = bar.add_task(f"{symbol} {series}", total=1.0, rows=0)
            bar.update(tasks[key], completed=fraction, rows=rows)

        async with connected(settings) as client:
            downloader = Downloader(client, out, exchange=settings.exchange.id,
                                    budget=RequestBudget(settings.exchange.request_budget_per_minute),
                                    progress=progress)
            return await downloader.run(symbols, since, until, timeframe)


def download(
    symbols: Annotated[str, typer.Option("--symbols", help="Comma-separated ids: ORCAUSDT,BTCUSDT.")],
    since: Annotated[str, typer.Option("--since", help="Start time, UTC (2025-03-01 or ISO-8601).")],
    until: Annotated[str | None, typer.Option("--until", help="End time, UTC (default: now).")] = None,
    exchange: Annotated[str, typer.Option("--exchange", help="ccxt exchange id.")] = "binanceusdm",
    timeframe: Annotated[str, typer.Option("--timeframe", help="Bar size (the layout stores 1h).")] = "1h",
    exchange_url: Annotated[str | None, typer.Option("--exchange-url", help="Base URL (e.g. our emulator).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Data root: <out>/<exchange>/<SYMBOL>/.")] = Path("data"),
    config: ConfigOption = None,
) -> None:
    """Download klines (last and mark), funding and open-interest history; resumable and deduplicated."""
    overrides = {"exchange": {"id": exchange, **({"base_url": exchange_url} if exchange_url else {})}}
    settings = settings_from_cli(config, overrides)
    ids = [ccxt_symbol_to_id(s.strip()) for s in symbols.split(",") if s.strip()]
    if not ids:
        fail("--symbols: give at least one symbol, e.g. --symbols ORCAUSDT,BTCUSDT", 2)
    from bot.data.download import DownloadError  # ccxt loads only when the command runs

    start = _parse_time(since, "--since")
    end = _parse_time(until, "--until") if until else None
    try:
        report = asyncio.run(_download(settings, ids, start, end, timeframe, out))
    except DownloadError as exc:
        fail(str(exc), 2)
    except Exception as exc:  # network down, exchange refused: a clean line, not a traceback
        fail(f"download failed: {type(exc).__name__}: {exc}")
    total = sum(r.rows for r in report.results.values())
    skipped = [f"{s}/{k}: {r.skipped}" for (s, k), r in report.results.items() if r.skipped]
    console.print(f"wrote {total} new rows for {len(ids)} symbol(s) under {out / settings.exchange.id}")
    for line in skipped:
        console.print(f"  skipped {line}")


def register(app: typer.Typer) -> None:
    group = _data_group(app)
    if not any(cmd.name == "download" for cmd in group.registered_commands):  # idempotent
        group.command("download")(download)
