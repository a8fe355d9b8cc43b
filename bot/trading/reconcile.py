"""Restart reconciliation: make the journal and the exchange agree before any trading.

On start we fetch balances, positions and open orders (regular and trigger) and diff them
against the journal's open trades:

* a journal trade whose position is gone is closed, its exit learned from the venue's trades
  and forced-close records (stop-loss, take-profit, liquidation, manual);
* a position the journal does not know is adopted (flagged, given a stop by the watchdog);
* our orders that protect nothing, and entry orders left by an earlier run, are cancelled;
* one ``reconciliation`` event records the whole diff.

Funding settled while the bot was down is booked (see bot.trading.funding) after the journal's
open trades are loaded and before any of them is closed, so a trade that exited while the bot
was down closes with its funding. A resumed trade gets its whole protection plan back: the
strategy's trailing stop and break-even trigger, with the best price so far derived from the
journal (:func:`resumed_best_price`).

If positions and the book still disagree afterwards the engine refuses to trade.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from bot.config import StrategyConfig
from bot.core.enums import ExitReason, MarginMode, OrderType, PositionSide
from bot.core.timeutil import MS_PER_DAY
from bot.execution.base import Executor
from bot.execution.ids import PREFIX, intent_key, parse_client_order_id
from bot.journal import Journal
from bot.risk.stops import ProtectionPlan, TrailingSpec
from bot.trading.book import OpenTrade, TradeBook
from bot.trading.exits import EXIT_FILL_SLACK_MS, booked_on_other_trades, journal_exit_fills, resolve_exit
from bot.trading.funding import FundingLedger
from bot.trading.orders import journal_fill
from bot.trading.protection import Protector


@dataclass
class ReconcileReport:
    closed: list[dict[str, Any]] = field(default_factory=list)
    adopted: list[dict[str, Any]] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    cancelled: list[dict[str, Any]] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)

    @property
    def resolved(self) -> bool:
        return not self.unresolved

    @property
    def changed(self) -> bool:
        return bool(self.closed or self.adopted or self.cancelled or self.unresolved)

    def to_dict(self) -> dict[str, Any]:
        return {"closed": self.closed, "adopted": self.adopted, "resumed": self.resumed,
                "cancelled": self.cancelled, "unresolved": self.unresolved}


class Reconciler:
    def __init__(self, executor: Executor, journal: Journal, book: TradeBook, plans: dict[str, ProtectionPlan],
                 protector: Protector, *, strategies: Mapping[str, StrategyConfig] | None = None,
                 funding: FundingLedger | None = None) -> None:
        self.executor = executor
        self.journal = journal
        self.book = book
        self.plans = plans
        self.protector = protector
        #: the strategies' settings, for the trailing / break-even part of resumed plans
        self.strategies = strategies or {}
        #: books funding settled while the bot was down before vanished trades are closed
        self.funding = funding
        #: per resumed trade: the most favourable mark the journal observed since its entry
        self._best_seen: dict[str, float | None] = {}
        #: client ids of the market exits earlier runs sent, with the reason they were sent for
        #: (journaled as order purpose ``exit:<reason>``): a time stop that filled just before a
        #: kill is attributed as a time stop, not as a manual close
        self._own_exits: dict[str, ExitReason] = {}
        #: resumed trades whose entry fills the journal already has (no venue read for them)
        self._entry_fills_journaled: set[str] = set()

    async def run(self, now: int) -> ReconcileReport:
        report = ReconcileReport()
        balance = await self.executor.balance()
        positions = {p.symbol: p for p in await self.executor.positions()}
        self.journal.flush()
        reader = self.journal.reader()
        entries: list[tuple[OpenTrade, Any]] = []
        try:
            journal_open = reader.open_trades()
            for view in journal_open:
                trade = self._trade_from_journal(view, reader)
                if trade.symbol in self.book:
                    report.unresolved.append(f"{trade.symbol}: two open journal trades")
                    continue
                self.book.add(trade)
                self._best_seen[trade.trade_id] = self._observed_best(trade, reader)
                if trade.trade_id not in self._entry_fills_journaled:  # else nothing to read from the venue
                    entry = self._entry_order(trade, reader)
                    if entry is not None:
                        entries.append((trade, entry))
        finally:
            reader.close()
        for trade, entry in entries:
            await self._journal_missing_entry_fills(trade, entry)

        if self.funding is not None:  # before closing anything: a vanished trade closes with its funding
            self.funding.resume(now)
            await self.funding.book_income(now)

        for trade in list(self.book):
            pos = positions.get(trade.symbol)
            if pos is None:
                info = await resolve_exit(self.executor, trade, now_ms=now, own_exit_reason=self._own_exits,
                                          booked_elsewhere=booked_on_other_trades(self.journal, trade))
                journal_exit_fills(self.journal, trade, info, info.reason)
                self.journal.record_trade_exit(trade.trade_id, exit_ts=info.ts, exit_price=info.price,
                                               exit_reason=info.reason, realised_pnl=info.realised_pnl,
                                               fees=trade.fees + info.exit_fees, funding=trade.funding,
                                               note="closed while the bot was not running")
                report.closed.append({"trade_id": trade.trade_id, "symbol": trade.symbol,
                                      "reason": info.reason.value, "price": info.price, "ts": info.ts})
                self.book.remove(trade.symbol)
                continue
            if pos.side is not trade.side:
                report.unresolved.append(f"{trade.symbol}: journal says {trade.side.value}, exchange {pos.side.value}")
                continue
            if abs(pos.quantity - trade.quantity) > 1e-12:
                logger.warning("{}: journal quantity {} differs from exchange {}; using the exchange's",
                               trade.symbol, trade.quantity, pos.quantity)
                trade.quantity = pos.quantity
            fallback = self.protector.watchdog.fallback_stop(trade.symbol, trade.side, trade.entry_price)
            self.plans[trade.symbol] = self._resumed_plan(trade, fallback)
            report.resumed.append(trade.symbol)

        for symbol, pos in positions.items():
            if symbol in self.book:
                continue
            stop = self.protector.watchdog.fallback_stop(symbol, pos.side, pos.entry_price)
            trade = OpenTrade(
                trade_id=_new_id(), symbol=symbol, side=pos.side, strategy="adopted", entry_ts=pos.ts or now,
                entry_price=pos.entry_price, quantity=pos.quantity, leverage=pos.leverage or 1.0,
                margin_mode=pos.margin_mode or MarginMode.ISOLATED,
                key=intent_key("adopted", symbol, now, "adopt"), adopted=True,
            )
            self.journal.record_trade_open(
                trade_id=trade.trade_id, symbol=symbol, side=pos.side, strategy="adopted", entry_ts=trade.entry_ts,
                entry_price=pos.entry_price, quantity=pos.quantity, leverage=trade.leverage,
                margin_mode=trade.margin_mode, stop_price=stop, liquidation_price=pos.liquidation_price,
            )
            self.book.add(trade)
            await self._journal_adopted_fills(trade)
            self.plans[symbol] = ProtectionPlan(symbol=symbol, side=pos.side, entry_price=pos.entry_price,
                                                stop_price=stop)
            report.adopted.append({"trade_id": trade.trade_id, "symbol": symbol, "side": pos.side.value,
                                   "quantity": pos.quantity, "entry_price": pos.entry_price, "stop": stop})

        for order in await self.executor.open_orders(None):
            if not order.is_open:
                continue
            ours = (order.client_id or "").startswith(PREFIX + "-")
            protects_position = order.is_protective and order.symbol in positions
            stale_entry = ours and not order.reduce_only and not order.close_position
            if (order.is_protective and not protects_position) or stale_entry:
                await self.executor.cancel(order.symbol, exchange_id=order.exchange_id,
                                           conditional=order.is_conditional)
                report.cancelled.append({"symbol": order.symbol, "client_id": order.client_id,
                                         "exchange_id": order.exchange_id, "type": order.type.value})

        after = {p.symbol for p in await self.executor.positions()}
        missing = sorted(after - {t.symbol for t in self.book})
        report.unresolved += [f"{s}: position not in the book" for s in missing]
        severity = "warning" if report.changed else "info"
        self.journal.record_event("reconciliation", _summary(report), severity=severity, ts=now,
                                  data={**report.to_dict(), "equity": balance.equity, "wallet": balance.wallet})
        if not report.resolved:
            logger.error("reconciliation unresolved, not trading: {}", report.unresolved)
        return report

    def _resumed_plan(self, trade: OpenTrade, fallback_stop: float) -> ProtectionPlan:
        """The plan a resumed trade had: its journaled stop (the current one, trailed or not),
        take-profit and time stop, and its strategy's trailing stop and break-even trigger
        (``settings.strategies[trade.strategy]`` as configured now; an adopted position has none)."""
        trailing, breakeven = protection_settings(self.strategies.get(trade.strategy))
        stop = trade.stop_price or fallback_stop
        best = None
        if trailing is not None or breakeven is not None:
            seen = self._best_seen.get(trade.trade_id)
            best = resumed_best_price(trade.side, stop, trailing, [] if seen is None else [seen])
        return ProtectionPlan(symbol=trade.symbol, side=trade.side, entry_price=trade.entry_price, stop_price=stop,
                              take_profit_price=trade.take_profit_price, time_stop_ms=trade.time_stop_ms,
                              trailing=trailing, breakeven_trigger_pct=breakeven, best_price=best)

    def _observed_best(self, trade: OpenTrade, reader: Any) -> float | None:
        """The most favourable mark price the journal observed for ``trade``'s symbol since its
        entry (None when it observed none, or the strategy moves no stop)."""
        trailing, breakeven = protection_settings(self.strategies.get(trade.strategy))
        if trailing is None and breakeven is None:
            return None
        marks = [float(p) for p in reader.mark_prices(trade.symbol, since=trade.entry_ts) if p > 0]
        if not marks:
            return None
        return max(marks) if trade.side is PositionSide.LONG else min(marks)

    @staticmethod
    def _entry_order(trade: OpenTrade, reader: Any) -> Any:
        """The journal's entry order of ``trade`` (recorded before the trade existed, so not
        linked to it): the order of its symbol whose client id carries the trade's key and role e."""
        # sent at most a day before its fill (the trade's entry time): not the symbol's whole history
        for order in reader.orders(symbol=trade.symbol, since=trade.entry_ts - MS_PER_DAY):
            parsed = parse_client_order_id(order.client_order_id)
            if parsed is not None and parsed[1] == trade.key[:10] and parsed[2] == "e":
                return order
        return None

    async def _journal_adopted_fills(self, trade: OpenTrade) -> None:
        """Journal the venue fills that built an adopted position, with their fees on the trade.

        A position the journal does not know was opened by someone: the user by hand, or this bot
        killed between sending the entry and its journal commit (the soak found that: the entry's
        fill and fee were then only on the venue, and the journal's P&L missed the fee). Its
        fills are the latest ones that add up to the position: read back from the newest, entry
        side adding and exit side taking away, until the running total is the position's size.
        Each venue order gets an order row of its own (``venue-<order id>``); a fill already
        journaled is not written again. A failed read leaves the trade without them (logged).
        """
        try:
            fills = await self.executor.fills(trade.symbol, trade.entry_ts - ADOPTION_LOOKBACK_MS)
        except Exception as exc:
            logger.warning("fills of the adopted {} position not read ({}): its entry fees are missing from the "
                           "journal", trade.symbol, type(exc).__name__)
            return
        building = opening_fills(fills, trade.side.entry_order_side, trade.quantity)
        orders: dict[str | None, str] = {}
        for fill in building:  # a new trade: nothing of it is journaled yet
            journal_order = orders.get(fill.order_id)
            if journal_order is None:
                journal_order = orders[fill.order_id] = self.journal.record_order(
                    client_order_id=fill.client_id or f"venue-{fill.order_id}", ts=fill.ts, symbol=fill.symbol,
                    type=OrderType.MARKET, side=fill.side, quantity=sum(f.quantity for f in building
                                                                        if f.order_id == fill.order_id),
                    trade_id=trade.trade_id, purpose="adopted", exchange_order_id=fill.order_id)
            if journal_fill(self.journal, journal_order, fill, trade_id=trade.trade_id):
                trade.fees += fill.fee_in_usdt

    async def _journal_missing_entry_fills(self, trade: OpenTrade, entry: Any) -> None:
        """Journal the entry fills a killed run never journaled, and add their fees to the trade.

        The trade row is written from the entry's answer before its fills are read (so a stop
        never waits on that read); a run killed between the two left the entry's fills only on
        the venue (found by the soak: the journal then misses a fill and its fee). Read here,
        by the entry's venue order id, once each (``record_fill(once=True)``).
        """
        if not entry.exchange_order_id:
            return
        try:
            fills = await self.executor.fills(trade.symbol, trade.entry_ts - EXIT_FILL_SLACK_MS)
        except Exception as exc:  # the read is retried at the next reconciliation or restart
            logger.warning("entry fills of {} not read ({}): retried at the next reconciliation", trade.symbol,
                           type(exc).__name__)
            return
        for fill in fills:
            if fill.order_id == entry.exchange_order_id and journal_fill(self.journal, entry.id, fill,
                                                                         trade_id=trade.trade_id):
                trade.fees += fill.fee_in_usdt

    def _trade_from_journal(self, view: Any, reader: Any) -> OpenTrade:
        stop_cid = tp_cid = None
        key: str | None = None
        order_ids: dict[str, str] = {}
        for order in reader.orders(trade_id=view.id):
            order_ids[order.client_order_id] = order.id
            reason = _exit_reason(order.purpose)
            if reason is not None:
                self._own_exits[order.client_order_id] = reason
            parsed = parse_client_order_id(order.client_order_id)
            if parsed is not None and key is None:
                key = parsed[1]  # the key every client id of this trade was derived from
            if order.purpose == "stop":
                stop_cid = order.client_order_id
            elif order.purpose == "take_profit":
                tp_cid = order.client_order_id
        entry_ms = int(view.entry_ts.timestamp() * 1000)
        booked = reader.funding(trade_id=view.id)
        funding = sum(float(f.amount) for f in booked)
        funding_through = max((int(f.ts.timestamp() * 1000) for f in booked), default=None)
        # The entry's fees only (BNB ones at their USDT value), as a running trade holds them: the
        # exit's fees come with the exit's resolution. An exit fill journaled by the run that was
        # killed before it closed the trade was otherwise counted twice (found by the soak). A
        # one-way position is entered on one side and closed whole on the other.
        entry_side = PositionSide(view.side).entry_order_side.value
        entry_fills = [f for f in reader.fills(trade_id=view.id) if f.side.lower() == entry_side]
        if entry_fills:
            self._entry_fills_journaled.add(view.id)
        fees = sum(float(f.fee_in_usdt) for f in entry_fills)
        return OpenTrade(
            trade_id=view.id, symbol=view.symbol, side=PositionSide(view.side), strategy=view.strategy,
            entry_ts=entry_ms, entry_price=float(view.entry_price), quantity=float(view.quantity),
            leverage=float(view.leverage), margin_mode=MarginMode(view.margin_mode),
            key=key or intent_key(view.strategy, view.symbol, entry_ms, "resume"),
            stop_price=float(view.current_stop) if view.current_stop is not None else None,
            take_profit_price=float(view.take_profit_price) if view.take_profit_price is not None else None,
            time_stop_ms=int(view.time_stop_at.timestamp() * 1000) if view.time_stop_at else None,
            liquidation_price=float(view.liquidation_price) if view.liquidation_price is not None else None,
            stop_client_id=stop_cid, tp_client_id=tp_cid, adopted=view.strategy == "adopted",
            fees=fees, funding=funding, funding_through_ms=funding_through, signal_id=view.signal_id,
            order_ids=order_ids,
        )


