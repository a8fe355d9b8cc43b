"""The sample backtest's trades stay what the engine gave before issue 12's speed work.

``tests/engine/data/sample_backtest_trades.json`` holds the closed trades of ``derivbot backtest
--data bot/data/sample`` with the default config, recorded with the engine as it was before the
columnar snapshots, the driver's cursors and the batched journal writes. Speed work must change
no decision and no fill: every trade (times, prices, quantity, P&L, fees, funding, exit reason)
must be identical, as JSON numbers, not approximately. A deliberate behaviour change updates the
file in the same commit, with a test of its own that says why.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_inprocess import derivbot

GOLDEN = Path(__file__).parent / "data" / "sample_backtest_trades.json"


def test_sample_backtest_trades_are_identical_to_the_recorded_ones(tmp_path: Path) -> None:
    result = derivbot("backtest", "--data", "bot/data/sample", "--json",
                      "--journal", f"sqlite:///{tmp_path / 'bt.sqlite'}")
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout)
    got = [{k: v for k, v in trade.items() if k != "trade_id"} for trade in out["closed_trades"]]
    want = json.loads(GOLDEN.read_text())["trades"]
    assert len(got) == len(want) == out["stats"]["trades"]
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"trade {i} differs:\n got  {g}\n want {w}"
