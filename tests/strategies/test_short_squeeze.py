"""short_squeeze on hand-built snapshots: each condition toggled both ways."""

from __future__ import annotations

import json

import pytest
from strategy_builders import SYMBOL, T0, Bar, build, edit_last, flat, holding

from bot.config import StrategyConfig
from bot.core.enums import IntentKind, PositionSide
from bot.core.timeutil import MS_PER_HOUR
from strategies.short_squeeze import ShortSqueeze


def squeeze_bars(*, rate: float = -0.01, shorten: bool = True, oi: bool = True,
                 rise: tuple[float, ...] = (104.0, 108.0, 112.0, 116.0),
                 oi_path: tuple[float, ...] = (1010.0, 1030.0, 1050.0, 1070.0)) -> list[Bar]:
    """40 quiet hours (4h settlements at +0.01%), then 8 hours of negative funding (hourly
    settlements when ``shorten``), price flat for 4h then rising along ``rise``."""
    bars = []
    for h in range(40):
        bars.append(Bar(price=100.0, settle=0.0001 if h % 4 == 0 else None, oi=1000.0 if oi else None))
    for h in range(40, 48):
        settle = rate if (shorten or h % 4 == 0) else None
        k = h - 44
        price = rise[k] if k >= 0 else 100.0
        oi_value = (oi_path[k] if k >= 0 else 1000.0) if oi else None
        bars.append(Bar(price=price, settle=settle, oi=oi_value))
    return bars


def decide(bars: list[Bar], portfolio=None, strategy: ShortSqueeze | None = None):
    strategy = strategy or ShortSqueeze()
    return strategy.decide(build(bars), portfolio or flat())


def test_full_squeeze_enters_long_with_evidence() -> None:
    intents = decide(squeeze_bars())
    assert len(intents) == 1
    intent = intents[0]
    assert intent.kind is IntentKind.ENTER_LONG and intent.symbol == SYMBOL
    assert intent.ts == T0 + 47 * MS_PER_HOUR
    # funding 0.5 (half the -2% reference floor), price 1.0 (16% vs 2*8%), OI 1.0 (7% vs 2*2%)
    assert intent.strength == pytest.approx((0.5 + 1.0 + 1.0) / 3)
    reasons = intent.reasons
    assert reasons["price_rise_4h"]["value"] == pytest.approx(0.16)
    assert reasons["funding_rate"] == {"value": -0.01, "threshold": -0.003, "op": "<=", "floor": None,
                                       "near_floor": False}
    assert reasons["funding_interval_hours"]["value"] == 1.0
    assert reasons["funding_interval_hours"]["threshold"] == 4.0
    assert reasons["open_interest_change"]["value"] == pytest.approx(0.07)
    json.dumps(dict(reasons))  # the journal stores it as JSON


@pytest.mark.parametrize(("rise", "fires"), [
    ((104.0, 108.0, 112.0, 116.0), True),
    ((101.0, 102.0, 103.0, 105.0), False),  # +5% in 4h and in 24h: not sharp
])
def test_price_rise_condition(rise, fires) -> None:
    assert bool(decide(squeeze_bars(rise=rise))) is fires


def test_long_window_rise_alone_counts() -> None:
    bars = squeeze_bars()
    # a steady climb: +2% per hour for the last 24h, never 8% within 4h, but +60% in 24h
    for i in range(24, 48):
        bars[i] = Bar(price=100.0 * 1.02 ** (i - 23), settle=bars[i].settle, oi=1000.0 * 1.01 ** (i - 23))
    intents = decide(bars)
    assert len(intents) == 1
    assert intents[0].reasons["price_rise_24h"]["value"] == pytest.approx(1.02 ** 24 - 1)


@pytest.mark.parametrize(("rate", "fires"), [(-0.01, True), (-0.003, True), (-0.0025, False), (-0.0005, False)])
def test_deep_funding_condition(rate, fires) -> None:
    # no shortening: 4h settlements, so only the depth of the rate counts
    assert bool(decide(squeeze_bars(rate=rate, shorten=False))) is fires


@pytest.mark.parametrize(("shorten", "fires"), [(True, True), (False, False)])
def test_shortened_interval_lets_milder_funding_fire(shorten, fires) -> None:
    assert bool(decide(squeeze_bars(rate=-0.0015, shorten=shorten))) is fires


@pytest.mark.parametrize(("floor", "fires"), [(-0.004, True), (-0.02, False), (None, False)])
def test_near_the_floor(floor, fires) -> None:
    # -0.25% is not "deep" (-0.3%) but is at half of a -0.4% floor
    bars = edit_last(squeeze_bars(rate=-0.0025, shorten=False), 8, floor=floor)
    intents = decide(bars)
    assert bool(intents) is fires
    if fires:
        assert intents[0].reasons["funding_rate"]["near_floor"] is True


@pytest.mark.parametrize(("oi_path", "fires"), [
    ((1010.0, 1030.0, 1050.0, 1070.0), True),   # +7%: shorts piling in
    ((1000.0, 1000.0, 1005.0, 1010.0), False),  # +1%: not building
    ((950.0, 900.0, 850.0, 800.0), False),      # -20%: collapse, covering is over
])
def test_open_interest_condition_and_collapse_veto(oi_path, fires) -> None:
    assert bool(decide(squeeze_bars(oi_path=oi_path))) is fires