def protection_settings(cfg: StrategyConfig | None) -> tuple[TrailingSpec | None, float | None]:
    """A strategy's trailing stop and break-even trigger (None where not configured): the same
    for a trade opened now and for one resumed after a restart."""
    if cfg is None:
        return None, None
    trailing = None
    if cfg.trailing_stop_pct is not None:
        trailing = TrailingSpec(cfg.trailing_stop_pct, cfg.trailing_activation_pct)
    return trailing, cfg.breakeven_trigger_pct


def resumed_best_price(side: PositionSide, stop: float, trailing: TrailingSpec | None,
                       observed: Iterable[float] = ()) -> float | None:
    """The best price so far of a resumed trade, which the process that saw it took with it.

    Two sound sources, the more favourable of them taken:

    * the trailed stop: the trail puts a long's stop at ``floor(best * (1 - d))`` (a short's at
      ``ceil(best * (1 + d))``), so a stop the trail placed proves ``best >= stop / (1 - d)``
      (short: ``<= stop / (1 + d)``). When the stop was placed otherwise (the initial stop, a
      break-even move) this value may exceed the true best, but harmlessly: the trail candidate
      it yields is the current stop itself, not tighter, and the stop only tightens, so the next
      move is the one the uninterrupted bot would make (the first mark beyond it). Either way the
      stop is never loosened nor tightened beyond what a mark reached justifies;
    * the marks the journal observed since the entry (``observed``: real prices the position
      saw), which also restore a move that was decided but not yet placed when the bot stopped,
      and the gain a break-even trigger is measured with.

    A native (exchange-side) trailing stop keeps its own best price: only ``observed`` counts.
    Returns None when neither source says anything (the first mark then starts the trail).
    """
    sign = side.sign
    candidates = [p for p in observed if p > 0]
    if trailing is not None and not trailing.native and stop > 0:
        candidates.append(stop / (1 - sign * trailing.distance_pct))
    if not candidates:
        return None
    return max(candidates) if sign > 0 else min(candidates)


