"""The executor interface the engine trades through."""

from __future__ import annotations

from abc import ABC, abstractmethod

from bot.core.enums import MarginMode
from bot.core.instrument import Instrument
from bot.execution.types import BalanceState, FillState, IncomeState, OrderRequest, OrderState, PositionState


class Executor(ABC):
    """Places and observes orders on one venue. All methods are coroutines so that the paper
    executor and the ccxt one are interchangeable in the asyncio engine."""

    name: str = "executor"

    async def start(self) -> None:
        """Connect and load markets."""

    async def close(self) -> None:
        """Release connections. Resting orders (the stops) stay on the venue."""

    @abstractmethod
    def instrument(self, symbol: str) -> Instrument:
        """Precision, limits and brackets of ``symbol`` as the venue reports them."""

    @abstractmethod
    async def now_ms(self) -> int:
        """The venue's clock (the emulator's may run accelerated)."""

    @abstractmethod
    async def ensure_symbol_setup(self, symbol: str, leverage: int, margin_mode: MarginMode) -> None:
        """Set and verify leverage, margin mode and one-way position mode before an entry."""

    @abstractmethod
    async def submit(self, request: OrderRequest) -> OrderState:
        """Place ``request`` exactly once (idempotent by client id) and return its state."""

    @abstractmethod
    async def cancel(self, symbol: str, client_id: str | None = None, exchange_id: str | None = None,
                     conditional: bool = False) -> OrderState | None:
        """Cancel an order; None when it no longer exists (already filled or cancelled)."""

    @abstractmethod
    async def find_order(self, symbol: str, client_id: str, conditional: bool) -> OrderState | None:
        """Look an order up by client id (None if the venue does not know it)."""

    @abstractmethod
    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        """Open regular AND conditional orders (Binance keeps them in separate lists)."""

    @abstractmethod
    async def positions(self) -> list[PositionState]:
        """Non-zero positions."""

    @abstractmethod
    async def balance(self) -> BalanceState:
        """USDT wallet and equity."""

    @abstractmethod
    async def fills(self, symbol: str, since_ms: int | None = None) -> list[FillState]:
        """The account's trades on ``symbol`` since ``since_ms``."""

    @abstractmethod
    async def income(self, since_ms: int | None = None, income_type: str | None = None) -> list[IncomeState]:
        """Funding fees and other wallet income since ``since_ms``."""

    async def liquidations(self, symbol: str, since_ms: int | None = None) -> list[OrderState]:
        """Forced closes of the account's positions, liquidations and auto-deleveraging (ADL) alike
        (client ids ``autoclose-...`` / ``adl_autoclose``); empty where the venue cannot say."""
        return []

    async def symbol_status(self, symbol: str, *, fresh: bool = False) -> str | None:
        """The venue's status of ``symbol`` now (Binance ``TRADING``, ``SETTLING``, ``CLOSE`` ...);
        None where it cannot say. Only ``TRADING`` takes new positions."""
        return None
