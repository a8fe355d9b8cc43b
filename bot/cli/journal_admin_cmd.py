"""``derivbot journal verify|backup|restore``: the journal as a system of record.

Registered on the ``journal`` group of :mod:`bot.cli.journal_cmd`. Verify opens the journal
read-only (a SELECT-only PostgreSQL role is enough) and backup takes a consistent snapshot, so
both can run next to the bot; restore wants the bot stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from bot.cli.common import ConfigOption, JournalOption, JsonOption, console, print_json
from bot.cli.journal_cmd import journal_app

if TYPE_CHECKING:  # imported lazily at run time: `derivbot --help` must not load SQLAlchemy
    from sqlalchemy.engine import Engine

    from bot.journal.verify import TableChain


@journal_app.command("verify")
def verify_cmd(journal: JournalOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Check every table's hash chain and append-only triggers; exit 1 on any edit, gap or deletion."""
    from bot.cli.review_cmd import readonly_engine
    from bot.journal.verify import verify_journal

    with readonly_engine(journal, config) as engine:
        _require_chain(engine)
        report = verify_journal(engine)
    if as_json:
        print_json({"ok": report.ok, "tables": [asdict(t) for t in report.tables],
                    "findings": [asdict(f) for f in report.findings]})
    else:
        for t in report.tables:
            console.print(Text(_describe_table(t)))
        for f in report.findings:
            where = f" row {f.row_id}" if f.row_id else ""
            seq = f" (chain_seq {f.seq})" if f.seq is not None else ""
            console.print(Text.assemble((f.kind.upper(), "bold red"), f" {f.table}{where}{seq}: {f.detail}"))
        if report.ok:
            console.print(Text.assemble(("ok", "green"), ": every chain holds"))
    if not report.ok:
        raise typer.Exit(1)


def _describe_table(t: TableChain) -> str:
    if t.head_seq == 0:
        chain = "no chained rows"
    else:
        chain = f"chain holds from row {t.first_id} to chain_seq {t.head_seq} (head {t.head_hash[:16]})"
    before = f"; {t.unchained} rows without hash (written before revision 0005)" if t.unchained else ""
    return f"{t.table}: {t.rows} rows, {chain}{before}"


def _require_chain(engine: Engine) -> None:
    """A journal older than revision 0005 has nothing to verify yet: say how to get there."""
    import sqlalchemy as sa

    from bot.cli.common import fail
    from bot.journal.chain import HASH

    columns = {c["name"] for c in sa.inspect(engine).get_columns("runs")}
    if HASH not in columns:
        fail("this journal predates the hash chain (revision 0005): run `derivbot journal migrate` first")


OutOpt = Annotated[Path, typer.Option("--out", help="Backup file to write (SQLite file or pg_dump archive).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing file / journal.")]


@journal_app.command("backup")
def backup_cmd(out: OutOpt, journal: JournalOption = None, config: ConfigOption = None,
               force: ForceOpt = False) -> None:
    """Copy the journal to --out while the bot runs (SQLite online backup API; pg_dump for PostgreSQL)."""
    from bot.cli.journal_cmd import display_url
    from bot.cli.review_cmd import resolve_url
    from bot.journal.backup import backup

    url = resolve_url(journal, config)
    with _clean(url):
        backup(url, out, force=force)
    console.print(Text(f"ok: journal {display_url(url)} backed up to {out}"), soft_wrap=True)


@journal_app.command("restore")
def restore_cmd(backup_file: Annotated[Path, typer.Argument(help="A file made by `journal backup`.")],
                journal: JournalOption = None, config: ConfigOption = None, force: ForceOpt = False) -> None:
    """Make the journal a copy of a backup (stop the bot first); then run `journal verify`."""
    from bot.cli.journal_cmd import display_url
    from bot.cli.review_cmd import resolve_url
    from bot.journal.backup import restore

    url = resolve_url(journal, config)
    with _clean(url):
        restore(backup_file, url, force=force)
    console.print(Text(f"ok: journal {display_url(url)} restored from {backup_file}"), soft_wrap=True)


@contextmanager
def _clean(url: str) -> Iterator[None]:
    """Journal errors (file exists, tool missing, dump failed) are one line and exit status 1."""
    from bot.cli.common import fail
    from bot.journal.errors import JournalError
    from bot.logging import register_secrets, url_passwords

    register_secrets(*url_passwords(url))  # a tool's error may repeat the password bare, outside any URL
    try:
        yield
    except JournalError as exc:
        fail(str(exc))


def register(app: typer.Typer) -> None:
    """The commands above are on ``journal_app``; :mod:`bot.cli.journal_cmd` adds the group."""
    del app
