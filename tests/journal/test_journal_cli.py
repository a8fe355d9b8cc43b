"""``derivbot journal migrate``."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from bot.cli import journal_cmd
from bot.journal.migrate import head_revision
from tests.cli_inprocess import derivbot


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """test root"""

    journal_cmd.register(root)
    return root


def test_migrate_default_url_creates_data_dir(app: typer.Typer, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["journal", "migrate"])
    assert result.exit_code == 0, result.output
    assert f"at revision {head_revision()} (up to date)" in result.output
    db = tmp_path / "data" / "journal.sqlite"
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        assert "trades" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_migrate_explicit_url_twice(app: typer.Typer, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a' / 'b' / 'j.sqlite'}"
    for _ in range(2):
        result = CliRunner().invoke(app, ["journal", "migrate", "--journal", url])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "b" / "j.sqlite").is_file()


def test_migrate_unreachable_postgres_fails_cleanly_without_password(app: typer.Typer) -> None:
    url = "postgresql://bob:hunter2secret@127.0.0.1:1/nodb"
    result = CliRunner().invoke(app, ["journal", "migrate", "--journal", url])
    assert result.exit_code == 1
    assert "journal migration failed" in result.output
    assert "hunter2secret" not in result.output
    assert "Traceback" not in result.output


def test_group_object_is_importable_for_other_command_modules() -> None:
    assert isinstance(journal_cmd.journal_app, typer.Typer)
    assert "migrate" in {c.name for c in journal_cmd.journal_app.registered_commands}


def test_migrate_prints_one_unbroken_line_on_a_narrow_terminal(tmp_path: Path) -> None:
    """A long URL or revision name must not be wrapped mid-line (it is copied into commands)."""
    url = f"sqlite:///{tmp_path / 'a-rather-long-folder-name' / 'journal.sqlite'}"
    result = derivbot("journal", "migrate", "--journal", url, columns=40)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ok: journal {url} at revision {head_revision()} (up to date)\n"
