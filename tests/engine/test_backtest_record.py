"""A backtest journals the snapshot behind each signal; every snapshot only on request (issue 12).

``--record observations`` is the opt-in for the full market record (one row per symbol per
cycle); the default keeps the journal small and the run fast.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.cli_inprocess import derivbot

ARGS = ("backtest", "--data", "bot/data/sample", "--symbol", "RIVERUSDT", "--from", "2025-12-20", "--to", "2025-12-24",
        "--json")


def _counts(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as con:
        observations = con.execute("select count(*) from market_observations").fetchone()[0]
        signals = con.execute("select count(*) from signals").fetchone()[0]
    return observations, signals


def test_default_records_the_signals_snapshots_and_the_option_records_all(tmp_path: Path) -> None:
    default, full = tmp_path / "default.sqlite", tmp_path / "full.sqlite"
    assert derivbot(*ARGS, "--journal", f"sqlite:///{default}").returncode == 0
    result = derivbot(*ARGS, "--journal", f"sqlite:///{full}", "--record", "observations")
    assert result.returncode == 0, result.stderr[-2000:]
    observations, signals = _counts(default)
    assert observations == signals  # one per signal
    all_observations, all_signals = _counts(full)
    assert all_signals == signals
    assert all_observations >= 4 * 24  # every hour of the window (and its warm-up), one symbol
    assert all_observations > observations
    bad = derivbot(*ARGS, "--journal", f"sqlite:///{tmp_path / 'bad.sqlite'}", "--record", "everything")
    assert bad.returncode != 0 and "--record" in bad.stderr
