"""The files through which people and the running engine talk about risk state.

* halt file (``settings.engine.halt_file``, default ``data/HALT``): the kill switch. Its mere
  existence halts the bot, even if empty or unreadable (``touch data/HALT`` works); the JSON
  body written by ``derivbot halt`` says who, when and why.
* reset record (``RISK_RESET.json`` next to it): written by ``derivbot risk reset``. It carries
  a unique id; a halted breaker clears when it sees an id other than the one present when it
  halted, which works whatever clock the engine runs on (wall, accelerated, simulated).
* state file (``risk_state.json`` next to it): the breaker state the engine persists each
  cycle and restores at start; ``derivbot risk show`` reads it.

Writes are atomic (temp file + rename) so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from bot.core.timeutil import iso, now_ms

RESET_FILE_NAME = "RISK_RESET.json"
STATE_FILE_NAME = "risk_state.json"


@dataclass(frozen=True, slots=True)
class OperatorNote:
    """Who did what, when (ms UTC) and why: the body of a halt file or reset record."""

    by: str
    reason: str
    ts_ms: int
    note_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"by": self.by, "reason": self.reason, "ts_ms": self.ts_ms, "at": iso(self.ts_ms),
                "id": self.note_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OperatorNote:
        return cls(by=str(data.get("by", "?")), reason=str(data.get("reason", "")),
                   ts_ms=int(data.get("ts_ms", 0)), note_id=str(data.get("id", "")))


@dataclass(frozen=True, slots=True)
class RiskFiles:
    halt: Path
    reset: Path
    state: Path

    @classmethod
    def from_halt_file(cls, halt_file: str | Path) -> RiskFiles:
        halt = Path(halt_file)
        return cls(halt=halt, reset=halt.with_name(RESET_FILE_NAME), state=halt.with_name(STATE_FILE_NAME))

    # -- kill switch --------------------------------------------------------------------------

    def halt_exists(self) -> bool:
        return self.halt.exists()

    def read_halt(self) -> OperatorNote | None:
        """The halt note, None if there is no halt file; an unreadable file still counts."""
        if not self.halt.exists():
            return None
        data = _read_json(self.halt)
        if data is None:
            return OperatorNote(by="?", reason="halt file present (no readable details)", ts_ms=0)
        return OperatorNote.from_dict(data)

    def write_halt(self, by: str, reason: str, ts_ms: int | None = None) -> OperatorNote:
        note = OperatorNote(by=by, reason=reason, ts_ms=ts_ms if ts_ms is not None else now_ms(),
                            note_id=uuid.uuid4().hex)
        _write_json_atomic(self.halt, note.to_dict())
        return note

    def remove_halt(self) -> bool:
        try:
            self.halt.unlink()
        except FileNotFoundError:
            return False
        return True

    # -- reset record -------------------------------------------------------------------------

    def read_reset(self) -> OperatorNote | None:
        if not self.reset.exists():
            return None
        data = _read_json(self.reset)
        return None if data is None else OperatorNote.from_dict(data)

    def write_reset(self, by: str, reason: str, ts_ms: int | None = None) -> OperatorNote:
        note = OperatorNote(by=by, reason=reason, ts_ms=ts_ms if ts_ms is not None else now_ms(),
                            note_id=uuid.uuid4().hex)
        _write_json_atomic(self.reset, note.to_dict())
        return note

    # -- persisted breaker state ---------------------------------------------------------------

    def save_state(self, data: dict[str, Any]) -> None:
        _write_json_atomic(self.state, data)

    def load_state(self) -> dict[str, Any] | None:
        """The saved state; None if never saved. Raises :class:`RiskStateError` if unreadable."""
        if not self.state.exists():
            return None
        data = _read_json(self.state)
        if data is None:
            raise RiskStateError(f"risk state file {self.state} exists but is not a readable JSON object")
        return data


class RiskStateError(Exception):
    """The persisted breaker state cannot be trusted (corrupt file, unknown format)."""


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "null")
    except (OSError, ValueError) as exc:
        logger.warning("risk: cannot read {}: {}", path, exc)
        return None
    if not isinstance(data, dict):
        return None
    return data


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True, default=str)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
