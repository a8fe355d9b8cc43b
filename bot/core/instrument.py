"""Tradable instruments: precision, limits and leverage brackets.

Brackets follow Binance's ``/fapi/v1/leverageBracket`` form, so the same object drives the
simulated exchange, the emulator's responses, the risk manager's leverage caps and the
liquidation-price formula.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.precision import Rounding, round_price, round_quantity


@dataclass(frozen=True, slots=True)
class LeverageBracket:
    """One notional tier: positions with notional in [floor, cap) use this tier's rates."""

    bracket: int
    initial_leverage: int
    notional_floor: float
    notional_cap: float
    maint_margin_ratio: float
    cum: float  # maintenance amount: makes maintenance margin continuous across tiers


def default_brackets() -> tuple[LeverageBracket, ...]:
    """A generic small-cap bracket table shaped like Binance's (used when data has none)."""
    rows = [
        (1, 50, 0, 5_000, 0.01, 0.0),
        (2, 25, 5_000, 25_000, 0.02, 50.0),
        (3, 20, 25_000, 100_000, 0.025, 175.0),
        (4, 10, 100_000, 250_000, 0.05, 2_675.0),
        (5, 5, 250_000, 1_000_000, 0.10, 15_175.0),
        (6, 4, 1_000_000, 2_000_000, 0.125, 40_175.0),
        (7, 2, 2_000_000, 5_000_000, 0.25, 290_175.0),
        (8, 1, 5_000_000, 10_000_000, 0.5, 1_540_175.0),
    ]
    return tuple(LeverageBracket(*row) for row in rows)


@dataclass(frozen=True, slots=True)
class Instrument:
    """A USDT-margined linear perpetual.

    ``symbol`` is the exchange id (``BTCUSDT``); ``ccxt_symbol`` the unified one
    (``BTC/USDT:USDT``). Contract size is 1 base unit, as on Binance USDⓈ-M.
    """

    symbol: str
    base: str
    quote: str = "USDT"
    tick_size: float = 0.0001
    step_size: float = 0.001
    min_qty: float = 0.001
    max_qty: float = 1_000_000.0
    market_max_qty: float = 100_000.0
    min_notional: float = 5.0
    price_precision: int = 4
    quantity_precision: int = 3
    brackets: tuple[LeverageBracket, ...] = field(default_factory=default_brackets)
    onboard_ms: int = 0

    @property
    def ccxt_symbol(self) -> str:
        return f"{self.base}/{self.quote}:{self.quote}"

    def round_price(self, price: float, mode: Rounding = Rounding.NEAREST) -> float:
        return round_price(price, self.tick_size, mode)

    def round_qty(self, quantity: float, mode: Rounding = Rounding.DOWN) -> float:
        return round_quantity(quantity, self.step_size, mode)

    def bracket_for(self, notional: float) -> LeverageBracket:
        """The tier whose [floor, cap) holds ``abs(notional)``; the last tier beyond its cap."""
        value = abs(notional)
        for tier in self.brackets:
            if tier.notional_floor <= value < tier.notional_cap:
                return tier
        return self.brackets[-1]

    def max_leverage_for(self, notional: float) -> int:
        return self.bracket_for(notional).initial_leverage

    def max_notional_for_leverage(self, leverage: float) -> float:
        """Largest notional the bracket table allows at ``leverage`` (Binance's maxNotionalValue)."""
        allowed = [t.notional_cap for t in self.brackets if t.initial_leverage >= leverage]
        return max(allowed) if allowed else 0.0


def ccxt_symbol_to_id(symbol: str) -> str:
    """``BTC/USDT:USDT`` -> ``BTCUSDT``; an id passes through unchanged."""
    if "/" not in symbol:
        return symbol.upper()
    base, rest = symbol.split("/", 1)
    quote = rest.split(":", 1)[0]
    return f"{base}{quote}".upper()


def id_to_ccxt_symbol(symbol_id: str, quote: str = "USDT") -> str:
    """``BTCUSDT`` -> ``BTC/USDT:USDT``."""
    if "/" in symbol_id:
        return symbol_id
    if not symbol_id.endswith(quote):
        raise ValueError(f"{symbol_id!r} is not a {quote}-margined symbol id")
    return f"{symbol_id[: -len(quote)]}/{quote}:{quote}"
