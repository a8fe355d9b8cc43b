"""Why and at what price a position ended, learned from the venue's own records.

Used both while running (a stop or take-profit fired on the exchange) and at restart
(the position closed while the bot was down): the fills, the forced-close records and the
state of our protective orders tell stop-loss, take-profit, liquidation and manual apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.core.enums import ExitReason, OrderStatus, OrderType
from bot.execution.base import Executor
from bot.execution.ids import parse_client_order_id
from bot.execution.types import FillState
from bot.journal import Journal
from bot.trading.book import OpenTrade
from bot.trading.orders import journal_fill


@dataclass(frozen=True, slots=True)
class ExitInfo:
    reason: ExitReason
    price: float
    ts: int
    realised_pnl: float  # price P&L before costs
    exit_fees: float  # USDT (fees paid in BNB valued at the fill time)
    fills: tuple[FillState, ...]
    order_ids: frozenset[str]
    client_id: str | None = None  # our order that closed the position, when it was ours
    note: str | None = None  # what the reason alone does not say (ADL, delisting settlement)


async def resolve_exit(executor: Executor, trade: OpenTrade, *, now_ms: int,
                       own_exit_reason: dict[str, ExitReason] | None = None,
                       booked_elsewhere: Callable[[FillState], bool] | None = None) -> ExitInfo:
    """Attribute a vanished position. ``own_exit_reason`` maps client ids of exit orders the bot
    itself sent (signal, time stop, halt) to their reason. ``booked_elsewhere(fill)``: the fill
    is already another trade's (see :func:`booked_on_other_trades`), never this trade's exit."""
    closing_side = trade.side.exit_order_side
    # Read from a little before the entry: the orders identified below are this trade's own
    # whatever their fills' time stamps say (``entry_ts`` is the bot's view of the entry, which
    # a venue clock can place after a fast exit); unidentified fills must come after the entry.
    closing = [f for f in await executor.fills(trade.symbol, trade.entry_ts - EXIT_FILL_SLACK_MS)
               if f.side is closing_side]
    fills = [f for f in closing if f.ts >= trade.entry_ts and not (booked_elsewhere and booked_elsewhere(f))]
    reason = ExitReason.MANUAL
    exit_order_ids: set[str] = set()
    closing_client_id: str | None = None

    note: str | None = None
    forced = await executor.liquidations(trade.symbol, trade.entry_ts)
    adl = [o for o in forced if (o.client_id or "").startswith(ADL_CLIENT_ID)]
    liquidations = [o for o in forced if o not in adl]
    if liquidations:
        reason = ExitReason.LIQUIDATION
        exit_order_ids |= {o.exchange_id for o in liquidations if o.exchange_id}
    elif adl:  # the venue closed a (profitable) position against a liquidated one
        reason, note = ExitReason.ADL, "auto-deleveraged by the exchange (adl_autoclose)"
        exit_order_ids |= {o.exchange_id for o in adl if o.exchange_id}
        liquidations = adl
    else:
        for client_id, candidate in _candidates(trade, own_exit_reason):
            order = await executor.find_order(trade.symbol, client_id, conditional=candidate[1])
            if order is not None and (order.status is OrderStatus.FILLED or order.filled > 0):
                reason = candidate[0]
                closing_client_id = client_id
                exit_order_ids |= {i for i in (order.exchange_id, order.actual_order_id) if i}
                break
        else:
            status = await executor.symbol_status(trade.symbol, fresh=True)
            if status is not None and status != "TRADING":  # delisted: settled at the delivery price
                reason, note = ExitReason.SETTLEMENT, f"settled at the delivery price: {trade.symbol} is {status}"
    chosen = [f for f in closing if f.order_id in exit_order_ids] if exit_order_ids else []
    used = chosen or fills
    if used:
        qty = sum(f.quantity for f in used)
        price = sum(f.price * f.quantity for f in used) / qty
        ts = max(f.ts for f in used)
        pnl = sum(f.realized_pnl for f in used)
        fees = sum(f.fee_in_usdt for f in used)  # a fee in BNB counts at its USDT value
    else:  # no trade rows (e.g. a liquidation the venue reports only as a forced order)
        liq = liquidations[-1] if liquidations else None
        planned = trade.take_profit_price if reason is ExitReason.TAKE_PROFIT else trade.stop_price
        price = (liq.avg_price if liq and liq.avg_price else None) or planned or trade.entry_price
        ts = (liq.ts if liq and liq.ts else None) or now_ms
        pnl = trade.side.sign * trade.quantity * (price - trade.entry_price)
        fees = 0.0
    return ExitInfo(reason, price, ts, pnl, fees, tuple(used), frozenset(exit_order_ids), closing_client_id, note)


def booked_on_other_trades(journal: Journal, trade: OpenTrade) -> Callable[[FillState], bool]:
    """``booked_elsewhere`` for :func:`resolve_exit`: the fill is journaled on another trade.

    The soak found it: a time-stop exit and the next entry filled in the same millisecond, then
    the venue settled the new position; its exit read "every closing-side fill since the entry"
    and took the previous trade's exit fill too (journaled twice, its fee counted twice)."""
    def booked(fill: FillState) -> bool:
        return journal.fill_owner(fill.symbol, fill.trade_id, fill.ts) not in (None, trade.trade_id)
    return booked


