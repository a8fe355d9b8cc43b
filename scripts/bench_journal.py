"""Benchmark: wall time of ``derivbot journal summary`` on a 10,000-trade SQLite journal.

Builds the journal with a bulk insert through the journal's own models (the writer would take
longer and measures something else), then times ``bot.review.service.summary`` (what the
command runs) and the whole CLI command. Target: under 2 s. Prints numbers; asserts nothing.

    .venv/bin/python scripts/bench_journal.py [--trades 10000] [--keep PATH]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from bot.journal import models as m
from bot.journal.convert import new_id
from bot.journal.db import create_journal_engine
from bot.journal.migrate import upgrade_to_head
from bot.review import service
from bot.review.db import open_readonly


def build(url: str, n_trades: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    upgrade_to_head(url)
    engine = create_journal_engine(url)
    t0 = datetime(2023, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    run_id = new_id()
    trades, exits, equity = [], [], []
    eq = 10_000.0
    for i in range(n_trades):
        entry = t0 + timedelta(hours=i)
        exit_ = entry + timedelta(minutes=rng.randint(10, 50))
        price = rng.uniform(0.5, 2.0)
        realised = round(rng.gauss(1.0, 20.0), 4)
        fees, funding = round(abs(rng.gauss(0.5, 0.1)), 4), round(rng.gauss(0, 0.5), 4)
        tid = new_id()
        trades.append({"id": tid, "recorded_at": now, "run_id": run_id,
                       "symbol": rng.choice(["ORCAUSDT", "BTCUSDT", "ETHUSDT"]),
                       "side": rng.choice(["long", "short"]),
                       "strategy": rng.choice(["short_squeeze", "funding_extreme"]),
                       "entry_ts": entry, "entry_price": Decimal(f"{price:.5f}"), "quantity": Decimal("100"),
                       "leverage": Decimal("3"), "margin_mode": "isolated"})
        exits.append({"id": new_id(), "recorded_at": now, "run_id": run_id, "trade_id": tid, "exit_ts": exit_,
                      "exit_price": Decimal(f"{price * 1.01:.5f}"), "exit_reason": "signal",
                      "realised_pnl": Decimal(str(realised)), "fees": Decimal(str(fees)),
                      "funding": Decimal(str(funding))})
        eq += realised - fees + funding
        equity.append({"id": new_id(), "recorded_at": now, "run_id": run_id, "ts": exit_,
                       "wallet": Decimal(f"{eq:.4f}"),
                       "unrealised": Decimal(0), "equity": Decimal(f"{eq:.4f}"), "exposure": Decimal(0),
                       "risk_state": "active"})
    with engine.begin() as conn:
        conn.execute(sa.insert(m.Run.__table__), [{"id": run_id, "recorded_at": now, "mode": "paper",
                                                   "config_hash": "bench", "code_version": "bench",
                                                   "started_at": t0}])
        conn.execute(sa.insert(m.Trade.__table__), trades)
        conn.execute(sa.insert(m.TradeExit.__table__), exits)
        conn.execute(sa.insert(m.EquitySnapshot.__table__), equity)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="write the journal here instead of a temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench.sqlite"
        url = f"sqlite:///{path}"
        t = time.perf_counter()
        build(url, args.trades)
        print(f"built {args.trades} trades in {time.perf_counter() - t:.2f} s ({path.stat().st_size / 1e6:.1f} MB)")
        engine = open_readonly(url)
        timings = []
        for _ in range(3):
            t = time.perf_counter()
            data = service.summary(engine)
            timings.append(time.perf_counter() - t)
        engine.dispose()
        print(f"summary (in process): best {min(timings):.3f} s, first {timings[0]:.3f} s "
              f"(trades={data['total']['trades']}, net={data['total']['net_pnl']:.2f}); target < 2 s")
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot", "journal", "summary", "--journal", url, "--json"],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"derivbot journal summary --json (whole process incl. imports): {time.perf_counter() - t:.3f} s")


if __name__ == "__main__":
    main()
