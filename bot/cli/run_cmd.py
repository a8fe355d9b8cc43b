"""``derivbot run``, ``derivbot backtest`` and ``derivbot status``."""

from __future__ import annotations

import asyncio
import math
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bot.cli.common import (
    EXIT_CONFIG,
    ConfigOption,
    JournalOption,
    JsonOption,
    bundled_sample,
    clean_errors,
    console,
    fail,
    nested_overrides,
    print_json,
    settings_from_cli,
)
from bot.config import Settings
from bot.core.enums import Mode
from bot.core.timeutil import iso, to_ms
from strategies.base import Strategy


def load_strategies(settings: Settings, only: list[str] | None = None) -> dict[str, Strategy]:
    """Instances of the enabled strategies (or of ``only``), configured from settings."""
    from strategies import registry
    from strategies.base import StrategyConfigError

    names = only or list(settings.enabled_strategies())
    out: dict[str, Strategy] = {}
    for name in names:
        config = settings.strategies.get(name)
        if config is None or config.stop_loss_pct is None:
            fail(f"strategy {name!r} needs a [strategies.{name}] section with stop_loss_pct in the config",
                 EXIT_CONFIG)
        try:
            out[name] = registry.build(name, config)
        except StrategyConfigError as exc:
            fail(str(exc), EXIT_CONFIG)
    if not out:
        fail("no strategy enabled: enable one in the config ([strategies.NAME] enabled = true)", EXIT_CONFIG)
    return out


def backtest(
    data: Annotated[Path | None, typer.Option(
        "--data", help="History folder (freqtrade layout or ours; default: the bundled real sample).")] = None,
    strategy: Annotated[list[str] | None, typer.Option("--strategy", "-s", help="Strategy name (repeatable).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Start, ISO date UTC.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End, ISO date UTC.")] = None,
    symbols: Annotated[list[str] | None, typer.Option("--symbol", help="Only these symbols (repeatable).")] = None,
    config: ConfigOption = None,
    journal: JournalOption = None,
    as_json: JsonOption = False,
    record: Annotated[str, typer.Option(
        "--record", help="Journal the market snapshot behind each signal ('signals', the default) or every "
                         "snapshot of every cycle ('observations': large and slow).")] = "signals",
) -> None:
    """Backtest with the live engine, a replay feed, a simulated clock and the paper exchange core."""
    from bot.backtest import run_backtest
    from bot.data.store import MarketStore

    data = data if data is not None else bundled_sample()
    run_dir = Path("data/runs")
    url = journal or f"sqlite:///{run_dir / f'backtest-{int(time.time())}.sqlite'}"
    settings = settings_from_cli(config, nested_overrides(**{"journal.url": url}))
    if not data.is_dir():
        fail(f"data folder not found: {data}")
    strategies = load_strategies(settings, strategy)
    if record not in ("signals", "observations"):
        fail(f"--record must be 'signals' or 'observations', got {record!r}", EXIT_CONFIG)
    with clean_errors(url):
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        start_ms = to_ms(start) if start else None
        end_ms = to_ms(end) if end else None
        load_start = time.perf_counter()
        store = MarketStore.load(data, symbols=symbols or None,
                                 start_ms=(start_ms - 3 * 86_400_000) if start_ms else None, end_ms=end_ms)
        load_s = time.perf_counter() - load_start
        _require_history(store, data, symbols)
        progress_bar = Progress(TextColumn("backtest"), BarColumn(), TextColumn("{task.fields[at]}"),
                                TimeRemainingColumn(), console=console, transient=True, disable=as_json)
        with progress_bar as progress:
            task = progress.add_task("bt", total=1.0, at="")

            def tick(t: int, s: int, e: int) -> None:
                if (t - s) % (24 * 3_600_000) == 0:
                    progress.update(task, completed=(t - s) / max(1, e - s), at=iso(t)[:10])

            result = asyncio.run(run_backtest(settings, store, strategies, journal_url=url, start_ms=start_ms,
                                              end_ms=end_ms, progress=tick,
                                              record_observations="all" if record == "observations" else "signals"))
    from bot.review.summary import to_jsonable

    if as_json:
        print_json({"start": iso(result.start_ms), "end": iso(result.end_ms), "symbols": result.symbols,
                    "symbol_bars": result.symbol_bars, "journal": url,
                    "stats": to_jsonable(result.summary["total"]), "summary": to_jsonable(result.summary),
                    "closed_trades": result.trades,
                    "timings": {"load": round(load_s, 4)} | {k: round(v, 4) for k, v in result.timings.items()}})
        return
    from bot.cli.review_cmd import render_summary

    console.print(f"[bold]backtest[/] {iso(result.start_ms)} .. {iso(result.end_ms)}, {len(result.symbols)} symbols, "
                  f"{result.symbol_bars:,} symbol-bars")
    render_summary(result.summary)  # the same report `derivbot journal summary` gives for this run
    console.print(f"journal: {url}")


