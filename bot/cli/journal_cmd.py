"""``derivbot journal ...``: journal maintenance. Reporting commands (summary, trades, ...) are
added to the same ``journal_app`` group by ``bot.cli`` reporting modules."""

from __future__ import annotations

from typing import Annotated

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


WriterRoleOpt = Annotated[str, typer.Option("--writer-role", help="PostgreSQL role of the bot (SELECT, INSERT).")]
ReaderRoleOpt = Annotated[str, typer.Option("--reader-role", help="PostgreSQL role of serve/reports (SELECT).")]
RolesOpt = Annotated[bool, typer.Option("--roles/--no-roles", help="PostgreSQL: create/grant the two roles.")]


@journal_app.command("migrate")
def migrate(journal: JournalOption = None, config: ConfigOption = None, roles: RolesOpt = True,
            writer_role: WriterRoleOpt = "derivbot_writer", reader_role: ReaderRoleOpt = "derivbot_reader") -> None:
    """Create the journal or upgrade it to the newest schema (safe to run repeatedly).

    On PostgreSQL (run as the database owner) it also creates the bot's INSERT/SELECT role and the
    SELECT-only role of ``journal serve`` and sets their grants; passwords are taken from the
    JOURNAL_WRITER_PASSWORD and JOURNAL_READER_PASSWORD environment variables when set."""
    settings = settings_from_cli(config, nested_overrides(**{"journal.url": journal}))
    url = settings.journal.url
    from sqlalchemy.exc import SQLAlchemyError

    from bot.journal.errors import JournalError
    from bot.journal.migrate import head_revision, upgrade_to_head

    try:
        revision = upgrade_to_head(url)
        granted = _setup_roles(url, writer_role, reader_role) if roles else None
    except (JournalError, SQLAlchemyError, OSError) as exc:
        message = f"journal migration failed for {display_url(url)}: {type(exc).__name__}: {exc}"
        password = _password(url)
        fail(message.replace(password, "***") if password else message)
    status = "up to date" if revision == head_revision() else "behind head"
    # one line however narrow the terminal: the URL and revision are copied into other commands
    console.print(f"[green]ok[/]: journal {display_url(url)} at revision {revision} ({status})", soft_wrap=True)
    if granted:
        console.print(f"roles: {granted}", soft_wrap=True, markup=False)


def _setup_roles(url: str, writer: str, reader: str) -> str | None:
    """PostgreSQL only: the writer and reader roles (see :mod:`bot.journal.roles`)."""
    import os

    from bot.journal.db import create_journal_engine
    from bot.journal.roles import READER_PASSWORD_ENV, WRITER_PASSWORD_ENV, setup_roles
    from bot.logging import register_secrets

    passwords = {"writer": os.environ.get(WRITER_PASSWORD_ENV), "reader": os.environ.get(READER_PASSWORD_ENV)}
    # ALTER ROLE ... PASSWORD carries them in its SQL text, which a database error repeats: redacted everywhere
    register_secrets(*passwords.values())
    engine = create_journal_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            return None
        setup_roles(engine, writer=writer, reader=reader, writer_password=passwords["writer"],
                    reader_password=passwords["reader"])
    finally:
        engine.dispose()
    return f"{writer} (SELECT, INSERT), {reader} (SELECT)"


def _password(url: str) -> str | None:
    try:
        return make_url(url).password or None
    except Exception:
        return None


def register(app: typer.Typer) -> None:
    app.add_typer(journal_app, name="journal")
