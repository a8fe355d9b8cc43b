"""``derivbot research signals``: how did each strategy's entries do on recorded history?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.cli.common import console, fail
from bot.core.timeutil import to_ms

research_app = typer.Typer(help="Measure strategy signals on recorded history.", no_args_is_help=True)


@research_app.command("signals")
def signals(
    data: Annotated[Path, typer.Option("--data", help="Market-data folder (freqtrade/Bybit layout).")],
    train_until: Annotated[str | None, typer.Option(
        "--train-until", help="ISO date splitting train (before) and test (from); default: midpoint.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the rows to this CSV file.")] = None,
    strategy: Annotated[list[str] | None, typer.Option(
        "--strategy", help="Only this strategy (repeatable); default: every registered one.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random-entry baseline.")] = 7,
) -> None:
    """Replay DATA through the strategies (empty portfolio) and report, per strategy, side and
    period, de-duplicated entries and their 1h/4h/24h forward returns net of 2 x 0.05% taker
    fees and real funding, next to a random-entry baseline with the same sides and counts."""
    from bot.research.report import run, table, write_csv
    from strategies.base import StrategyConfigError

    if not data.is_dir():
        fail(f"--data {data}: not a directory", 2)
    split = None
    if train_until is not None:
        try:
            split = to_ms(train_until)
        except ValueError:
            fail(f"--train-until {train_until!r}: not an ISO date (e.g. 2025-07-01)", 2)
    try:
        result = run(data, split, strategy or None, seed=seed)
    except StrategyConfigError as exc:
        fail(str(exc), 2)
    except ValueError as exc:
        fail(str(exc), 1)
    # the table is wide: never squeeze it into 80 columns when output is piped to a file
    wide = Console(width=max(console.width, 170), highlight=False)
    wide.print(table(result))
    console.print(f"replayed {len(result.symbols)} symbols, {result.symbol_hours:,} symbol-hours "
                  f"in {result.seconds:.1f}s")
    if out is not None:
        write_csv(result.rows, out)
        console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(research_app, name="research")
