"""Which venue fills built a position the journal does not know (``reconcile.opening_fills``).

Hand-made fill histories: the answer is worked out by reading the history back from the newest
fill, as a person reconstructing the position from Binance's trade history would."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

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


def test_part_of_the_position_is_not_the_position() -> None:
    # a long of 3 bought as 1 then 2: after the newest fill the running total is 2, a whole unit
    # short of 3, so the walk goes on to the buy of 1 (3 = the position): both built it
    history = [fill("1", BUY, 1, 100), fill("2", BUY, 2, 200)]
    assert ids(opening_fills(history, BUY, 3)) == ["1", "2"]


def test_fills_of_the_same_millisecond_come_back_in_the_venues_trade_id_order() -> None:
    # one market order filled in two parts at the same millisecond: oldest first means trade id
    # 101 before 102 (the order Binance numbers and lists them), whatever order they came in
    history = [fill("102", BUY, 2, 100), fill("101", BUY, 1, 100)]
    assert ids(opening_fills(history, BUY, 3)) == ["101", "102"]


@settings(max_examples=300, deadline=None)
@given(moves=st.lists(st.tuples(st.booleans(), st.integers(1, 5)), min_size=1, max_size=30))
def test_a_long_is_built_by_the_buys_since_the_account_was_last_flat(moves: list[tuple[bool, int]]) -> None:
    """Any one-way history of buys and sells (never short): the position is what the buys since
    the last moment the account was flat added up to, net of the sells since, so those buys and
    no older ones are its opening fills. Walking back, the running total equals the position
    exactly where the older history nets to zero, which is that flat moment."""
    history, position, flat_at = [], 0, 0  # flat_at: index of the first fill after the last flat moment
    for buy_it, qty in moves:
        if not buy_it:
            qty = min(qty, position)  # one-way: a sell never takes the account short
            if qty == 0:
                continue
        position += qty if buy_it else -qty
        history.append(fill(str(len(history) + 1), BUY if buy_it else SELL, float(qty), 100 * (len(history) + 1)))
        if position == 0:
            flat_at = len(history)
    assume(position > 0)
    expected = [f.trade_id for f in history[flat_at:] if f.side is BUY]
    assert ids(opening_fills(history, BUY, float(position))) == expected
