"""Discovery by name and configuration of strategies."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings, StrategyConfig
from strategies import registry
from strategies.base import StrategyConfigError
from strategies.funding_extreme import FundingExtreme
from strategies.short_squeeze import ShortSqueeze


def test_discovers_the_package_strategies() -> None:
    assert registry.names() == ["coin_flip", "funding_extreme", "funding_rule", "short_squeeze"]
    assert registry.get("short_squeeze") is ShortSqueeze
    assert registry.get("funding_extreme") is FundingExtreme


def test_unknown_strategy_lists_known_ones() -> None:
    known = r"\(known: coin_flip, funding_extreme, funding_rule, short_squeeze\)"
    with pytest.raises(StrategyConfigError, match=r"unknown strategy 'nope' " + known):
        registry.get("nope")


def test_unknown_param_names_strategy_and_key() -> None:
    cfg = StrategyConfig(params={"min_rise_shrot": 0.1})
    with pytest.raises(StrategyConfigError) as err:
        registry.validate_configs({"short_squeeze": cfg})
    assert "strategies.short_squeeze.params.min_rise_shrot: unknown parameter of strategy 'short_squeeze'" in str(
        err.value)
    assert isinstance(err.value, ConfigError)  # the CLI prints it and exits 2


def test_out_of_bounds_param_is_rejected_with_value() -> None:
    with pytest.raises(StrategyConfigError, match=r"params\.deep_funding_rate: .*got 0\.01"):
        registry.build("short_squeeze", StrategyConfig(params={"deep_funding_rate": 0.01}))


def test_a_huge_param_value_is_not_echoed_whole() -> None:
    """Issue 16 item 11: a 10,000-character value is cut to 80 characters plus an ellipsis."""
    value = "x" * 10_000
    with pytest.raises(StrategyConfigError) as err:
        registry.build("short_squeeze", StrategyConfig(params={"deep_funding_rate": value}))
    message = str(err.value)
    assert "params.deep_funding_rate" in message
    assert "(got '" + "x" * 79 + "…)" in message  # repr's opening quote + 79 x = 80 characters
    assert len(message) < 400


def test_build_enabled_from_settings() -> None:
    settings = Settings(strategies={
        "short_squeeze": {"enabled": True, "stop_loss_pct": 0.08, "params": {"max_hold_hours": 24}},
        "funding_extreme": {"enabled": False, "params": {"z_strong": 3}},
    })
    built = registry.build_enabled(settings)
    assert list(built) == ["short_squeeze"]
    assert built["short_squeeze"].params.max_hold_hours == 24
    assert built["short_squeeze"].config.stop_loss_pct == 0.08


def test_disabled_strategies_are_validated_too() -> None:
    settings = Settings(strategies={"funding_extreme": {"enabled": False, "params": {"zz": 1}}})
    with pytest.raises(StrategyConfigError, match=r"funding_extreme\.params\.zz"):
        registry.build_enabled(settings)


def test_registering_a_duplicate_name_fails() -> None:
    class Impostor(ShortSqueeze):
        pass

    with pytest.raises(TypeError, match="two strategies are named 'short_squeeze'"):
        registry.register(Impostor)
