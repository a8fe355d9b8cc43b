"""SimExchange requests: account settings, order validation errors, fills and lookups."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.core.enums import MarginMode, OrderSide, OrderStatus, OrderType, TimeInForce, WorkingType
from bot.core.instrument import Instrument
from bot.sim.errors import SimError
from bot.sim.exchange import ALGO_ID_START, SimExchange
from bot.sim.models import EventKind, IncomeType

from .conftest import HOUR, SYMBOL

BUY, SELL = OrderSide.BUY, OrderSide.SELL
MKT, LIM = OrderType.MARKET, OrderType.LIMIT

Make = Callable[..., SimExchange]


def _code(exc: pytest.ExceptionInfo[SimError]) -> int:
    return exc.value.code


def test_position_mode_and_margin_mode(make_ex: Make) -> None:
    ex = make_ex()
    with pytest.raises(SimError) as e:
        ex.set_position_mode(True)
    assert _code(e) == -4059 and "Hedge mode" in e.value.msg
    with pytest.raises(SimError) as e:
        ex.set_position_mode(False)
    assert (_code(e), e.value.msg) == (-4059, "No need to change position side.")
    assert ex.margin_mode(SYMBOL) is MarginMode.ISOLATED
    with pytest.raises(SimError) as e:
        ex.set_margin_mode(SYMBOL, MarginMode.ISOLATED)
    assert (_code(e), e.value.msg) == (-4046, "No need to change margin type.")
    assert e.value.to_binance() == {"code": -4046, "msg": "No need to change margin type."}
    with pytest.raises(SimError, match="Cross margin is not supported"):
        ex.set_margin_mode(SYMBOL, MarginMode.CROSS)


@pytest.mark.parametrize("lev", [0, 51, -3])
def test_leverage_out_of_range(make_ex: Make, lev: int) -> None:
    ex = make_ex()
    with pytest.raises(SimError) as e:
        ex.set_leverage(SYMBOL, lev)
    assert _code(e) == -4028
    assert ex.leverage(SYMBOL) == 10


def test_leverage_change_refused_when_position_too_big(make_ex: Make) -> None:
    ex = make_ex(balance=100_000, leverage=20)
    ex.place_order(SYMBOL, BUY, MKT, 30_000)  # notional ~30k: allowed up to 20x (cap 100k)
    ex.set_leverage(SYMBOL, 20)
    with pytest.raises(SimError) as e:
        ex.set_leverage(SYMBOL, 25)  # 25x allows only 25k of notional
    assert _code(e) == -2027
    assert ex.leverage(SYMBOL) == 20


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"type": MKT, "quantity": 0}, -4003),
    ({"type": MKT, "quantity": -5}, -4003),
    ({"type": MKT, "quantity": 10.5}, -1111),  # step 1
    ({"type": LIM, "quantity": 10, "price": 0.9995}, -1111),  # tick 0.001
    ({"type": MKT, "quantity": 4}, -4164),  # 4 USDT < 5 min notional
    ({"type": LIM, "quantity": 10, "price": 0.45}, -4164),
    ({"type": MKT, "quantity": 300_000}, -1013),  # market lot size 200k
    ({"type": LIM, "quantity": 10}, -1102),  # price missing
    ({"type": MKT, "quantity": 10, "price": 1.0}, -1106),
    ({"type": OrderType.STOP_MARKET, "quantity": 10}, -1102),  # trigger missing
    ({"type": OrderType.STOP_MARKET, "trigger_price": 0.9, "close_position": True, "quantity": 5}, -1106),
    ({"type": OrderType.TRAILING_STOP_MARKET, "quantity": 10, "callback_rate": 0.5}, -1102),
])
def test_order_validation_errors(make_ex: Make, kwargs: dict, code: int) -> None:
    ex = make_ex()
    with pytest.raises(SimError) as e:
        ex.place_order(SYMBOL, SELL, **kwargs)
    assert _code(e) == code
    assert ex.all_orders() == [] and ex.open_orders() == []
    assert ex.balance().available == pytest.approx(10_000)


def test_precision_message_is_binance_text(make_ex: Make) -> None:
    with pytest.raises(SimError) as e:
        make_ex().place_order(SYMBOL, BUY, MKT, 10.5)
    assert e.value.msg.startswith("Precision is over the maximum defined for this asset.")


def test_unknown_symbol_and_no_price() -> None:
    ex = SimExchange({SYMBOL: Instrument(SYMBOL, "ORCA")})
    with pytest.raises(SimError) as e:
        ex.place_order("BTCUSDT", BUY, MKT, 1)
    assert _code(e) == -1121
    with pytest.raises(SimError, match="no market price"):
        ex.place_order(SYMBOL, BUY, MKT, 10)


def test_margin_insufficient(make_ex: Make) -> None:
    ex = make_ex(balance=100.0, leverage=10)
    with pytest.raises(SimError) as e:
        ex.place_order(SYMBOL, BUY, MKT, 1000)  # needs ~100.1 margin + 0.5 fee
    assert (_code(e), e.value.msg) == (-2019, "Margin is insufficient.")
    order = ex.place_order(SYMBOL, BUY, MKT, 990)
    assert order.status is OrderStatus.FILLED
    assert ex.balance().available >= 0
    with pytest.raises(SimError) as e:  # a resting limit reserves margin too
        ex.place_order(SYMBOL, BUY, LIM, 100, price=0.9)
    assert _code(e) == -2019


def test_market_fill_price_fee_and_position(make_ex: Make) -> None:
    ex = make_ex(balance=10_000, leverage=10)
    order = ex.place_order(SYMBOL, BUY, MKT, 1000, client_order_id="entry-1")
    # flat bar: spread = one tick (0.001); buy pays half of it, rounded up to the tick
    assert order.avg_price == pytest.approx(1.001)
    assert order.status is OrderStatus.FILLED and order.filled_qty == 1000
    fills = ex.user_trades(SYMBOL)
    assert len(fills) == 1 and fills[0].fee == pytest.approx(1000 * 1.001 * 0.0005) and not fills[0].maker
    pos = ex.position(SYMBOL)
    assert pos is not None and pos.quantity == 1000 and pos.entry_price == pytest.approx(1.001)
    assert pos.isolated_wallet == pytest.approx(100.1)
    assert pos.notional == pytest.approx(1000.0)  # at mark 1.0
    bal = ex.balance()
    assert bal.wallet == pytest.approx(10_000 - 0.5005)
    assert bal.available == pytest.approx(10_000 - 0.5005 - 100.1)
    assert ex.get_order(SYMBOL, client_order_id="entry-1") is order
    kinds = [e.kind for e in ex.drain_events()]
    assert kinds == [EventKind.FILL, EventKind.ORDER_UPDATE]
    assert ex.drain_events() == []


def test_duplicate_client_order_id(make_ex: Make) -> None:
    ex = make_ex()
    ex.place_order(SYMBOL, BUY, LIM, 100, price=0.9, client_order_id="dup")
    with pytest.raises(SimError) as e:
        ex.place_order(SYMBOL, BUY, LIM, 100, price=0.8, client_order_id="dup")
    assert (_code(e), e.value.msg) == (-4116, "ClientOrderId is duplicated.")
    with pytest.raises(SimError) as e:  # algo orders share the namespace
        ex.place_order(SYMBOL, SELL, OrderType.STOP_MARKET, 100, trigger_price=0.5, client_order_id="dup")
    assert _code(e) == -4116
    assert len(ex.open_orders(SYMBOL)) == 1


def test_post_only_rejected_when_it_would_take(make_ex: Make) -> None:
    ex = make_ex()
    with pytest.raises(SimError) as e:
        ex.place_order(SYMBOL, BUY, LIM, 100, price=1.001, time_in_force=TimeInForce.GTX)
    assert _code(e) == -5022
    assert ex.all_orders() == []
    resting = ex.place_order(SYMBOL, BUY, LIM, 100, price=0.999, time_in_force=TimeInForce.GTX)
    assert resting.status is OrderStatus.NEW


def test_reduce_only_rejections(make_ex: Make) -> None:
    ex = make_ex()
    with pytest.raises(SimError) as e:  # no position
        ex.place_order(SYMBOL, SELL, MKT, 100, reduce_only=True)
    assert (_code(e), e.value.msg) == (-2022, "ReduceOnly Order is rejected.")
    ex.place_order(SYMBOL, BUY, MKT, 100)
    with pytest.raises(SimError) as e:  # would increase the long
        ex.place_order(SYMBOL, BUY, LIM, 100, price=0.9, reduce_only=True)
    assert _code(e) == -2022
    # reduce-only below min notional is allowed (Binance exempts it)
    order = ex.place_order(SYMBOL, SELL, MKT, 3, reduce_only=True)
    assert order.status is OrderStatus.FILLED
    assert ex.position(SYMBOL).quantity == 97  # type: ignore[union-attr]


def test_reduce_only_resting_order_expires_when_flat(make_ex: Make) -> None:
    ex = make_ex()
    ex.place_order(SYMBOL, BUY, MKT, 100)
    tp = ex.place_order(SYMBOL, SELL, LIM, 100, price=1.2, reduce_only=True)
    ex.place_order(SYMBOL, SELL, MKT, 100, reduce_only=True)
    assert ex.position(SYMBOL) is None
    assert tp.status is OrderStatus.EXPIRED
    assert ex.open_orders() == []


def test_would_immediately_trigger(make_ex: Make) -> None:
    ex = make_ex()
    for side, otype, trigger in [(SELL, OrderType.STOP_MARKET, 1.0), (SELL, OrderType.STOP_MARKET, 1.1),
                                 (BUY, OrderType.STOP_MARKET, 0.9), (SELL, OrderType.TAKE_PROFIT_MARKET, 0.9),
                                 (BUY, OrderType.TAKE_PROFIT_MARKET, 1.1)]:
        with pytest.raises(SimError) as e:
            ex.place_order(SYMBOL, side, otype, 100, trigger_price=trigger)
        assert (_code(e), e.value.msg) == (-2021, "Order would immediately trigger.")
    ok = ex.place_order(SYMBOL, SELL, OrderType.STOP_MARKET, 100, trigger_price=0.9)
    assert ok.is_conditional and ok.order_id >= ALGO_ID_START


def test_cancel_and_query_unknown_orders(make_ex: Make) -> None:
    ex = make_ex()
    with pytest.raises(SimError) as e:
        ex.cancel_order(SYMBOL, order_id=12345)
    assert (_code(e), e.value.msg) == (-2011, "Unknown order sent.")
    with pytest.raises(SimError) as e:
        ex.get_order(SYMBOL, client_order_id="nope")
    assert (_code(e), e.value.msg) == (-2013, "Order does not exist.")
    order = ex.place_order(SYMBOL, BUY, LIM, 100, price=0.9)
    assert ex.balance().available == pytest.approx(10_000 - 100 * 0.9 / 10 - 100 * 0.9 * 0.0002)
    canceled = ex.cancel_order(SYMBOL, order_id=order.order_id)
    assert canceled.status is OrderStatus.CANCELED
    assert ex.balance().available == pytest.approx(10_000)
    with pytest.raises(SimError) as e:  # already canceled
        ex.cancel_order(SYMBOL, order_id=order.order_id)
    assert _code(e) == -2011


def test_cancel_all_by_kind(make_ex: Make) -> None:
    ex = make_ex()
    ex.place_order(SYMBOL, BUY, LIM, 100, price=0.9)
    stop = ex.place_order(SYMBOL, BUY, OrderType.STOP_MARKET, 100, trigger_price=1.2)
    assert [o.order_id for o in ex.cancel_all(SYMBOL)] == [1]
    assert ex.open_orders(SYMBOL, conditional=True) == [stop]
    assert ex.open_orders(SYMBOL, conditional=False) == []
    assert ex.cancel_all(SYMBOL, conditional=True) == [stop]
    assert stop.status is OrderStatus.CANCELED
    assert len(ex.all_orders(SYMBOL)) == 2 and len(ex.all_orders(SYMBOL, conditional=True)) == 1


def test_marketable_limit_takes_but_never_beyond_its_price(make_ex: Make) -> None:
    ex = make_ex()
    order = ex.place_order(SYMBOL, BUY, LIM, 100, price=1.05)
    assert order.status is OrderStatus.FILLED
    assert order.avg_price == pytest.approx(1.001)  # market price, better than the limit
    ioc = ex.place_order(SYMBOL, BUY, LIM, 100, price=0.95, time_in_force=TimeInForce.IOC)
    assert ioc.status is OrderStatus.EXPIRED
    assert [s for s, _ in ioc.history] == [OrderStatus.NEW, OrderStatus.EXPIRED]


def test_resting_limit_fills_only_through_the_price(make_ex: Make) -> None:
    ex = make_ex()
    order = ex.place_order(SYMBOL, BUY, LIM, 100, price=0.95)
    ex.on_bar(SYMBOL, HOUR, 1.0, 1.01, 0.95, 0.97, 1_000_000)  # low touches, does not trade through
    assert order.status is OrderStatus.NEW
    events = ex.on_bar(SYMBOL, 2 * HOUR, 0.97, 0.98, 0.949, 0.96, 1_000_000)
    assert order.status is OrderStatus.FILLED and order.avg_price == 0.95
    fill = next(e.payload["fill"] for e in events if e.kind is EventKind.FILL)
    assert fill.maker and fill.fee == pytest.approx(100 * 0.95 * 0.0002)
    assert HOUR * 2 < fill.ts_ms < HOUR * 3


def test_partial_fill_of_a_large_limit_order_across_bars(make_ex: Make) -> None:
    ex = make_ex(balance=100_000, leverage=5)
    order = ex.place_order(SYMBOL, BUY, LIM, 25_000, price=0.95)
    volume = 100_000  # at most 10% = 10,000 contracts per bar
    ex.on_bar(SYMBOL, HOUR, 1.0, 1.0, 0.94, 0.96, volume)
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.filled_qty == 10_000
    assert ex.position(SYMBOL).quantity == 10_000  # type: ignore[union-attr]
    ex.on_bar(SYMBOL, 2 * HOUR, 0.96, 0.97, 0.96, 0.965, volume)  # above the limit: nothing
    assert order.filled_qty == 10_000
    ex.on_bar(SYMBOL, 3 * HOUR, 0.96, 0.96, 0.93, 0.94, volume)
    assert order.filled_qty == 20_000
    ex.on_bar(SYMBOL, 4 * HOUR, 0.94, 0.96, 0.93, 0.95, volume)
    assert order.status is OrderStatus.FILLED and order.filled_qty == 25_000
    assert [s for s, _ in order.history] == [OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED,
                                             OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED]
    assert len(ex.user_trades(SYMBOL)) == 3
    assert ex.balance().initial_margin == pytest.approx(25_000 * 0.95 / 5)  # reserve fully consumed
    assert ex.account.reserved == pytest.approx(0.0, abs=1e-9)


def test_income_and_trade_windows(make_ex: Make) -> None:
    ex = make_ex()
    ex.place_order(SYMBOL, BUY, MKT, 100)
    ex.set_price(SYMBOL, 2 * HOUR, 1.1)
    ex.place_order(SYMBOL, SELL, MKT, 100)
    rows = ex.income(SYMBOL)
    assert [r.income_type for r in rows] == [IncomeType.COMMISSION, IncomeType.REALIZED_PNL,
                                             IncomeType.COMMISSION]
    assert ex.income(income_type="REALIZED_PNL")[0].amount == pytest.approx(100 * (1.099 - 1.001))
    assert len(ex.user_trades(SYMBOL, start_ms=2 * HOUR)) == 1
    assert ex.user_trades(SYMBOL, limit=1)[0].side is SELL
    assert ex.user_trades(SYMBOL, start_ms=0, limit=1)[0].side is BUY
    assert [r.tran_id for r in rows] == [1, 2, 3]


def test_reset_and_wallet_balance(make_ex: Make) -> None:
    ex = make_ex()
    ex.place_order(SYMBOL, BUY, MKT, 100)
    ex.set_wallet_balance(5_000)
    assert ex.balance().wallet == 5_000
    with pytest.raises(SimError) as e:
        ex.set_wallet_balance(5)  # 10 USDT are locked in the position
    assert _code(e) == -2019
    ex.reset(2_000)
    assert ex.positions() == [] and ex.all_orders() == [] and ex.income() == []
    assert ex.balance().wallet == 2_000 and ex.leverage(SYMBOL) == 20
    order = ex.place_order(SYMBOL, BUY, MKT, 10)
    assert order.order_id == 1


def test_malformed_bars_are_skipped(make_ex: Make) -> None:
    ex = make_ex()
    assert ex.on_bar(SYMBOL, HOUR, 1.0, 0.9, 1.1, 1.0, 10) == []  # high < low
    assert ex.on_bar(SYMBOL, HOUR, float("nan"), 1.1, 0.9, 1.0, 10) == []
    assert ex.balance().wallet == 10_000
    order = ex.place_order(SYMBOL, BUY, MKT, 100)
    assert order.avg_price == pytest.approx(1.001)  # the reference price is still the last good close
    assert ex.on_funding(SYMBOL, HOUR, float("nan")) == []


def test_working_type_is_recorded(make_ex: Make) -> None:
    ex = make_ex()
    stop = ex.place_order(SYMBOL, SELL, OrderType.STOP_MARKET, 100, trigger_price=0.9,
                          working_type=WorkingType.MARK_PRICE, client_order_id="sl")
    assert ex.get_order(SYMBOL, order_id=stop.order_id) is stop
    assert stop.working_type is WorkingType.MARK_PRICE and stop.client_order_id == "sl"


# -- orders placed mid-bar (the emulator's live clock) meet only the rest of that bar ------------
# Bar [1 h, 2 h): o=1.00 h=1.01 l=0.90 c=1.00. bar_path goes to the nearer extreme first, so the
# path is 1.00 -> 1.01 -> 0.90 -> 1.00 in three equal legs: the low is reached at 2/3 of the bar
# (1 h 40 min) and the price is back at 0.97 at 0.9 of the bar (1 h 54 min).

def _long_with_stop_placed_at(make_ex: Make, placed_ms: int):
    ex = make_ex()
    ex.advance_time(placed_ms)
    ex.place_order(SYMBOL, BUY, MKT, 100)
    stop = ex.place_order(SYMBOL, SELL, OrderType.STOP_MARKET, 100, trigger_price=0.95, reduce_only=True)
    ex.on_bar(SYMBOL, HOUR, 1.00, 1.01, 0.90, 1.00, 1_000_000)
    return ex, stop


def test_a_stop_placed_after_the_bars_low_is_not_triggered_by_it(make_ex: Make) -> None:
    placed = HOUR + 54 * 60_000  # price 0.97 and rising: the 0.90 low was 14 minutes earlier
    ex, stop = _long_with_stop_placed_at(make_ex, placed)
    assert ex.get_order(SYMBOL, stop.order_id, conditional=True).status is OrderStatus.NEW
    assert ex.position(SYMBOL) is not None


def test_a_stop_never_fills_before_it_was_placed(make_ex: Make) -> None:
    placed = HOUR + 42 * 60_000  # 0.1 of a leg after the low: the price is 0.91, beyond the stop
    ex, _ = _long_with_stop_placed_at(make_ex, placed)
    fills = ex.user_trades(SYMBOL)
    entry, exit_ = fills[0], fills[-1]
    assert ex.position(SYMBOL) is None
    assert entry.ts_ms == placed and exit_.ts_ms >= placed, "the exit cannot precede the entry it closes"
    # from the path price when the stop came to exist (0.91: a gap, less the fill model's slippage),
    # not from the 0.95 trigger the path crossed on its way down, before the stop existed
    assert 0.90 < exit_.price <= 0.91
