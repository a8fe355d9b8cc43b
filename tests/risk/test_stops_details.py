"""Details of bot.risk.stops that mutants showed untested (issue 17): the trailing spec's bounds
and their messages, which way stops and take-profits are rounded, what a failed placement says,
and the fallback stop of an unplanned position rounded on its own symbol's tick. Expected values
are worked by hand on a 0.01 tick."""

from __future__ import annotations

import pytest

from bot import safety
from bot.core.enums import ExitReason, OrderSide, PositionSide
from bot.risk.stops import (
    ClosePositionAtMarket,
    PlaceStop,
    PositionInfo,
    RaiseAlert,
    StopWatchdog,
    TrailingSpec,
    _round_stop,
    _round_toward_profit,
)

from .helpers import instrument

SYM = "ORCAUSDT"
TICK = instrument(SYM, tick_size=0.01)


def test_trailing_distance_is_in_the_half_open_range_up_to_the_safety_cap() -> None:
    cap = safety.MAX_STOP_LOSS_PCT
    assert TrailingSpec(cap).distance_pct == cap  # the cap itself is allowed
    for bad in (0.0, -0.01, cap * 1.0001):
        with pytest.raises(ValueError, match=rf"trailing distance_pct must be in \(0, {cap}\], got {bad}"):
            TrailingSpec(bad)
    with pytest.raises(ValueError, match=r"trailing activation_pct must be >= 0, got -0.01"):
        TrailingSpec(0.02, activation_pct=-0.01)


@pytest.mark.parametrize(("side", "stop", "take_profit"), [
    # 100.004 on a 0.01 tick: a long's stop goes down to 100.00 (further from a market above it),
    # its take-profit up to 100.01; a short's the other way round.
    (PositionSide.LONG, 100.0, 100.01),
    (PositionSide.SHORT, 100.01, 100.0),
])
def test_stops_round_away_from_the_market_and_take_profits_toward_profit(side: PositionSide, stop: float,
                                                                         take_profit: float) -> None:
    assert _round_stop(100.004, side, TICK) == pytest.approx(stop, abs=1e-12)
    assert _round_toward_profit(100.004, side, TICK) == pytest.approx(take_profit, abs=1e-12)


@pytest.mark.parametrize("side", [PositionSide.LONG, PositionSide.SHORT])
def test_without_an_instrument_the_price_is_left_as_it_is(side: PositionSide) -> None:
    assert _round_stop(100.004, side, None) == 100.004
    assert _round_toward_profit(100.004, side, None) == 100.004


def test_a_failed_move_keeps_the_old_stop_and_says_where_it_was_going() -> None:
    move = PlaceStop(SYM, OrderSide.SELL, 95.5, 3.0, "trailing", protected=True)
    assert StopWatchdog().report_failure(move, "-2021 would trigger") == [
        RaiseAlert(SYM, "stop_move_failed", "could not move the protective stop to 95.5: -2021 would trigger; "
                                            "the previous stop stays, retrying next cycle")]


def test_a_failed_first_stop_closes_at_market_and_says_what_failed() -> None:
    first = PlaceStop(SYM, OrderSide.SELL, 95.5, 3.0, "initial")
    close, alert = StopWatchdog().report_failure(first, "-1001 internal error")
    assert close == ClosePositionAtMarket(SYM, OrderSide.SELL, 3.0, ExitReason.STOP_LOSS,
                                          "stop placement failed: -1001 internal error")
    assert alert == RaiseAlert(SYM, "stop_placement_failed", "could not place the protective stop at 95.5 for "
                                                             "3.0: -1001 internal error; closing at market")
    assert alert.severity == "error"


def test_an_unplanned_position_gets_its_fallback_stop_rounded_on_its_own_tick() -> None:
    # entry 100.003, 5% fallback: 95.00285, floored on ORCA's 0.01 tick to 95.0 (another symbol's
    # coarser tick must not be used, and an unknown symbol would leave it unrounded)
    watchdog = StopWatchdog({SYM: TICK, "BTCUSDT": instrument("BTCUSDT", tick_size=1.0)}, fallback_stop_pct=0.05)
    actions = watchdog.check([PositionInfo(SYM, PositionSide.LONG, 3.0, 100.003, 100.0)], [], {})
    [stop] = [a for a in actions if isinstance(a, PlaceStop)]
    assert stop.trigger_price == pytest.approx(95.0, abs=1e-12)
