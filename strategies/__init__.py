"""Trading strategies: the interface (:mod:`strategies.base`), causal incremental features
(:mod:`strategies.features`), discovery by name (:mod:`strategies.registry`) and the
strategies themselves (one module each). See docs/strategies.md to write a new one."""

from strategies.base import Strategy, StrategyConfigError
from strategies.registry import build, get, names

__all__ = ["Strategy", "StrategyConfigError", "build", "get", "names"]