def test_missing_open_interest_fires_at_reduced_strength() -> None:
    intents = decide(squeeze_bars(oi=False))
    assert len(intents) == 1
    assert intents[0].strength == pytest.approx((0.5 + 1.0) / 2 * 0.6)
    assert intents[0].reasons["open_interest_change"]["missing"] is True
    with_oi = decide(squeeze_bars())[0]
    assert intents[0].strength < with_oi.strength


@pytest.mark.parametrize(("ratio", "fires"), [(0.1, False), (0.19, False), (0.2, True), (0.8, True), (None, True)])
def test_spot_futures_volume_ratio_veto(ratio, fires) -> None:
    bars = edit_last(squeeze_bars(), 1, spot_ratio=ratio)
    assert bool(decide(bars)) is fires


@pytest.mark.parametrize(("liq_long", "liq_short", "qv", "fires"), [
    (1_000_000.0, 100_000.0, 10_000_000.0, False),  # 91% longs, 10% of volume: cascade
    (1_000_000.0, 100_000.0, None, False),          # share alone decides
    (100_000.0, 1_000_000.0, 10_000_000.0, True),   # shorts being liquidated: that's the squeeze
    (1_000_000.0, 100_000.0, 100_000_000.0, True),  # 1% of volume: noise
    (None, None, 10_000_000.0, True),               # no liquidation data: no veto
])
def test_long_liquidation_cascade_veto(liq_long, liq_short, qv, fires) -> None:
    bars = edit_last(squeeze_bars(), 1, liq_long=liq_long, liq_short=liq_short, quote_volume=qv)
    assert bool(decide(bars)) is fires


def test_missing_required_funding_blocks_entry() -> None:
    bars = [Bar(price=b.price, oi=b.oi) for b in squeeze_bars()]  # no funding at all
    assert decide(bars) == []


def test_config_travels_on_the_intent() -> None:
    cfg = StrategyConfig(enabled=True, stop_loss_pct=0.08, take_profit_pct=0.2, leverage=2,
                         time_stop_hours=36, params={"min_rise_short": 0.1})
    strat = ShortSqueeze(config=cfg)
    assert strat.params.min_rise_short == 0.1
    intent = strat.decide(build(squeeze_bars()), flat())[0]
    assert (intent.stop_loss_pct, intent.take_profit_pct, intent.leverage, intent.time_stop_hours) == (
        0.08, 0.2, 2, 36)


def test_no_entry_while_a_position_is_open() -> None:
    entry_ts = T0 + 46 * MS_PER_HOUR
    other = holding(SYMBOL, PositionSide.LONG, "funding_extreme", entry_ts)
    assert decide(squeeze_bars(), other) == []


# -- exits ---------------------------------------------------------------------------------

def _held(bars: list[Bar], entry_hour: int = 46) -> list:
    return decide(bars, holding(SYMBOL, PositionSide.LONG, "short_squeeze", T0 + entry_hour * MS_PER_HOUR))


def test_holds_while_the_squeeze_is_on() -> None:
    assert _held(squeeze_bars()) == []


@pytest.mark.parametrize(("last_rate", "exits"), [(-0.0001, True), (0.0002, True), (-0.0005, True),
                                                  (-0.002, False)])
def test_exit_when_funding_normalises(last_rate, exits) -> None:
    bars = squeeze_bars()
    bars[-1] = Bar(price=bars[-1].price, settle=last_rate, oi=bars[-1].oi)
    intents = _held(bars)
    assert bool(intents) is exits
    if exits:
        assert intents[0].kind is IntentKind.EXIT
        assert intents[0].reasons["funding_normalised"]["value"] == last_rate


@pytest.mark.parametrize(("last_oi", "exits"), [(850.0, True), (1000.0, False)])
def test_exit_when_open_interest_falls_from_peak(last_oi, exits) -> None:
    bars = squeeze_bars(oi_path=(1010.0, 1030.0, 1070.0, last_oi))
    intents = _held(bars)
    assert bool(intents) is exits
    if exits:
        assert intents[0].reasons["open_interest_off_peak"]["value"] == pytest.approx(850 / 1070 - 1)
        assert intents[0].reasons["open_interest_off_peak"]["peak"] == 1070.0


@pytest.mark.parametrize(("entry_hour", "exits"), [(47 - 48, True), (47 - 47, False)])
def test_exit_after_the_time_limit(entry_hour, exits) -> None:
    intents = _held(squeeze_bars(), entry_hour=entry_hour)
    assert bool(intents) is exits
    if exits:
        assert intents[0].reasons["time_limit"]["value"] == 48.0


def test_does_not_exit_another_strategys_position() -> None:
    bars = squeeze_bars()
    bars[-1] = Bar(price=bars[-1].price, settle=0.0001, oi=bars[-1].oi)
    other = holding(SYMBOL, PositionSide.LONG, "funding_extreme", T0)
    assert decide(bars, other) == []


def test_exit_still_works_without_required_fields() -> None:
    bars = squeeze_bars()
    bars[-1] = Bar(price=float("nan"), settle=0.0001, oi=bars[-1].oi)  # price unusable now
    intents = _held(bars)
    assert [i.kind for i in intents] == [IntentKind.EXIT]
