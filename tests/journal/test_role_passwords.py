"""The journal roles' passwords never reach a printed line.

``journal migrate`` sets them with ``ALTER ROLE ... PASSWORD '...'``; a database error repeats
that SQL text, and ``fail`` prints the error. Registered as secrets first, they are redacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.journal_cmd import _setup_roles
from bot.journal.roles import READER_PASSWORD_ENV, WRITER_PASSWORD_ENV
from bot.logging import redact, registered_secrets, reset_secrets


def test_role_passwords_are_redacted_from_any_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = registered_secrets()
    monkeypatch.setenv(WRITER_PASSWORD_ENV, "writer-pass-0123")
    monkeypatch.setenv(READER_PASSWORD_ENV, "reader-pass-4567")
    try:
        _setup_roles(f"sqlite:///{tmp_path / 'j.sqlite'}", "derivbot_writer", "derivbot_reader")
        line = redact("ALTER ROLE derivbot_writer LOGIN PASSWORD 'writer-pass-0123'; reader-pass-4567")
    finally:
        reset_secrets(before)
    assert "writer-pass-0123" not in line and "reader-pass-4567" not in line
