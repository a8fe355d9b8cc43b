"""Benchmark the live feed against the emulator: a full-universe scan and a candidate deep-scan.

Prints wall time and request weight of each. The universe is inflated to ``--symbols``
instruments by **cloning** the bundled sample's histories under new names (``C001USDT``...):
the emulator serves them like real symbols; their numbers are copies, not market data.
Uses the same ccxt client as production (``bot.exchange.connect``, ccxt's limiter on).

    .venv/bin/python scripts/bench_feed.py [--symbols 200] [--candidates 20] [--scans 3]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
from pathlib import Path

from loguru import logger

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.core.timeutil import to_ms  # noqa: E402
from bot.data.store import MarketStore  # noqa: E402
from bot.emulator import EmulatorConfig, EmulatorState, start_emulator  # noqa: E402
from bot.exchange.connect import connect  # noqa: E402
from bot.market.live import LiveSource, PreFilter  # noqa: E402

AT = to_ms("2025-03-21T08:00:00Z")
TEMPLATES = ("ORCAUSDT", "BTCUSDT")  # sample symbols with data at AT
BINANCE_BUDGET = 2400


def cloned_store(n: int) -> MarketStore:
    sample = MarketStore.load(ROOT / "bot" / "data" / "sample")
    histories = {}
    for i in range(n):
        name = f"C{i:03d}USDT"
        histories[name] = dataclasses.replace(sample[TEMPLATES[i % len(TEMPLATES)]], symbol=name)
    return MarketStore(histories, sample.issues)


async def main(n_symbols: int, n_candidates: int, scans: int, ccxt_limiter: bool) -> None:
    store = cloned_store(n_symbols)
    state = EmulatorState.build(store, AT, speed=0, config=EmulatorConfig())
    runner, url = await start_emulator(state, port=0)
    settings = Settings(exchange={"base_url": url, "request_budget_per_minute": BINANCE_BUDGET},
                        universe={"min_quote_volume_24h": 0, "max_symbols": n_symbols})
    client = connect(settings)
    client.enableRateLimit = ccxt_limiter  # our RequestBudget stays on either way
    try:
        bulk_only = LiveSource(client, settings, clock=state.now_ms,
                               prefilter=PreFilter(max_candidates=0))
        await bulk_only.scan()  # warm-up: markets, connections
        bulk = []
        for _ in range(scans):  # real cycles are >= 60 s apart: let ccxt's token debt drain first
            await asyncio.sleep(2.2)
            bulk.append(await bulk_only.scan())
        deep_src = LiveSource(client, settings, clock=state.now_ms,
                              prefilter=PreFilter(funding_band=0.0, change_band=0.0, max_candidates=n_candidates))
        await deep_src.scan()
        deep = []
        for _ in range(scans):
            await asyncio.sleep(2.2)
            deep.append(await deep_src.scan())
    finally:
        await client.close()
        await runner.cleanup()
    b = bulk[-1].stats
    print(f"universe: {b.universe} symbols ({n_symbols} clones of {', '.join(TEMPLATES)} from bot/data/sample; "
          "cloned histories, not market data)")
    print(f"full-universe scan : wall {statistics.median(r.stats.bulk_seconds for r in bulk):.3f} s (median of "
          f"{scans}), weight {b.bulk_weight} = {100 * b.bulk_weight / BINANCE_BUDGET:.1f}% of "
          f"{BINANCE_BUDGET}/min, {b.requests} requests")
    d = deep[-1].stats
    deep_wall = statistics.median(r.stats.deep_seconds for r in deep)
    print(f"candidate deep-scan: {d.candidates} candidates, wall {deep_wall:.3f}"
          f" s, weight {d.deep_weight} ({d.deep_weight / max(1, d.candidates):.1f}/symbol) = "
          f"{100 * d.deep_weight / BINANCE_BUDGET:.1f}% of {BINANCE_BUDGET}/min")
    print(f"ccxt limiter: {'on (as built by connect)' if ccxt_limiter else 'off (RequestBudget only)'}, "
          f"rateLimit {client.rateLimit} ms per weight unit; its leaky bucket charges the 40-weight ticker "
          "call to the NEXT request, even after idle time")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=200)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--scans", type=int, default=3)
    parser.add_argument("--no-ccxt-limiter", action="store_true", help="disable ccxt's limiter for comparison")
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    asyncio.run(main(args.symbols, args.candidates, args.scans, not args.no_ccxt_limiter))
