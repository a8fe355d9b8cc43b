"""``derivbot journal summary|trades|trade|signals|decisions|events|export|plot|report|serve``.

Reporting commands on the ``journal`` group owned by :mod:`bot.cli.journal_cmd`. Every command
opens the journal read-only (:mod:`bot.review.db`), prints rich tables or ``--json``.

Journal text (reasons, messages, symbols, strategy names, JSON data) is data: it reaches the
terminal only inside :class:`rich.text.Text` objects, never as Rich markup, so ``[/oops]`` cannot
crash a command and ``[link=...]`` cannot become a hyperlink. Files are written only through
:mod:`bot.review.outfile` (never over the journal, existing files only with ``--force``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from bot.cli.common import ConfigOption, JournalOption, JsonOption, console, fail, nested_overrides, print_json
from bot.cli.journal_cmd import display_url, journal_app

RunOpt = Annotated[str | None, typer.Option("--run", help="Only this run id.")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Only from this UTC date/time (ISO, e.g. 2024-05-01).")]
ModeOpt = Annotated[str | None, typer.Option("--mode", help="Only runs in this mode: paper, testnet or live.")]
StrategyOpt = Annotated[str | None, typer.Option("--strategy", help="Only this strategy.")]
SymbolOpt = Annotated[str | None, typer.Option("--symbol", help="Only this symbol (exchange id, e.g. ORCAUSDT).")]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, help="Show at most this many (newest) rows.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace the output if it exists (never the journal).")]

MODES = ("paper", "testnet", "live")


def parse_since(text: str | None) -> datetime | None:
    """``--since``: an ISO date or date-time, UTC without an offset; exit 2 when it is not one."""
    from bot.core.timeutil import parse_utc_datetime

    if text is None:
        return None
    try:
        return parse_utc_datetime(text)
    except ValueError:
        fail(f"--since {text!r} is not a date: use ISO format like 2024-05-01 or 2024-05-01T12:00", 2)


def say(*parts: str | tuple[str, str]) -> None:
    """Print one line from plain pieces and ``(text, style)`` pieces. Every piece is literal
    text (no markup, no ``:emoji:`` codes): journal data must never be interpreted."""
    console.print(Text.assemble(*parts))


def _cells(*values: str) -> list[Text]:
    """Table cells as literal text (a plain ``str`` cell would be parsed as Rich markup)."""
    return [Text(v) for v in values]


def _filter(run: str | None, since: str | None, mode: str | None, strategy: str | None = None,
            symbol: str | None = None) -> Any:
    from bot.review.queries import ReviewFilter

    if mode is not None and mode not in MODES:
        fail(f"--mode {mode!r} is not one of {', '.join(MODES)}", 2)
    return ReviewFilter(run_id=run, since=parse_since(since), mode=mode, strategy=strategy, symbol=symbol)


def resolve_url(journal: str | None, config: Path | None) -> str:
    """``--journal`` wins; otherwise the configured ``journal.url``."""
    if journal:
        return journal
    from bot.cli.common import settings_from_cli

    return settings_from_cli(config, nested_overrides(), configure_logging=False).journal.url


@contextmanager
def readonly_engine(journal: str | None, config: Path | None) -> Iterator[Any]:
    """Open the journal read-only; journal errors become a clean message and exit code 1."""
    from bot.journal.errors import JournalError
    from bot.review.db import open_readonly

    url = resolve_url(journal, config)
    try:
        engine = open_readonly(url)
    except JournalError as exc:
        fail(f"{display_url(url)}: {exc}")
    try:
        yield engine
    except JournalError as exc:
        fail(str(exc))
    finally:
        engine.dispose()


# -- summary ------------------------------------------------------------------------------------

@journal_app.command("summary")
def summary_cmd(journal: JournalOption = None, config: ConfigOption = None, run: RunOpt = None,
                since: SinceOpt = None, mode: ModeOpt = None, strategy: StrategyOpt = None,
                as_json: JsonOption = False) -> None:
    """Totals, per strategy and per symbol: win rate, net P&L, fees, funding, profit factor,
    Sharpe/Sortino (daily equity, 365 d/y), drawdown, Calmar, time in market, execution quality."""
    from bot.review import service
    from bot.review.summary import to_jsonable

    flt = _filter(run, since, mode, strategy)
    with readonly_engine(journal, config) as engine:
        data = service.summary(engine, flt)
    if as_json:
        print_json(to_jsonable(data))
        return
    render_summary(data)


def render_summary(data: dict[str, Any]) -> None:
    from bot.review.formatting import STAT_FIELDS, fmt

    period = data["period"]
    say(("journal summary", "bold"), f" {fmt(period['start'])} -> {fmt(period['end'])} "
        f"({period['equity_days']} equity days)" + (f"  filters: {data['filters']}" if data["filters"] else ""))
    rows = [("TOTAL", data["total"])]
    rows += [(k, v) for k, v in data["by_strategy"].items()]
    rows += [(k, v) for k, v in data["by_symbol"].items()]
    # narrow tables of six statistics fit an 80-column terminal; returns are daily, 365 d/y
    for start in range(0, len(STAT_FIELDS), 6):
        fields = STAT_FIELDS[start:start + 6]
        table = Table()
        table.add_column("group", no_wrap=True)
        for _, label, _ in fields:
            table.add_column(label, justify="right")
        n_strat = len(data["by_strategy"])
        for i, (name, stats) in enumerate(rows):
            table.add_row(*_cells(str(name), *(fmt(stats.get(key), kind) for key, _, kind in fields)),
                          end_section=i in (0, n_strat))
        console.print(table)
    execution = data["execution"]
    if execution["by_mode"]:
        ex = Table(title="execution (slippage > 0 is a cost)")
        for col in ("mode", "fills", "slippage bps mean", "median", "latency ms mean", "median"):
            ex.add_column(col, justify="right")
        for mode_name, s in execution["by_mode"].items():
            ex.add_row(*_cells(str(mode_name), fmt(s["fills"], "int"), fmt(s["slippage_bps_mean"], "ratio"),
                               fmt(s["slippage_bps_median"], "ratio"), fmt(s["latency_ms_mean"], "ratio"),
                               fmt(s["latency_ms_median"], "ratio")))
        console.print(ex)
        diff = execution["live_minus_paper"]
        if diff:
            say(f"{diff['compared']}: slippage {fmt(diff['slippage_bps_mean'], 'ratio')} bps, "
                f"latency {fmt(diff['latency_ms_mean'], 'ratio')} ms")


# -- listings -----------------------------------------------------------------------------------

def _print_frame(df: Any, columns: list[str], title: str, id_columns: tuple[str, ...] = ()) -> None:
    from bot.review.formatting import fmt, short_id

    table = Table(title=f"{title} ({len(df)})")
    for col in columns:
        table.add_column(col)
    for row in df.to_dict("records"):
        table.add_row(*_cells(*(short_id(row.get(c)) if c in id_columns else fmt(row.get(c)) for c in columns)))
    console.print(table)


def _json_rows(df: Any) -> list[dict[str, Any]]:
    from bot.review.service import _plain

    return [_plain(r) for r in df.to_dict("records")]


@journal_app.command("trades")
def trades_cmd(journal: JournalOption = None, config: ConfigOption = None, run: RunOpt = None,
               since: SinceOpt = None, mode: ModeOpt = None, strategy: StrategyOpt = None,
               symbol: SymbolOpt = None,
               status: Annotated[str | None, typer.Option("--status", help="open or closed.")] = None,
               limit: LimitOpt = 100, as_json: JsonOption = False) -> None:
    """List trades with entry, exit, reason and net P&L (after fees and funding)."""
    from bot.review import service

    if status not in (None, "open", "closed"):
        fail(f"--status {status!r} must be open or closed", 2)
    flt = _filter(run, since, mode, strategy, symbol)
    with readonly_engine(journal, config) as engine:
        df = service.table(engine, "trades", flt)
    df = df[df["exit_ts"].isna()] if status == "open" else df[df["exit_ts"].notna()] if status else df
    df = df.tail(limit)
    if as_json:
        print_json(_json_rows(df))
        return
    _print_frame(df, ["trade_id", "strategy", "symbol", "side", "entry_ts", "entry_price", "exit_ts",
                      "exit_price", "exit_reason", "net_pnl"],
                 "trades", ("trade_id",))


@journal_app.command("signals")
def signals_cmd(journal: JournalOption = None, config: ConfigOption = None, run: RunOpt = None,
                since: SinceOpt = None, mode: ModeOpt = None, strategy: StrategyOpt = None,
                symbol: SymbolOpt = None, limit: LimitOpt = 100, as_json: JsonOption = False) -> None:
    """Strategy signals with their strength and reasons."""
    from bot.review import service

    with readonly_engine(journal, config) as engine:
        df = service.table(engine, "signals", _filter(run, since, mode, strategy, symbol), limit=limit)
    if as_json:
        print_json(_json_rows(df))
        return
    _print_frame(df, ["signal_id", "ts", "strategy", "symbol", "kind", "side", "strength", "reasons"],
                 "signals", ("signal_id",))


@journal_app.command("decisions")
def decisions_cmd(journal: JournalOption = None, config: ConfigOption = None, run: RunOpt = None,
                  since: SinceOpt = None, mode: ModeOpt = None, strategy: StrategyOpt = None,
                  symbol: SymbolOpt = None,
                  verdict: Annotated[str | None, typer.Option(
                      "--verdict", help="approved, resized or rejected.")] = None,
                  limit: LimitOpt = 100, as_json: JsonOption = False) -> None:
    """Risk decisions, including rejections with their reason code and numbers."""
    from bot.review import service

    if verdict not in (None, "approved", "resized", "rejected"):
        fail(f"--verdict {verdict!r} must be approved, resized or rejected", 2)
    with readonly_engine(journal, config) as engine:
        df = service.table(engine, "decisions", _filter(run, since, mode, strategy, symbol), limit=limit,
                           verdict=verdict)
    if as_json:
        print_json(_json_rows(df))
        return
    _print_frame(df, ["decision_id", "ts", "strategy", "symbol", "verdict", "reason_code", "numbers"],
                 "risk decisions", ("decision_id",))


@journal_app.command("events")
def events_cmd(journal: JournalOption = None, config: ConfigOption = None, run: RunOpt = None,
               since: SinceOpt = None, mode: ModeOpt = None,
               kind: Annotated[str | None, typer.Option("--kind", help="Only this event kind.")] = None,
               severity: Annotated[str | None, typer.Option("--severity", help="Only this severity.")] = None,
               limit: LimitOpt = 100, as_json: JsonOption = False) -> None:
    """Operational events: errors, reconciliations, halts, risk-state changes."""
    from bot.review import service

    with readonly_engine(journal, config) as engine:
        df = service.table(engine, "events", _filter(run, since, mode), limit=limit, kind=kind,
                           severity=severity)
    if as_json:
        print_json(_json_rows(df))
        return
    _print_frame(df, ["ts", "severity", "kind", "message", "data"], "events")


# -- one trade ----------------------------------------------------------------------------------

@journal_app.command("trade")
def trade_cmd(trade_id: Annotated[str, typer.Argument(help="Trade id or its first characters.")],
              journal: JournalOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """The whole story of one trade: snapshot and reasons, risk decision, orders and fills,
    funding, stop moves, exit."""
    from bot.review import service

    with readonly_engine(journal, config) as engine:
        story = service.trade_story(engine, trade_id)
    if as_json:
        print_json(story)
        return
    render_story(story)


def render_story(story: dict[str, Any]) -> None:
    """Print the trade's story line by line; every journal value is printed as literal text."""
    from bot.review.formatting import fmt

    t = story["trade"]
    say(("trade " + str(t["trade_id"]), "bold"), f" {t['strategy']} {t['side']} {t['symbol']} "
        f"({story['run']['mode']} run {str(t['run_id'])[:8]})")
    snap = story["snapshot"]
    if snap is not None:
        fields = ("last_price", "mark_price", "funding_rate", "open_interest", "oi_change_1h", "price_change_1h")
        say(("snapshot", "bold"), f" {fmt(snap['ts'])}: "
            + ", ".join(f"{k}={fmt(snap.get(k))}" for k in fields if snap.get(k) is not None))
    sig = story["signal"]
    if sig is not None:
        say(("signal", "bold"), f" {fmt(sig['ts'])} {sig['kind']} strength={fmt(sig['strength'])}")
        for name, why in (sig.get("reasons") or {}).items():
            say(f"   reason {name}: {fmt(why)}")
    dec = story["decision"]
    if dec is not None:
        say(("risk", "bold"), f" {fmt(dec['ts'])} {dec['verdict']} ({dec['reason_code']}) {fmt(dec['numbers'])}")
    say(("entry", "bold"), f" {fmt(t['entry_ts'])} price={fmt(t['entry_price'])} qty={fmt(t['quantity'])} "
        f"lev={fmt(t['leverage'])} stop={fmt(t['stop_price'])} tp={fmt(t['take_profit_price'])} "
        f"liq={fmt(t['liquidation_price'])}")
    for o in story["orders"]:
        _render_order(o)
    for p in story["funding"]:
        say(("funding", "bold"), f" {fmt(p['ts'])} rate={fmt(p['rate'])} amount={fmt(p['amount'])}")
    for s in story["stop_moves"]:
        say(("stop", "bold"), f" {fmt(s['ts'])} {fmt(s['old_stop'])} -> {fmt(s['new_stop'])} ({s['reason']})")
    if t["exit_ts"] is None:
        say(("exit", "bold"), " still open")
    else:
        say(("exit", "bold"), f" {fmt(t['exit_ts'])} {t['exit_reason']} price={fmt(t['exit_price'])} "
            f"realised={fmt(t['realised_pnl'])} fees={fmt(t['fees'])} funding={fmt(t['funding'])} ",
            (f"net={fmt(t['net_pnl'])}", "bold"),
            f" (corrected {story['exit_rows'] - 1}x)" if story["exit_rows"] > 1 else "")


