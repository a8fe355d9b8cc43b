"""Hard safety limits. These are constants in code on purpose: no config file, environment
variable or command-line flag can raise them. Changing one is a code review, not a setting."""

from __future__ import annotations

from typing import Final

#: No position is ever opened above this leverage, in any mode.
ABSOLUTE_MAX_LEVERAGE: Final[float] = 10.0
#: Live mode: leverage when the config does not set one.
LIVE_DEFAULT_LEVERAGE: Final[float] = 3.0
#: Live mode: leverage can never exceed this.
LIVE_MAX_LEVERAGE: Final[float] = 5.0
#: Equity fraction one trade may risk (entry to stop, fees included).
MAX_RISK_PER_TRADE: Final[float] = 0.02
#: The daily loss limit and drawdown halt cannot be switched off, only tightened below these.
MAX_DAILY_LOSS_LIMIT: Final[float] = 0.20
MAX_DRAWDOWN_LIMIT: Final[float] = 0.50
#: A protective stop farther than this from entry is not a stop.
MAX_STOP_LOSS_PCT: Final[float] = 0.50


def mode_leverage_cap(mode: str) -> float:
    """Highest leverage a mode permits (the code ceiling, or the live cap)."""
    return LIVE_MAX_LEVERAGE if mode == "live" else ABSOLUTE_MAX_LEVERAGE
