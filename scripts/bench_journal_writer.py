"""Benchmark of the journal's write path (the trading-loop side). Prints numbers; asserts nothing.

* enqueue latency of ``record_*`` calls (what the trading loop pays), p50 / p99 / max;
* throughput: N mixed rows (order + status + fill + event) enqueued, then one ``flush()``;
* ack latency: a small group (5 rows) followed by ``flush()``, as the engine does per cycle.

Runs on SQLite (temp file) and, if reachable, on PostgreSQL (a scratch database it creates and
drops; URL from ``DERIVBOT_TEST_PG_URL``, default postgresql://postgres@127.0.0.1:5432/test).

    .venv/bin/python scripts/bench_journal_writer.py [--rows 20000] [--batch-size 200] [--no-pg]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bot.journal import Journal

T0 = 1_700_000_000_000


def _record_group(j: Journal, i: int) -> int:
    """One order's worth of rows; returns how many rows were queued."""
    oid = j.record_order(client_order_id=f"b-{i}-{uuid.uuid4().hex[:8]}", ts=T0 + i, symbol="AUSDT",
                         type="market", side="buy", quantity=1.5)
    j.record_order_status(oid, ts=T0 + i, status="filled", filled_qty=1.5, avg_price=1.2345)
    j.record_fill(oid, ts=T0 + i, symbol="AUSDT", side="buy", price=1.2345, quantity=1.5, fee=0.0009,
                  fee_asset="USDT", is_maker=False, latency_ms=40)
    j.record_event("tick", f"cycle {i}", ts=T0 + i)
    return 4


def bench(url: str, label: str, rows: int, batch_size: int) -> None:
    j = Journal.open(url, batch_size=batch_size, flush_interval_ms=200)
    try:
        j.start_run("paper", "bench", "bench")
        latencies = []
        queued = 0
        t_start = time.perf_counter()
        i = 0
        while queued < rows:
            t = time.perf_counter_ns()
            queued += _record_group(j, i)
            latencies.append((time.perf_counter_ns() - t) / 4 / 1000)
            i += 1
        t_enq = time.perf_counter()
        j.flush()
        t_done = time.perf_counter()
        lat = sorted(latencies)
        print(f"[{label}] enqueue per row: p50 {statistics.median(lat):.1f} us, "
              f"p99 {lat[int(len(lat) * 0.99)]:.1f} us, max {lat[-1]:.1f} us")
        print(f"[{label}] {queued} rows: enqueue {t_enq - t_start:.2f} s, flush wait {t_done - t_enq:.2f} s, "
              f"total {queued / (t_done - t_start):,.0f} rows/s committed "
              f"({j.health().batches} batches of <= {batch_size})")
        acks = []
        for k in range(50):
            t = time.perf_counter()
            _record_group(j, 10_000_000 + k)
            j.flush()
            acks.append((time.perf_counter() - t) * 1000)
        acks.sort()
        print(f"[{label}] ack latency (4 rows + flush): p50 {statistics.median(acks):.1f} ms, "
              f"p95 {acks[int(len(acks) * 0.95)]:.1f} ms, max {acks[-1]:.1f} ms")
        assert j.health().ok, j.health()
    finally:
        j.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench(f"sqlite:///{Path(tmp) / 'bench.sqlite'}", "sqlite", args.rows, args.batch_size)
    if args.no_pg:
        return
    base = os.environ.get("DERIVBOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    base = base.replace("postgresql+psycopg://", "postgresql://")
    try:
        import psycopg

        admin = psycopg.connect(base, autocommit=True, connect_timeout=3)
    except Exception as exc:
        print(f"[postgres] skipped: {type(exc).__name__}: {exc}")
        return
    name = f"derivbot_bench_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        bench(f"{base.rsplit('/', 1)[0]}/{name}", "postgres", args.rows, args.batch_size)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
