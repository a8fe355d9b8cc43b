"""funding_rule: each threshold toggled at its boundary changes the decision."""

from __future__ import annotations

import pytest

from bot.config import StrategyConfig
from bot.core.enums import IntentKind, PositionSide
from bot.market.snapshot import MISSING, Snapshot, fresh
from strategies.base import StrategyConfigError
from strategies.funding_rule import FundingRule
from tests.strategies.strategy_builders import SYMBOL, T0, flat, holding

CONFIG = StrategyConfig(enabled=True, stop_loss_pct=0.0167, take_profit_pct=0.0333, leverage=3)


def snap(rate: float | None, change: float | None, ts: int = T0) -> Snapshot:
    return Snapshot(symbol=SYMBOL, ts=ts, last_price=fresh(1.0, ts),
                    funding_rate=fresh(rate, ts) if rate is not None else MISSING,
                    price_change_24h=fresh(change, ts) if change is not None else MISSING)


def kinds(strategy: FundingRule, s: Snapshot, portfolio=None) -> list[IntentKind]:
    return [i.kind for i in strategy.decide([s], portfolio or flat())]


@pytest.mark.parametrize(("rate", "change", "expected"), [
    (-0.001, 0.1001, [IntentKind.ENTER_LONG]),   # at the funding threshold, change above
    (-0.00099, 0.20, []),                         # funding just not extreme enough
    (-0.002, 0.10, []),                           # change exactly 10% is not "> 10%"
    (0.001, -0.0501, [IntentKind.ENTER_SHORT]),
    (0.00099, -0.20, []),
    (0.002, -0.05, []),
    (None, 0.5, []),                              # missing funding never enters
    (-0.01, None, []),                            # missing change never enters
])
def test_entry_thresholds(rate, change, expected) -> None:
    assert kinds(FundingRule(config=CONFIG), snap(rate, change)) == expected


def test_entry_carries_the_configured_exits_and_reasons() -> None:
    [intent] = FundingRule(config=CONFIG).decide([snap(-0.002, 0.2)], flat())
    assert intent.stop_loss_pct == 0.0167 and intent.take_profit_pct == 0.0333 and intent.leverage == 3
    assert intent.reasons["funding_rate"] == {"value": -0.002, "threshold": -0.001, "op": "<="}


def test_exit_when_funding_normalises_only_for_its_own_position() -> None:
    strategy = FundingRule(config=CONFIG)
    mine = holding(SYMBOL, PositionSide.LONG, "funding_rule", T0)
    theirs = holding(SYMBOL, PositionSide.LONG, "funding_extreme", T0)
    assert kinds(strategy, snap(0.00009, 0.0, T0 + 1), mine) == [IntentKind.EXIT]
    assert kinds(strategy, snap(0.0001, 0.0, T0 + 2), mine) == []
    assert kinds(strategy, snap(0.00009, 0.0, T0 + 3), theirs) == []


def test_unknown_parameter_is_named() -> None:
    with pytest.raises(StrategyConfigError, match=r"funding_rule\.params\.long_min_chnage"):
        FundingRule({"long_min_chnage": 0.2})
