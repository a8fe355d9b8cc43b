"""Issue 11, Part 1 "money moving": transfers in and out of the futures wallet.

``POST /_sim/transfer`` stands for a user's transfer to or from spot. Binance lists a transfer in
``GET /fapi/v1/income`` as ``incomeType: "TRANSFER"`` with ``income``, ``asset``, ``time`` and
``tranId`` (reference §2.3, income rows); an outgoing transfer larger than the available balance is
refused (Binance: -5002 "You have insufficient balance."). Expected values are worked by hand from
the 10,000 USDT wallet every emulator starts with.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.sim.exchange import SimExchange
from tests.emulator.conftest import Emu

WALLET = 10_000.0


async def _post(emu: Emu, body: Any, content_type: str = "application/json") -> tuple[int, Any]:
    status, data, _ = await emu.raw("POST", "/_sim/transfer", data=json.dumps(body),
                                    headers={"Content-Type": content_type})
    return status, data


async def _transfers(emu: Emu) -> list[dict[str, Any]]:
    return await emu.ex.fapiPrivateGetIncome({"incomeType": "TRANSFER"})


async def test_transfer_out_moves_the_wallet_and_is_a_transfer_income_row(emu: Emu) -> None:
    now = emu.state.now_ms()
    out = await emu.control("transfer", {"asset": "USDT", "amount": -800.0})
    assert out["wallet"] == pytest.approx(WALLET - 800.0)  # 10,000 - 800
    balance = await emu.ex.fetch_balance()  # what the bot reads, through the real ccxt client
    assert balance["USDT"]["total"] == pytest.approx(9_200.0)
    [row] = await _transfers(emu)
    assert row["incomeType"] == "TRANSFER"
    assert row["income"] == "-800.00000000"
    assert row["asset"] == "USDT"
    assert row["symbol"] == ""
    assert int(row["time"]) == now
    assert int(row["tranId"]) == out["tranId"]


async def test_transfer_in_and_the_unfiltered_income_history(emu: Emu) -> None:
    await emu.control("transfer", {"amount": 250.5})  # asset defaults to USDT
    await emu.control("transfer", {"asset": "USDT", "amount": -50.5})
    rows = await emu.ex.fapiPrivateGetIncome({})
    assert [(r["incomeType"], r["income"]) for r in rows] == [("TRANSFER", "250.50000000"),
                                                             ("TRANSFER", "-50.50000000")]
    assert rows[0]["tranId"] != rows[1]["tranId"]
    assert emu.state.exchange.balance().wallet == pytest.approx(10_200.0)  # 10,000 + 250.5 - 50.5


async def test_outgoing_transfer_beyond_available_is_refused_and_changes_nothing(emu: Emu) -> None:
    status, data = await _post(emu, {"asset": "USDT", "amount": -10_000.01})
    assert status == 400
    assert "-5002" in data["error"] and "insufficient balance" in data["error"]
    assert emu.state.exchange.balance().wallet == WALLET
    assert await _transfers(emu) == []


async def test_margin_locked_in_a_position_cannot_be_transferred(emu: Emu) -> None:
    sim = emu.state.exchange
    await emu.ex.set_leverage(2, "BTC/USDT:USDT")
    await emu.ex.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    free = sim.balance().available
    assert free < WALLET - 100  # a 0.01 BTC position at 2x locks hundreds of USDT of margin
    status, data = await _post(emu, {"amount": -WALLET})
    assert status == 400 and "insufficient balance" in data["error"]
    wallet = sim.balance().wallet
    out = await emu.control("transfer", {"amount": -round(free - 1.0, 2)})
    assert out["wallet"] == pytest.approx(wallet - round(free - 1.0, 2))


@pytest.mark.parametrize("body, field", [
    ({"amount": "-800"}, "'amount' must be a number"),
    ({"amount": True}, "'amount' must be a number"),
    ({"amount": 0}, "'amount' must not be 0"),
    ({"amount": 1e13}, "'amount' must be a number >= -1e+12 and <= 1e+12"),
    ({"amount": -1e13}, "'amount' must be a number >= -1e+12 and <= 1e+12"),
    ({}, "'amount' must be a number"),
    ({"asset": "BTC", "amount": -1}, "'asset' must be one of USDT"),
    ({"amount": -1, "to": "spot"}, "unknown transfer field(s): to"),
    ([1, 2], "body must be a JSON object"),
])
async def test_bad_transfer_input_is_a_400_naming_the_field(emu: Emu, body: Any, field: str) -> None:
    status, data = await _post(emu, body)
    assert status == 400, data
    assert field in data["error"]
    assert emu.state.exchange.balance().wallet == WALLET


async def test_non_finite_and_non_json_transfers_are_refused(emu: Emu) -> None:
    status, data, _ = await emu.raw("POST", "/_sim/transfer", data='{"amount": NaN}',
                                    headers={"Content-Type": "application/json"})
    assert status == 400 and "'amount' must be a number" in data["error"]
    status, _ = await _post(emu, {"amount": -800}, content_type="text/plain")
    assert status == 415
    assert emu.state.exchange.balance().wallet == WALLET


def test_core_transfer_keeps_wallet_equal_to_deposits_plus_income(store: Any) -> None:
    """The core's bookkeeping rule: ``wallet == deposits + sum(income)`` also holds for transfers."""
    sim = SimExchange({"BTCUSDT": store["BTCUSDT"].instrument}, balance=1_000.0)
    row = sim.transfer(-300.0, 1_700_000_000_000)
    assert (str(row.income_type), row.amount, row.asset, row.ts_ms, row.symbol) == (
        "TRANSFER", -300.0, "USDT", 1_700_000_000_000, "")
    assert sim.balance().wallet == 700.0
    assert sim.account.deposits == 1_000.0  # 1,000 - 300 = 700: the row, not the deposits, carries it
    assert sim.account.wallet == pytest.approx(sim.account.deposits + sum(i.amount for i in sim.account.incomes))
    with pytest.raises(Exception, match="-5002"):
        sim.transfer(-700.01, 1_700_000_000_001)
    assert sim.balance().wallet == 700.0 and len(sim.account.incomes) == 1
