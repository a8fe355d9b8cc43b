"""Which venue fills built a position the journal does not know (``reconcile.opening_fills``).

Hand-made fill histories: the answer is worked out by reading the history back from the newest
fill, as a person reconstructing the position from Binance's trade history would."""

from __future__ import annotations

from bot.core.enums import OrderSide
from bot.execution.types import FillState
from bot.trading.reconcile import opening_fills

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def fill(trade_id: str, side: OrderSide, qty: float, ts: int) -> FillState:
    return FillState(trade_id=trade_id, order_id=f"o{trade_id}", symbol="ORCAUSDT", side=side, price=1.0,
                     quantity=qty, fee=0.0, fee_asset="USDT", maker=False, realized_pnl=0.0, ts=ts)


def ids(fills: list[FillState]) -> list[str]:
    return [f.trade_id for f in fills]


def test_the_latest_entry_alone_after_an_earlier_round_trip() -> None:
    history = [fill("1", BUY, 5, 100), fill("2", SELL, 5, 200), fill("3", BUY, 10, 300)]
    assert ids(opening_fills(history, BUY, 10)) == ["3"]


def test_an_entry_in_several_fills_and_a_partial_exit() -> None:
    # bought 4 + 6, sold 3: a long of 7 built by both buys
    history = [fill("1", BUY, 4, 100), fill("2", BUY, 6, 110), fill("3", SELL, 3, 120)]
    assert ids(opening_fills(history, BUY, 7)) == ["1", "2"]


def test_a_short_is_built_by_sells() -> None:
    history = [fill("1", SELL, 2, 100), fill("2", BUY, 2, 150), fill("3", SELL, 1.5, 200)]
    assert ids(opening_fills(history, SELL, 1.5)) == ["3"]


def test_a_history_that_cannot_explain_the_position_gives_no_fills() -> None:
    # the position is 10 but the history holds only 4 of it (older fills beyond the read)
    assert opening_fills([fill("1", BUY, 4, 100)], BUY, 10) == []
