"""Fixtures for the simulated exchange tests: a small-cap instrument and a primed exchange."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.core.instrument import Instrument
from bot.sim.exchange import SimExchange

SYMBOL = "ORCAUSDT"
HOUR = 3_600_000


def make_instrument(symbol: str = SYMBOL) -> Instrument:
    """ORCA-like precision: tick 0.001, whole contracts, 5 USDT minimum notional."""
    return Instrument(symbol=symbol, base=symbol.removesuffix("USDT"), tick_size=0.001, step_size=1.0,
                      min_qty=1.0, max_qty=1_000_000.0, market_max_qty=200_000.0, min_notional=5.0,
                      price_precision=3, quantity_precision=0)


@pytest.fixture
def inst() -> Instrument:
    return make_instrument()


@pytest.fixture
def make_ex() -> Callable[..., SimExchange]:
    """Exchange with one flat bar at ``price`` already seen (so orders have a reference price)."""

    def _make(balance: float = 10_000.0, price: float = 1.0, volume: float = 1_000_000.0,
              leverage: int = 10, **kwargs: object) -> SimExchange:
        ex = SimExchange({SYMBOL: make_instrument()}, balance=balance, **kwargs)  # type: ignore[arg-type]
        ex.on_bar(SYMBOL, 0, price, price, price, price, volume)
        ex.set_leverage(SYMBOL, leverage)
        return ex

    return _make
