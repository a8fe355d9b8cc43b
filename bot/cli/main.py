"""Entry point of the ``derivbot`` command (also ``python -m bot``).

Start-up is lazy: a command's module (and with it SQLAlchemy, pandas, ccxt, FastAPI or
matplotlib) is imported only when that command runs or shows its own ``--help``. ``derivbot
--help`` lists every command from :data:`COMMANDS` without importing any of them, so the listing
costs typer and nothing else; ``tests/foundation/test_cli_startup.py`` checks that the listing
stays identical to the one the imported commands would print.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

import typer
from typer._click.exceptions import UsageError  # typer >= 0.29 ships its own click as typer._click
from typer.core import TyperCommand, TyperGroup

from bot import __version__

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter


@dataclass(frozen=True)
class LazyCommand:
    """A top-level command known by name and one-line help, imported only when used.

    ``modules`` each define ``register(app)``; together they add ``name`` to ``app`` (the
    ``journal`` group needs the reporting module too, ``data`` needs the download module).
    """

    name: str
    modules: tuple[str, ...]
    help: str


#: Every top-level command, in the order ``derivbot --help`` lists them (plain commands, then
#: groups, as typer orders them). ``help`` is the first paragraph of the command's own help; a
#: test compares the lazy listing with the imported one, so a stale line fails there.
COMMANDS: tuple[LazyCommand, ...] = (
    LazyCommand("selfcheck", ("bot.cli.selfcheck",),
                "Validate config, ccxt, the journal schema and the configured journal; exit 1 if anything fails."),
    LazyCommand("exchange-sim", ("bot.cli.emulator_cmd",),
                "Serve a Binance USDⓈ-M compatible REST API over recorded market data (offline)."),
    LazyCommand("halt", ("bot.cli.risk_cmd",),
                "Kill switch: the running bot cancels entries, closes every position and stops trading."),
    LazyCommand("run", ("bot.cli.run_cmd",),
                "Run the bot: feed -> strategies -> risk -> executor -> journal, until stopped."),
    LazyCommand("backtest", ("bot.cli.run_cmd",),
                "Backtest with the live engine, a replay feed, a simulated clock and the paper exchange core."),
    LazyCommand("status", ("bot.cli.run_cmd",), "State, open positions with their stops, and P&L, from the journal."),
    LazyCommand("demo", ("bot.cli.demo_cmd",),
                "Replay a real squeeze through the local Binance emulator with the real ccxt client (offline)."),
    LazyCommand("init", ("bot.cli.init_cmd",),
                "Write a commented paper-mode config, .env.example and a docker-compose file to start from."),
    LazyCommand("health", ("bot.cli.health_cmd",),
                "Check that the running bot completes cycles (its /healthz); exit 0 healthy, 1 not."),
    LazyCommand("config", ("bot.cli.config_cmd",), "Validate and show the effective configuration."),
    LazyCommand("journal", ("bot.cli.journal_cmd", "bot.cli.review_cmd", "bot.cli.journal_admin_cmd"),
                "Journal database: schema migrations and reports."),
    LazyCommand("risk", ("bot.cli.risk_cmd",), "Show and reset the risk circuit breaker."),
    LazyCommand("data", ("bot.cli.data_cmd", "bot.cli.download_cmd"),
                "Market history: list what is on disk, import other formats."),
    LazyCommand("research", ("bot.cli.research_cmd",), "Measure strategy signals on recorded history."),
)

_BY_NAME: dict[str, LazyCommand] = {c.name: c for c in COMMANDS}


def load_command(spec: LazyCommand) -> Command:
    """Import ``spec``'s modules and build its click command (the same object eager registration
    would have produced: the modules register on a scratch app, typer builds it)."""
    scratch = typer.Typer()
    for module in spec.modules:
        importlib.import_module(module).register(scratch)
    command = typer.main.get_group(scratch).commands.get(spec.name)
    if command is None:
        raise RuntimeError(f"{', '.join(spec.modules)} registered no command {spec.name!r}")
    return command


class LazyGroup(TyperGroup):
    """The root group: commands registered on ``app`` directly (tests add some) are eager, the
    ones in :data:`COMMANDS` load on first use. While the group prints its own help it lists
    :data:`COMMANDS` from their stored help instead of importing them."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing_only = False

    def list_commands(self, ctx: Context) -> list[str]:
        eager = super().list_commands(ctx)
        return [*eager, *(c.name for c in COMMANDS if c.name not in eager)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        found = super().get_command(ctx, cmd_name)
        spec = _BY_NAME.get(cmd_name)
        if found is not None or spec is None:
            return found
        if self._listing_only:
            return TyperCommand(spec.name, help=spec.help)
        self.commands[cmd_name] = command = load_command(spec)
        return command

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        with self._listing():
            super().format_help(ctx, formatter)

    @contextmanager
    def _listing(self) -> Iterator[None]:
        self._listing_only = True
        try:
            yield
        finally:
            self._listing_only = False

    def resolve_command(self, ctx: Context, args: list[str]) -> tuple[str | None, Command | None, list[str]]:
        """As typer's, but "Did you mean" also suggests commands that are not imported yet."""
        try:
            return self._click_resolve_command(ctx, args)
        except UsageError as exc:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args and self.suggest_commands else []
            if matches:
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {', '.join(repr(m) for m in matches)}?"
            raise


app = typer.Typer(
    name="derivbot",
    cls=LazyGroup,
    help="Trade crypto perpetual futures on derivatives signals, with hard risk limits and a journal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"derivbot {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """derivbot command line."""


def run() -> None:
    """Console-script entry: run the app, mapping a Ctrl-C to exit code 130.

    The one place an uncaught exception of any command ends up: it is printed as one redacted
    line with a hint and exit code 1 (2 for a configuration error), never as a traceback, which
    could carry a signed URL or a password (``DERIVBOT_DEBUG=1`` shows it, redacted).
    """
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        from bot.cli.common import report_error  # imported on failure only: it loads the config model

        sys.exit(report_error(exc))
