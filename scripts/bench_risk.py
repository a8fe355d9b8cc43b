"""Throughput of the risk layer: RiskManager.evaluate and StopWatchdog.check (prints numbers)."""

from __future__ import annotations

import time

from bot.config import RiskSettings
from bot.core.enums import IntentKind, Mode, OrderSide, OrderType, PositionSide
from bot.core.instrument import Instrument
from bot.core.intents import Intent
from bot.risk import AccountState, ConditionalOrderInfo, PositionInfo, ProtectionPlan, RiskManager, StopWatchdog


def main(n: int = 20_000) -> None:
    inst = Instrument("ORCAUSDT", "ORCA")
    manager = RiskManager(RiskSettings(), Mode.PAPER)
    intent = Intent(IntentKind.ENTER_SHORT, "ORCAUSDT", "bench", 0, stop_loss_pct=0.3, take_profit_pct=0.1,
                    leverage=5)
    account = AccountState(0, 10_000.0)
    start = time.perf_counter()
    for i in range(n):
        manager.evaluate(intent, account, inst, 2.5 + (i % 100) * 0.001)
    per = (time.perf_counter() - start) / n
    print(f"RiskManager.evaluate (short, leverage lowered 3->1): {per * 1e6:.1f} us/call, {1 / per:,.0f}/s")

    symbols = [f"S{i}USDT" for i in range(50)]
    positions = [PositionInfo(s, PositionSide.LONG, 10.0, 100.0, 101.0) for s in symbols]
    orders = [ConditionalOrderInfo(f"o{i}", s, OrderSide.SELL, OrderType.STOP_MARKET, 95.0, 10.0, True)
              for i, s in enumerate(symbols)]
    plans = {s: ProtectionPlan(s, PositionSide.LONG, 100.0, 95.0) for s in symbols}
    watchdog = StopWatchdog()
    reps = 200
    start = time.perf_counter()
    for _ in range(reps):
        watchdog.check(positions, orders, plans, 0)
    per = (time.perf_counter() - start) / reps
    print(f"StopWatchdog.check, 50 positions: {per * 1e3:.2f} ms/call")


if __name__ == "__main__":
    main()
