"""docker-compose.yml and the Dockerfile: valid, secret-free, installing like the README does.

No Docker engine runs here; ``docker-compose config`` (Debian's docker-compose) validates and
renders the file without one. scripts/test.sh installs it; under CI=true its absence fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _compose() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        message = "docker-compose (Debian package) is not installed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return exe


def _render(tmp_path: Path, *args: str) -> str:
    shutil.copy(REPO / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    result = subprocess.run([_compose(), "-f", str(tmp_path / "docker-compose.yml"), "config", *args],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_compose_file_is_valid_and_has_the_services(tmp_path: Path) -> None:
    services = set(_render(tmp_path, "--services").split())
    assert {"postgres", "bot"} <= services
    volumes = set(_render(tmp_path, "--volumes").split())
    assert "journal-data" in volumes
    rendered = _render(tmp_path)
    assert "pg_isready" in rendered  # postgres healthcheck
    assert "condition: service_healthy" in rendered
    assert "journal-data:/var/lib/postgresql/data" in rendered
    assert re.search(r"DERIVBOT_JOURNAL__URL: postgresql\+psycopg://.*@postgres:5432/", rendered)
    assert "- paper" in rendered


def test_secrets_come_from_the_env_file_not_the_image() -> None:
    compose = (REPO / "docker-compose.yml").read_text()
    assert "env_file: .env" in compose
    dockerfile = (REPO / "Dockerfile").read_text()
    assert not re.search(r"(?im)^\s*(ENV|ARG)\b.*(KEY|SECRET|PASSWORD)", dockerfile)
    assert ".env" not in re.findall(r"(?m)^COPY\s+(\S+)", dockerfile)
    assert ".env" in (REPO / ".gitignore").read_text().split()


def test_dockerfile_installs_like_the_readme() -> None:
    """The README's demo command runs scripts/demo.sh, which installs through scripts/_venv.sh;
    the image must use the same function, so there is one way to install derivbot."""
    readme = (REPO / "README.md").read_text()
    assert "bash scripts/demo.sh" in readme
    demo = (REPO / "scripts" / "demo.sh").read_text()
    dockerfile = (REPO / "Dockerfile").read_text()
    install_call = 'install_derivbot ""'
    assert "_venv.sh" in demo and install_call in demo
    assert "source scripts/_venv.sh" in dockerfile and install_call in dockerfile
    for path in re.findall(r"(?m)^COPY\s+(\S+)", dockerfile):
        assert (REPO / path).exists(), f"Dockerfile copies {path}, which does not exist"


def test_bot_and_dashboard_connect_as_their_own_roles_after_migrate(tmp_path: Path) -> None:
    """The owner only migrates; the bot may INSERT/SELECT, the dashboard SELECT (issue 18)."""
    assert "migrate" in _render(tmp_path, "--services").split()
    rendered = _render(tmp_path)
    assert re.search(r"DERIVBOT_JOURNAL__URL: postgresql\+psycopg://derivbot_writer:[^@]+@postgres:5432/", rendered)
    assert re.search(r"DERIVBOT_JOURNAL__URL: postgresql\+psycopg://derivbot_reader:[^@]+@postgres:5432/", rendered)
    assert "condition: service_completed_successfully" in rendered
    compose = (REPO / "docker-compose.yml").read_text()
    init = re.search(r"\./(deploy/\S+\.sql):/docker-entrypoint-initdb\.d/", compose)
    assert init is not None and (REPO / init.group(1)).is_file()


def test_the_bot_service_is_health_checked_by_derivbot_health(tmp_path: Path) -> None:
    """docker-compose marks the bot unhealthy when its cycles stop (issue 15): the check asks the
    bot's /healthz, which needs the metrics server the service enables."""
    rendered = _render(tmp_path)
    bot = rendered.split("\n  bot:\n", 1)[1].split("\n  journal:\n", 1)[0]
    assert "healthcheck:" in bot
    assert re.search(r"test:\n(\s+- \S+\n)*?\s+- derivbot\n\s+- health\n", bot), bot
    assert re.search(r"DERIVBOT_METRICS__ENABLED: ['\"]?true", bot), bot