def _exit_reason(purpose: str | None) -> ExitReason | None:
    """The reason of a market exit journaled with purpose ``exit:<reason>``; None for other orders."""
    if not purpose or not purpose.startswith("exit:"):
        return None
    try:
        return ExitReason(purpose.removeprefix("exit:"))
    except ValueError:
        return None


def _summary(report: ReconcileReport) -> str:
    if not report.changed:
        return f"journal and exchange agree ({len(report.resumed)} open trades resumed)"
    parts = []
    if report.closed:
        parts.append("closed " + ", ".join(f"{c['symbol']} ({c['reason']})" for c in report.closed))
    if report.adopted:
        parts.append("adopted " + ", ".join(a["symbol"] for a in report.adopted))
    if report.cancelled:
        parts.append(f"cancelled {len(report.cancelled)} orphaned orders")
    if report.unresolved:
        parts.append("UNRESOLVED: " + "; ".join(report.unresolved))
    return "; ".join(parts)


def _new_id() -> str:
    import uuid

    return str(uuid.uuid4())


__all__ = ["ExitReason", "ReconcileReport", "Reconciler", "protection_settings", "resumed_best_price"]


#: How far back the fills of an adopted position are looked for (before its venue update time).
ADOPTION_LOOKBACK_MS = MS_PER_DAY


def opening_fills(fills: list[Any], entry_side: Any, quantity: float) -> list[Any]:
    """The fills that built a position of ``quantity`` opened with ``entry_side`` orders: walking
    back from the newest, entry-side fills add and exit-side fills take away, until the running
    total reaches ``quantity``. Empty when the fills cannot explain the position (a history
    that does not reach back far enough): better no fills than someone else's."""
    total = 0.0
    taken: list[Any] = []
    for fill in sorted(fills, key=lambda f: (f.ts, str(f.trade_id)), reverse=True):
        if fill.side is entry_side:
            total += fill.quantity
            taken.append(fill)
        else:
            total -= fill.quantity
        if math.isclose(total, quantity, rel_tol=1e-9, abs_tol=1e-12):
            return sorted(taken, key=lambda f: (f.ts, str(f.trade_id)))
    return []
