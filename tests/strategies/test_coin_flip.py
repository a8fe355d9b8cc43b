"""coin_flip: deterministic (a hash of seed, symbol and slot), causal, config-driven exits."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategy_builders import SYMBOL, T0, Bar, build, flat, holding

from bot.config import StrategyConfig
from bot.core.enums import IntentKind, PositionSide
from bot.core.timeutil import MS_PER_HOUR
from strategies import registry
from strategies.coin_flip import CoinFlip

CONFIG = StrategyConfig(enabled=True, stop_loss_pct=0.02, take_profit_pct=0.03, time_stop_hours=2, leverage=2)


def _hours(n: int, price: float = 100.0) -> list[Bar]:
    return [Bar(price=price + i) for i in range(n)]


def _decisions(strategy: CoinFlip, snaps: list) -> list[IntentKind | None]:
    """The decision after each snapshot, fed one more snapshot at a time (as the engine does)."""
    out = []
    for i in range(1, len(snaps) + 1):
        intents = strategy.decide(snaps[:i], flat())
        out.append(intents[0].kind if intents else None)
    return out


def test_registered_by_name_and_disabled_by_default() -> None:
    assert "coin_flip" in registry.names()
    assert registry.get("coin_flip") is CoinFlip
    assert StrategyConfig().enabled is False  # nothing trades until a config enables it


def test_same_seed_same_flips_other_seed_other_flips() -> None:
    snaps = build(_hours(200))
    a = _decisions(CoinFlip({"seed": 7}), snaps)
    b = _decisions(CoinFlip({"seed": 7}), snaps)
    c = _decisions(CoinFlip({"seed": 8}), snaps)
    assert a == b
    assert a != c  # 200 fair flips agreeing by chance: probability 2**-200 per side draw


def test_the_decision_ignores_prices_and_the_past() -> None:
    """Causal and information-free: other prices, a truncated or no history give the same flip."""
    strategy = CoinFlip({"seed": 3})
    snaps = build(_hours(60))
    other = build(_hours(60, price=5.0))
    for i in (0, 10, 59):
        full = strategy.decide(snaps[: i + 1], flat())
        alone = CoinFlip({"seed": 3}).decide([snaps[i]], flat())
        repriced = CoinFlip({"seed": 3}).decide(other[: i + 1], flat())
        assert [x.kind for x in full] == [x.kind for x in alone] == [x.kind for x in repriced]


@pytest.mark.parametrize(("p_enter", "expected"), [(0.0, 0), (1.0, 48)])
def test_p_enter_bounds(p_enter: float, expected: int) -> None:
    snaps = build(_hours(48))
    flips = _decisions(CoinFlip({"p_enter": p_enter}), snaps)
    assert sum(k is not None for k in flips) == expected


@pytest.mark.parametrize(("p_long", "kind"), [(1.0, IntentKind.ENTER_LONG), (0.0, IntentKind.ENTER_SHORT)])
def test_p_long_bounds(p_long: float, kind: IntentKind) -> None:
    flips = _decisions(CoinFlip({"p_enter": 1.0, "p_long": p_long}), build(_hours(24)))
    assert set(flips) == {kind}


def test_entry_frequency_matches_p_enter() -> None:
    """2,000 hourly flips at p = 0.3: mean 600, sd sqrt(2000 * 0.3 * 0.7) = 20.5; allow 5 sd."""
    strategy = CoinFlip({"p_enter": 0.3, "seed": 11})
    entries = sum(bool(strategy.decide([snap], flat())) for snap in build(_hours(2000)))
    assert 600 - 103 <= entries <= 600 + 103


def test_one_intent_per_slot_with_the_slot_start_as_its_time() -> None:
    """Every cycle inside a 60-minute slot repeats the same intent, stamped at the slot start."""
    strategy = CoinFlip({"p_enter": 1.0}, config=CONFIG)
    snap = build([Bar()])[0]
    inside = [replace(snap, ts=T0 + minutes * 60_000) for minutes in (0, 1, 37, 59)]
    intents = [strategy.decide([s], flat())[0] for s in inside]
    assert {i.ts for i in intents} == {T0}
    assert len({i.kind for i in intents}) == 1
    next_slot = strategy.decide([replace(snap, ts=T0 + MS_PER_HOUR)], flat())[0]
    assert next_slot.ts == T0 + MS_PER_HOUR


def test_period_minutes_sets_the_slot() -> None:
    strategy = CoinFlip({"p_enter": 1.0, "period_minutes": 15})
    snap = build([Bar()])[0]
    assert strategy.decide([replace(snap, ts=T0 + 44 * 60_000)], flat())[0].ts == T0 + 30 * 60_000


def test_exits_come_from_the_config() -> None:
    intent = CoinFlip({"p_enter": 1.0}, config=CONFIG).decide(build([Bar()]), flat())[0]
    assert (intent.stop_loss_pct, intent.take_profit_pct, intent.time_stop_hours, intent.leverage) == (
        0.02, 0.03, 2, 2)


def test_no_entry_while_a_position_is_open() -> None:
    snaps = build(_hours(5))
    mine = holding(SYMBOL, PositionSide.LONG, "coin_flip", T0)
    other = holding(SYMBOL, PositionSide.SHORT, "funding_rule", T0)
    for portfolio in (mine, other):
        assert CoinFlip({"p_enter": 1.0}).decide(snaps, portfolio) == []


def test_unknown_parameter_is_refused() -> None:
    with pytest.raises(Exception, match=r"coin_flip\.params\.p_entr"):
        registry.build("coin_flip", StrategyConfig(params={"p_entr": 0.5}))


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**63 - 1), hour=st.integers(0, 10_000), minute=st.integers(0, 59))
def test_any_two_instances_agree(seed: int, hour: int, minute: int) -> None:
    snap = replace(build([Bar()])[0], ts=T0 + hour * MS_PER_HOUR + minute * 60_000)
    first = CoinFlip({"seed": seed}).decide([snap], flat())
    second = CoinFlip({"seed": seed}).decide([snap], flat())
    assert first == second
