"""``derivbot demo``: the offline demo (see :mod:`bot.demo`)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import (
    ConfigOption,
    JournalOption,
    bundled_sample,
    console,
    fail,
    nested_overrides,
    settings_from_cli,
)


def demo(
    journal: JournalOption = None,
    config: ConfigOption = None,
    data: Annotated[Path | None, typer.Option(
        "--data", help="History folder (default: the bundled real sample).")] = None,
    hours: Annotated[int, typer.Option("--hours", min=6, max=24 * 60, help="Simulated hours to replay.")] = 9 * 24,
    speed: Annotated[float, typer.Option("--speed", min=60, help="Simulated seconds per wall second.")] = 4 * 3600.0,
) -> None:
    """Replay a real squeeze through the local Binance emulator with the real ccxt client (offline)."""
    from bot.cli.review_cmd import render_summary
    from bot.cli.run_cmd import load_strategies
    from bot.demo import run_demo
    from bot.review import service
    from bot.review.db import open_readonly

    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    workdir = Path("data/demo") / stamp  # a fresh account, journal and breaker state per demo
    workdir.mkdir(parents=True, exist_ok=True)
    url = journal or f"sqlite:///{workdir / 'journal.sqlite'}"
    settings = settings_from_cli(_demo_config(config), nested_overrides(**{"journal.url": url}))
    data = data if data is not None else bundled_sample()
    if not data.is_dir():
        fail(f"data folder not found: {data} (pass --data DIR, or leave it out for the bundled sample)")
    strategies = load_strategies(settings)
    console.print(f"[bold]derivbot demo[/]: strategies {', '.join(strategies)}; replaying {hours} h of real "
                  "Binance data through the local emulator (testnet mode, real ccxt client)")
    result = asyncio.run(run_demo(settings, strategies, data_dir=data, journal_url=url, workdir=workdir,
                                  hours=hours, speed=speed))
    console.print(f"demo done in {result.wall_seconds:.1f} s: {result.cycles} cycles, {result.closed_trades} closed "
                  f"and {result.open_trades} open trades (stops left on the emulator, which has now stopped)")
    engine = open_readonly(url)
    try:
        render_summary(service.summary(engine))
    finally:
        engine.dispose()
    console.print(f"journal: {url}\nreview it: derivbot journal trades --journal {url}\n"
                  f"           derivbot journal report --journal {url} --out {workdir / 'report.html'}")


def _demo_config(config: Path | None) -> Path | None:
    """``--config``, else ``config/paper.toml`` in a checkout, else the config ``derivbot init``
    writes (shipped in the package): outside a checkout the settings' defaults enable no strategy,
    and a demo without a strategy would show nothing."""
    from bot.config import DEFAULT_CONFIG_PATH
    from bot.ops.scaffold import template_path

    if config is not None or DEFAULT_CONFIG_PATH.is_file():
        return config
    return template_path("config")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
