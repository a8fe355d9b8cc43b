"""The market driver moves the exchange clock with its own: a fill between two bars carries the
time it happened, not the time of the last replayed bar."""

from __future__ import annotations

from pathlib import Path

from bot.core.enums import OrderSide, OrderType
from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.data.store import MarketStore
from bot.sim.driver import MarketDriver
from bot.sim.exchange import SimExchange


class Clock:
    def __init__(self, t: int) -> None:
        self.t = t

    def now_ms(self) -> int:
        return self.t


def test_fills_between_bars_are_stamped_with_the_clock(sample_dir: Path) -> None:
    store = MarketStore.load(sample_dir, symbols=["ORCAUSDT"])
    sim = SimExchange({"ORCAUSDT": store["ORCAUSDT"].instrument}, balance=10_000.0)
    t0 = to_ms("2025-03-19T06:00:00Z")
    clock = Clock(t0)
    driver = MarketDriver(sim, store, ["ORCAUSDT"], clock)
    clock.t = t0 + 40 * 60_000  # 06:40, no new bar closed since 06:00
    assert driver.sync() == 0
    order = sim.place_order("ORCAUSDT", OrderSide.BUY, OrderType.MARKET, quantity=100.0)
    [fill] = sim.user_trades("ORCAUSDT")
    assert fill.ts_ms == clock.t == order.updated_ms
    clock.t = t0 + MS_PER_HOUR  # the 06:00-07:00 bar closes: the clock never runs backwards
    driver.sync()
    assert sim.now_ms == t0 + MS_PER_HOUR
