"""``ExchangeExecutor.submit`` branches no test executed (issue 17), through the real ccxt client
against the emulator, which answers as Binance documents:

* -4116 "ClientOrderId is duplicated." (Binance: a client id must be unique among *open* orders):
  the order already resting under that id is ours, from an earlier attempt, so submit looks it
  up and returns it; nothing new is placed;
* -2019 "Margin is insufficient." is a refusal by the matching engine's checks, which proves
  nothing executed but will not heal by itself: raised at once with its code, never resent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core.enums import MarginMode, OrderSide, OrderType
from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from bot.exchange.connect import connect
from bot.execution.exchange import ExchangeExecutor
from bot.execution.types import OrderRejectedError, OrderRequest
from tests.engine import helpers

SYMBOL = "ORCAUSDT"
T0 = to_ms("2025-03-18T06:00:00Z")


async def _executor(tmp_path: Path, emu: helpers.Emulator) -> tuple[ExchangeExecutor, list[str]]:
    """A started executor whose ``create_order`` calls are counted (client ids, in order)."""
    settings = helpers.engine_settings(tmp_path, base_url=emu.base_url, mode="testnet")
    executor = ExchangeExecutor(connect(settings), backoff_s=0.01, max_attempts=3)
    executor.client.enableRateLimit = False
    await executor.start()
    sent: list[str] = []
    create = executor.client.create_order

    async def counted(*args: Any) -> Any:
        sent.append(args[-1]["clientOrderId"])
        return await create(*args)

    executor.client.create_order = counted
    return executor, sent


async def test_a_duplicated_client_id_returns_the_order_already_resting(tmp_path: Path, sample_dir: Path) -> None:
    emu = await helpers.start(MarketStore.load(sample_dir, symbols=[SYMBOL]), T0, [SYMBOL], max_weight=10_000_000)
    executor, sent = await _executor(tmp_path, emu)
    try:
        mark = emu.state.exchange._state_or_raise(SYMBOL).mark
        request = OrderRequest(client_id="dup-e0", symbol=SYMBOL, side=OrderSide.BUY, type=OrderType.LIMIT,
                               quantity=10, price=round(mark * 0.8, 4))  # rests far below the market
        first = await executor.submit(request)
        again = await executor.submit(request)  # the venue answers -4116
    finally:
        await executor.close()
        await emu.close()
    assert sent == ["dup-e0", "dup-e0"]
    assert again.exchange_id == first.exchange_id and again.client_id == "dup-e0" and again.is_open
    assert [o.client_order_id for o in emu.state.exchange.open_orders(SYMBOL)] == ["dup-e0"]


async def test_insufficient_margin_is_raised_with_its_code_and_never_resent(tmp_path: Path,
                                                                            sample_dir: Path) -> None:
    emu = await helpers.start(MarketStore.load(sample_dir, symbols=[SYMBOL]), T0, [SYMBOL], max_weight=10_000_000)
    executor, sent = await _executor(tmp_path, emu)
    try:
        # 10,000 ORCA at ~1.5 is ~15,000 USDT of notional: at 5x that needs ~3,000 USDT of
        # margin, more than a 1,000 USDT wallet holds
        await executor.ensure_symbol_setup(SYMBOL, 5, MarginMode.ISOLATED)
        await emu.control("balance", {"balance": 1_000})
        request = OrderRequest(client_id="big-e0", symbol=SYMBOL, side=OrderSide.BUY, type=OrderType.MARKET,
                               quantity=10_000)
        with pytest.raises(OrderRejectedError) as caught:
            await executor.submit(request)
    finally:
        await executor.close()
        await emu.close()
    assert caught.value.code == -2019
    assert sent == ["big-e0"], "a refusal is not resent"
    assert emu.state.exchange.position(SYMBOL) is None
