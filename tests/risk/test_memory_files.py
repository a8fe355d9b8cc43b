"""``MemoryRiskFiles`` (a backtest's risk files, issue 12) behave like the files they replace."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.risk.files import RiskFiles
from bot.risk.memory_files import MemoryRiskFiles


@pytest.fixture(params=["disk", "memory"])
def files(request: pytest.FixtureRequest, tmp_path: Path) -> RiskFiles:
    return RiskFiles.from_halt_file(tmp_path / "HALT") if request.param == "disk" else MemoryRiskFiles.create()


def test_notes_and_state_round_trip_the_same_way(files: RiskFiles) -> None:
    assert not files.halt_exists() and files.read_halt() is None and files.read_reset() is None
    assert files.load_state() is None
    halt = files.write_halt("ops", "test", ts_ms=5)
    assert files.halt_exists() and files.read_halt() == halt
    assert files.remove_halt() and not files.halt_exists() and not files.remove_halt()
    reset = files.write_reset("ops", "done", ts_ms=6)
    assert files.read_reset() == reset
    files.save_state({"state": "active", "n": 1, "until": None})
    assert files.load_state() == {"state": "active", "n": 1, "until": None}


def test_memory_files_touch_no_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    files = MemoryRiskFiles.create()
    files.write_halt("ops", "x", ts_ms=1)
    files.save_state({"a": 1})
    assert list(tmp_path.iterdir()) == []
