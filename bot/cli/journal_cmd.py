"""``derivbot journal ...``: journal maintenance. Reporting commands (summary, trades, ...) are
added to the same ``journal_app`` group by ``bot.cli`` reporting modules."""

from __future__ import annotations

import typer
from sqlalchemy.engine import make_url

from bot.cli.common import ConfigOption, JournalOption, console, fail, nested_overrides, settings_from_cli

journal_app = typer.Typer(help="Journal database: schema migrations and reports.", no_args_is_help=True)


def display_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("://", 1)[0] + "://..."


@journal_app.command("migrate")
def migrate(journal: JournalOption = None, config: ConfigOption = None) -> None:
    """Create the journal or upgrade it to the newest schema (safe to run repeatedly)."""
    settings = settings_from_cli(config, nested_overrides(**{"journal.url": journal}))
    url = settings.journal.url
    from sqlalchemy.exc import SQLAlchemyError

    from bot.journal.errors import JournalError
    from bot.journal.migrate import head_revision, upgrade_to_head

    try:
        revision = upgrade_to_head(url)
    except (JournalError, SQLAlchemyError, OSError) as exc:
        message = f"journal migration failed for {display_url(url)}: {type(exc).__name__}: {exc}"
        password = _password(url)
        fail(message.replace(password, "***") if password else message)
    status = "up to date" if revision == head_revision() else "behind head"
    # one line however narrow the terminal: the URL and revision are copied into other commands
    console.print(f"[green]ok[/]: journal {display_url(url)} at revision {revision} ({status})", soft_wrap=True)


def _password(url: str) -> str | None:
    try:
        return make_url(url).password or None
    except Exception:
        return None


def register(app: typer.Typer) -> None:
    app.add_typer(journal_app, name="journal")