def _require_history(store: Any, data: Path, symbols: list[str] | None) -> None:
    """Exit with the expected layouts when ``data`` holds no price bars (for ``symbols``)."""
    if any(len(store[s].ts) > 0 for s in store.symbols):
        return
    which = f" for {', '.join(symbols)}" if symbols else ""
    fail(f"no usable market history in {data}{which}: expected 1h price bars in derivbot's layout "
         "(<dir>/<exchange>/<SYMBOL>/ohlcv_1h.parquet, written by `derivbot data import`) or freqtrade's "
         "(<dir>/<exchange>/futures/<PAIR>-1h-futures.feather); see bot/data/README.md")


def _require_journal_file(url: str) -> None:
    """A status view reads a journal: a mistyped SQLite path is an error, not a new empty journal."""
    from bot.journal.db import sqlite_path

    path = sqlite_path(url)
    if path is not None and not path.is_file():
        fail(f"journal file {path} does not exist: pass --journal sqlite:///PATH of an existing journal "
             "(the bot creates it on its first run)")


def status(journal: JournalOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """State, open positions with their stops, and P&L, from the journal."""
    from bot.journal.migrate import upgrade_to_head
    from bot.journal.reader import JournalReader
    from bot.risk.files import RiskFiles

    settings = settings_from_cli(config, nested_overrides(**{"journal.url": journal}), configure_logging=False)
    url = settings.journal.url
    files = RiskFiles.from_halt_file(settings.engine.halt_file)
    try:
        risk_state = files.load_state() or {}
    except Exception as exc:  # a corrupt state file is reported, not fatal for a status view
        risk_state = {"state": f"unreadable ({exc})"}
    with clean_errors(url):
        _require_journal_file(url)
        upgrade_to_head(url)
        with JournalReader(url) as reader:
            run = reader.latest_run()
            open_trades = reader.open_trades()
            closed = [t for t in reader.trades() if not t.is_open]
            equity = reader.equity(run_id=run.id) if run else []
    net = sum(float(t.net_pnl or 0) for t in closed)
    data = {
        "journal": url.split("@")[-1],
        "run": None if run is None else {"id": run.id, "mode": run.mode, "started": run.started_at.isoformat(),
                                         "stopped": run.stopped_at.isoformat() if run.stopped_at else None,
                                         "exit_reason": run.exit_reason},
        "risk_state": risk_state,
        "halt_file": str(files.halt) if files.halt.exists() else None,
        "equity": float(equity[-1].equity) if equity else None,
        "closed_trades": len(closed),
        "net_pnl": net,
        "open": [{"symbol": t.symbol, "side": t.side, "quantity": float(t.quantity),
                  "entry": float(t.entry_price), "stop": float(t.current_stop) if t.current_stop else None,
                  "take_profit": float(t.take_profit_price) if t.take_profit_price else None,
                  "strategy": t.strategy} for t in open_trades],
    }
    if as_json:
        print_json(data)
        return
    if run is None:
        console.print("no run in this journal yet")
    else:
        state = "running" if run.stopped_at is None else f"stopped ({run.exit_reason})"
        console.print(f"run {run.id[:8]} mode={run.mode} started {run.started_at:%Y-%m-%d %H:%M}Z {state}")
    state_name = risk_state.get("state", "active")
    console.print(f"risk state: {state_name}" + ("  [red]HALT file present[/]" if data["halt_file"] else ""))
    if data["equity"] is not None:
        console.print(f"equity: {data['equity']:.2f} USDT; closed trades: {len(closed)}, net P&L {net:.2f}")
    table = Table(title="open positions")
    for col in ("symbol", "side", "qty", "entry", "stop", "take-profit", "strategy"):
        table.add_column(col)
    for row in data["open"]:
        table.add_row(row["symbol"], row["side"], f"{row['quantity']:g}", f"{row['entry']:g}",
                      f"{row['stop']:g}" if row["stop"] else "[red]NONE[/]",
                      f"{row['take_profit']:g}" if row["take_profit"] else "-", row["strategy"])
    console.print(table)


def run(
    mode: Annotated[Mode | None, typer.Option("--mode", help="paper (default), testnet or live.")] = None,
    config: ConfigOption = None,
    journal: JournalOption = None,
    exchange_url: Annotated[str | None, typer.Option("--exchange-url", help="Point the exchange client at this URL "
                                                     "(e.g. our emulator).")] = None,
    max_cycles: Annotated[int | None, typer.Option(
        "--max-cycles", min=1, help="Stop after this many cycle attempts (a cycle skipped while the venue is "
        "unreachable counts).")] = None,
    duration: Annotated[float | None, typer.Option("--duration", help="Stop after this many seconds (> 0).")] = None,
    cycle_seconds: Annotated[float | None, typer.Option(
        "--cycle-seconds", help="Override engine.cycle_seconds (> 0, <= 3600).")] = None,
    accept_live_risk: Annotated[bool, typer.Option("--i-accept-live-risk",
                                                   help="Required, with live.enabled = true, for live mode.")] = False,
) -> None:
    """Run the bot: feed -> strategies -> risk -> executor -> journal, until stopped."""
    from bot.runner import build_and_run

    overrides = nested_overrides(**{"mode": mode.value if mode else None, "journal.url": journal,
                                    "exchange.base_url": exchange_url, "engine.cycle_seconds": cycle_seconds})
    settings = settings_from_cli(config, overrides, flags=_RUN_FLAGS)
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        fail(f"--duration must be a finite number of seconds > 0, got {duration}", EXIT_CONFIG)
    if settings.mode is Mode.LIVE:
        if not settings.live.enabled:
            fail("live mode needs live.enabled = true in the config AND --i-accept-live-risk", EXIT_CONFIG)
        if not accept_live_risk:
            fail("live mode needs --i-accept-live-risk on the command line (and live.enabled = true)", EXIT_CONFIG)
    if settings.mode is not Mode.PAPER and (settings.exchange.api_key is None or settings.exchange.api_secret is None):
        fail(f"{settings.mode.value} mode needs DERIVBOT_EXCHANGE__API_KEY and DERIVBOT_EXCHANGE__API_SECRET "
             "(environment or .env)", EXIT_CONFIG)
    strategies = load_strategies(settings)
    with clean_errors(settings.journal.url):
        # cycle_seconds is in the settings now, validated like the config field
        reason = _run_with_signals(build_and_run(settings, strategies, max_cycles=max_cycles, duration_s=duration,
                                                 live_opt_in=accept_live_risk))
    console.print(f"stopped: {reason}; journal: {settings.journal.url.split('@')[-1]}")


#: ``run`` flags that override a settings field (their errors name both).
_RUN_FLAGS = {"engine.cycle_seconds": "--cycle-seconds", "exchange.base_url": "--exchange-url",
              "journal.url": "--journal"}


def _run_with_signals(coro: Any) -> Any:
    """Run ``coro``; SIGINT/SIGTERM ask the engine to stop (no new cycle, stops stay on).

    Before the engine exists (journal opening, markets loading) a signal cancels the assembly
    instead, and the signal's name is returned as the stop reason.
    """
    async def main() -> Any:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(coro)
        from bot import runner

        cancelled_by: list[str] = []

        def request(reason: str) -> None:
            if runner.CURRENT_ENGINE is not None:
                runner.CURRENT_ENGINE.request_stop(reason)
            else:
                cancelled_by.append(reason)
                task.cancel()
        for sig, name in ((signal.SIGINT, "sigint"), (signal.SIGTERM, "sigterm")):
            loop.add_signal_handler(sig, request, name)
        try:
            return await task
        except asyncio.CancelledError:
            if cancelled_by:
                return cancelled_by[0]
            raise

    return asyncio.run(main())


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("backtest")(backtest)
    app.command("status")(status)
