"""Shared fixtures.

PostgreSQL: tests marked ``postgres`` (or using ``pg_url``) run against
``DERIVBOT_TEST_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``), each
in a fresh database of their own. Locally an unreachable server skips them with the reason;
under ``CI=true`` it fails them, because CI must prove the PostgreSQL journal works.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "bot" / "data" / "sample"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

PG_URL = os.environ.get("DERIVBOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_admin_connect():
    import psycopg

    url = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(url, autocommit=True, connect_timeout=3)


def _pg_unavailable(exc: Exception) -> None:
    reason = f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}: {exc}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (CI=true makes the PostgreSQL journal tests mandatory)")
    pytest.skip(reason)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    try:
        admin = _pg_admin_connect()
    except Exception as exc:
        _pg_unavailable(exc)
    name = f"derivbot_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _pg_admin_connect() as admin2:
            admin2.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'journal.sqlite'}"


@pytest.fixture(params=["sqlite", "postgres"])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs a test once per supported journal backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def sample_dir() -> Path:
    """The real-data sample bundled in the repository (bot/data/sample)."""
    if not SAMPLE_DIR.is_dir():
        pytest.fail(f"bundled sample missing: {SAMPLE_DIR}")
    return SAMPLE_DIR


@pytest.fixture(autouse=True)
def _isolate_redaction() -> Iterator[None]:
    """Secrets registered by one test must not redact another test's output."""
    from bot.logging import registered_secrets, reset_secrets

    before = registered_secrets()
    yield
    reset_secrets(before)


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's DERIVBOT_* variables or .env file."""
    for key in list(os.environ):
        if key.startswith("DERIVBOT_") and key != "DERIVBOT_TEST_PG_URL":
            monkeypatch.delenv(key, raising=False)
