"""Orders of the simulated exchange and their strict state machine.

``NEW -> PARTIALLY_FILLED -> FILLED``, with ``CANCELED`` / ``EXPIRED`` possible from any live
state and ``REJECTED`` only from ``NEW``. Terminal states are final: any other move raises
:class:`~bot.sim.errors.IllegalTransition`, because an order that "un-fills" or fills after a
cancel is exactly the kind of bug that makes a backtest lie. Every transition is appended to
``history`` with its timestamp so a test (or the journal) can replay the lifecycle.

Conditional (algo) orders use the same class with ``is_conditional=True``: their ``order_id``
is the algoId, they stay ``NEW`` while waiting for the trigger and become ``FILLED`` when the
regular MARKET order they spawn (``actual_order_id``) has filled, or ``EXPIRED`` when that
order could not execute (no position left to reduce, margin insufficient).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.enums import OrderSide, OrderStatus, OrderType, TimeInForce, WorkingType
from bot.sim.errors import IllegalTransition

S = OrderStatus
ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.NEW: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED, S.REJECTED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REJECTED: frozenset(),
}

#: Relative tolerance when comparing filled against ordered quantity (float sums of steps).
_QTY_EPS = 1e-9


@dataclass(slots=True, eq=False)
class SimOrder:
    """One order (regular or algo). Mutated only through :meth:`transition` and :meth:`add_fill`."""

    order_id: int
    client_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    quantity: float  # 0.0 for close_position orders until they trigger
    price: float | None
    trigger_price: float | None
    time_in_force: TimeInForce
    reduce_only: bool
    close_position: bool
    working_type: WorkingType
    created_ms: int
    is_conditional: bool = False
    actual_order_id: int | None = None
    callback_rate: float | None = None  # fraction, 0.01 = 1 % (trailing stops)
    activation_price: float | None = None
    status: OrderStatus = OrderStatus.NEW
    filled_qty: float = 0.0
    avg_price: float = 0.0
    cum_quote: float = 0.0
    updated_ms: int = 0
    history: list[tuple[OrderStatus, int]] = field(default_factory=list)
    # simulator bookkeeping (not part of the exchange's answer)
    reserved_margin: float = 0.0  # initial margin + fee held for a resting opening limit order
    trail_active: bool = False
    trail_extreme: float | None = None  # best price since activation (trailing stops)
    seq: int = 0  # arrival order: ties inside a bar resolve first-come first-served

    def __post_init__(self) -> None:
        if not self.history:
            self.history.append((self.status, self.created_ms))
        if not self.updated_ms:
            self.updated_ms = self.created_ms

    @property
    def remaining(self) -> float:
        return max(self.quantity - self.filled_qty, 0.0)

    @property
    def is_open(self) -> bool:
        return not self.status.is_terminal

    def transition(self, status: OrderStatus, ts_ms: int) -> None:
        """Move to ``status`` or raise :class:`IllegalTransition`."""
        if status not in ALLOWED_TRANSITIONS[self.status]:
            raise IllegalTransition(
                f"order {self.order_id} ({self.client_order_id}): {self.status} -> {status} is not allowed"
            )
        if status is OrderStatus.FILLED and self.filled_qty != self.quantity:
            raise IllegalTransition(f"order {self.order_id}: FILLED needs filled_qty == quantity "
                                    f"({self.filled_qty} != {self.quantity}); use add_fill")
        if status is OrderStatus.PARTIALLY_FILLED and not 0 < self.filled_qty < self.quantity:
            raise IllegalTransition(f"order {self.order_id}: PARTIALLY_FILLED needs 0 < filled_qty < quantity; "
                                    "use add_fill")
        self.status = status
        self.updated_ms = ts_ms
        self.history.append((status, ts_ms))

    def add_fill(self, quantity: float, price: float, ts_ms: int) -> None:
        """Record an execution of ``quantity`` at ``price`` and move to (PARTIALLY_)FILLED."""
        if quantity <= 0 or price <= 0:
            raise ValueError(f"a fill needs positive quantity and price, got {quantity} @ {price}")
        if self.status.is_terminal:
            raise IllegalTransition(f"order {self.order_id}: cannot fill a {self.status} order")
        new_filled = self.filled_qty + quantity
        if new_filled > self.quantity * (1 + _QTY_EPS) + _QTY_EPS:
            raise IllegalTransition(
                f"order {self.order_id}: fill of {quantity} exceeds remaining {self.remaining}"
            )
        self.cum_quote += quantity * price
        self.filled_qty = min(new_filled, self.quantity)
        self.avg_price = self.cum_quote / self.filled_qty
        done = self.quantity - self.filled_qty <= self.quantity * _QTY_EPS
        if done:
            self.filled_qty = self.quantity
        self.transition(OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED, ts_ms)
