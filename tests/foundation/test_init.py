"""``derivbot init [DIR]``: starter files that load, validate and never overwrite silently.

The written config goes through the real settings loader (``bot.config.load_settings``); the
compose file is rendered by ``docker-compose config`` like the repository's
(tests/foundation/test_docker_files.py), with nothing but the folder ``init`` wrote.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bot import safety
from bot.config import load_settings
from bot.core.enums import Mode
from tests.cli_inprocess import derivbot
from tests.foundation.test_docker_files import _compose

FILES = ("derivbot.toml", ".env.example", "docker-compose.yml")
KEY, SECRET = "init-test-api-key-0123", "init-test-api-secret-4567"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_init_writes_a_config_the_real_loader_accepts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = derivbot("init", str(tmp_path / "bot"), env={"DERIVBOT_EXCHANGE__API_KEY": KEY,
                                                           "DERIVBOT_EXCHANGE__API_SECRET": SECRET})
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "bot"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert "next steps" in result.stdout and "derivbot run --config" in result.stdout
    # nothing secret in the output or in the files, whatever the environment holds
    for text in (result.stdout, result.stderr, *(p.read_text() for p in folder.iterdir())):
        assert KEY not in text and SECRET not in text
    monkeypatch.chdir(tmp_path)  # no .env here, no DERIVBOT_* variables: the file alone
    for name in [n for n in os.environ if n.startswith("DERIVBOT_")]:
        monkeypatch.delenv(name)
    settings = load_settings(folder / "derivbot.toml")
    assert settings.mode is Mode.PAPER and settings.live.enabled is False
    assert settings.exchange.api_key is None and settings.exchange.api_secret is None
    assert settings.metrics.enabled and settings.metrics.host == "127.0.0.1"
    enabled = settings.enabled_strategies()
    assert enabled and all(cfg.stop_loss_pct for cfg in enabled.values())
    assert settings.risk.risk_per_trade <= safety.MAX_RISK_PER_TRADE
    assert settings.risk.max_leverage <= safety.LIVE_MAX_LEVERAGE


def test_env_example_names_the_secrets_with_empty_values(tmp_path: Path) -> None:
    assert derivbot("init", str(tmp_path)).returncode == 0
    lines = [line for line in (tmp_path / ".env.example").read_text().splitlines()
             if line and not line.startswith("#")]
    assert lines == ["DERIVBOT_EXCHANGE__API_KEY=", "DERIVBOT_EXCHANGE__API_SECRET=", "POSTGRES_PASSWORD=",
                     "JOURNAL_WRITER_PASSWORD=", "JOURNAL_READER_PASSWORD="]


def test_a_second_run_refuses_and_changes_nothing_unless_forced(tmp_path: Path) -> None:
    assert derivbot("init", str(tmp_path)).returncode == 0
    config = tmp_path / "derivbot.toml"
    config.write_text(config.read_text().replace("max_open_positions = 3", "max_open_positions = 2"))  # a user edit
    before = _snapshot(tmp_path)
    again = derivbot("init", str(tmp_path))
    assert again.returncode == 1
    assert "already exist" in again.stderr and "--force" in again.stderr
    assert _snapshot(tmp_path) == before
    forced = derivbot("init", str(tmp_path), "--force")
    assert forced.returncode == 0
    assert "max_open_positions = 3" in config.read_text()


def test_one_existing_file_refuses_them_all(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text("MINE=1\n")
    result = derivbot("init", str(tmp_path))
    assert result.returncode == 1 and ".env.example" in result.stderr
    assert _snapshot(tmp_path) == {".env.example": b"MINE=1\n"}  # derivbot.toml was not written either


def _render(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([_compose(), "-f", str(folder / "docker-compose.yml"), "config", *args],
                          capture_output=True, text=True, cwd=folder, timeout=60)


def test_the_compose_file_validates_with_nothing_but_the_folder(tmp_path: Path) -> None:
    assert derivbot("init", str(tmp_path)).returncode == 0
    env = (tmp_path / ".env.example").read_text()
    for name in ("POSTGRES_PASSWORD", "JOURNAL_WRITER_PASSWORD", "JOURNAL_READER_PASSWORD"):
        env = env.replace(f"{name}=", f"{name}=pw-{name.lower()}")
    (tmp_path / ".env").write_text(env)
    services = _render(tmp_path, "--services")
    assert services.returncode == 0, services.stderr
    assert set(services.stdout.split()) == {"postgres", "migrate", "bot"}
    rendered = _render(tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    text = rendered.stdout
    assert "DERIVBOT_JOURNAL__URL: postgresql+psycopg://derivbot_writer:pw-journal_writer_password@postgres:5432/" \
        in text
    assert "condition: service_completed_successfully" in text and "pg_isready" in text
    assert "- health" in text and "DERIVBOT_METRICS__ENABLED: 'true'" in text.replace('"', "'")
    compose = (tmp_path / "docker-compose.yml").read_text()
    assert "build:" not in compose and "./deploy" not in compose  # self-contained: no repository paths
    assert "env_file: .env" in compose


def test_the_compose_file_refuses_to_start_with_an_empty_password(tmp_path: Path) -> None:
    assert derivbot("init", str(tmp_path)).returncode == 0
    shutil.copy(tmp_path / ".env.example", tmp_path / ".env")  # copied, not filled in
    result = _render(tmp_path)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr
