"""Benchmark: a whole `derivbot backtest` process over the 20 Binance symbols with 1h futures,
mark and funding files (2025-01-01 .. 2026-02-19, ~150,000 symbol-hours).

The rule (the one freqtrade 2026.9 is timed with, ~6.0 s / 500 MB on this machine): long when
the last settled funding <= -0.1% and the 24h change > +10%; short when funding >= +0.1% and
the 24h change < -5%; stop 5% and take-profit 10% on margin at 3x (1.67% / 3.33% of price);
max 3 open positions; 1,000 USDT margin per trade (3,000 notional); 0.05% fee per side; exit
when |funding| < 0.01%. Prints wall time, symbol-bars/s, peak memory, the trade count and where
the time went: the backtest reports its phases (load, features, loop, journal, report) in its
JSON output; start-up is the rest of the whole-process wall (interpreter, imports, settings,
writing the output).

    python scripts/bench_backtest.py [--data DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "Harthor_marketlab" / "user_data" / "data" / "binance"

CONFIG = """
mode = "paper"
[paper]
starting_balance = 10000.0
taker_fee = 0.0005
maker_fee = 0.0005
[risk]
risk_per_trade = 0.02             # the sizing cap, not the binding limit:
max_notional_per_position = 3000  # 1,000 USDT margin x 3 leverage per trade
max_margin_fraction_per_position = 0.5
max_leverage = 3
max_open_positions = 3
max_same_side_positions = 3
max_gross_exposure = 3.0
max_net_exposure = 3.0
cooldown_after_stop_minutes = 0
max_consecutive_losses = 100  # the highest allowed: no loss-streak pause in the benchmark
daily_loss_limit = 0.2
max_drawdown = 0.5
[strategies.funding_rule]
enabled = true
stop_loss_pct = 0.016667
take_profit_pct = 0.033333
leverage = 3
[strategies.short_squeeze]
enabled = false
[strategies.funding_extreme]
enabled = false
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--from", dest="start", default="2025-01-01")
    parser.add_argument("--to", dest="end", default="2026-02-19")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    data = args.data
    note = ""
    if not data.is_dir():
        data, note = ROOT / "bot" / "data" / "sample", f" ({args.data} not found: using the bundled sample)"
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text(CONFIG)
        walls = []
        out: dict = {}
        for i in range(args.repeat):
            journal = f"sqlite:///{Path(tmp) / f'bt{i}.sqlite'}"
            cmd = [sys.executable, "-m", "bot", "backtest", "--data", str(data), "--strategy", "funding_rule",
                   "--from", args.start, "--to", args.end, "--config", str(cfg), "--journal", journal, "--json"]
            started = time.perf_counter()
            result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                    env={**os.environ, "DERIVBOT_LOGGING__LEVEL": "WARNING"})
            walls.append(time.perf_counter() - started)
            if result.returncode != 0:
                sys.exit(f"backtest failed:\n{result.stderr[-3000:]}")
            run_out = json.loads(result.stdout)
            if walls[-1] == min(walls):
                out = run_out  # the breakdown printed is the best run's
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    stats = out["stats"]
    symbol_bars = out.get("symbol_bars") or 0
    wall = min(walls)
    print(f"data: {data}{note}")
    print(f"symbols: {len(out['symbols'])}, period {out['start']} .. {out['end']}, symbol-bars: {symbol_bars:,}")
    print(f"whole-process wall time: {wall:.2f} s (best of {len(walls)}: {', '.join(f'{w:.2f}' for w in walls)})")
    print(f"symbol-bars/s (whole process): {symbol_bars / wall:,.0f}")
    print(f"peak memory (max RSS of the backtest process): {peak_mb:,.0f} MB")
    print(f"trades: {stats['trades']}, net P&L {stats['net_pnl']:.2f} USDT, fees {stats['fees']:.2f}, "
          f"funding {stats['funding']:.2f}, win rate {stats['win_rate']}")
    timings = out.get("timings") or {}
    if timings:
        phases = {"start-up+output": wall - sum(timings.values())} | timings
        print("breakdown (s, of the best run): " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))
    print("targets: <= 1.2 s whole-process and < 250 MB (freqtrade 2026.9: ~6.0 s, 500 MB)")


if __name__ == "__main__":
    main()
