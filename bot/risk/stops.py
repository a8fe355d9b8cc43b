"""Protective stops: pure logic, no I/O.

Every position has a reduce-only stop-market resting on the exchange from the moment it
exists. The engine feeds the watchdog what the exchange reports (positions, open conditional
orders) and what it planned (:class:`ProtectionPlan`), and executes the returned actions *in
order*. The watchdog never leaves a gap: a replacement stop is always placed before the old one
is cancelled, so moving a stop (trailing, break-even, resize after a later fill) is
``PlaceStop(new)`` then ``CancelOrder(old)``.

A failed move never leaves a gap either (issue 11): an old stop is cancelled only once its
replacement is confirmed (the cancels carry ``after_replacement``), and a position without a
confirmed stop gets a stop placement attempt every cycle, with a market close as the escalation
when that placement fails. Binance can refuse any single order (5xx ``-1000``/``-1001``, -2021
"would immediately trigger", -1015 order-count limit: ``../shared/reference/ccxt-binanceusdm.md``
section 4), so no cycle may assume a placement works.

The small view dataclasses below are what both the simulated exchange and ccxt are adapted to.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from loguru import logger

from bot import safety
from bot.core.enums import ExitReason, OrderSide, OrderType, PositionSide
from bot.core.instrument import Instrument
from bot.core.precision import Rounding

_STOP_TYPES = (OrderType.STOP_MARKET, OrderType.TRAILING_STOP_MARKET)


# -- views the watchdog consumes -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PositionInfo:
    """An open position as reported by the exchange; ``quantity`` > 0."""

    symbol: str
    side: PositionSide
    quantity: float
    entry_price: float
    mark_price: float


@dataclass(frozen=True, slots=True)
class ConditionalOrderInfo:
    """A resting conditional (algo) order. ``quantity`` is None for close-position orders."""

    order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    trigger_price: float | None
    quantity: float | None
    reduce_only: bool = False
    close_position: bool = False

    @property
    def protective(self) -> bool:
        """Can only reduce a position (never open or flip one)."""
        return self.reduce_only or self.close_position


@dataclass(frozen=True, slots=True)
class TrailingSpec:
    """Trail the stop ``distance_pct`` behind the best price once the trade is
    ``activation_pct`` in profit. ``native`` uses the exchange's trailing-stop order instead."""

    distance_pct: float
    activation_pct: float = 0.0
    native: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.distance_pct <= safety.MAX_STOP_LOSS_PCT:
            raise ValueError(f"trailing distance_pct must be in (0, {safety.MAX_STOP_LOSS_PCT}], "
                             f"got {self.distance_pct}")
        if self.activation_pct < 0:
            raise ValueError(f"trailing activation_pct must be >= 0, got {self.activation_pct}")


@dataclass(frozen=True, slots=True)
class ProtectionPlan:
    """The exits the bot wants for one position; ``stop_price`` is the *current* desired stop."""

    symbol: str
    side: PositionSide
    entry_price: float
    stop_price: float
    take_profit_price: float | None = None
    time_stop_ms: int | None = None
    trailing: TrailingSpec | None = None
    breakeven_trigger_pct: float | None = None  # move the stop to entry after this favourable move
    breakeven_offset_pct: float = 0.0  # ... plus this much (to cover fees)
    best_price: float | None = None  # most favourable mark since entry (for trailing)


# -- actions the engine executes, in order -------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlaceStop:
    """Place a reduce-only stop-market (or native trailing stop) for ``quantity``.

    ``protected``: a stop already resting covers the whole position, so this placement only
    moves it (trailing, break-even); if it fails the old stop keeps protecting and nothing is
    closed. Not part of equality: it describes the venue's state, not the order.
    """

    symbol: str
    side: OrderSide
    trigger_price: float
    quantity: float
    reason: str
    callback_rate_pct: float | None = None  # set: a native TRAILING_STOP_MARKET
    protected: bool = field(default=False, compare=False)

    @property
    def order_type(self) -> OrderType:
        return OrderType.TRAILING_STOP_MARKET if self.callback_rate_pct is not None else OrderType.STOP_MARKET


