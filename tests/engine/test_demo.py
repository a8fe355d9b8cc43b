"""``derivbot demo`` runs the real exchange path (ccxt over HTTP to the emulator) and journals it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.journal.reader import JournalReader

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_trades_through_the_emulator_and_prints_the_summary(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--journal", url, "--hours", "60", "--speed", "28800"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "160"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "journal summary" in result.stdout and "TOTAL" in result.stdout
    assert url in result.stdout
    with JournalReader(url) as reader:
        [run] = reader.runs()
        assert run.mode == "testnet" and run.exit_reason == "demo_complete"
        orders = reader.orders()
        entries = [o for o in orders if o.purpose == "entry"]
        assert entries, "the demo window must produce at least one entry"
        # real exchange path: every order has the emulator's exchange id and a final status
        assert all(o.exchange_order_id for o in orders if o.status not in (None, "rejected"))
        for trade in reader.trades():
            stops = [o for o in orders if o.trade_id == trade.id and o.purpose == "stop"]
            assert stops, f"trade {trade.id} on {trade.symbol} never had a stop"
        assert reader.events(kind="reconciliation")
        assert reader.equity()
    # the journal review commands work on the demo's journal too
    def review(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", "journal", *args, "--journal", url], cwd=ROOT,
                              capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "160"})

    import json

    trades = json.loads(review("trades", "--json").stdout)
    assert trades and all(t["mode"] == "testnet" for t in trades)
    story = review("trade", trades[0]["trade_id"], "--json")
    assert story.returncode == 0 and trades[0]["symbol"] in story.stdout
    for args in (("signals", "--json"), ("decisions", "--json"), ("events", "--json")):
        assert review(*args).returncode == 0, args
    report = tmp_path / "demo.html"
    assert review("report", "--out", str(report)).returncode == 0
    assert trades[0]["symbol"] in report.read_text()
