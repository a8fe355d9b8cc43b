"""Measure market-data load time and replay snapshot throughput (prints numbers; no asserts).

    .venv/bin/python scripts/bench_data_load.py [--data DIR] [--symbols 20] [--bars 10000]

1. Writes ``--symbols`` synthetic-timestamp copies of a real sample symbol (ORCA, tiled to
   ``--bars`` 1h bars, with mark, funding and spot files) in freqtrade layout to a temp folder and
   times ``MarketStore.load`` on it (the contract asks for well under a second for 20 x 10,000).
2. Times ``MarketStore.load`` on ``--data`` (default: the bundled sample).
3. Times ``ReplaySource.iter_snapshots`` for ORCAUSDT (price + mark + funding + spot) and
   BTCUSDT (plus OI and liquidations) at 1-minute and 1-hour steps; best of 3 runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bot.core.timeutil import MS_PER_HOUR
from bot.data.store import MarketStore
from bot.market.replay import ReplaySource

SAMPLE = Path(__file__).resolve().parent.parent / "bot" / "data" / "sample"


def _tile(df: pd.DataFrame, n: int, step_ms: int) -> pd.DataFrame:
    reps = -(-n // len(df))
    out = pd.concat([df] * reps, ignore_index=True).iloc[:n].copy()
    start = pd.Timestamp("2020-01-01", tz="UTC")
    out["date"] = start + pd.to_timedelta(np.arange(n) * step_ms, unit="ms")
    return out


def make_synthetic(root: Path, symbols: int, bars: int) -> None:
    fut = root / "binance" / "futures"
    fut.mkdir(parents=True)
    src = SAMPLE / "binance"
    k = pd.read_feather(src / "futures" / "ORCA_USDT_USDT-1h-futures.feather")
    m = pd.read_feather(src / "futures" / "ORCA_USDT_USDT-1h-mark.feather")
    f = pd.read_feather(src / "futures" / "ORCA_USDT_USDT-1h-funding_rate.feather")
    s = pd.read_feather(src / "ORCA_USDT-1h.feather")
    for i in range(symbols):
        pair = f"S{i:02d}_USDT_USDT"
        _tile(k, bars, MS_PER_HOUR).to_feather(fut / f"{pair}-1h-futures.feather")
        _tile(m, bars, MS_PER_HOUR).to_feather(fut / f"{pair}-1h-mark.feather")
        _tile(f, bars // 4, 4 * MS_PER_HOUR).to_feather(fut / f"{pair}-1h-funding_rate.feather")
        _tile(s, bars, MS_PER_HOUR).to_feather(root / "binance" / f"S{i:02d}_USDT-1h.feather")


def best_of(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=SAMPLE)
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--bars", type=int, default=10_000)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        make_synthetic(Path(tmp), args.symbols, args.bars)
        dt = best_of(lambda: MarketStore.load(Path(tmp)))
        print(f"load {args.symbols} symbols x {args.bars} bars (futures+mark+funding+spot): {dt * 1000:.1f} ms")

    dt = best_of(lambda: MarketStore.load(args.data))
    store = MarketStore.load(args.data)
    print(f"load {args.data}: {len(store)} symbols in {dt * 1000:.1f} ms")

    for symbol in ("ORCAUSDT", "BTCUSDT"):
        if symbol not in store:
            continue
        h = store[symbol]
        start, end = int(h.ts[0]), int(h.ts[-1])
        src = ReplaySource(store)
        src.snapshot(symbol, end)  # prepare once, outside the timing
        for step in (60_000, MS_PER_HOUR):
            n = (end - start) // step + 1

            def run(src: ReplaySource = src, symbol: str = symbol, start: int = start, end: int = end,
                    step: int = step) -> None:
                for _ in src.iter_snapshots(symbol, start, end, step):
                    pass

            dt = best_of(run)
            print(f"iter_snapshots {symbol} step {step // 60_000} min: {n} snapshots in {dt:.2f} s"
                  f" = {n / dt:,.0f} snapshots/s")
        stepper = ReplaySource(store)
        hours = list(range(start + h.bar_ms, end + 1, MS_PER_HOUR))

        def step_all(stepper: ReplaySource = stepper, hours: list[int] = hours) -> None:
            for t in hours:
                stepper.snapshots(t)

        dt = best_of(step_all, 1)
        print(f"engine-style snapshots(t) hourly over {len(hours)} steps x {len(store)} symbols:"
              f" {len(hours) * len(store) / dt:,.0f} snapshots/s")
        t1 = best_of(lambda src=src, symbol=symbol, end=end: src.snapshot(symbol, end - 12 * MS_PER_HOUR), 50)
        print(f"snapshot() {symbol}: {t1 * 1e6:.0f} us per call")


if __name__ == "__main__":
    main()
