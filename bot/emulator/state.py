"""Everything one emulator instance holds: the core, the market history, clock, keys, limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.core.instrument import Instrument
from bot.emulator.auth import Credentials
from bot.emulator.clock import EmulatorClock, server_wall_ms
from bot.emulator.errors import BinanceError, invalid_symbol, mandatory
from bot.emulator.faults import FaultConfig, FaultInjector
from bot.emulator.listings import Listings
from bot.emulator.margin_assets import USDC, USDC_ID_BASE, SplitExchange, VariantStore, usdc_symbol
from bot.emulator.private import OrderVisibility
from bot.emulator.weights import LimiterConfig, OrderCountLimiter, WeightLimiter
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
    #: USDT symbols (of the data) whose USDC-margined twin is listed too (``BTCUSDT`` -> ``BTCUSDC``),
    #: priced from the USDT series and margined from a USDC wallet of ``usdc_balance``
    #: (see :mod:`bot.emulator.margin_assets`). Empty (default): USDT contracts only.
    usdc_variants: tuple[str, ...] = ()
    usdc_balance: float = 10_000.0

    def __repr__(self) -> str:  # keys stay out of logs and tracebacks
        return (f"EmulatorConfig(balance={self.balance}, max_weight={self.max_weight}, "
                f"seed={self.seed}, api_key=***, api_secret=***, control_token=***)")


@dataclass
class AccountModes:
    """Account-wide settings a real Binance account can be in, switched through ``/_sim/account``.

    Binance USDⓈ-M (Account/Trade docs: "Get Current Multi-Assets Mode", "Get Current Position
    Mode", "Change Margin Type"): in Multi-Assets mode ``GET /fapi/v1/multiAssetsMargin``
    answers true and ``POST /fapi/v1/marginType`` ISOLATED answers -4168; in hedge mode
    ``GET /fapi/v1/positionSide/dual`` answers true. ``server_time_offset_ms`` moves the
    server's wall clock (``/fapi/v1/time`` of a live-speed emulator and the -1021 check) away
    from the client's.
    """

    multi_assets: bool = False
    hedge_mode: bool = False
    server_time_offset_ms: int = 0
    #: Fees paid in BNB (Binance "BNB burn", ``GET/POST /fapi/v1/feeBurn``): each fill's commission
    #: is charged from the BNB wallet at USDT fee x 0.9 / BNB price (bot.sim.account). The price is
    #: the replayed BNBUSDT price when the emulator lists BNBUSDT, else ``bnb_price``.
    bnb_fee: bool = False
    bnb_price: float | None = None


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
        #: listing times and the settlement at the data's end (bot.emulator.listings)
        self.listings = Listings(store, self.symbols, exchange)
        self.credentials = Credentials(self.config.api_key, self.config.api_secret)
        self.limiter = WeightLimiter(LimiterConfig(self.config.max_weight, self.config.ban_after_429s,
                                                   self.config.ban_seconds))
        self.faults = FaultInjector(self.config.faults)
        #: Order-level scenario (``/_sim/scenario``): ORDERS rate limits and the visibility lag.
        self.order_limiter = OrderCountLimiter()
        self.visibility = OrderVisibility()
        self.account = AccountModes()
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
        exchange: Any = SimExchange(instruments, balance=config.balance, maker_fee=config.maker_fee,
                                    taker_fee=config.taker_fee, seed=config.seed)
        if config.usdc_variants:
            exchange, store, chosen = _with_usdc(exchange, store, chosen, config)
        return cls(exchange, store, EmulatorClock(start_ms, speed), config, chosen)

    # -- BNB fees -----------------------------------------------------------------------------

    def bnb_price_now(self) -> float | None:
        """BNB's USDT price now: the replayed BNBUSDT price if listed, else the scenario's fixed one."""
        replayed = self.driver.prices.get(BNB_SYMBOL)
        if replayed is not None and replayed.last is not None:
            return float(replayed.last)
        return self.account.bnb_price

    def apply_fee_mode(self) -> None:
        """Point every margin wallet at the BNB price while BNB pays fees, at nothing otherwise."""
        provider = self.bnb_price_now if self.account.bnb_fee else None
        for core in _cores(self.exchange):
            core.account.bnb_price = provider

    def bnb_balance(self) -> float:
        return float(self.exchange.account.other_wallets.get("BNB", 0.0))

    def set_bnb_balance(self, amount: float) -> None:
        """The futures wallet's BNB (it pays fees only while ``bnb_fee`` is on; never margin)."""
        self.exchange.account.other_wallets["BNB"] = float(amount)

    # -- helpers used by the handlers ---------------------------------------------------------

    @property
    def fill_model(self) -> Any:
        """The core's fill model (the synthetic book mirrors it); None -> its defaults."""
        return getattr(self.exchange, "fill_model", None)

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def server_wall_ms(self) -> int:
        """The server's wall clock: machine time plus the account scenario's offset."""
        return server_wall_ms(self.account.server_time_offset_ms)

    def request_clocks(self) -> tuple[int, int]:
        """The clocks a signed request's ``timestamp`` may match (see ``auth.check_timestamp``).

        The server's wall clock (as Binance checks it, offset included) and the market clock a
        client synced with ``load_time_difference()`` signs with, shifted like
        :meth:`server_time_ms` so that such a client stays accepted (docs/architecture.md, "Time
        checks in the emulator").
        """
        return self.server_wall_ms(), self.clock.request_now_ms() + self.account.server_time_offset_ms

    def server_time_ms(self) -> int:
        """What ``/fapi/v1/time`` reports: the market clock, shifted by the offset.

        At live speed the market clock is wall time, so this is the skewed server time a client
        must sync with; in a replay the shift is a few seconds of market time, harmless.
        """
        return self.clock.now_ms() + self.account.server_time_offset_ms

    def instrument(self, symbol: str | None, *, required: bool = True) -> Instrument:
        if not symbol:
            raise mandatory("symbol")
        inst = self.instruments.get(symbol.upper())
        if inst is None or not self.listings.listed(inst.symbol, self.now_ms()):
            raise invalid_symbol()
        return inst

    def listed_symbols(self) -> list[str]:
        """The served symbols listed now (their data has begun); delisted ones stay listed."""
        now = self.now_ms()
        return [s for s in self.symbols if self.listings.listed(s, now)]

    def history(self, symbol: str) -> Any:
        return self.store[symbol]

    def check_symbol(self, symbol: str | None) -> str | None:
        """Normalise an optional symbol parameter; unknown symbols are -1121."""
        if not symbol:
            return None
        if symbol.upper() not in self.instruments or not self.listings.listed(symbol.upper(), self.now_ms()):
            raise invalid_symbol()
        return symbol.upper()

    def reset(self, balance: float | None = None) -> None:
        amount = self.config.balance if balance is None else balance
        if amount < 0:
            raise BinanceError(-1102, "balance must be >= 0")
        self.exchange.reset(amount)
        self.limiter.reset()
        self.order_limiter.reset()


BNB_SYMBOL = "BNBUSDT"


def _cores(exchange: Any) -> list[Any]:
    """The simulated cores behind ``exchange`` (two when USDC variants are listed)."""
    return [exchange.usdt, exchange.usdc] if isinstance(exchange, SplitExchange) else [exchange]


def _with_usdc(exchange: Any, store: Any, chosen: list[str], config: EmulatorConfig
               ) -> tuple[SplitExchange, VariantStore, list[str]]:
    """Add the USDC twins of ``config.usdc_variants`` (listed symbols of the data) with their own core."""
    from bot.sim.account import Account
    from bot.sim.exchange import SimExchange

    sources = [s.upper() for s in config.usdc_variants]
    unknown = [s for s in sources if s not in chosen]
    if unknown:
        raise ValueError(f"USDC variant(s) of symbols not listed: {', '.join(unknown)}; listed: {', '.join(chosen)}")
    variants = VariantStore(store, sources)
    usdc_symbols = [usdc_symbol(s) for s in sources]
    usdc = SimExchange({s: variants[s].instrument for s in usdc_symbols}, balance=config.usdc_balance,
                       maker_fee=config.maker_fee, taker_fee=config.taker_fee, seed=config.seed)
    usdc.account = Account(config.usdc_balance, asset=USDC, id_base=USDC_ID_BASE)
    return SplitExchange(exchange, usdc, config.usdc_balance), variants, [*chosen, *usdc_symbols]


#: Where the aiohttp app keeps its state. Defined here, below both the dispatcher (``app``) and
#: the control API (``control``), so neither has to import the other.
STATE_KEY = web.AppKey("emulator_state", EmulatorState)