def _render_order(o: dict[str, Any]) -> None:
    """One order of a trade story with its status history and fills."""
    from bot.review.formatting import fmt

    say(("order", "bold"), f" {fmt(o['ts'])} {o['purpose'] or ''} {o['type']} {o['side']} "
        f"qty={fmt(o['quantity'])} price={fmt(o['price'])} trigger={fmt(o['trigger_price'])} "
        f"-> {o['status'] or '?'}")
    for h in o["history"]:
        say(f"   status {fmt(h['ts'])} {h['status']} filled={fmt(h['filled_qty'])}")
    for f in o["fills"]:
        say(f"   fill {fmt(f['ts'])} {fmt(f['quantity'])} @ {fmt(f['price'])} fee={fmt(f['fee'])} "
            f"requested={fmt(f['requested_price'])} latency={fmt(f['latency_ms'])}ms")


# -- export, pictures, dashboard ----------------------------------------------------------------

def _policy(url: str, out: Path, force: bool) -> Any:
    """The output rules for ``out`` with the journal at ``url`` protected; checked now, before
    the journal is read, so a refused ``--out`` costs nothing and exits 2."""
    from bot.review.outfile import OutputPolicy

    policy = OutputPolicy.for_journal(url, force=force)
    with _writing(out):
        policy.check(out)
    return policy


