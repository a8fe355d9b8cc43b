"""A lagging query side must not make the bot place a second stop (issue 11, "exactly one stop").

On a loaded Binance matching engine an accepted order is missing from ``openOrders`` / the algo
order queries for a while (emulated by ``/_sim/scenario {"order_visibility_lag_ms"}``). The
entry's stop is placed from the fill, then the same cycle re-reads the account: that read does
not show the stop yet. Trusting the read, the watchdog used to place a second stop and a second
take-profit. Through the real ccxt client against the emulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.core.enums import IntentKind, OrderSide, OrderStatus, OrderType
from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from bot.emulator.private import OrderVisibility
from bot.execution.types import OrderState
from bot.risk.stops import ConditionalOrderInfo
from bot.trading.protection import UnseenOrders
from tests.engine import helpers
from tests.engine.restart import open_engine
from tests.engine.scripted import Scripted

SYM = "ORCAUSDT"
T0 = to_ms("2025-03-18T06:00:00Z")
#: The venue's lag on the tests' virtual clock: shorter than the bot's trust in a confirmed order (10 s).
LAG_MS = 1500


def _resting(sim: Any, kind: OrderType) -> list[Any]:
    return [o for o in sim.open_orders(SYM, conditional=True) if o.type is kind]


async def _lagging_venue_and_bot(tmp_path: Path, sample_dir: Path) -> tuple[Any, Any, _Clock]:
    """An emulator whose order queries lag by ``LAG_MS``, and a bot that goes long at once
    (5% stop, 10% take-profit).

    Both wall-time rules, the venue's lag and the bot's trust in a confirmed order it has not
    seen (10 s), run on one virtual clock (returned) that moves only when the test advances it:
    "still inside the lag" and "past the lag, inside the trust" are then facts, not bets on how
    long a cycle takes on a busy machine."""
    clock = _Clock()
    store = MarketStore.load(sample_dir, symbols=[SYM])
    emu = await helpers.start(store, T0, [SYM], max_weight=10_000_000)
    emu.state.visibility = OrderVisibility(clock=clock)
    await emu.control("scenario", {"order_visibility_lag_ms": LAG_MS})
    bot = await open_engine(tmp_path, emu, SYM, Scripted({SYM: (T0, IntentKind.ENTER_LONG)}, stop_pct=0.05,
                                                          tp_pct=0.10))
    assert bot.engine.protector is not None
    bot.engine.protector.unseen = UnseenOrders(clock=clock)
    return emu, bot, clock


async def test_stop_hidden_by_a_lagging_read_is_not_placed_twice(tmp_path: Path, sample_dir: Path) -> None:
    emu, bot, clock = await _lagging_venue_and_bot(tmp_path, sample_dir)
    engine = bot.engine
    sim = emu.state.exchange
    try:
        report = await engine.safe_cycle()  # entry, its stop and take-profit, then a lagging re-read
        assert report is not None and report.entries == 1
        after_entry = (len(_resting(sim, OrderType.STOP_MARKET)), len(_resting(sim, OrderType.TAKE_PROFIT_MARKET)))
        await engine.safe_cycle()  # still inside the lag: the read shows neither order
        inside_lag = (len(_resting(sim, OrderType.STOP_MARKET)), len(_resting(sim, OrderType.TAKE_PROFIT_MARKET)))
        clock.advance(LAG_MS / 1000)
        await engine.safe_cycle()  # the read shows them now: nothing to do
        visible = (len(_resting(sim, OrderType.STOP_MARKET)), len(_resting(sim, OrderType.TAKE_PROFIT_MARKET)))
        algo_posts = len([o for o in sim.all_orders(SYM, conditional=True)])
    finally:
        await bot.stop()
        await emu.close()

    assert sim.position(SYM) is not None
    assert after_entry == (1, 1), "one stop and one take-profit after the entry cycle"
    assert inside_lag == (1, 1), "a confirmed stop hidden by the lag is not placed again"
    assert visible == (1, 1)
    assert algo_posts == 2, "exactly two conditional orders were ever sent: the stop and the take-profit"


async def test_a_confirmed_stop_the_venue_removed_is_replaced_without_waiting_out_the_trust(
        tmp_path: Path, sample_dir: Path) -> None:
    """The venue drops the stop (expired, or cancelled by it) before any read listed it: the bot
    asks the venue about the unlisted stop, learns it is gone and places a new one in the next
    cycle past the visibility lag, not 10 s later (the trust in an unlisted confirmed stop)."""
    emu, bot, clock = await _lagging_venue_and_bot(tmp_path, sample_dir)
    engine = bot.engine
    sim = emu.state.exchange
    try:
        report = await engine.safe_cycle()
        assert report is not None and report.entries == 1
        [first] = _resting(sim, OrderType.STOP_MARKET)
        sim.cancel_order(SYM, order_id=first.order_id)  # the venue's doing, not the bot's
        clock.advance(LAG_MS / 1000)  # past the lag, well inside the 10 s trust
        await engine.safe_cycle()
        stops_now = _resting(sim, OrderType.STOP_MARKET)
    finally:
        await bot.stop()
        await emu.close()

    assert sim.position(SYM) is not None
    assert len(stops_now) == 1 and stops_now[0].order_id != first.order_id, \
        "a new stop replaces the one the venue removed, in the first cycle after the lag"


def _stop(order_id: str, symbol: str = SYM) -> OrderState:
    return OrderState(client_id=f"c{order_id}", exchange_id=order_id, symbol=symbol, side=OrderSide.SELL,
                      type=OrderType.STOP_MARKET, status=OrderStatus.NEW, quantity=1.0, trigger_price=95.0,
                      reduce_only=True, is_conditional=True)


class _Clock:
    """A monotonic clock (seconds) that stands still until the test moves it."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def test_unseen_order_is_trusted_only_until_a_read_shows_it_or_the_grace_ends() -> None:
    clock = _Clock()
    unseen = UnseenOrders(grace_s=10.0, clock=clock)
    unseen.placed(_stop("1"))
    held = {SYM}
    # not in the read yet: trusted
    assert [o.order_id for o in unseen.merge([], held)] == ["1"]
    # another symbol's merge (the entry path protects one symbol) neither shows nor drops it
    assert unseen.merge([], {"BTCUSDT"}) == []
    assert len(unseen) == 1
    # the read shows it: from now on the read is the truth, so a later read without it means gone
    shown = ConditionalOrderInfo("1", SYM, OrderSide.SELL, OrderType.STOP_MARKET, 95.0, 1.0, reduce_only=True)
    assert [o.order_id for o in unseen.merge([shown], held)] == ["1"]
    assert unseen.merge([], held) == []


def test_unseen_order_past_its_grace_or_cancelled_or_closed_is_not_trusted() -> None:
    clock = _Clock()
    unseen = UnseenOrders(grace_s=10.0, clock=clock)
    unseen.placed(_stop("1"))
    clock.t += 10.5  # never shown within 10 s: the read is believed (the stop is gone)
    assert unseen.merge([], {SYM}) == []
    unseen.placed(_stop("2"))
    unseen.forget("2")  # we cancelled it
    assert unseen.merge([], {SYM}) == []
    unseen.placed(_stop("3"))
    unseen.forget_symbol(SYM)  # its trade closed (the stop may have triggered unseen)
    assert unseen.merge([], {SYM}) == []
    unseen.placed(replace_status(_stop("4"), OrderStatus.FILLED))  # a triggered order never rests
    assert unseen.merge([], {SYM}) == []


def replace_status(order: OrderState, status: OrderStatus) -> OrderState:
    from dataclasses import replace

    return replace(order, status=status)
