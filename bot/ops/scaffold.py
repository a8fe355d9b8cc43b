"""The starter files ``derivbot init`` writes: a commented config, ``.env.example``, a compose file.

They are shipped as package data (``bot/ops/templates/``) and copied verbatim: the config is
the paper-mode default with every safety setting explained, ``.env.example`` names the secret
variables with empty values (nothing secret is ever written or printed), and the compose file
runs the bot with its PostgreSQL journal using nothing but that folder and the bot's image.

Existing files are never overwritten without ``force``: all targets are checked before the first
one is written, so a refused run changes nothing. Each file is written to a temporary name and
renamed, so an interrupted run leaves no half-written config behind.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

_PACKAGE = "bot.ops"


@dataclass(frozen=True, slots=True)
class Starter:
    """One starter file: its template in the package and its name in the user's folder."""

    key: str
    template: str
    target: str


STARTERS: tuple[Starter, ...] = (
    Starter("config", "derivbot.toml", "derivbot.toml"),
    Starter("env", "env.example", ".env.example"),
    Starter("compose", "docker-compose.yml", "docker-compose.yml"),
)
_BY_KEY = {s.key: s for s in STARTERS}


def template_path(key: str) -> Path:
    """The shipped template of starter ``key`` (``config``, ``env``, ``compose``) on disk."""
    path = Path(str(resources.files(_PACKAGE) / "templates" / _BY_KEY[key].template))
    if not path.is_file():
        raise FileNotFoundError(f"derivbot's starter template {path} is missing from this installation; "
                                "reinstall derivbot")
    return path


def targets(folder: Path) -> list[Path]:
    return [folder / s.target for s in STARTERS]


class TargetsExistError(FileExistsError):
    """Some starter files exist already; nothing was written."""

    def __init__(self, existing: list[Path]) -> None:
        self.existing = existing
        super().__init__(f"{', '.join(map(str, existing))} already exist(s): nothing was written "
                         "(pass --force to overwrite)")


def write_starters(folder: Path, *, force: bool = False) -> list[Path]:
    """Write every starter file into ``folder`` (created if missing); returns the paths written.

    Raises :class:`TargetsExistError` before writing anything when a target exists and not
    ``force``, and ``NotADirectoryError`` when ``folder`` is a file.
    """
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file, not a folder")
    existing = [p for p in targets(folder) if p.exists() or p.is_symlink()]
    if existing and not force:
        raise TargetsExistError(existing)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for starter in STARTERS:
        path = folder / starter.target
        _write_atomically(path, template_path(starter.key).read_bytes())
        written.append(path)
    return written


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
