"""The one way review commands write files (``journal export``, ``plot``, ``report``).

Why a shared helper: an export once replaced the journal it was reading with CSV
(``--out X.sqlite --journal sqlite:///X.sqlite``). Every file written from journal data follows
the same three rules here:

* never over the journal being read (its database file and SQLite's ``-wal``/``-shm``/``-journal``
  side files), whatever spelling points at it: relative paths, ``./``, ``..``, symlinks, hard
  links, any SQLite URL form (paths are resolved and, for existing files, compared by inode);
  ``--force`` does not lift this;
* never over an existing file unless ``force`` (``--force``) is given;
* through a temporary file in the target's directory, flushed to disk and renamed into place
  (``os.replace``, atomic on POSIX), so a crash or a full disk mid-write leaves either the old
  file or the complete new one, never half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.journal.db import sqlite_path
from bot.journal.errors import JournalError

#: Files SQLite keeps next to a database; overwriting any of them corrupts the journal.
SQLITE_SIDE_SUFFIXES: tuple[str, ...] = ("", "-wal", "-shm", "-journal")


class OutputRefused(ValueError):
    """The target may not be written (it is the journal, or it exists and ``force`` is off).
    A usage error: the message names the path and what to do instead."""


def journal_files(url: str | None) -> tuple[Path, ...]:
    """Resolved paths of the SQLite journal behind ``url`` and its side files (empty for
    PostgreSQL, in-memory or unparseable URLs, which have no file an export could hit)."""
    if not url:
        return ()
    try:
        path = sqlite_path(url)
    except (JournalError, ValueError):
        return ()
    if path is None:
        return ()
    base = path.resolve()
    return tuple(Path(f"{base}{suffix}") for suffix in SQLITE_SIDE_SUFFIXES)


def _same_file(a: Path, b: Path) -> bool:
    """True when both exist and are the same file (hard links, case-insensitive file systems)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class OutputPolicy:
    """Where a review command may write: never ``protected`` files; existing files only with
    ``force``. Build it with :meth:`for_journal` so the journal being read is protected."""

    protected: tuple[Path, ...] = ()
    force: bool = False

    @classmethod
    def for_journal(cls, url: str | None, *, force: bool = False) -> OutputPolicy:
        return cls(protected=journal_files(url), force=force)

    def check(self, target: Path) -> Path:
        """The resolved ``target`` if writing it is allowed; :class:`OutputRefused` otherwise."""
        resolved = target.resolve()
        for protected in self.protected:
            if resolved == protected or _same_file(resolved, protected):
                raise OutputRefused(f"--out {target} is the journal being read ({protected}); "
                                    "choose another output file")
        if resolved.is_dir():
            raise OutputRefused(f"--out {target} is a directory; give a file name")
        if not self.force and (resolved.exists() or target.is_symlink()):
            raise OutputRefused(f"--out {target} already exists; pass --force to replace it "
                                "or choose another file")
        return resolved

    def write(self, target: Path, writer: Callable[[Path], None]) -> Path:
        """Check ``target``, let ``writer`` fill a temporary file beside it, then rename it into
        place. Returns ``target``. OSError from the writer propagates; the temp file is removed."""
        resolved = self.check(target)
        resolved.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=resolved.parent, prefix=f".{resolved.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            writer(tmp)
            _fsync(tmp)
            self._publish(tmp, resolved, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return target

    def write_bytes(self, target: Path, data: bytes) -> Path:
        return self.write(target, lambda tmp: tmp.write_bytes(data))

    def write_text(self, target: Path, text: str) -> Path:
        return self.write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def _publish(self, tmp: Path, resolved: Path, target: Path) -> None:
        """Rename into place. Without ``force`` a hard link is used instead, which fails if a
        file appeared since :meth:`check` (no race can turn a refusal into an overwrite)."""
        if self.force:
            os.replace(tmp, resolved)
            return
        try:
            os.link(tmp, resolved)
        except FileExistsError:
            raise OutputRefused(f"--out {target} already exists; pass --force to replace it "
                                "or choose another file") from None
        except OSError:  # a file system without hard links: the check above has to do
            os.replace(tmp, resolved)


def _fsync(path: Path) -> None:
    """Flush the finished temp file to disk before the rename makes it visible."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
