"""``derivbot journal backup`` / ``restore``: a consistent copy of a journal, taken while the bot runs.

* SQLite: the online backup API (``sqlite3.Connection.backup``) copies a consistent snapshot page
  by page while the writer goes on (WAL readers never block it). The copy is written next to the
  target under a temporary name and renamed when complete, so a crash never leaves half a backup
  under the final name; it is switched to a rollback journal so the backup is one self-contained
  file, and its ``integrity_check`` must pass.
* PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot as well) and ``pg_restore``; the
  password goes through ``PGPASSWORD``, never the command line (visible to every local user).

Restore never overwrites a journal silently (``force``), and what it restores is then verified by
``derivbot journal verify`` like any journal.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.journal.db import normalise_url, sqlite_path
from bot.journal.errors import JournalError


def backup(url: str, out: Path, *, force: bool = False) -> Path:
    """Copy the journal at ``url`` to ``out`` (a SQLite file or a ``pg_dump`` custom archive)."""
    _refuse_existing(out, force, "backup file")
    out.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite_path(url)
    if source is not None:
        if not source.is_file():
            raise JournalError(f"journal file {source} does not exist")
        _sqlite_copy(source, out, wal=False)
    else:
        _run_pg_tool("pg_dump", url, ["--format=custom", "--no-owner", "--file", str(out)])
    return out


def restore(src: Path, url: str, *, force: bool = False) -> None:
    """Make the journal at ``url`` a copy of the backup ``src``. The bot must be stopped."""
    if not src.is_file():
        raise JournalError(f"backup file {src} does not exist")
    target = sqlite_path(url)
    if target is not None:
        _refuse_existing(target, force, "journal")
        _sqlite_copy(src, target, wal=True)
        return
    args = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    if force:
        args += ["--clean", "--if-exists"]
    _run_pg_tool("pg_restore", url, [*args, str(src)], dbname_flag=True)


def _refuse_existing(path: Path, force: bool, what: str) -> None:
    if path.exists() and not force:
        raise JournalError(f"{what} {path} exists; pass --force to replace it")


def _sqlite_copy(source: Path, target: Path, *, wal: bool) -> None:
    tmp = target.with_name(f".{target.name}.partial")
    tmp.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(source, timeout=30)  # only read: the backup API never writes its source
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL" if wal else "PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise JournalError(f"the copy of {source} failed its integrity check: {check}")
        finally:
            dst.close()
    finally:
        src.close()
    for suffix in ("-wal", "-shm"):  # a replaced journal's own WAL must not be replayed onto the copy
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    tmp.replace(target)


def _run_pg_tool(tool: str, url: str, args: list[str], *, dbname_flag: bool = False) -> None:
    exe = shutil.which(tool)
    if exe is None:
        raise JournalError(f"{tool} not found: install the PostgreSQL client tools (same major version "
                           "as the server)")
    parsed = make_url(normalise_url(url))
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    dsn = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    command = [exe, *args[:-1], "--dbname", dsn, args[-1]] if dbname_flag else [exe, *args, dsn]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        raise JournalError(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
