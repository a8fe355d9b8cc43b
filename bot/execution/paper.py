"""Paper executor: the simulated exchange core in-process.

Fills, fees, funding and liquidations follow exactly the rules the emulator applies (they are
the same ``SimExchange``), so a paper run and a run against the emulator differ only in
transport. Market data reaches the core through :meth:`PaperExecutor.on_snapshot` (live
paper trading: last/mark price ticks) or directly through ``sim.on_bar``/``sim.on_funding``
(backtests, driven bar by bar from history).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from bot.core.enums import MarginMode, OrderSide, PositionSide
from bot.core.instrument import Instrument
from bot.execution.base import Executor
from bot.execution.types import (
    BalanceState,
    FillState,
    IncomeState,
    OrderRejectedError,
    OrderRequest,
    OrderState,
    PositionState,
)
from bot.market.snapshot import Snapshot
from bot.sim.errors import SimError
from bot.sim.exchange import SimExchange
from bot.sim.orders import SimOrder

DUPLICATE_CLIENT_ID = -4116
MARGIN_TYPE_UNCHANGED = -4046


class PaperExecutor(Executor):
    name = "paper"

    def __init__(self, sim: SimExchange, instruments: dict[str, Instrument],
                 clock: Callable[[], int | Awaitable[int]], *, live_prices: bool = False) -> None:
        self.sim = sim
        #: True in live paper mode: the engine moves the simulated market with each snapshot.
        self.live_prices = live_prices
        self._instruments = instruments
        self._clock = clock

    def instrument(self, symbol: str) -> Instrument:
        try:
            return self._instruments[symbol]
        except KeyError:
            raise KeyError(f"{symbol} is not in the simulated market") from None

    async def now_ms(self) -> int:
        value = self._clock()
        if inspect.isawaitable(value):  # live paper: the market's own clock (e.g. fetch_time)
            value = await value
        return int(value)

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """Live paper mode: move the simulated market to the latest observed prices."""
        last = snapshot.last_price.value
        if last is None or snapshot.symbol not in self._instruments:
            return
        self.sim.set_price(snapshot.symbol, snapshot.ts, last, snapshot.mark_price.value)

    async def ensure_symbol_setup(self, symbol: str, leverage: int, margin_mode: MarginMode) -> None:
        try:
            self.sim.set_margin_mode(symbol, margin_mode)
        except SimError as exc:
            if exc.code != MARGIN_TYPE_UNCHANGED:
                raise OrderRejectedError(str(exc), exc.code) from exc
        self.sim.set_leverage(symbol, leverage)
        if self.sim.leverage(symbol) != leverage or self.sim.margin_mode(symbol) is not margin_mode:
            raise OrderRejectedError(f"{symbol}: simulated account did not take leverage/margin settings")

    async def submit(self, request: OrderRequest) -> OrderState:
        try:
            order = self.sim.place_order(
                request.symbol,
                request.side,
                request.type,
                quantity=None if request.close_position else request.quantity,
                price=request.price,
                trigger_price=request.trigger_price,
                time_in_force=request.time_in_force,
                reduce_only=request.reduce_only,
                close_position=request.close_position,
                working_type=request.working_type,
                client_order_id=request.client_id,
                # Binance (and our requests) speak percent; the core takes a fraction.
                callback_rate=None if request.callback_rate is None else request.callback_rate / 100,
            )
        except SimError as exc:
            if exc.code == DUPLICATE_CLIENT_ID:
                found = await self.find_order(request.symbol, request.client_id, request.is_conditional)
                if found is not None:
                    return found
            raise OrderRejectedError(str(exc), exc.code) from exc
        return order_state(order)

    async def find_order(self, symbol: str, client_id: str, conditional: bool) -> OrderState | None:
        try:
            return order_state(self.sim.get_order(symbol, client_order_id=client_id))
        except SimError:
            return None

    async def cancel(self, symbol: str, client_id: str | None = None, exchange_id: str | None = None,
                     conditional: bool = False) -> OrderState | None:
        try:
            order = self.sim.cancel_order(symbol, order_id=int(exchange_id) if exchange_id else None,
                                          client_order_id=client_id)
        except SimError:
            return None
        return order_state(order)

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        return [order_state(o) for o in self.sim.open_orders(symbol)]

    async def positions(self) -> list[PositionState]:
        out = []
        for pos in self.sim.positions():
            if pos.quantity <= 0:
                continue
            out.append(PositionState(
                symbol=pos.symbol, side=PositionSide(str(pos.side)), quantity=pos.quantity,
                entry_price=pos.entry_price, mark_price=pos.mark_price, unrealized_pnl=pos.unrealized_pnl,
                liquidation_price=pos.liquidation_price or None, leverage=pos.leverage,
                margin_mode=pos.margin_mode, ts=pos.updated_ms,
            ))
        return out

    async def balance(self) -> BalanceState:
        bal = self.sim.balance()
        return BalanceState(wallet=bal.wallet, unrealized_pnl=bal.unrealized_pnl, equity=bal.margin_balance,
                            available=bal.available, ts=self.sim.now_ms)

    async def fills(self, symbol: str, since_ms: int | None = None) -> list[FillState]:
        return [
            FillState(trade_id=str(f.trade_id), order_id=str(f.order_id), symbol=f.symbol, side=OrderSide(str(f.side)),
                      price=f.price, quantity=f.quantity, fee=f.fee, fee_asset=f.fee_asset, maker=f.maker,
                      realized_pnl=f.realized_pnl, ts=f.ts_ms)
            for f in self.sim.user_trades(symbol, start_ms=since_ms)
        ]

    async def income(self, since_ms: int | None = None, income_type: str | None = None) -> list[IncomeState]:
        """The core's income rows since ``since_ms``, optionally of one Binance ``incomeType``.

        Filtered here by the type's name rather than by the core's enum, so a Binance type the core
        never books (``AUTO_EXCHANGE``, ``WELCOME_BONUS``, ...) reads as an empty list, never an error.
        """
        wanted = income_type.upper() if income_type else None
        return [
            IncomeState(income_id=str(i.tran_id), symbol=i.symbol or None, income_type=str(i.income_type),
                        amount=i.amount, ts=i.ts_ms)
            for i in self.sim.income(start_ms=since_ms)
            if wanted is None or str(i.income_type).upper() == wanted
        ]

    async def liquidations(self, symbol: str, since_ms: int | None = None) -> list[OrderState]:
        return [order_state(o) for o in self.sim.force_orders(symbol, start_ms=since_ms)]

    async def symbol_status(self, symbol: str, *, fresh: bool = False) -> str | None:
        return str(self.sim.symbol_status(symbol))


def order_state(o: SimOrder) -> OrderState:
    """Translate the core's order into the venue-neutral view."""
    return OrderState(
        client_id=o.client_order_id,
        exchange_id=str(o.order_id),
        symbol=o.symbol,
        side=o.side,
        type=o.type,
        status=o.status,
        quantity=o.quantity,
        filled=o.filled_qty,
        avg_price=o.avg_price or None,
        price=o.price,
        trigger_price=o.trigger_price,
        reduce_only=o.reduce_only,
        close_position=o.close_position,
        is_conditional=o.is_conditional,
        ts=o.updated_ms,
        raw_status=str(o.status),
        actual_order_id=str(o.actual_order_id) if o.actual_order_id else None,
    )
