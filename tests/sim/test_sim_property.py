"""Rule-based property test: random orders and price paths never break the books.

Invariants after every step:
* money conservation: ``wallet == deposits + sum(income)``, i.e. wallet + unrealised P&L ==
  deposits + realised P&L - fees + funding - insurance clearance + unrealised P&L;
* ``available == wallet - isolated wallets - reserved`` and the reserve equals what open orders hold;
* a successful opening order never leaves the available balance negative;
* no live position sits beyond its own liquidation price; position equity is not negative;
* order state machine: ``0 <= filled <= quantity``, terminal states only at the end of a history.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bot.core.enums import OrderSide, OrderStatus, OrderType, TimeInForce, WorkingType
from bot.sim.errors import SimError
from bot.sim.exchange import SimExchange

from .conftest import HOUR, SYMBOL, make_instrument

SIDES = st.sampled_from([OrderSide.BUY, OrderSide.SELL])
QTY = st.integers(1, 3_000).map(float)
TOL = 1e-6


class SimMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ex = SimExchange({SYMBOL: make_instrument()}, balance=1_000.0)
        self.price = 1.0
        self.t = 0
        self.ex.on_bar(SYMBOL, self.t, 1.0, 1.0, 1.0, 1.0, 50_000)

    def _tick(self, p: float) -> float:
        return max(round(p, 3), 0.01)

    def _check_available_after(self, opening: bool) -> None:
        if opening:
            assert self.ex.balance().available >= -TOL

    def _opens(self, side: OrderSide, reduce_only: bool) -> bool:
        pos = self.ex.position(SYMBOL)
        return not reduce_only and (pos is None or (pos.side.value == "long") == (side is OrderSide.BUY))

    @rule(side=SIDES, qty=QTY, reduce_only=st.booleans())
    def market(self, side: OrderSide, qty: float, reduce_only: bool) -> None:
        opening = self._opens(side, reduce_only)
        try:
            order = self.ex.place_order(SYMBOL, side, OrderType.MARKET, qty, reduce_only=reduce_only)
        except SimError as exc:
            assert exc.code in (-2019, -2022, -4164, -2027)
            return
        assert order.status is OrderStatus.FILLED
        self._check_available_after(opening)

    @rule(side=SIDES, qty=QTY, off=st.floats(-0.2, 0.2), tif=st.sampled_from(list(TimeInForce)),
          reduce_only=st.booleans())
    def limit(self, side: OrderSide, qty: float, off: float, tif: TimeInForce, reduce_only: bool) -> None:
        opening = self._opens(side, reduce_only)
        price = self._tick(self.price * (1 + off))
        try:
            self.ex.place_order(SYMBOL, side, OrderType.LIMIT, qty, price=price, time_in_force=tif,
                                reduce_only=reduce_only)
        except SimError as exc:
            assert exc.code in (-2019, -2022, -4164, -5022, -2027)
            return
        self._check_available_after(opening)

    @rule(side=SIDES, off=st.floats(0.01, 0.3), close=st.booleans(), tp=st.booleans(), mark=st.booleans())
    def conditional(self, side: OrderSide, off: float, close: bool, tp: bool, mark: bool) -> None:
        direction = side.sign if not tp else -side.sign
        trigger = self._tick(self.price * (1 + direction * off))
        try:
            self.ex.place_order(SYMBOL, side, OrderType.TAKE_PROFIT_MARKET if tp else OrderType.STOP_MARKET,
                                None if close else 500.0, trigger_price=trigger, close_position=close,
                                working_type=WorkingType.MARK_PRICE if mark else WorkingType.CONTRACT_PRICE)
        except SimError as exc:
            assert exc.code in (-2021, -4164)

    @precondition(lambda self: bool(self.ex.open_orders()))
    @rule(i=st.integers(0, 50))
    def cancel(self, i: int) -> None:
        orders = self.ex.open_orders()
        order = orders[i % len(orders)]
        self.ex.cancel_order(SYMBOL, order_id=order.order_id)
        assert order.status is OrderStatus.CANCELED

    @rule(moves=st.tuples(st.floats(-0.08, 0.08), st.floats(0, 0.1), st.floats(0, 0.1), st.floats(-0.08, 0.08)),
          mark_dev=st.floats(-0.02, 0.02), volume=st.sampled_from([0.0, 5_000.0, 50_000.0]))
    def bar(self, moves: tuple[float, float, float, float], mark_dev: float, volume: float) -> None:
        o = self._tick(self.price * (1 + moves[0]))
        c = self._tick(o * (1 + moves[3]))
        h = self._tick(max(o, c) * (1 + moves[1]))
        lo = self._tick(min(o, c) * (1 - moves[2]))
        lo = max(min(lo, o, c), 0.01)
        self.t += HOUR
        m = 1 + mark_dev
        events = self.ex.on_bar(SYMBOL, self.t, o, h, lo, c, volume, o * m, h * m, lo * m, c * m)
        self.price = c
        for e in events:
            event(f"bar event: {e.kind}")

    @rule(move=st.floats(-0.15, 0.15))
    def tick(self, move: float) -> None:
        self.price = self._tick(self.price * (1 + move))
        self.t += 1_000
        self.ex.set_price(SYMBOL, self.t, self.price)

    @rule(rate=st.sampled_from([-0.02, -0.001, 0.0001, 0.001, 0.02]))
    def funding(self, rate: float) -> None:
        self.t += 1
        self.ex.on_funding(SYMBOL, self.t, rate)

    @rule(lev=st.integers(1, 25))
    def leverage(self, lev: int) -> None:
        try:
            self.ex.set_leverage(SYMBOL, lev)
        except SimError as exc:
            assert exc.code in (-2019, -2027)

    @invariant()
    def money_is_conserved(self) -> None:
        acc = self.ex.account
        assert math.isclose(acc.wallet, acc.deposits + sum(i.amount for i in acc.incomes), rel_tol=0, abs_tol=TOL)
        bal = self.ex.balance()
        assert math.isclose(bal.margin_balance, bal.wallet + bal.unrealized_pnl, abs_tol=TOL)
        held = sum(o.reserved_margin for o in self.ex.open_orders())
        assert math.isclose(acc.reserved, held, abs_tol=TOL) and acc.reserved >= -TOL
        iso = sum(p.isolated_wallet for p in self.ex.positions())
        assert math.isclose(bal.available, bal.wallet - iso - acc.reserved, abs_tol=TOL)

    @invariant()
    def pnl_matches_cash_flows(self) -> None:
        """Average-cost identity, independent of the netting code: sum of realised P&L equals
        the fills' cash flow plus the open position valued at its entry price."""
        fills = self.ex.account.fills
        cash = -sum(f.side.sign * f.quantity * f.price for f in fills)
        pos = self.ex.position(SYMBOL)
        held = 0.0 if pos is None else (1 if pos.side.value == "long" else -1) * pos.quantity * pos.entry_price
        turnover = sum(f.quote_qty for f in fills) + 1.0
        assert math.isclose(sum(f.realized_pnl for f in fills), cash + held, abs_tol=1e-9 * turnover + TOL)
        fees = sum(i.amount for i in self.ex.income(income_type="COMMISSION"))
        assert math.isclose(fees, -sum(f.fee for f in fills), abs_tol=TOL)

    @invariant()
    def positions_are_not_beyond_liquidation(self) -> None:
        for pos in self.ex.positions():
            assert pos.quantity > 0
            # funding may take the isolated wallet below zero while profit still backs it; the
            # position's equity (wallet + unrealised P&L) may not.
            assert pos.isolated_margin >= -TOL
            if pos.liquidation_price > 0:
                if pos.side.value == "long":
                    assert pos.mark_price > pos.liquidation_price
                else:
                    assert pos.mark_price < pos.liquidation_price

    @invariant()
    def orders_are_consistent(self) -> None:
        for order in self.ex.all_orders():
            assert 0 <= order.filled_qty <= order.quantity + TOL
            statuses = [s for s, _ in order.history]
            assert statuses[0] is OrderStatus.NEW
            assert not any(s.is_terminal for s in statuses[:-1])
            if order.status is OrderStatus.FILLED:
                assert order.filled_qty == order.quantity
        for order in self.ex.open_orders():
            assert order.is_open


SimMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None,
                                        suppress_health_check=[HealthCheck.too_slow])
TestSimMachine = SimMachine.TestCase
