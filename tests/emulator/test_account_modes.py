"""Account modes of the emulator (issue 11, Part 1): Multi-Assets mode, hedge mode and a server
clock offset, switched through ``/_sim/account`` and seen through the real ccxt client.

Expected answers are Binance's (USDⓈ-M Account/Trade docs and error codes):
``GET /fapi/v1/multiAssetsMargin`` -> ``{"multiAssetsMargin": true}``; ``POST /fapi/v1/marginType``
ISOLATED under Multi-Assets -> -4168 "Unable to adjust to isolated-margin mode under the
Multi-Assets mode."; ``GET /fapi/v1/positionSide/dual`` -> ``{"dualSidePosition": true}`` in hedge
mode; a timestamp outside ``[server - recvWindow, server + 1000]`` -> -1021.
"""

from __future__ import annotations

import time
from typing import Any

import ccxt.async_support as ccxt
import pytest

from bot.emulator import errors
from bot.emulator.auth import check_timestamp
from tests.emulator.conftest import Emu

ORCA = "ORCA/USDT:USDT"


async def _post_account(emu: Emu, body: Any) -> tuple[int, Any]:
    status, data, _ = await emu.raw("POST", "/_sim/account", json=body)
    return status, data


async def test_defaults_are_a_plain_single_asset_one_way_account(emu: Emu) -> None:
    assert await emu.control("account") == {"multi_assets": False, "hedge_mode": False, "server_time_offset_ms": 0,
                                             "bnb_fee": False, "bnb_price": None, "bnb_balance": 0.0}
    assert (await emu.ex.fapiPrivateGetMultiAssetsMargin())["multiAssetsMargin"] is False
    assert (await emu.ex.fetch_position_mode())["hedged"] is False


async def test_multi_assets_mode_refuses_isolated_margin_with_4168(emu: Emu) -> None:
    await emu.control("account", {"multi_assets": True})
    assert (await emu.ex.fapiPrivateGetMultiAssetsMargin())["multiAssetsMargin"] is True
    with pytest.raises(ccxt.BadRequest, match="-4168"):
        await emu.ex.set_margin_mode("isolated", ORCA)
    await emu.control("account", {"multi_assets": False})
    with pytest.raises(ccxt.MarginModeAlreadySet):  # back in Single-Asset mode: isolated is what it is
        await emu.ex.set_margin_mode("isolated", ORCA)


async def test_hedge_mode_is_reported_and_switching_out_of_it_changes_the_account(emu: Emu) -> None:
    await emu.control("account", {"hedge_mode": True})
    assert (await emu.ex.fetch_position_mode())["hedged"] is True
    await emu.ex.set_position_mode(False)  # Binance answers success and the account changes
    assert (await emu.control("account"))["hedge_mode"] is False
    assert (await emu.ex.fetch_position_mode())["hedged"] is False


@pytest.mark.parametrize(("body", "needle"), [
    ({"hedge_mode": 1}, "'hedge_mode' must be true or false"),
    ({"multi_assets": "true"}, "'multi_assets' must be true or false"),
    ({"server_time_offset_ms": 86_400_001}, "'server_time_offset_ms' must be an integer"),
    ({"server_time_offset_ms": 1.5}, "'server_time_offset_ms' must be an integer"),
    ({"server_time_offset_ms": True}, "'server_time_offset_ms' must be an integer"),
    ({"hedge": True}, "unknown account setting(s): hedge"),
    ([1, 2], "body must be a JSON object"),
])
async def test_bad_account_switches_are_refused_and_change_nothing(emu: Emu, body: Any, needle: str) -> None:
    if isinstance(body, dict) and "multi_assets" not in body:
        body = {"multi_assets": True, **body}  # a valid switch riding along must not be applied
    status, data = await _post_account(emu, body)
    assert status == 400, data
    assert needle in data["error"]
    assert emu.state.account.multi_assets is False, "a rejected request must leave the state as it was"


async def test_account_switches_are_json_only(emu: Emu) -> None:
    status, _, _ = await emu.raw("POST", "/_sim/account", data="hedge_mode=true",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415
    assert emu.state.account.hedge_mode is False


async def test_server_time_offset_moves_the_clock_the_timestamp_check_uses(emu: Emu) -> None:
    """30 s of skew: a request signed with the machine's clock is 30 s behind a server whose
    recvWindow is 5 s (-1021); one signed with the server's time passes."""
    await emu.control("account", {"server_time_offset_ms": 30_000})
    wall = int(time.time() * 1000)
    server_wall, _market = emu.state.request_clocks()
    assert 29_000 <= server_wall - wall <= 31_000
    with pytest.raises(errors.BinanceError) as caught:
        check_timestamp({"timestamp": str(wall), "recvWindow": "5000"}, emu.state.request_clocks())
    assert caught.value.code == -1021
    check_timestamp({"timestamp": str(wall + 30_000), "recvWindow": "5000"}, emu.state.request_clocks())
    assert emu.state.server_time_ms() - emu.state.now_ms() == 30_000


async def test_a_skewed_server_answers_1021_over_the_wire_until_the_client_syncs(emu: Emu) -> None:
    """The same 30 s skew seen by the real ccxt client: signing with the machine's clock is refused
    with -1021 (ccxt's InvalidNonce); after ``load_time_difference()`` (what
    ``adjustForTimeDifference`` does) the client signs with the server's time and is accepted."""
    await emu.control("account", {"server_time_offset_ms": 30_000})
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        await emu.ex.fetch_balance()
    server_time = (await emu.ex.fapiPublicGetTime())["serverTime"]
    assert int(server_time) == emu.state.now_ms() + 30_000  # /fapi/v1/time carries the offset
    await emu.ex.load_time_difference()
    emu.ex.options["adjustForTimeDifference"] = True
    assert (await emu.ex.fetch_balance())["USDT"]["total"] > 0
