"""The research pipeline end to end on the bundled sample, and its CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from bot.research.report import run
from bot.research.signals import collect, tradable_symbols

SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample"


@pytest.fixture(scope="module")
def result():
    return run(SAMPLE, to_ms("2025-06-01"))


def test_rows_cover_both_periods_and_horizons(result) -> None:
    assert result.symbols == ["BTCUSDT", "ORCAUSDT", "PIPPINUSDT", "RIVERUSDT", "SOLUSDT"]
    assert result.symbol_hours == 13_560
    keys = {(r.strategy, r.side, r.period, r.horizon_h) for r in result.rows}
    for period in ("train", "test"):
        for h in (1, 4, 24):
            assert ("short_squeeze", "long", period, h) in keys
            assert ("funding_extreme", "short", period, h) in keys
    assert not any(r.strategy == "short_squeeze" and r.side == "short" for r in result.rows)


def test_counts_match_the_strategies_own_signals(result) -> None:
    store = MarketStore.load(SAMPLE)
    signals = collect(store, ["short_squeeze"], tradable_symbols(store)).signals
    split = to_ms("2025-06-01")
    for period, in_period in (("train", lambda t: t < split), ("test", lambda t: t >= split)):
        raw = sum(1 for s in signals if in_period(s.ts))
        rows = [r for r in result.rows if (r.strategy, r.side, r.period) == ("short_squeeze", "long", period)]
        assert {r.raw_signals for r in rows} == {raw}
        by_h = {r.horizon_h: r for r in rows}
        # de-duplication: longer horizons merge more entries into one episode
        assert by_h[1].signal.n >= by_h[4].signal.n >= by_h[24].signal.n > 0
        assert by_h[24].signal.n < raw
        for r in rows:
            assert r.baseline.n == r.signal.n  # same count, same sides, same symbols


def test_deterministic(result) -> None:
    again = run(SAMPLE, to_ms("2025-06-01"))
    assert again.rows == result.rows


def test_cli_writes_csv(tmp_path) -> None:
    out = tmp_path / "signals.csv"
    res = CliRunner().invoke(app, ["research", "signals", "--data", str(SAMPLE), "--out", str(out),
                                   "--strategy", "short_squeeze", "--train-until", "2025-06-01"])
    assert res.exit_code == 0, res.output
    assert "short_squeeze" in res.output and "symbol-hours" in res.output
    rows = list(csv.DictReader(out.open()))
    assert {r["strategy"] for r in rows} == {"short_squeeze"}
    assert len(rows) == 6  # long x (train, test) x (1h, 4h, 24h)
    assert all(int(r["n"]) == int(r["base_n"]) for r in rows)


@pytest.mark.parametrize(("args", "message"), [
    (["--strategy", "nope"], "unknown strategy 'nope'"),
    (["--train-until", "yesterday"], "not an ISO date"),
])
def test_cli_bad_input_is_a_clean_error(args, message) -> None:
    res = CliRunner().invoke(app, ["research", "signals", "--data", str(SAMPLE), *args])
    assert res.exit_code == 2
    assert message in res.output


def test_cli_missing_folder(tmp_path) -> None:
    res = CliRunner().invoke(app, ["research", "signals", "--data", str(tmp_path / "none")])
    assert res.exit_code == 2 and "not a directory" in res.output
