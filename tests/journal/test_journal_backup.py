"""``derivbot journal backup`` / ``restore``: a copy taken while the journal is being written
restores to a journal with the same rows and an intact hash chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.journal import Journal
from tests.cli_inprocess import derivbot
from tests.journal.raw import raw_connect, rows
from tests.journal.scenario import T0, full_lifecycle

TABLES = ("runs", "trades", "trade_exits", "orders", "order_status", "fills", "events", "market_observations")


def _dump(url: str) -> dict[str, list[dict[str, Any]]]:
    conn = raw_connect(url)
    try:
        return {t: rows(conn, f"SELECT * FROM {t} ORDER BY chain_seq") for t in TABLES}
    finally:
        conn.close()


def test_sqlite_backup_while_writing_then_restore_round_trips(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live' / 'journal.sqlite'}"
    out = tmp_path / "backups" / "journal-backup.sqlite"
    restored = f"sqlite:///{tmp_path / 'restored' / 'journal.sqlite'}"
    j = Journal.open(url, flush_interval_ms=5)
    try:
        j.start_run("paper", "h", "v")
        full_lifecycle(j)
        j.flush()
        expected = _dump(url)
        result = derivbot("journal", "backup", "--journal", url, "--out", str(out))  # writer still running
        assert result.returncode == 0, result.stderr
        j.record_event("later", "after the backup", ts=T0)  # not in the backup
        j.flush()
    finally:
        j.close()
    assert not Path(f"{out}-wal").exists()  # one self-contained file
    again = derivbot("journal", "backup", "--journal", url, "--out", str(out))
    assert again.returncode == 1 and "--force" in again.stderr  # never over an existing file
    result = derivbot("journal", "restore", str(out), "--journal", restored)
    assert result.returncode == 0, result.stderr
    assert _dump(restored) == expected
    code = derivbot("journal", "verify", "--journal", restored, "--json")
    assert code.returncode == 0 and json.loads(code.stdout)["findings"] == []
    refused = derivbot("journal", "restore", str(out), "--journal", url)
    assert refused.returncode == 1 and "--force" in refused.stderr
    forced = derivbot("journal", "restore", str(out), "--journal", url, "--force")
    assert forced.returncode == 0, forced.stderr
    assert _dump(url) == expected  # the row written after the backup is gone with the replaced journal
    with Journal.open(url, flush_interval_ms=5) as j2:  # a restored journal takes new rows on its chains
        j2.start_run("paper", "h", "v")
        j2.flush()
    assert derivbot("journal", "verify", "--journal", url).returncode == 0


@pytest.mark.postgres
def test_postgres_backup_and_restore_round_trip(pg_url: str, tmp_path: Path) -> None:
    with Journal.open(pg_url, flush_interval_ms=5) as j:
        j.start_run("paper", "h", "v")
        full_lifecycle(j)
        j.flush()
    expected = _dump(pg_url)
    out = tmp_path / "journal.dump"
    result = derivbot("journal", "backup", "--journal", pg_url, "--out", str(out))
    assert result.returncode == 0, result.stderr
    admin = raw_connect(pg_url)
    name = pg_url.rsplit("/", 1)[1] + "_r"
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        restored = pg_url.rsplit("/", 1)[0] + "/" + name  # an empty database, as after a disaster
        result = derivbot("journal", "restore", str(out), "--journal", restored)
        assert result.returncode == 0, result.stderr
        assert _dump(restored) == expected
        assert derivbot("journal", "verify", "--journal", restored).returncode == 0  # triggers came along
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
