"""Fixtures of the journal tests: an open journal per backend (sqlite and postgres)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.journal import Journal


@pytest.fixture
def journal(journal_url: str) -> Iterator[Journal]:
    """A migrated journal with a started run; the flush interval is short so tests stay fast."""
    j = Journal.open(journal_url, batch_size=50, flush_interval_ms=20)
    j.start_run("paper", "cfg-hash-1", "0.1.0", started_at=1_700_000_000_000, params={"symbols": ["ORCAUSDT"]})
    try:
        yield j
    finally:
        j.close()