@dataclass(frozen=True, slots=True)
class PlaceTakeProfit:
    """Place a reduce-only take-profit-market for ``quantity``."""

    symbol: str
    side: OrderSide
    trigger_price: float
    quantity: float
    reason: str


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel a conditional order. ``after_replacement``: this is a stop being replaced by the
    :class:`PlaceStop` queued before it for the same symbol; execute it only if that placement
    was confirmed (a failed move must leave the old stop resting)."""

    symbol: str
    order_id: str
    reason: str
    after_replacement: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class ClosePositionAtMarket:
    """Reduce-only market order for the whole position."""

    symbol: str
    side: OrderSide
    quantity: float
    reason: ExitReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RaiseAlert:
    """Something a person should know; the engine journals it as an event of ``severity``
    (the hook for alerting, issue 15)."""

    symbol: str
    code: str
    message: str
    severity: str = field(default="warning", compare=False)


StopAction = PlaceStop | PlaceTakeProfit | CancelOrder | ClosePositionAtMarket | RaiseAlert


# -- stop movement: trailing and break-even -------------------------------------------------


def advance_protection(plan: ProtectionPlan, mark_price: float,
                       instrument: Instrument | None = None) -> ProtectionPlan:
    """Update the best price and move the stop for trailing / break-even. Tighten only.

    Returns the same plan object when nothing changed. A stop is never moved to or beyond the
    current mark (that order would trigger at once or be rejected).
    """
    if not math.isfinite(mark_price) or mark_price <= 0:
        return plan
    sign = plan.side.sign
    best = mark_price if plan.best_price is None else (
        max(plan.best_price, mark_price) if sign > 0 else min(plan.best_price, mark_price))
    stop = plan.stop_price
    gain = sign * (best - plan.entry_price) / plan.entry_price
    candidates: list[float] = []
    if plan.trailing is not None and not plan.trailing.native and gain >= plan.trailing.activation_pct:
        candidates.append(_round_stop(best * (1 - sign * plan.trailing.distance_pct), plan.side, instrument))
    if plan.breakeven_trigger_pct is not None and gain >= plan.breakeven_trigger_pct:
        target = plan.entry_price * (1 + sign * plan.breakeven_offset_pct)
        candidates.append(_round_toward_profit(target, plan.side, instrument))
    for candidate in candidates:
        tighter = candidate > stop if sign > 0 else candidate < stop
        below_mark = candidate < mark_price if sign > 0 else candidate > mark_price
        if tighter and below_mark:
            stop = candidate
    if stop == plan.stop_price and best == plan.best_price:
        return plan
    return replace(plan, stop_price=stop, best_price=best)


def _round_stop(price: float, side: PositionSide, instrument: Instrument | None) -> float:
    """Round a stop away from the market (long: down, short: up)."""
    mode = Rounding.FLOOR if side is PositionSide.LONG else Rounding.CEIL
    return instrument.round_price(price, mode) if instrument else price


def _round_toward_profit(price: float, side: PositionSide, instrument: Instrument | None) -> float:
    mode = Rounding.CEIL if side is PositionSide.LONG else Rounding.FLOOR
    return instrument.round_price(price, mode) if instrument else price


# -- the watchdog ------------------------------------------------------------------------


class StopWatchdog:
    """Checks that every position has exactly one correct protective stop; says how to fix it.

    A correct stop: reduce-only (or close-position) on the exit side, triggered on the loss
    side of the mark (a long's sell stop below the mark, a short's buy stop above it), for at
    least the position's size, at the plan's stop price (or a native trailing stop when the
    plan says so). Positions without a plan (found after a restart, opened by hand) get a
    fallback stop ``fallback_stop_pct`` from entry and an alert.

    When the engine reports that placing a stop failed (:meth:`report_failure`), a position
    that an older stop still covers keeps it (the move is retried next cycle); a bare one is
    closed at market as the escalation. Either way the next :meth:`check` asks for the stop
    again: the watchdog keeps no "give up on stops" state, so a transient refusal never turns
    into a position that only ever gets market-close attempts.
    """

    def __init__(self, instruments: Mapping[str, Instrument] | None = None, *,
                 fallback_stop_pct: float = 0.05) -> None:
        if not 0 < fallback_stop_pct <= safety.MAX_STOP_LOSS_PCT:
            raise ValueError(f"fallback_stop_pct must be in (0, {safety.MAX_STOP_LOSS_PCT}], "
                             f"got {fallback_stop_pct}")
        self.instruments = dict(instruments or {})
        self.fallback_stop_pct = fallback_stop_pct

    def report_failure(self, action: PlaceStop, error: str) -> list[StopAction]:
        """The exchange refused (or never confirmed) ``action``: what to do instead, now.

        A move (``action.protected``): keep the old stop, raise a warning; the caller must
        skip the cancels that depended on this placement. A missing stop: close at market and
        raise an error (if the close fails too, the caller journals ``stop_missing``).
        """
        if action.protected:
            logger.warning("risk: moving the stop for {} to {} failed ({}): the old stop stays",
                           action.symbol, action.trigger_price, error)
            return [RaiseAlert(action.symbol, "stop_move_failed",
                               f"could not move the protective stop to {action.trigger_price}: {error}; "
                               f"the previous stop stays, retrying next cycle")]
        logger.error("risk: placing the stop for {} failed ({}): closing at market", action.symbol, error)
        return [
            ClosePositionAtMarket(action.symbol, action.side, action.quantity, ExitReason.STOP_LOSS,
                                  f"stop placement failed: {error}"),
            RaiseAlert(action.symbol, "stop_placement_failed",
                       f"could not place the protective stop at {action.trigger_price} "
                       f"for {action.quantity}: {error}; closing at market", severity="error"),
        ]

    def check(self, positions: Iterable[PositionInfo], open_conditional_orders: Iterable[ConditionalOrderInfo],
              plans: Mapping[str, ProtectionPlan], now_ms: int | None = None) -> list[StopAction]:
        """Actions (in execution order) that leave every position with exactly one correct stop."""
        orders = list(open_conditional_orders)
        actions: list[StopAction] = []
        held: set[str] = set()
        for pos in positions:
            if not (pos.quantity > 0 and pos.entry_price > 0 and pos.mark_price > 0
                    and math.isfinite(pos.quantity * pos.entry_price * pos.mark_price)):
                logger.warning("risk: watchdog skipping malformed position {}", pos)
                continue
            held.add(pos.symbol)
            mine = [o for o in orders if o.symbol == pos.symbol]
            actions += self._check_position(pos, mine, plans.get(pos.symbol), now_ms)
        for order in orders:  # protective orders left behind by a closed position
            if order.symbol not in held and order.protective:
                actions.append(CancelOrder(order.symbol, order.order_id, "orphan: no position"))
        return actions

    # -- one position ---------------------------------------------------------------------

    def _check_position(self, pos: PositionInfo, orders: Sequence[ConditionalOrderInfo],
                        plan: ProtectionPlan | None, now_ms: int | None) -> list[StopAction]:
        exit_side = pos.side.exit_order_side
        actions: list[StopAction] = []
        if plan is not None and plan.side is not pos.side:
            actions.append(RaiseAlert(pos.symbol, "plan_side_mismatch",
                                      f"plan is {plan.side.value} but the position is {pos.side.value}"))
            plan = None
        if plan is None:
            stop = self._fallback_stop(pos)
            actions.append(RaiseAlert(pos.symbol, "no_protection_plan",
                                      f"no plan for this {pos.side.value} position: fallback stop {stop}"))
        else:
            stop = plan.stop_price
        if now_ms is not None and plan is not None and plan.time_stop_ms is not None and now_ms >= plan.time_stop_ms:
            actions.append(ClosePositionAtMarket(pos.symbol, exit_side, pos.quantity, ExitReason.TIME_STOP,
                                                 f"time stop at {plan.time_stop_ms}"))
        if _crossed(pos.side, pos.mark_price, stop):
            # The stop price is already behind the market: an order there would fire at once
            # (or be refused). Close now, keep whatever stops rest until the position is gone.
            actions.append(ClosePositionAtMarket(pos.symbol, exit_side, pos.quantity, ExitReason.STOP_LOSS,
                                                 f"mark {pos.mark_price} beyond stop {stop}"))
            return actions

        native = plan is not None and plan.trailing is not None and plan.trailing.native
        stops = [o for o in orders if o.type in _STOP_TYPES]
        good = [o for o in stops if self._good_stop(o, pos, stop if plan is not None else None, native)]
        keep = good[0] if good else None
        if keep is None:
            callback = plan.trailing.distance_pct * 100 if native and plan and plan.trailing else None
            covered = any(o.protective and o.side is exit_side and self._covers(o, pos) for o in stops)
            actions.append(PlaceStop(pos.symbol, exit_side, stop, pos.quantity,
                                     "missing or wrong protective stop", callback, protected=covered))
        for order in stops:
            if order is not keep:
                actions.append(CancelOrder(pos.symbol, order.order_id, "replaced or extra protective stop",
                                           after_replacement=keep is None))
        if plan is not None and plan.take_profit_price is not None:
            actions += self._check_take_profit(pos, orders, plan.take_profit_price)
        return actions

    def _check_take_profit(self, pos: PositionInfo, orders: Sequence[ConditionalOrderInfo],
                           target: float) -> list[StopAction]:
        exit_side = pos.side.exit_order_side
        tps = [o for o in orders if o.type is OrderType.TAKE_PROFIT_MARKET]
        if _crossed(pos.side.opposite, pos.mark_price, target):  # mark already beyond the target
            return [ClosePositionAtMarket(pos.symbol, exit_side, pos.quantity, ExitReason.TAKE_PROFIT,
                                          f"mark {pos.mark_price} beyond take-profit {target}")]
        good = [o for o in tps if o.protective and o.side is exit_side and self._covers(o, pos)
                and o.trigger_price is not None and self._same_price(pos.symbol, o.trigger_price, target)]
        keep = good[0] if good else None
        actions: list[StopAction] = []
        if keep is None:
            actions.append(PlaceTakeProfit(pos.symbol, exit_side, target, pos.quantity,
                                           "missing or wrong take-profit"))
        actions += [CancelOrder(pos.symbol, o.order_id, "replaced or extra take-profit") for o in tps
                    if o is not keep]
        return actions

    def _good_stop(self, order: ConditionalOrderInfo, pos: PositionInfo, wanted: float | None,
                   native: bool) -> bool:
        if not order.protective or order.side is not pos.side.exit_order_side or not self._covers(order, pos):
            return False
        if native:
            return order.type is OrderType.TRAILING_STOP_MARKET
        if order.type is not OrderType.STOP_MARKET or order.trigger_price is None:
            return False
        if _crossed(pos.side, pos.mark_price, order.trigger_price):
            return False
        return wanted is None or self._same_price(pos.symbol, order.trigger_price, wanted)

    def _covers(self, order: ConditionalOrderInfo, pos: PositionInfo) -> bool:
        if order.close_position:
            return True
        if order.quantity is None:
            return False
        instrument = self.instruments.get(pos.symbol)
        tolerance = instrument.step_size / 2 if instrument else pos.quantity * 1e-9
        return order.quantity >= pos.quantity - tolerance

    def _same_price(self, symbol: str, a: float, b: float) -> bool:
        instrument = self.instruments.get(symbol)
        tolerance = instrument.tick_size / 2 if instrument else max(abs(a), abs(b)) * 1e-9
        return abs(a - b) <= tolerance

    def _fallback_stop(self, pos: PositionInfo) -> float:
        return self.fallback_stop(pos.symbol, pos.side, pos.entry_price)

    def fallback_stop(self, symbol: str, side: PositionSide, entry_price: float) -> float:
        """The stop for a position nobody planned (adopted, or found after a restart):
        ``fallback_stop_pct`` from entry, rounded away from it."""
        raw = entry_price * (1 - side.sign * self.fallback_stop_pct)
        instrument = self.instruments.get(symbol)
        mode = Rounding.FLOOR if side is PositionSide.LONG else Rounding.CEIL
        return instrument.round_price(raw, mode) if instrument is not None else raw


def _crossed(side: PositionSide, mark: float, stop: float) -> bool:
    """True when a stop for ``side`` at ``stop`` would already have triggered at ``mark``."""
    return mark <= stop if side is PositionSide.LONG else mark >= stop
