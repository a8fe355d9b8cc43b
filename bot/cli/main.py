"""Entry point of the ``derivbot`` command (also ``python -m bot``)."""

from __future__ import annotations

import importlib
import sys

import typer

from bot import __version__
from bot.cli.common import report_error

app = typer.Typer(
    name="derivbot",
    help="Trade crypto perpetual futures on derivatives signals, with hard risk limits and a journal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: Command-group modules; each defines ``register(app)``. Add a line per new group.
_COMMAND_MODULES: tuple[str, ...] = (
    "bot.cli.config_cmd",
    "bot.cli.selfcheck",
    "bot.cli.emulator_cmd",
    "bot.cli.journal_cmd",
    "bot.cli.review_cmd",
    "bot.cli.risk_cmd",
    "bot.cli.run_cmd",
    "bot.cli.demo_cmd",
    "bot.cli.data_cmd",
    "bot.cli.download_cmd",
    "bot.cli.research_cmd",
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


for _module in _COMMAND_MODULES:
    importlib.import_module(_module).register(app)


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
        sys.exit(report_error(exc))