@contextmanager
def _writing(out: Path) -> Iterator[None]:
    """A refused target is a usage error (exit 2, the message says what to do); a failed
    write is a runtime error (exit 1)."""
    from bot.review.outfile import OutputRefused

    try:
        yield
    except OutputRefused as exc:
        fail(str(exc), 2)
    except OSError as exc:
        fail(f"cannot write {out}: {exc}")


def _ok(message: str) -> None:
    say(("ok", "green"), f": {message}")


@journal_app.command("export")
def export_cmd(
    fmt_: Annotated[str, typer.Option("--format", help="csv or parquet.")],
    what: Annotated[str, typer.Option("--what", help="trades|orders|fills|funding|equity|signals")],
    out: Annotated[Path, typer.Option("--out", help="Output file (never the journal itself).")],
    journal: JournalOption = None, config: ConfigOption = None, run: RunOpt = None, since: SinceOpt = None,
    mode: ModeOpt = None, strategy: StrategyOpt = None, force: ForceOpt = False,
) -> None:
    """Write one kind of journal row to CSV or Parquet with exact decimal values (atomically;
    an existing file only with --force)."""
    from bot.review.export import EXPORT_FORMATS, EXPORT_TABLES, export_table

    if fmt_ not in EXPORT_FORMATS:
        fail(f"--format {fmt_!r} must be one of {', '.join(EXPORT_FORMATS)}", 2)
    if what not in EXPORT_TABLES:
        fail(f"--what {what!r} must be one of {', '.join(EXPORT_TABLES)}", 2)
    flt = _filter(run, since, mode, strategy)
    url = resolve_url(journal, config)
    policy = _policy(url, out, force)
    with readonly_engine(url, None) as engine, _writing(out):
        rows = export_table(engine, what, fmt_, out, flt, policy=policy)
    _ok(f"{rows} {what} rows -> {out}")