def journal_exit_fills(journal: Journal, trade: OpenTrade, info: ExitInfo, reason: ExitReason) -> None:
    """Record the fills that closed ``trade`` against the order that produced them; an exit
    we did not send (liquidation, manual) gets an order row of its own first.

    Used by the engine when a position vanishes while it runs and by the Reconciler for one
    that vanished while the bot was down: the journal's fills must match the venue's user
    trades either way (the soak found 25 of 27 trades closed while down booked with no fill)."""
    fresh = [f for f in info.fills if not journal.fill_journaled(f.symbol, f.trade_id, trade.trade_id)]
    if not fresh:
        return  # already journaled when our own exit order returned (or by the run before a restart)
    journal_order = trade.order_ids.get(info.client_id) if info.client_id else None
    first = info.fills[0]
    if journal_order is None:
        journal_order = journal.record_order(
            client_order_id=f"venue-{first.order_id}", ts=first.ts, symbol=trade.symbol, type=OrderType.MARKET,
            side=first.side, quantity=sum(f.quantity for f in info.fills), reduce_only=True,
            trade_id=trade.trade_id, purpose=reason.value, exchange_order_id=first.order_id,
        )
    for fill in fresh:
        journal_fill(journal, journal_order, fill, trade_id=trade.trade_id,
                     requested_price=trade.stop_price if reason is ExitReason.STOP_LOSS else None)
    journal.record_order_status(journal_order, ts=info.ts, status="filled",
                                filled_qty=sum(f.quantity for f in info.fills), avg_price=info.price,
                                exchange_order_id=first.order_id)


#: How far before the trade's entry time its own exit orders' fills are looked for.
EXIT_FILL_SLACK_MS = 60_000

_ROLE_REASON = {"s": ExitReason.STOP_LOSS, "t": ExitReason.TAKE_PROFIT}
#: Binance's client id of an ADL close (user data stream, "Event: Order Update"); liquidations'
#: start with ``autoclose-``.
ADL_CLIENT_ID = "adl_autoclose"


def _candidates(trade: OpenTrade, own: dict[str, ExitReason] | None):
    """Every order of this trade that could have closed it, newest first: its own market exits
    (with the reason they were sent for), then *every* stop and take-profit it ever had — a
    stop replaced a moment too late may be the one that fired."""
    own = own or {}
    known = dict.fromkeys([*trade.order_ids, trade.stop_client_id, trade.tp_client_id, *own])
    out: list[tuple[str, tuple[ExitReason, bool]]] = []
    for client_id in known:
        parsed = parse_client_order_id(client_id)
        if parsed is None or parsed[1] != trade.key[:10]:
            continue  # not ours, or another trade's
        role, seq = parsed[2], parsed[3]
        if role == "x" and client_id in own:
            out.append((client_id, (own[client_id], False), seq))
        elif role in _ROLE_REASON:
            out.append((client_id, (_ROLE_REASON[role], True), seq))
    out.sort(key=lambda item: (parse_client_order_id(item[0])[2] != "x", -item[2]))
    return [(client_id, candidate) for client_id, candidate, _ in out]
