"""``derivbot journal ...`` reporting commands: numbers in --json output and tables, exports,
charts and the HTML report, all checked against the scenario's raw inputs."""

from __future__ import annotations

import base64
import json
import re
from decimal import Decimal

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from bot.cli.main import app

from . import expected as x

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, ["journal", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def run_json(*args: str):
    return json.loads(run(*args, "--json"))


def test_summary_json_and_table(scenario):
    data = run_json("summary", "--journal", scenario.url)
    assert data["total"]["net_pnl"] == pytest.approx(sum(x.net(t) for t in x.closed()))
    assert data["total"]["sharpe"] == pytest.approx(x.sharpe(x.daily_returns()[0]))
    assert data["by_strategy"]["short_squeeze"]["profit_factor"] == "inf"
    live = run_json("summary", "--journal", scenario.url, "--mode", "live")
    assert live["total"]["trades"] == 1
    table = run("summary", "--journal", scenario.url)
    assert re.search(r"TOTAL\s.*\b5\b.*60\.00%.*236\.00", table)
    assert "short_squeeze" in table and "ORCAUSDT" in table


def test_trades_and_trade_story(scenario):
    rows = run_json("trades", "--journal", scenario.url, "--status", "closed")
    assert len(rows) == 5
    by_id = {r["trade_id"]: r for r in rows}
    assert float(by_id[scenario.trades["T2"]]["net_pnl"]) == -199.0
    assert run_json("trades", "--journal", scenario.url, "--strategy", "funding_extreme", "--symbol",
                    "ORCAUSDT")[0]["trade_id"] == scenario.trades["T4"]
    story = run("trade", scenario.trades["T1"][:8], "--journal", scenario.url)
    for text in ("funding_rate", "approved", "breakeven", "canceled", "requested=0.999", "net=118"):
        assert text in story
    story_json = run_json("trade", scenario.trades["T3"], "--journal", scenario.url)
    assert story_json["exit_rows"] == 2 and float(story_json["trade"]["realised_pnl"]) == 310.0


def test_signals_decisions_events(scenario):
    rejected = run_json("decisions", "--journal", scenario.url, "--verdict", "rejected")
    assert [(d["reason_code"], d["numbers"]["limit"]) for d in rejected] == [("max_positions", 3)]
    assert len(run_json("decisions", "--journal", scenario.url)) == 7
    signals = run_json("signals", "--journal", scenario.url, "--limit", "3")
    assert len(signals) == 3
    assert len(run_json("signals", "--journal", scenario.url, "--strategy", "short_squeeze")) == 5
    events = run_json("events", "--journal", scenario.url)
    assert [(e["kind"], e["severity"], e["data"]["loss"]) for e in events] == [("halt", "warning", 200)]


def test_export_csv_and_parquet_exact(scenario, tmp_path):
    run("export", "--format", "csv", "--what", "trades", "--out", str(tmp_path / "t.csv"), "--journal", scenario.url)
    csv = pd.read_csv(tmp_path / "t.csv", dtype=str)
    assert sorted(float(v) for v in csv["net_pnl"].dropna()) == sorted(x.net(t) for t in x.closed())
    run("export", "--format", "csv", "--what", "fills", "--out", str(tmp_path / "f.csv"), "--journal", scenario.url)
    assert "0.999" in set(pd.read_csv(tmp_path / "f.csv", dtype=str)["requested_price"])  # exact text
    run("export", "--format", "parquet", "--what", "fills", "--out", str(tmp_path / "f.parquet"),
        "--journal", scenario.url)
    fills = pq.read_table(tmp_path / "f.parquet").to_pandas()
    assert len(fills) == len(scenario.fills)
    assert fills["requested_price"].dropna().iloc[0] == Decimal("0.999")  # decimal128, not a float
    for what in ("orders", "funding", "equity", "signals"):
        out = tmp_path / f"{what}.csv"
        run("export", "--format", "csv", "--what", what, "--out", str(out), "--journal", scenario.url)
        assert len(pd.read_csv(out)) == {"orders": 17, "funding": 1, "equity": 9, "signals": 7}[what]


def test_bad_input_is_a_clean_error(scenario, tmp_path):
    bad = runner.invoke(app, ["journal", "summary", "--journal", scenario.url, "--mode", "real"])
    assert bad.exit_code == 2 and "--mode" in bad.output
    bad = runner.invoke(app, ["journal", "summary", "--journal", scenario.url, "--since", "yesterday"])
    assert bad.exit_code == 2 and "ISO" in bad.output
    missing = runner.invoke(app, ["journal", "summary", "--journal", f"sqlite:///{tmp_path / 'nope.sqlite'}"])
    assert missing.exit_code == 1 and "does not exist" in missing.output
    assert not (tmp_path / "nope.sqlite").exists()
    bad = runner.invoke(app, ["journal", "export", "--format", "xls", "--what", "trades", "--out", "x",
                              "--journal", scenario.url])
    assert bad.exit_code == 2
    bad = runner.invoke(app, ["journal", "trade", "ffffffff", "--journal", scenario.url])
    assert bad.exit_code == 1 and "no trade" in bad.output


def test_plots_and_report(scenario, tmp_path):
    run("plot", "--out", str(tmp_path / "png"), "--journal", scenario.url)
    names = sorted(p.name for p in (tmp_path / "png").iterdir())
    expected = {"equity.png", "pnl_by_strategy.png", "pnl_by_symbol.png"} | {
        f"trade_{tid[:8]}.png" for tid in scenario.trades.values()}
    assert set(names) == expected
    for p in (tmp_path / "png").iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run("report", "--out", str(tmp_path / "r.html"), "--journal", scenario.url)
    html = (tmp_path / "r.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == len(expected)
    assert all(base64.b64decode(i)[:4] == b"\x89PNG" for i in images)
    assert "236.00" in html and "short_squeeze" in html
    # self-contained: every src/href is inline data, nothing is fetched
    assert all(v.startswith("data:") for v in re.findall(r'(?:src|href)="([^"]*)"', html))
