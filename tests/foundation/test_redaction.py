"""Issue 16 item 3: no URL password in config show, the config hash, logs or errors.

Expected texts are written out by hand from the URL forms (RFC 3986 userinfo, libpq's
``?password=`` parameter), not produced by the code under test.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from loguru import logger
from typer.testing import CliRunner

from bot.cli.main import app
from bot.config import ConfigError, LoggingSettings, load_settings
from bot.logging import redact, setup_logging, url_passwords

PASSWORD = "Hunter2Secret"
URL = f"postgresql://bot:{PASSWORD}@h/db"
MASKED = "postgresql://bot:***@h/db"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer .env is read (tests/conftest.py drops DERIVBOT_ variables and restores the
    secret registry after each test)."""
    monkeypatch.chdir(tmp_path)
    setup_logging(stream=io.StringIO())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (URL, MASKED),
        ("postgresql+psycopg://bot:Hunter2Secret@db.example:5432/journal?sslmode=require",
         "postgresql+psycopg://bot:***@db.example:5432/journal?sslmode=require"),
        ("postgres://:Hunter2Secret@h/db", "postgres://:***@h/db"),  # password without a user
        ("postgresql://bot:p%40ss!w0rd$&*()=;,@h:5432/db", "postgresql://bot:***@h:5432/db"),  # sub-delims
        ("postgresql://bot:p@ss:w@rd@h/db", "postgresql://bot:***@h/db"),  # raw "@" and ":" in the password
        ("postgresql://bot@h/db?sslmode=require&password=Hunter2Secret",
         "postgresql://bot@h/db?sslmode=require&password=***"),
        (f"could not connect to '{URL}': refused", f"could not connect to '{MASKED}': refused"),
        (json.dumps({"url": URL}), json.dumps({"url": MASKED})),
        ("two: postgresql://a:pw1@h1/d and mysql://b:pw2@h2/d", "two: postgresql://a:***@h1/d and mysql://b:***@h2/d"),
    ],
)
def test_redact_masks_url_passwords_and_keeps_user_and_host(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://bot@h/db",
        "sqlite:///data/journal.sqlite",
        "http://127.0.0.1:8765/fapi/v1/order",
        "http://host:8080/path?x=a@b",  # a port, not a password: "/" ends userinfo
        "mail bot@example.com at 10:30",
    ],
)
def test_redact_leaves_urls_without_password_alone(text: str) -> None:
    assert redact(text) == text


def test_url_passwords_gives_raw_and_decoded_forms() -> None:
    assert url_passwords("postgresql://bot:p%40ss@h/db") == ["p%40ss", "p@ss"]
    assert url_passwords("postgresql://bot@h/db") == []


def test_masked_dict_and_config_hash_hide_the_journal_password() -> None:
    settings = load_settings(None, {"journal": {"url": URL}})
    assert settings.masked_dict()["journal"]["url"] == MASKED
    other = load_settings(None, {"journal": {"url": URL.replace(PASSWORD, "AnotherPass99")}})
    # The hash is computed from the masked data: it cannot encode the password.
    assert settings.config_hash() == other.config_hash()
    assert PASSWORD in settings.secret_values()


@pytest.mark.parametrize("args", [["config", "show"], ["config", "show", "--json"]])
def test_config_show_masks_the_journal_password(args: list[str], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f"[journal]\nurl = '{URL}'\n")
    result = CliRunner().invoke(app, [*args, "--config", str(config)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert MASKED in result.output
    if "--json" in args:
        assert json.loads(result.output)["journal"]["url"] == MASKED


def test_config_show_masks_a_password_from_the_environment() -> None:
    result = CliRunner().invoke(app, ["config", "show", "--json"], env={"DERIVBOT_JOURNAL__URL": URL})
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output and MASKED in result.output


def test_log_lines_mask_url_passwords_and_the_registered_password(tmp_path: Path) -> None:
    settings = load_settings(None, {"journal": {"url": URL}})
    stream = io.StringIO()
    log_file = tmp_path / "log.jsonl"
    setup_logging(LoggingSettings(json_file=str(log_file)), stream=stream, secrets=settings.secret_values())
    logger.info("opening journal {}", URL)
    logger.warning("server said: password authentication failed for {}", PASSWORD)  # outside any URL
    setup_logging(stream=io.StringIO())
    for text in (stream.getvalue(), log_file.read_text()):
        assert PASSWORD not in text
        assert MASKED in text
    assert "password authentication failed for ***REDACTED***" in stream.getvalue()


def test_config_error_does_not_echo_a_url_password(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[journal]\nurl = 'mysql://bot:Hunter2Secret@h/db'\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    message = str(info.value)
    assert "journal.url" in message
    assert PASSWORD not in message
    assert "mysql://bot:***@h/db" in message


def test_cli_error_lines_mask_url_passwords(tmp_path: Path) -> None:
    """The real program, end to end: a bad journal URL in an error line keeps its password hidden."""
    config = tmp_path / "c.toml"
    config.write_text("[journal]\nurl = 'mysql://bot:Hunter2Secret@h/db'\n")
    result = subprocess.run([sys.executable, "-m", "bot", "config", "check", "--config", str(config)],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2
    assert PASSWORD not in result.stdout + result.stderr
    assert "journal.url" in result.stderr
