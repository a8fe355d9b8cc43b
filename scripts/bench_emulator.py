"""Throughput of the exchange emulator: signed requests/s through the real ccxt client over
loopback (several concurrent clients, mixed workload, enableRateLimit off), and bar-steps/s
of the core alone. Prints numbers; asserts nothing.

    .venv/bin/python scripts/bench_emulator.py [--seconds 5] [--clients 4]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loguru import logger  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.core.timeutil import to_ms  # noqa: E402
from bot.data.store import MarketStore  # noqa: E402
from bot.emulator import EmulatorConfig, EmulatorState, start_emulator  # noqa: E402
from bot.exchange.connect import connect  # noqa: E402

S = "ORCA/USDT:USDT"


async def _client(base_url: str, deadline: float, counts: list[int]) -> None:
    ex = connect(Settings(mode="testnet", exchange={"base_url": base_url, "api_key": "k", "api_secret": "s"}))
    ex.enableRateLimit = False
    try:
        await ex.load_markets()
        i = 0
        while time.perf_counter() < deadline:
            kind = i % 5
            if kind == 0:
                await ex.fetch_balance()
            elif kind == 1:
                await ex.fetch_positions([S])
            elif kind == 2:
                order = await ex.create_order(S, "limit", "buy", 10, 1.0)
                await ex.cancel_order(order["id"], S)
                counts[0] += 1
            elif kind == 3:
                await ex.fetch_open_orders(S)
            else:
                await ex.fetch_my_trades(S, None, 5)
            counts[0] += 1
            i += 1
    finally:
        await ex.close()


async def bench_http(store: MarketStore, seconds: float, clients: int) -> float:
    config = EmulatorConfig(api_key="k", api_secret="s", max_weight=10**9, balance=1e9)
    state = EmulatorState.build(store, to_ms("2025-03-18T00:00Z"), speed=0, config=config,
                                symbols=["ORCAUSDT", "BTCUSDT"])
    runner, base_url = await start_emulator(state, port=0)
    counts = [0]
    try:
        start = time.perf_counter()
        await asyncio.gather(*(_client(base_url, start + seconds, counts) for _ in range(clients)))
        elapsed = time.perf_counter() - start
    finally:
        await runner.cleanup()
    return counts[0] / elapsed


def bench_core_steps(store: MarketStore) -> tuple[str, float]:
    try:
        from scripts.bench_sim_core import bench_core  # written by the core engineer

        return "bench_sim_core.bench_core", float(bench_core()["idle_steps_per_s"])
    except ImportError:
        pass
    from bot.sim.exchange import SimExchange

    h = store["ORCAUSDT"]
    ex = SimExchange({"ORCAUSDT": h.instrument})
    ex.on_bar("ORCAUSDT", int(h.ts[0]), *(float(a[0]) for a in (h.open, h.high, h.low, h.close, h.volume)))
    from bot.core.enums import OrderSide, OrderType

    ex.place_order("ORCAUSDT", OrderSide.BUY, OrderType.MARKET, quantity=100)
    ex.place_order("ORCAUSDT", OrderSide.BUY, OrderType.LIMIT, quantity=100, price=float(h.low[0]) * 0.5)
    n = len(h.ts)
    start = time.perf_counter()
    for i in range(1, n):
        ex.on_bar("ORCAUSDT", int(h.ts[i]), float(h.open[i]), float(h.high[i]), float(h.low[i]),
                  float(h.close[i]), float(h.volume[i]), mark_c=float(h.mark_close[i]))
    return "SimExchange.on_bar (own loop, 1 position + 1 resting limit)", (n - 1) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    store = MarketStore.load(ROOT / "bot" / "data" / "sample")
    rps = asyncio.run(bench_http(store, args.seconds, args.clients))
    print(f"signed requests/s via ccxt over loopback ({args.clients} clients, mixed): {rps:,.0f}")
    label, steps = bench_core_steps(store)
    print(f"core bar-steps/s [{label}]: {steps:,.0f}")


if __name__ == "__main__":
    main()
