"""Everything one emulator instance holds: the core, the market history, clock, keys, limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.core.instrument import Instrument
from bot.emulator.auth import Credentials
from bot.emulator.clock import EmulatorClock
from bot.emulator.errors import BinanceError, invalid_symbol, mandatory
from bot.emulator.faults import FaultConfig, FaultInjector
from bot.emulator.weights import LimiterConfig, WeightLimiter
from bot.sim.driver import MarketDriver


@dataclass
class EmulatorConfig:
    api_key: str = "test"
    api_secret: str = "test"
    balance: float = 10_000.0
    maker_fee: float = 0.0002
    taker_fee: float = 0.0005
    seed: int = 0
    max_weight: int = 2400
    ban_after_429s: int = 10
    ban_seconds: int = 120
    faults: FaultConfig = field(default_factory=FaultConfig)
    #: When set, every ``/_sim/`` control request must carry it in :data:`CONTROL_TOKEN_HEADER`.
    #: None keeps the control API open (tests, the demo): it is bound to loopback by default.
    control_token: str | None = None

    def __repr__(self) -> str:  # keys stay out of logs and tracebacks
        return (f"EmulatorConfig(balance={self.balance}, max_weight={self.max_weight}, "
                f"seed={self.seed}, api_key=***, api_secret=***, control_token=***)")


class EmulatorState:
    """The shared state handlers read; built once per server."""

    def __init__(self, exchange: Any, store: Any, clock: EmulatorClock,
                 config: EmulatorConfig | None = None, symbols: list[str] | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.exchange = exchange
        self.store = store
        self.clock = clock
        self.symbols = list(symbols) if symbols is not None else list(store.symbols)
        self.instruments: dict[str, Instrument] = {s: store[s].instrument for s in self.symbols}
        self.driver = MarketDriver(exchange, store, self.symbols, clock)
        self.credentials = Credentials(self.config.api_key, self.config.api_secret)
        self.limiter = WeightLimiter(LimiterConfig(self.config.max_weight, self.config.ban_after_429s,
                                                   self.config.ban_seconds))
        self.faults = FaultInjector(self.config.faults)
        self.requests_served = 0
        #: When a list, every exchange request is appended as (method, path, raw query, raw body)
        #: -- for fidelity tests; None (default) records nothing.
        self.request_log: list[tuple[str, str, str, str]] | None = None

    @classmethod
    def build(cls, store: Any, start_ms: int, *, speed: float = 0.0, config: EmulatorConfig | None = None,
              symbols: list[str] | None = None) -> EmulatorState:
        """Construct the core over ``store``'s instruments and a clock starting at ``start_ms``."""
        from bot.sim.exchange import SimExchange

        config = config or EmulatorConfig()
        chosen = list(symbols) if symbols else list(store.symbols)
        missing = [s for s in chosen if s not in set(store.symbols)]
        if missing:
            raise ValueError(f"symbol(s) not in the data: {', '.join(missing)}; "
                             f"available: {', '.join(store.symbols)}")
        instruments = {s: store[s].instrument for s in chosen}
        exchange = SimExchange(instruments, balance=config.balance, maker_fee=config.maker_fee,
                               taker_fee=config.taker_fee, seed=config.seed)
        return cls(exchange, store, EmulatorClock(start_ms, speed), config, chosen)

    # -- helpers used by the handlers ---------------------------------------------------------

    @property
    def fill_model(self) -> Any:
        """The core's fill model (the synthetic book mirrors it); None -> its defaults."""
        return getattr(self.exchange, "fill_model", None)

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def instrument(self, symbol: str | None, *, required: bool = True) -> Instrument:
        if not symbol:
            raise mandatory("symbol")
        inst = self.instruments.get(symbol.upper())
        if inst is None:
            raise invalid_symbol()
        return inst

    def history(self, symbol: str) -> Any:
        return self.store[symbol]

    def check_symbol(self, symbol: str | None) -> str | None:
        """Normalise an optional symbol parameter; unknown symbols are -1121."""
        if not symbol:
            return None
        if symbol.upper() not in self.instruments:
            raise invalid_symbol()
        return symbol.upper()

    def reset(self, balance: float | None = None) -> None:
        amount = self.config.balance if balance is None else balance
        if amount < 0:
            raise BinanceError(-1102, "balance must be >= 0")
        self.exchange.reset(amount)
        self.limiter.reset()


#: Where the aiohttp app keeps its state. Defined here, below both the dispatcher (``app``) and
#: the control API (``control``), so neither has to import the other.
STATE_KEY = web.AppKey("emulator_state", EmulatorState)
