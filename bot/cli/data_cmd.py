"""``derivbot data list|import`` (``data download`` is planned: see the placeholder below).

``list`` shows what a data folder holds per symbol and series (range, rows, gaps);
``import`` converts freqtrade feather folders, Binance daily metrics CSVs and Bybit frames into
derivbot's parquet layout (``bot/data/README.md``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bot.cli.common import JsonOption, console, fail, print_json
from bot.core.timeutil import to_datetime

data_app = typer.Typer(help="Market history: list what is on disk, import other formats.", no_args_is_help=True)

DEFAULT_DATA_DIR = Path("data")

DataOption = Annotated[Path, typer.Option("--data", "-d", help="Folder with market data (any supported layout).")]
SymbolsOption = Annotated[
    list[str] | None,
    typer.Option("--symbol", "-s", help="Only this symbol (exchange id, e.g. ORCAUSDT); repeatable."),
]


def _short(ms: int) -> str:
    return to_datetime(ms).strftime("%Y-%m-%d %H:%M")


def _listing(data: Path, symbols: list[str] | None) -> list[dict[str, object]]:
    from bot.data.store import MarketStore

    store = MarketStore.load(data, symbols=symbols)
    rows: list[dict[str, object]] = []
    for symbol in store.symbols:
        h = store[symbol]
        for series, (ts, count) in h.series.items():
            gaps = h.gaps.get(series, [])
            rows.append({
                "symbol": symbol, "exchange": h.exchange, "series": series,
                "first": _short(int(ts[0])), "last": _short(int(ts[-1])), "rows": count,
                "gaps": len(gaps), "source": h.sources.get(series, ""),
            })
    return rows


@data_app.command("list")
def list_cmd(data: DataOption = DEFAULT_DATA_DIR, symbol: SymbolsOption = None, as_json: JsonOption = False) -> None:
    """Symbols and series found under --data, with time ranges, row counts and gaps."""
    if not data.is_dir():
        fail(f"data folder not found: {data} (pass --data DIR)")
    rows = _listing(data, symbol)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"no market data recognised under {data}")
        return
    table = Table(title=f"market data in {data}", show_lines=False)
    cols = ("symbol", "series", "first", "last", "rows", "gaps", "source")
    for col in cols:
        table.add_column(col, justify="right" if col in ("rows", "gaps") else "left", no_wrap=col != "source")
    for r in rows:
        table.add_row(*(str(r[c]) for c in cols))
    console.print(table)


@data_app.command("import")
def import_cmd(
    src: Annotated[Path, typer.Option("--from", help="Folder to read (freqtrade data dir, metrics CSVs, ...).")],
    dst: Annotated[Path, typer.Option("--to", help="Folder for derivbot's parquet layout.")] = DEFAULT_DATA_DIR,
    symbol: SymbolsOption = None,
) -> None:
    """Convert history under --from into derivbot's parquet layout under --to (merging with it)."""
    from bot.data.importer import import_history

    if not src.is_dir():
        fail(f"--from folder not found: {src}")
    try:
        written = import_history(src, dst, symbols=symbol)
    except ValueError as exc:
        fail(str(exc))
    if not written:
        fail(f"nothing recognised under {src} (see bot/data/README.md for supported layouts)")
    for f in written:
        console.print(f"{f.symbol:<14} {f.rows:>8} rows  {f.path}")
    console.print(f"[green]imported[/] {len({f.symbol for f in written})} symbols, {len(written)} files into {dst}")


# `derivbot data download` (fetching history from the exchange via bot.exchange.connect) belongs
# here as another @data_app.command; it is owned by another engineer and not written yet.


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
