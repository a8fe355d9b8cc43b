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


class _Recorder:
    """Stands in for the exchange: keeps every bar the driver delivers."""

    def __init__(self) -> None:
        self.bars: list[tuple] = []

    def on_bar(self, symbol: str, ts: int, o: float, h: float, l: float, c: float, volume: float,  # noqa: E741
               **marks: float | None) -> None:
        self.bars.append((ts, o, h, l, c, volume, marks["mark_o"], marks["mark_h"], marks["mark_l"], marks["mark_c"]))

    def advance_time(self, t: int) -> None:
        pass


def test_every_bar_is_delivered_with_its_own_numbers_across_row_chunks() -> None:
    """The driver converts bars to Python numbers a chunk (ROW_CHUNK) at a time: bars at and around
    the chunk edges, a NaN mark and a mark series that ends early must come out as the stored row."""
    import numpy as np

    from bot.data.store import SymbolHistory
    from bot.sim.driver import ROW_CHUNK

    n = 2 * ROW_CHUNK + 7
    t0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
    i = np.arange(n, dtype=np.float64)
    marks = ROW_CHUNK + 3  # the mark series stops 3 bars into the second chunk
    mark_close = 100.0 + i[:marks] + 0.5
    mark_close[5] = np.nan
    h = SymbolHistory("XUSDT", ts=t0 + np.arange(n, dtype=np.int64) * MS_PER_HOUR, open=100.0 + i, high=101.0 + i,
                      low=99.0 + i, close=100.5 + i, volume=10.0 + i, mark_open=100.0 + i[:marks],
                      mark_high=101.0 + i[:marks], mark_low=99.0 + i[:marks], mark_close=mark_close)
    exchange = _Recorder()
    clock = Clock(t0)  # nothing closed yet
    driver = MarketDriver(exchange, MarketStore({"XUSDT": h}), ["XUSDT"], clock)
    clock.t = t0 + n * MS_PER_HOUR
    assert driver.sync() == n
    assert len(exchange.bars) == n
    for row in (0, 5, ROW_CHUNK - 1, ROW_CHUNK, ROW_CHUNK + 2, ROW_CHUNK + 3, 2 * ROW_CHUNK, n - 1):
        k = float(row)
        has_mark = row < marks
        expected = (t0 + row * MS_PER_HOUR, 100.0 + k, 101.0 + k, 99.0 + k, 100.5 + k, 10.0 + k,
                    100.0 + k if has_mark else None, 101.0 + k if has_mark else None,
                    99.0 + k if has_mark else None, (100.5 + k if row != 5 else None) if has_mark else None)
        assert exchange.bars[row] == expected, row
        assert all(type(v) in (int, float, type(None)) for v in exchange.bars[row])
    # the driver's "as of now" prices: the last bar's close, its mark absent -> the close
    assert (driver.prices["XUSDT"].last, driver.prices["XUSDT"].mark) == (100.5 + n - 1, 100.5 + n - 1)
