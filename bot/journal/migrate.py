"""Schema migrations, run from code: the bot upgrades its journal at start, and
``derivbot journal migrate`` does it by hand. No ``alembic.ini`` is needed in the working
directory; the scripts ship inside the package (``bot/journal/migrations``)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from bot.journal.db import create_journal_engine, normalise_url
from bot.journal.errors import JournalError, JournalVersionError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` pointing at the packaged scripts (and at ``url`` if given)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration scripts found in {MIGRATIONS_DIR}")
    return head


def known_revisions() -> list[str]:
    """Every revision this code ships, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def check_known_revision(bind: Engine | sa.Connection) -> None:
    """Refuse a journal whose schema revision this code does not know.

    A newer derivbot may have added columns, constraints or meanings the code here would write
    around (or Alembic would fail on half-way, with "Can't locate revision"). Only reads: call it
    before anything is written. An empty database (no revision yet) passes."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            check_known_revision(conn)
        return
    heads = MigrationContext.configure(bind).get_current_heads()
    known = known_revisions()
    unknown = sorted(h for h in heads if h not in known)
    if unknown:
        from bot import __version__

        where = bind.engine.url.render_as_string(hide_password=True)
        raise JournalVersionError(
            f"the journal {where} is at schema revision {', '.join(unknown)}, which this derivbot "
            f"({__version__}) does not know: it knows revisions {known[0]}..{known[-1]}, so a newer derivbot "
            "wrote this journal. Upgrade derivbot to the version that wrote it (or later); nothing was "
            "written, and the journal must not be downgraded by hand"
        )


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_to_head(url: str, engine: Engine | None = None) -> str:
    """Bring the journal at ``url`` to the newest schema (creating it if empty); returns the
    revision. Idempotent. For SQLite the parent directory of the file is created."""
    own_engine = engine is None
    engine = engine or create_journal_engine(url)
    try:
        cfg = alembic_config(url)
        try:
            with engine.begin() as conn:
                check_known_revision(conn)  # before Alembic writes anything
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except sa.exc.ProgrammingError as exc:
            if "permission denied" in str(exc.orig) or "must be owner" in str(exc.orig):
                # the bot's INSERT/SELECT role (bot.journal.roles) cannot change the schema
                raise JournalError(
                    f"the journal needs schema revision {head_revision()} and this database user may not "
                    "change the schema: run `derivbot journal migrate` as the database owner first"
                ) from exc
            raise
        return current_revision(engine) or ""
    finally:
        if own_engine:
            engine.dispose()
