"""``derivbot halt`` / ``risk reset`` / ``risk show`` drive the breaker through files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.config import RiskSettings
from bot.core.enums import RiskState
from bot.risk import CircuitBreaker, RiskFiles, TransitionReason

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RiskFiles:
    monkeypatch.chdir(tmp_path)  # no config/paper.toml here: defaults, halt file data/HALT
    return RiskFiles.from_halt_file(tmp_path / "data" / "HALT")


def test_halt_then_breaker_halts_then_reset_resumes(files: RiskFiles, sqlite_url: str) -> None:
    breaker = CircuitBreaker(RiskSettings(), files)
    breaker.update(1_000, 10_000.0)
    result = runner.invoke(app, ["halt", "--reason", "exchange down", "--by", "alice", "--journal", sqlite_url])
    assert result.exit_code == 0, result.output
    assert json.loads(files.halt.read_text())["by"] == "alice"
    [t] = breaker.update(2_000, 10_000.0)
    assert t.reason is TransitionReason.KILL_SWITCH and t.numbers["reason"] == "exchange down"
    breaker.save()

    shown = runner.invoke(app, ["risk", "show", "--json"])
    data = json.loads(shown.output)
    assert data["state"] == "halted" and data["halt"]["by"] == "alice"

    result = runner.invoke(app, ["risk", "reset", "-r", "checked", "--by", "bob", "-y", "--journal", sqlite_url])
    assert result.exit_code == 0, result.output
    assert not files.halt.exists() and files.read_reset().by == "bob"
    [t] = breaker.update(3_000, 10_000.0)
    assert (t.to_state, t.reason) == (RiskState.ACTIVE, TransitionReason.MANUAL_RESET)


def test_reset_and_halt_are_journaled_as_events(files: RiskFiles, sqlite_url: str) -> None:
    import sqlalchemy as sa

    runner.invoke(app, ["halt", "-r", "x", "--by", "a", "--journal", sqlite_url])
    runner.invoke(app, ["risk", "reset", "-r", "y", "--by", "b", "-y", "--journal", sqlite_url])
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        kinds = [row[0] for row in conn.execute(sa.text("SELECT kind FROM events ORDER BY ts"))]
    engine.dispose()
    assert kinds == ["kill_switch", "risk_reset"]


def test_reset_asks_for_confirmation(files: RiskFiles) -> None:
    files.write_halt("a", "x")
    result = runner.invoke(app, ["risk", "reset", "-r", "y"], input="n\n")
    assert result.exit_code == 1 and files.halt.exists()


def test_unreachable_journal_does_not_block_the_kill_switch(files: RiskFiles) -> None:
    result = runner.invoke(app, ["halt", "-r", "x", "--journal", "postgresql+psycopg://nobody@127.0.0.1:1/x"])
    assert result.exit_code == 0 and files.halt.exists() and "not journaled" in result.output


def test_show_without_state_and_with_corrupt_state(files: RiskFiles) -> None:
    result = runner.invoke(app, ["risk", "show"])
    assert result.exit_code == 0 and "no saved state" in result.output
    files.state.parent.mkdir(parents=True, exist_ok=True)
    files.state.write_text("{")
    result = runner.invoke(app, ["risk", "show"])
    assert result.exit_code == 1 and "risk reset" in result.output
