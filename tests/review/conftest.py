"""A journal written once per test module through the real Journal API (see journal_builder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .journal_builder import Scenario, build_journal


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    path: Path = tmp_path_factory.mktemp("review") / "journal.sqlite"
    return build_journal(f"sqlite:///{path}")
