"""funding_extreme on hand-built snapshots: each condition toggled both ways, both sides."""

from __future__ import annotations

import json

import pytest
from strategy_builders import SYMBOL, T0, Bar, build, flat, holding

from bot.core.enums import IntentKind, PositionSide
from bot.core.timeutil import MS_PER_HOUR
from strategies.funding_extreme import FundingExtreme


def funding_bars(last_rate: float, *, base: tuple[float, float] = (0.0001, 0.00015), settlements: int = 40,
                 interval: int = 8, move: float = 0.0, oi_change: float | None = None) -> list[Bar]:
    """``settlements`` settlements every ``interval`` hours alternating between the two ``base``
    rates, then one at ``last_rate`` on the final bar. Price is flat at 100 except the last
    bar, ``move`` above the bar 4h before; OI (if given) changes by ``oi_change`` likewise."""
    hours = settlements * interval
    bars = []
    for h in range(hours + 1):
        settle = None
        if h % interval == 0:
            settle = last_rate if h == hours else base[(h // interval) % 2]
        price = 100.0 * (1 + move) if h == hours else 100.0
        oi = None
        if oi_change is not None:
            oi = 1000.0 * (1 + oi_change) if h == hours else 1000.0
        bars.append(Bar(price=price, settle=settle, oi=oi))
    return bars


def decide(bars, portfolio=None):
    return FundingExtreme().decide(build(bars), portfolio or flat())


@pytest.mark.parametrize(("rate", "kind"), [(0.0015, IntentKind.ENTER_SHORT), (-0.0015, IntentKind.ENTER_LONG)])
def test_extreme_funding_is_faded(rate, kind) -> None:
    base = (0.0001, 0.00015) if rate > 0 else (-0.0001, -0.00015)
    intents = decide(funding_bars(rate, base=base))
    assert [i.kind for i in intents] == [kind]
    intent = intents[0]
    # level 0.0015/0.002, z far beyond 2*2, carry 0.45%/day of 1%/day, price-only confirmation 0.7
    assert intent.strength == pytest.approx((0.75 + 1.0 + 0.45 + 0.7) / 4)
    assert intent.reasons["expected_carry_per_day"]["value"] == pytest.approx(0.0045)
    assert intent.reasons["funding_rate"]["band"] == "extreme"
    assert intent.reasons["funding_zscore"]["value"] * (1 if rate > 0 else -1) > 10
    json.dumps(dict(intent.reasons))


@pytest.mark.parametrize(("rate", "fires"), [(0.0015, True), (0.0008, True), (0.0004, False), (0.0, False)])
def test_absolute_band(rate, fires) -> None:
    assert bool(decide(funding_bars(rate))) is fires


@pytest.mark.parametrize(("interval", "fires"), [(1, True), (4, True), (8, False)])
def test_bands_rescale_with_the_interval(interval, fires) -> None:
    # 0.03% per settlement: 0.24%/8h on a 1h interval, 0.06% on 4h (strong), 0.03% on 8h (normal)
    base = (0.0001 * interval / 8, 0.00015 * interval / 8)
    bars = funding_bars(0.0003, base=base, interval=interval, settlements=40)
    intents = decide(bars)
    assert bool(intents) is fires
    if fires:
        assert intents[0].reasons["funding_rate"]["interval_hours"] == interval
        assert intents[0].reasons["funding_rate"]["threshold"] == pytest.approx(
            (0.001 if interval == 1 else 0.0005) * interval / 8)


@pytest.mark.parametrize(("base", "fires"), [
    ((0.0001, 0.00015), True),   # 0.08% is far outside this symbol's normal: crowded
    ((0.0006, 0.0008), False),   # the same 0.08% is this symbol's regime: z ~ 1
])
def test_adaptive_zscore_gates_the_strong_band(base, fires) -> None:
    assert bool(decide(funding_bars(0.0008, base=base))) is fires


@pytest.mark.parametrize(("rate", "fires"), [(0.0015, True), (0.0008, False)])
def test_without_history_only_the_extreme_band_counts(rate, fires) -> None:
    intents = decide(funding_bars(rate, settlements=10))  # z-score still warming up
    assert bool(intents) is fires
    if fires:
        assert intents[0].reasons["funding_zscore"]["value"] is None


@pytest.mark.parametrize(("move", "oi_change", "fires", "weak"), [
    (0.0, None, True, False),     # price stalling
    (0.05, None, False, False),   # longs still winning, no OI data: no confirmation
    (0.05, 0.03, False, False),   # price up on rising OI: trend, not exhaustion
    (0.05, -0.05, True, True),    # price up on falling OI: weak rally
    (-0.03, None, True, False),   # price falling under the crowd
])
def test_short_needs_price_or_oi_confirmation(move, oi_change, fires, weak) -> None:
    intents = decide(funding_bars(0.0015, move=move, oi_change=oi_change))
    assert bool(intents) is fires
    if fires:
        assert intents[0].kind is IntentKind.ENTER_SHORT
        assert intents[0].reasons["oi_change_4h"]["weak_move"] is weak


@pytest.mark.parametrize(("move", "oi_change", "fires"), [
    (0.0, None, True), (-0.05, None, False), (-0.05, 0.03, False), (-0.05, -0.05, True), (0.03, None, True),
])
def test_long_side_is_symmetric(move, oi_change, fires) -> None:
    intents = decide(funding_bars(-0.0015, base=(-0.0001, -0.00015), move=move, oi_change=oi_change))
    assert bool(intents) is fires
    if fires:
        assert intents[0].kind is IntentKind.ENTER_LONG


def test_both_confirmations_raise_strength() -> None:
    one = decide(funding_bars(0.0015))[0].strength
    both = decide(funding_bars(0.0015, oi_change=-0.05))[0].strength
    assert both - one == pytest.approx(0.3 / 4)


def _held(side: PositionSide, last_rate: float, strategy: str = "funding_extreme"):
    bars = funding_bars(last_rate, base=(0.0015, 0.0014) if side is PositionSide.SHORT else (-0.0015, -0.0014))
    return decide(bars, holding(SYMBOL, side, strategy, T0 + 8 * MS_PER_HOUR))


@pytest.mark.parametrize(("side", "rate", "exits"), [
    (PositionSide.SHORT, 0.0012, False), (PositionSide.SHORT, 0.0001, True), (PositionSide.SHORT, -0.0005, True),
    (PositionSide.LONG, -0.0012, False), (PositionSide.LONG, -0.0001, True), (PositionSide.LONG, 0.0005, True),
])
def test_exit_when_funding_normalises_or_flips(side, rate, exits) -> None:
    intents = _held(side, rate)
    assert bool(intents) is exits
    if exits:
        assert intents[0].kind is IntentKind.EXIT
        assert intents[0].reasons["funding_normalised"]["value"] == pytest.approx(-side.sign * rate)


def test_another_strategys_position_blocks_entry_and_is_not_exited() -> None:
    assert _held(PositionSide.SHORT, 0.0001, strategy="short_squeeze") == []


def test_parameter_order_is_validated() -> None:
    from strategies.base import StrategyConfigError

    with pytest.raises(StrategyConfigError, match="strong_band_8h"):
        FundingExtreme(params={"strong_band_8h": 0.002})
