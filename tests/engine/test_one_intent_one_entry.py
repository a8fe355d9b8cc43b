"""One intent, one entry (issue 11, Part 2 item 2), through the real ccxt client and the emulator.

Binance accepts a client id again once its order is filled, and under load an accepted order
answers -2013 to queries for a while. So when the response to an entry is lost, "not found" does
not mean "never placed": resending with the same client id would enter a second time. The
executor must look the order up with backoff and, if it stays unknown, say so, never resend.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.enums import OrderSide, OrderStatus, OrderType
from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from bot.emulator.faults import FaultConfig
from bot.exchange.connect import connect
from bot.execution.exchange import ExchangeExecutor
from bot.execution.types import OrderRejectedError, OrderRequest, SubmitUnknownError
from tests.engine import helpers

SYMBOL = "ORCAUSDT"
T0 = to_ms("2025-03-18T06:00:00Z")
QTY = 10.0
#: Every POST /fapi/v1/order is processed, then its response is lost (the client times out).
DROP_ORDER_RESPONSES = FaultConfig(p_drop_response=1.0, hang_seconds=1.5, paths=["/fapi/v1/order"])


async def _setup(tmp_path: Path, sample_dir: Path, lag_ms: float, *, backoff_s: float,
                 faults: FaultConfig | None = None) -> tuple[helpers.Emulator, ExchangeExecutor]:
    store = MarketStore.load(sample_dir, symbols=[SYMBOL])
    emu = await helpers.start(store, T0, [SYMBOL], max_weight=10_000_000, faults=faults or FaultConfig())
    try:
        await emu.control("scenario", {"order_visibility_lag_ms": lag_ms})
        settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet")
        settings.exchange.timeout_ms = 1000  # the smallest allowed; below the 1.5 s hang of a dropped response
        executor = ExchangeExecutor(connect(settings), backoff_s=backoff_s, max_attempts=4)
        executor.client.enableRateLimit = False
        await executor.start()
    except BaseException:
        await emu.close()
        raise
    return emu, executor


def _entry(cid: str) -> OrderRequest:
    return OrderRequest(client_id=cid, symbol=SYMBOL, side=OrderSide.BUY, type=OrderType.MARKET, quantity=QTY)


def _orders(emu: helpers.Emulator, cid: str) -> list:
    return [o for o in emu.state.exchange.all_orders(SYMBOL, conditional=False) if o.client_order_id == cid]


async def test_lost_response_and_order_not_visible_yet_is_unknown_not_resent(tmp_path: Path,
                                                                              sample_dir: Path) -> None:
    # The lag (60 s) outlasts every look-up (4 x ~0.02-0.16 s): the outcome stays unknown.
    emu, executor = await _setup(tmp_path, sample_dir, 60_000, backoff_s=0.02, faults=DROP_ORDER_RESPONSES)
    try:
        with pytest.raises(SubmitUnknownError, match="not resent"):
            await executor.submit(_entry("intent-1-e0"))
    finally:
        await executor.close()
        await emu.close()
    orders = _orders(emu, "intent-1-e0")
    assert [(o.status, o.filled_qty) for o in orders] == [(OrderStatus.FILLED, QTY)]  # one entry, filled
    position = emu.state.exchange.position(SYMBOL)
    assert position is not None and position.quantity == pytest.approx(QTY)  # one position, not 2x or 4x


async def test_lost_response_is_resolved_once_the_order_becomes_visible(tmp_path: Path, sample_dir: Path) -> None:
    # Lag 1.4 s. The client gives up after 1 s; the first look-up comes 0.1-0.3 s later (order age
    # < 1.4 s: -2013), the 4th at least 0.2 * (1+2+4+8) * 0.5 = 1.5 s later (age >= 2.5 s): found.
    emu, executor = await _setup(tmp_path, sample_dir, 1400, backoff_s=0.2, faults=DROP_ORDER_RESPONSES)
    try:
        state = await executor.submit(_entry("intent-2-e0"))
    finally:
        await executor.close()
        await emu.close()
    assert (state.client_id, state.status, state.filled) == ("intent-2-e0", OrderStatus.FILLED, QTY)
    assert len(_orders(emu, "intent-2-e0")) == 1
    position = emu.state.exchange.position(SYMBOL)
    assert position is not None and position.quantity == pytest.approx(QTY)


async def test_refused_before_execution_is_not_placed_and_says_so(tmp_path: Path, sample_dir: Path) -> None:
    # ORDERS limit of 1 per 10 s, already used: every attempt is -1015 at HTTP 429, which Binance
    # answers before the matching engine sees the order. Nothing executed: a plain rejection.
    emu, executor = await _setup(tmp_path, sample_dir, 0, backoff_s=0.01)
    try:
        await emu.control("scenario", {"orders_per_10s": 1})
        await executor.submit(_entry("first-e0"))
        with pytest.raises(OrderRejectedError, match="not placed"):
            await executor.submit(_entry("second-e0"))
    finally:
        await executor.close()
        await emu.close()
    assert _orders(emu, "second-e0") == []
    position = emu.state.exchange.position(SYMBOL)
    assert position is not None and position.quantity == pytest.approx(QTY)
