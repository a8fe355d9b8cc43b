"""Fees paid in BNB (issue 11, Part 1, account modes), seen through the real ccxt client.

Binance USDⓈ-M with "BNB burn" on (``POST /fapi/v1/feeBurn feeBurn=true``, "Toggle BNB Burn On
Futures Trade"): a fill's commission is charged in BNB at a 10% discount, i.e.
``BNB fee = USDT fee x 0.9 / BNB price``; ``userTrades`` answers ``commissionAsset: "BNB"``, the
income history has COMMISSION rows with ``asset: "BNB"``, the BNB wallet goes down and the USDT
wallet does not pay the fee. Too little BNB: the fee is charged in USDT. The taker rate is the
emulator's default 0.05%; the BNB price is the scenario's fixed one (600) here, the replayed
BNBUSDT close (read from the data file with pandas) in the last test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.core.enums import OrderSide
from bot.core.instrument import Instrument
from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.sim.account import Account
from bot.sim.models import IncomeType
from tests.emulator.conftest import Emu, open_emu
from tests.engine.bnb_store import bnb_close_at, load_bnb_store

ORCA = "ORCA/USDT:USDT"
TAKER = 0.0005
DISCOUNT = 0.9  # 10% off when BNB pays


async def _post(emu: Emu, path: str, body: Any) -> tuple[int, Any]:
    status, data, _ = await emu.raw("POST", f"/_sim/{path}", json=body)
    return status, data


async def test_bnb_pays_the_fee_and_the_usdt_wallet_does_not(emu: Emu) -> None:
    await emu.control("account", {"bnb_fee": True, "bnb_price": 600.0, "bnb_balance": 1.0})
    buy = await emu.ex.create_order(ORCA, "market", "buy", 100)
    sell = await emu.ex.create_order(ORCA, "market", "sell", 100)
    p_in, p_out = float(buy["average"]), float(sell["average"])
    trades = [t["info"] for t in await emu.ex.fetch_my_trades(ORCA)]
    # entry: 100 x p_in x 0.0005 USDT = 0.05 x p_in USDT; in BNB: x 0.9 / 600
    fee_in = 100 * p_in * TAKER * DISCOUNT / 600.0
    fee_out = 100 * p_out * TAKER * DISCOUNT / 600.0
    assert [t["commissionAsset"] for t in trades] == ["BNB", "BNB"]
    assert float(trades[0]["commission"]) == pytest.approx(fee_in, abs=1e-8)
    assert float(trades[1]["commission"]) == pytest.approx(fee_out, abs=1e-8)
    income = await emu.ex.fapiPrivateGetIncome({})
    commissions = [r for r in income if r["incomeType"] == "COMMISSION"]
    assert [r["asset"] for r in commissions] == ["BNB", "BNB"]
    assert sum(float(r["income"]) for r in commissions) == pytest.approx(-(fee_in + fee_out), abs=2e-8)
    account = await emu.ex.fapiPrivateV3GetAccount()
    # the USDT wallet moved by the realised P&L only: 10,000 + 100 x (p_out - p_in)
    assert float(account["totalWalletBalance"]) == pytest.approx(10_000 + 100 * (p_out - p_in), abs=1e-6)
    balance = await emu.ex.fetch_balance()
    assert balance["BNB"]["total"] == pytest.approx(1.0 - fee_in - fee_out, abs=2e-8)


async def test_too_little_bnb_means_the_fee_is_paid_in_usdt(emu: Emu) -> None:
    await emu.control("account", {"bnb_fee": True, "bnb_price": 600.0, "bnb_balance": 0.00001})
    buy = await emu.ex.create_order(ORCA, "market", "buy", 100)  # needs ~0.0001 BNB: more than held
    trade = (await emu.ex.fetch_my_trades(ORCA))[-1]["info"]
    assert trade["commissionAsset"] == "USDT"
    assert float(trade["commission"]) == pytest.approx(100 * float(buy["average"]) * TAKER, abs=1e-8)
    assert (await emu.ex.fetch_balance())["BNB"]["total"] == pytest.approx(0.00001)


async def test_default_fees_stay_in_usdt_even_with_bnb_in_the_wallet(emu: Emu) -> None:
    await emu.control("account", {"bnb_price": 600.0, "bnb_balance": 1.0})
    await emu.ex.create_order(ORCA, "market", "buy", 100)
    trade = (await emu.ex.fetch_my_trades(ORCA))[-1]["info"]
    assert trade["commissionAsset"] == "USDT"
    assert (await emu.ex.fetch_balance())["BNB"]["total"] == 1.0


async def test_fee_burn_endpoint_reads_and_switches_the_mode(emu: Emu) -> None:
    assert (await emu.ex.fapiPrivateGetFeeBurn())["feeBurn"] is False
    status, data = await _post(emu, "account", {"bnb_fee": True})  # the control API wants a BNB price
    assert status == 400 and "bnb_price" in data["error"]
    await emu.control("account", {"bnb_price": 600.0})
    assert (await emu.ex.fapiPrivatePostFeeBurn({"feeBurn": "true"}))["msg"] == "success"
    assert (await emu.ex.fapiPrivateGetFeeBurn())["feeBurn"] is True
    assert (await emu.control("account"))["bnb_fee"] is True
    await emu.ex.fapiPrivatePostFeeBurn({"feeBurn": "false"})
    assert (await emu.control("account"))["bnb_fee"] is False
    with pytest.raises(ccxt.BadRequest, match="-1102"):
        await emu.ex.fapiPrivatePostFeeBurn({})


async def test_bad_bnb_settings_are_refused_and_change_nothing(emu: Emu) -> None:
    for body in ({"bnb_price": 0}, {"bnb_balance": -1}, {"bnb_fee": "yes"}):
        status, _ = await _post(emu, "account", body)
        assert status == 400, body
    assert await emu.control("account") == {"multi_assets": False, "hedge_mode": False, "server_time_offset_ms": 0,
                                             "bnb_fee": False, "bnb_price": None, "bnb_balance": 0.0}


async def test_the_replayed_bnb_price_values_the_fee(tmp_path: Path) -> None:
    """With BNBUSDT in the data, the fee uses its replayed price at the fill: the close of the
    bar that closed at the fill time (read here from the data file itself)."""
    start = to_ms("2025-03-18T06:00:00Z")
    runner, emu = await open_emu(load_bnb_store(tmp_path), start=start, symbols=["ORCAUSDT", "BNBUSDT"])
    try:
        await emu.ex.load_markets()
        await emu.control("account", {"bnb_fee": True, "bnb_balance": 1.0})  # no fixed price: the data's
        await emu.step(MS_PER_HOUR)
        buy = await emu.ex.create_order(ORCA, "market", "buy", 100)
        trade = (await emu.ex.fetch_my_trades(ORCA))[-1]["info"]
    finally:
        await emu.ex.close()
        await emu.http.close()
        await runner.cleanup()
    bnb = bnb_close_at(start + MS_PER_HOUR)  # the 06:00-07:00 bar's close
    assert trade["commissionAsset"] == "BNB"
    assert float(trade["commission"]) == pytest.approx(100 * float(buy["average"]) * TAKER * DISCOUNT / bnb, abs=1e-8)


@given(qty=st.integers(1, 10**6), price=st.floats(0.01, 100_000), bnb_price=st.floats(1.0, 5_000.0),
       bnb=st.floats(0.0, 10.0))
def test_the_core_charges_bnb_or_usdt_and_the_books_balance(qty: int, price: float, bnb_price: float,
                                                           bnb: float) -> None:
    """Money rule of the simulated account: a fill's commission is charged in BNB at
    ``fee x 0.9 / BNB price`` when the BNB wallet holds that much (then the USDT wallet pays
    nothing), else in USDT; either way each wallet equals its start plus its own income rows."""
    quantity = qty / 1000
    fee = quantity * price * TAKER
    need = fee * DISCOUNT / bnb_price
    assume(abs(need - bnb) > 1e-9)  # not on the knife edge of "enough BNB"
    account = Account(1e9)
    account.other_wallets["BNB"] = bnb
    account.bnb_price = lambda: bnb_price
    inst = Instrument("XUSDT", "X", tick_size=0.01, step_size=0.001)
    fill = account.apply_fill(inst, 1, OrderSide.BUY, quantity, price, fee, False, 10, 0)
    (row,) = [r for r in account.incomes if r.income_type is IncomeType.COMMISSION]
    if need < bnb:
        assert (fill.fee_asset, row.asset) == ("BNB", "BNB")
        assert fill.fee == pytest.approx(need, rel=1e-12) and row.amount == -fill.fee
        assert account.wallet == 1e9
        assert account.other_wallets["BNB"] == pytest.approx(bnb - need, abs=1e-12)
    else:
        assert (fill.fee_asset, row.asset, fill.fee) == ("USDT", "USDT", fee)
        assert account.wallet == pytest.approx(1e9 - fee, abs=1e-6)
        assert account.other_wallets["BNB"] == bnb
    usdt_rows = sum(r.amount for r in account.incomes if r.asset == "USDT")
    assert account.wallet == pytest.approx(account.deposits + usdt_rows, abs=1e-6)