@journal_app.command("plot")
def plot_cmd(out: Annotated[Path, typer.Option("--out", help="Directory for the PNG files.")],
             journal: JournalOption = None, config: ConfigOption = None, run: RunOpt = None,
             since: SinceOpt = None, mode: ModeOpt = None, strategy: StrategyOpt = None,
             max_trades: Annotated[int, typer.Option("--max-trades", min=0,
                                                     help="Chart at most this many (newest) trades.")] = 50,
             force: ForceOpt = False) -> None:
    """Equity with drawdown, P&L by strategy and symbol, and one chart per trade (PNG; existing
    PNG files are replaced only with --force)."""
    from bot.review.outfile import OutputPolicy
    from bot.review.plots import write_plots

    flt = _filter(run, since, mode, strategy)
    url = resolve_url(journal, config)
    policy = OutputPolicy.for_journal(url, force=force)
    with readonly_engine(url, None) as engine, _writing(out):
        paths = write_plots(engine, out, flt, max_trades=max_trades, policy=policy)
    _ok(f"{len(paths)} charts in {out}")


@journal_app.command("report")
def report_cmd(out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
               journal: JournalOption = None, config: ConfigOption = None, run: RunOpt = None,
               since: SinceOpt = None, mode: ModeOpt = None, strategy: StrategyOpt = None,
               max_trades: Annotated[int, typer.Option("--max-trades", min=0,
                                                       help="Chart at most this many (newest) trades.")] = 20,
               force: ForceOpt = False) -> None:
    """One self-contained HTML file (charts embedded) with the summary and the charts."""
    from bot.review.report import write_report

    flt = _filter(run, since, mode, strategy)
    url = resolve_url(journal, config)
    policy = _policy(url, out, force)
    with readonly_engine(url, None) as engine, _writing(out):
        write_report(engine, out, flt, max_trades=max_trades, policy=policy)
    _ok(f"report -> {out}")


