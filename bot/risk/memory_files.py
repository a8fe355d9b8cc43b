"""Risk files kept in memory, for a backtest.

A backtest's kill switch, reset record and breaker state used to live in a private temporary
folder that nobody else knows of: no operator can write a halt file there, and nothing reads
the state after the run. Checking that folder every simulated hour cost a ``stat`` per cycle
and an atomic file write per trade (issue 12), for nothing. This keeps the same interface and
behaviour (a note written is read back; a state saved is loaded back, JSON-normalised like the
file) without the file system. Live, testnet and paper runs keep :class:`RiskFiles`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.timeutil import now_ms
from bot.risk.files import RESET_FILE_NAME, STATE_FILE_NAME, OperatorNote, RiskFiles


@dataclass(frozen=True, slots=True)
class MemoryRiskFiles(RiskFiles):
    """:class:`RiskFiles` whose halt note, reset record and state are held in ``notes``."""

    notes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, name: str = "backtest") -> MemoryRiskFiles:
        """Paths are only names here (they appear in messages); nothing is written to them."""
        halt = Path(f"<memory:{name}>") / "HALT"
        return cls(halt=halt, reset=halt.with_name(RESET_FILE_NAME), state=halt.with_name(STATE_FILE_NAME))

    def halt_exists(self) -> bool:
        return "halt" in self.notes

    def read_halt(self) -> OperatorNote | None:
        return self.notes.get("halt")

    def write_halt(self, by: str, reason: str, ts_ms: int | None = None) -> OperatorNote:
        note = OperatorNote(by=by, reason=reason, ts_ms=ts_ms if ts_ms is not None else now_ms(),
                            note_id=uuid.uuid4().hex)
        self.notes["halt"] = note
        return note

    def remove_halt(self) -> bool:
        return self.notes.pop("halt", None) is not None

    def read_reset(self) -> OperatorNote | None:
        return self.notes.get("reset")

    def write_reset(self, by: str, reason: str, ts_ms: int | None = None) -> OperatorNote:
        note = OperatorNote(by=by, reason=reason, ts_ms=ts_ms if ts_ms is not None else now_ms(),
                            note_id=uuid.uuid4().hex)
        self.notes["reset"] = note
        return note

    def save_state(self, data: dict[str, Any]) -> None:
        self.notes["state"] = json.dumps(data, sort_keys=True, default=str)  # what the file would hold

    def load_state(self) -> dict[str, Any] | None:
        text = self.notes.get("state")
        return None if text is None else json.loads(text)
