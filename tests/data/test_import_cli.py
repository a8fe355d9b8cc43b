"""``derivbot data import`` / ``data list`` and the parquet layout round trip (tmp dirs only)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.data import layout
from bot.data.importer import import_history
from bot.data.store import MarketStore
from bot.market.replay import ReplaySource
from tests.data.helpers import SAMPLE, copy_symbol
from tests.data.test_loaders import write_metrics_csv

runner = CliRunner()

ARRAYS = ("ts", "open", "high", "low", "close", "volume", "quote_volume", "mark_close", "funding_ts",
          "funding_rate", "oi_ts", "oi", "oi_notional", "spot_ts", "spot_quote_volume", "liq_ts",
          "liq_long_notional", "ratio_ts", "long_short_ratio")


def test_import_round_trips_the_sample(tmp_path: Path) -> None:
    written = import_history(SAMPLE, tmp_path / "data")
    assert {f.path.relative_to(tmp_path / "data").parts[:2] for f in written} >= {
        ("binanceusdm", "ORCAUSDT"), ("bybit", "SOLUSDT"), ("binanceusdm", "BTCUSDT")}
    assert (tmp_path / "data" / "binanceusdm" / "ORCAUSDT" / "funding.parquet").is_file()
    original = MarketStore.load(SAMPLE)
    again = MarketStore.load(tmp_path / "data")
    assert again.symbols == original.symbols
    for sym in original.symbols:
        a, b = original[sym], again[sym]
        assert b.exchange == a.exchange
        for name in ARRAYS:
            np.testing.assert_array_equal(getattr(b, name), getattr(a, name), err_msg=f"{sym}.{name}")
    t = int(original["BTCUSDT"].ts[5000])
    assert ReplaySource(again).snapshot("BTCUSDT", t) == ReplaySource(original).snapshot("BTCUSDT", t)


def test_reimport_merges_and_new_rows_win(tmp_path: Path) -> None:
    src = tmp_path / "src"
    copy_symbol(src, "ORCA", ("futures",))
    dst = tmp_path / "data"
    import_history(src, dst)
    path = dst / "binanceusdm" / "ORCAUSDT" / "ohlcv_1h.parquet"
    first = layout.read(path)
    assert len(first) == 1440
    metrics_dir = tmp_path / "metrics"
    write_metrics_csv(metrics_dir, "ORCAUSDT", "2025-03-21", ["2025-03-21 00:00:00,ORCAUSDT,1000,3000,1,1,0.8,1"])
    import_history(metrics_dir, dst)  # adds OI + metrics next to the bars
    import_history(src, dst)  # same bars again: no duplicates
    assert len(layout.read(path)) == 1440
    h = MarketStore.load(dst)["ORCAUSDT"]
    assert h.oi.tolist() == [1000.0] and h.long_short_ratio.tolist() == [0.8]


def test_import_into_itself_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="same folder"):
        import_history(tmp_path, tmp_path)


def test_cli_import_and_list(tmp_path: Path) -> None:
    src = tmp_path / "src"
    copy_symbol(src, "ORCA")
    dst = tmp_path / "data"
    result = runner.invoke(app, ["data", "import", "--from", str(src), "--to", str(dst)])
    assert result.exit_code == 0, result.output
    assert "imported 1 symbols, 3 files" in result.output
    result = runner.invoke(app, ["data", "list", "--data", str(dst), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["symbol"], r["series"], r["rows"], r["gaps"]) for r in rows] == [
        ("ORCAUSDT", "futures", 1440, 0), ("ORCAUSDT", "mark", 1440, 0), ("ORCAUSDT", "funding", 400, 0)]
    assert rows[0]["first"] == "2025-02-15 00:00" and rows[0]["last"] == "2025-04-15 23:00"


def test_cli_list_table_and_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "list", "--data", str(SAMPLE), "-s", "SOLUSDT"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "SOLUSDT" in result.output and "ORCAUSDT" not in result.output and "1008" in result.output
    missing = runner.invoke(app, ["data", "list", "--data", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "data folder not found" in missing.output
    empty = runner.invoke(app, ["data", "import", "--from", str(tmp_path), "--to", str(tmp_path / "out")])
    assert empty.exit_code == 1 and "nothing recognised" in empty.output