@journal_app.command("serve")
def serve_cmd(journal: JournalOption = None, config: ConfigOption = None,
              host: Annotated[str, typer.Option("--host", help="Interface to bind; keep 127.0.0.1 "
                                                "unless behind an authenticating proxy.")] = "127.0.0.1",
              port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8050,
              allow_host: Annotated[list[str] | None, typer.Option(
                  "--allow-host", help="Another Host header name to accept (e.g. the proxy's name); "
                  "repeatable. Loopback names and --host are always accepted.")] = None) -> None:
    """Read-only web dashboard: summary, equity chart, filterable trades, trade stories.

    Requests whose Host header is not a name of this server get 400, so a web page cannot read
    the journal through DNS rebinding."""
    import uvicorn

    from bot.journal.errors import JournalError
    from bot.review.dashboard import allowed_hosts, create_app

    url = resolve_url(journal, config)
    try:
        app = create_app(url, host=host, extra_hosts=allow_host or ())
    except JournalError as exc:
        fail(f"{display_url(url)}: {exc}")
    except ValueError as exc:
        fail(str(exc), 2)
    if host not in ("127.0.0.1", "localhost", "::1"):
        say(("warning", "yellow"), f": serving on {host}: anyone who can reach it sees the journal")
    shown = f"[{host}]" if ":" in host else host
    say(f"dashboard on http://{shown}:{port}/ (read-only, Ctrl-C to stop; "
        f"accepted Host names: {', '.join(allowed_hosts(host, allow_host or ()))})")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Commands attach to ``journal_app``, which :mod:`bot.cli.journal_cmd` registers on ``app``."""
    del app
