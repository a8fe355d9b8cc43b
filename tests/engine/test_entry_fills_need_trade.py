"""An entry's fills are journaled with their trade, never without it (issue 11, Part 2 item 9).

``OrderRouter.record_fills`` journals the venue fills of an order. An entry's fills belong to a
trade row that exists only once the fill is known, so the engine journals them right after
opening the trade; journaled before that as well, with no trade, they were counted twice. Every
other order's fills (an exit, a stop, an order someone placed by hand) are journaled whether or
not a trade is named: those are the only record of them.

The venue's user trades are written down by hand (``tests/engine/venue_reads.py``); the journal
keeps what it was asked to write.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.enums import OrderSide, OrderStatus, OrderType
from bot.core.timeutil import to_ms
from bot.execution.ids import client_order_id
from bot.execution.types import FillState, OrderState
from bot.trading.orders import OrderRouter
from tests.engine.venue_reads import VenueReads
from tests.risk.helpers import instrument

SYM = "ORCAUSDT"
T = to_ms("2025-03-18T06:00:00Z")
KEY = "k123456789"


class FillJournal:
    """Just enough of ``bot.journal.Journal`` for ``record_fills``: keeps the fills it is given."""

    def __init__(self) -> None:
        self.fills: list[dict[str, Any]] = []

    def record_fill(self, order_id: str, **row: Any) -> str:
        self.fills.append({"order_id": order_id, **row})
        return f"fill{len(self.fills)}"


def venue_fill(trade_id: str, order_id: str, side: OrderSide) -> FillState:
    # 2.0 ORCA at 0.2000, taker fee 0.04% of 0.40 = 0.00016 USDT
    return FillState(trade_id=trade_id, order_id=order_id, symbol=SYM, side=side, price=0.2, quantity=2.0,
                     fee=0.00016, fee_asset="USDT", maker=False, realized_pnl=0.0, ts=T + 40)


def filled(client_id: str, exchange_id: str, side: OrderSide) -> OrderState:
    return OrderState(client_id=client_id, exchange_id=exchange_id, symbol=SYM, side=side, type=OrderType.MARKET,
                      status=OrderStatus.FILLED, quantity=2.0, filled=2.0, avg_price=0.2, ts=T + 40)


ENTRY = filled(client_order_id("run00001", KEY, "e", 1), "900", OrderSide.BUY)
EXIT = filled(client_order_id("run00001", KEY, "x", 1), "901", OrderSide.SELL)
MANUAL = filled("web_Zx81bQ", "902", OrderSide.SELL)  # placed by hand: not an id the bot makes


async def record(state: OrderState, trade_id: str | None) -> tuple[list[FillState], list[dict[str, Any]]]:
    venue = VenueReads(now=T + 1_000, instruments={SYM: instrument(SYM)},
                       trades=[venue_fill("41", "900", OrderSide.BUY), venue_fill("42", "901", OrderSide.SELL),
                               venue_fill("43", "902", OrderSide.SELL)])
    journal = FillJournal()
    router = OrderRouter(venue, journal)  # type: ignore[arg-type]
    fills = await router.record_fills("row7", state, since_ms=T - 60_000, trade_id=trade_id)
    return fills, journal.fills


async def test_an_entrys_fills_are_not_journaled_without_their_trade() -> None:
    fills, journaled = await record(ENTRY, trade_id=None)
    assert [f.trade_id for f in fills] == ["41"]  # read and handed back for the engine to journal
    assert journaled == []


async def test_an_entrys_fills_are_journaled_on_their_trade() -> None:
    _, journaled = await record(ENTRY, trade_id="trade-1")
    assert [(j["order_id"], j["exchange_trade_id"], j["trade_id"], j["quantity"], j["fee"]) for j in journaled] == \
        [("row7", "41", "trade-1", 2.0, 0.00016)]


@pytest.mark.parametrize(("state", "venue_trade"), [(EXIT, "42"), (MANUAL, "43")], ids=["own-exit", "manual-order"])
async def test_other_orders_fills_are_journaled_even_without_a_trade(state: OrderState, venue_trade: str) -> None:
    _, journaled = await record(state, trade_id=None)
    assert [(j["order_id"], j["exchange_trade_id"], j["trade_id"]) for j in journaled] == \
        [("row7", venue_trade, None)]
