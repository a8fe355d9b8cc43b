"""An in-process venue for the order path's decision logic: the reads the bot makes, answered as
Binance answers them, from positions, user trades and orders a test writes down by hand.

Only what the deciding code reads is here (no matching engine: the tests say what the venue
shows). The one venue rule that matters to these tests is the user-trades window: Binance's
``GET /fapi/v1/userTrades`` answers the last 7 days when no start time is sent, and everything
from a start time when one is (``ExchangeExecutor.fills`` pages on to now); see the USDⓈ-M
"Account Trade List" and ``bot.execution.exchange.ExchangeExecutor.fills``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bot.core.enums import OrderStatus
from bot.core.instrument import Instrument
from bot.core.timeutil import MS_PER_DAY
from bot.execution.types import BalanceState, FillState, OrderState, PositionState

#: what userTrades answers when no start time is sent: the last 7 days
DEFAULT_TRADES_WINDOW_MS = 7 * MS_PER_DAY


@dataclass
class VenueReads:
    """Positions, user trades and regular orders of one account at venue time ``now``."""

    now: int
    instruments: dict[str, Instrument]
    positions_held: list[PositionState] = field(default_factory=list)
    trades: list[FillState] = field(default_factory=list)
    #: regular (not conditional) orders, as a look-up by client id shows them
    orders: list[OrderState] = field(default_factory=list)
    #: errors the next order look-ups raise, one each (a 5xx, a timeout), before answering again
    lookup_failures: list[BaseException] = field(default_factory=list)
    #: what happens on the venue just before the next cancel arrives (an order fills, the user trades)
    on_cancel: Callable[[], None] | None = None
    #: the orders a cancel took off the book, as it answered
    cancelled: list[OrderState] = field(default_factory=list)

    def instrument(self, symbol: str) -> Instrument:
        return self.instruments[symbol]

    async def now_ms(self) -> int:
        return self.now

    async def positions(self) -> list[PositionState]:
        return list(self.positions_held)

    async def balance(self) -> BalanceState:
        return BalanceState(wallet=10_000.0, unrealized_pnl=0.0, equity=10_000.0, available=10_000.0, ts=self.now)

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        return []

    async def find_order(self, symbol: str, client_id: str, conditional: bool) -> OrderState | None:
        """None: Binance's -2013 "order does not exist" (a regular order is no conditional one)."""
        if self.lookup_failures:
            raise self.lookup_failures.pop(0)
        if conditional:
            return None
        return next((o for o in self.orders if o.symbol == symbol and o.client_id == client_id), None)

    async def cancel(self, symbol: str, client_id: str | None = None, exchange_id: str | None = None,
                     conditional: bool = False) -> OrderState | None:
        """Cancel by order id, else by client id (Binance takes either); None for an order that is
        not open (-2011 "Unknown order sent": filled, expired or never there)."""
        if self.on_cancel is not None:
            happens, self.on_cancel = self.on_cancel, None
            happens()
        for i, o in enumerate(self.orders):
            if o.symbol == symbol and (o.exchange_id == exchange_id if exchange_id else o.client_id == client_id):
                if not o.is_open:
                    return None
                self.orders[i] = done = replace(o, status=OrderStatus.CANCELED, raw_status="CANCELED")
                self.cancelled.append(done)
                return done
        return None

    async def fills(self, symbol: str, since_ms: int | None = None) -> list[FillState]:
        start = self.now - DEFAULT_TRADES_WINDOW_MS if since_ms is None else since_ms
        return sorted((f for f in self.trades if f.symbol == symbol and start <= f.ts <= self.now),
                      key=lambda f: (f.ts, int(f.trade_id)))
