"""The trading loop: feed snapshot -> strategies -> risk -> executor -> journal.

One ``Engine`` serves every mode. Live, testnet and paper runs call :meth:`Engine.run`, which
cycles on a timer; a backtest calls :meth:`Engine.cycle` itself after moving the simulated
market (``bot.backtest``). Each cycle:

1. read snapshots and extend each symbol's history (journaled as market observations);
2. book funding income on the trades still open (before the sync, so a trade that exited just
   after a settlement closes with it); sync the account: positions, balance, open orders;
   attribute positions that vanished (stop, take-profit, liquidation, manual) and journal their
   exits; book wallet transfers;
3. update the circuit breakers; HALTED flattens;
4. strategies decide; exits go out at once, entries pass the risk manager;
5. the stop watchdog makes sure every position has exactly one protective stop;
6. an equity snapshot and a heartbeat.

Stopping (Ctrl-C, SIGTERM, ``--max-cycles``) sends no new orders, leaves stops on the
exchange, and closes the run's journal row with its exit reason. A stop request ends the pause
between cycles at once and no further cycle starts; a start that fails closes the run row too
(with an error exit reason), so ``derivbot status`` never shows a dead run as running.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from loguru import logger

from bot import __version__
from bot.config import Settings
from bot.core.enums import (
    ExitReason,
    IntentKind,
    MarginMode,
    Mode,
    OrderStatus,
    OrderType,
    PositionSide,
    RiskState,
)
from bot.core.instrument import Instrument
from bot.core.intents import Intent
from bot.core.precision import Rounding
from bot.core.timeutil import iso
from bot.core.venue_errors import venue_errors
from bot.execution.base import Executor
from bot.execution.ids import client_order_id, intent_key
from bot.execution.types import (
    BalanceState,
    OrderRejectedError,
    OrderRequest,
    OrderState,
    PositionState,
)
from bot.journal import Journal
from bot.logging import redact
from bot.market.snapshot import Snapshot
from bot.risk.account import AccountState, Exposure
from bot.risk.breakers import CircuitBreaker
from bot.risk.codes import TransitionReason
from bot.risk.decision import OrderPlan
from bot.risk.files import RiskFiles
from bot.risk.leverage import isolated_liquidation_price
from bot.risk.manager import RiskManager
from bot.risk.stops import ProtectionPlan, StopWatchdog, advance_protection
from bot.trading.book import OpenTrade, TradeBook
from bot.trading.exits import booked_on_other_trades, journal_exit_fills, resolve_exit
from bot.trading.feed import Feed
from bot.trading.funding import FundingLedger
from bot.trading.orders import (
    FILL_LOOKBACK_MS,
    EntryResolver,
    OrderOutcomeUnknownError,
    OrderRouter,
    PendingOrder,
    PlacedOrder,
)
from bot.trading.protection import Protector, conditional_infos, position_infos
from bot.trading.reconcile import Reconciler, protection_settings
from strategies.base import Strategy


@dataclass
class CycleReport:
    ts: int
    snapshots: int = 0
    signals: int = 0
    entries: int = 0
    exits: int = 0
    rejected: int = 0
    orders: int = 0
    equity: float = 0.0
    risk_state: str = RiskState.ACTIVE.value
    #: the account at the end of the cycle (metrics, bot.ops.metrics)
    open_positions: int = 0
    exposure: float = 0.0
    unrealised: float = 0.0
    #: entries the risk manager refused, by reason code
    rejects: Counter[str] = field(default_factory=Counter)


class Engine:
    """Runs strategies against one venue with one journal."""

    def __init__(self, settings: Settings, *, feed: Feed, executor: Executor, journal: Journal,
                 strategies: dict[str, Strategy], run_key: str | None = None, record_observations: str = "all",
                 risk_files: RiskFiles | None = None, flush_every_cycle: bool = True,
                 flush_on_trades: bool = True) -> None:
        self.settings = settings
        self.mode = Mode(settings.mode)
        self.feed = feed
        self.executor = executor
        self.journal = journal
        self.strategies = strategies
        self.record_observations = record_observations  # "all" | "signals"
        #: live runs make every cycle durable; backtests flush after trades and at the end
        self.flush_every_cycle = flush_every_cycle
        #: after an entry, exit or breaker transition: wait for the journal and save the breaker
        #: state (a crash must lose neither). A backtest's journal and state file are only read
        #: after the run, so it writes them in batches and at shutdown (issue 12)
        self.flush_on_trades = flush_on_trades
        #: the journal has more rows queued than its bound: no new entries until it catches up
        #: (exits, stops and reconciliation go on; see ``_watch_journal``)
        self.journal_backlogged = False
        self.risk = RiskManager(settings.risk, self.mode, fee_rate=settings.paper.taker_fee)
        files = risk_files or RiskFiles.from_halt_file(settings.engine.halt_file)
        self.breaker, self._restored_transitions = CircuitBreaker.restore(settings.risk, files)
        self.book = TradeBook()
        self.router = OrderRouter(executor, journal)
        self.watchdog = StopWatchdog(fallback_stop_pct=self._fallback_stop_pct())
        self.run_id: str | None = None
        self.run_key = run_key or ""
        self.protector: Protector | None = None
        self.histories: dict[str, deque[Snapshot]] = {}
        self.plans: dict[str, ProtectionPlan] = {}
        self.cycles = 0
        #: cycles attempted by ``safe_cycle`` (skipped ones included): what ``--max-cycles`` counts
        self.attempts = 0
        self.consecutive_failures = 0
        self.trading_allowed = False
        self._stop_reason: str | None = None
        #: set by ``request_stop``; created inside ``run`` so it belongs to the running event loop
        self._stop_event: asyncio.Event | None = None
        #: true while ``run`` waits between cycles (for the next cycle, the run's end or a stop
        #: request), false inside a cycle: tells "asleep between cycles" from "busy", so a test can
        #: ask for a stop exactly during the pause instead of guessing when a cycle is over
        self.pausing = False
        self._last_marks: dict[str, float] = {}
        self._last_rates: dict[str, float] = {}
        #: funding income, booked on its trade once per settlement (also what was paid while down)
        self.funding = FundingLedger(executor, journal, self.book, marks=self._last_marks, rates=self._last_rates)
        #: entries whose fills are not journaled yet (trade id -> placed order, requested price)
        self._pending_entry_fills: dict[str, tuple[Any, float]] = {}
        #: intents whose entry was sent (filled, refused, unknown or resolved): never sent again
        self._sent_intents: set[str] = set()
        self.closed_trades: list[dict[str, Any]] = []
        #: told about every ``safe_cycle`` attempt: its report (None when skipped) and its wall
        #: seconds. The one hook of the metrics and health check (bot.ops); it must not raise.
        self.cycle_observer: Callable[[CycleReport | None, float], None] | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> str:
        """Start the run: journal row, venue connection, reconciliation. Returns the run id.

        If anything after the journal row fails (bad keys, venue unreachable), the row is closed
        with an error exit reason and the executor released before the error propagates.
        """
        self.run_id = self.journal.start_run(self.mode, self.settings.config_hash(), __version__,
                                             params={"strategies": sorted(self.strategies)})
        self.run_key = self.run_key or self.run_id.replace("-", "")[:8]
        self.protector = Protector(self.router, self.journal, self.book, self.watchdog, self.run_key)
        try:
            now = await self._connect()
            await self._start_reconcile(now)
        except BaseException as exc:  # CancelledError too: the row must not stay "running"
            await self._abort_start(exc)
            raise
        logger.info("run {} started in {} mode at {} ({} open trades after reconciliation)",
                    self.run_id, self.mode.value, iso(now), len(self.book))
        return self.run_id

    async def _connect(self) -> int:
        """Connect the executor and restore the breaker's journal trail; returns the venue's time."""
        await self.executor.start()
        self.watchdog.instruments = _InstrumentLookup(self.executor)
        for transition in self._restored_transitions:
            self._journal_transition(transition)
        return await self.executor.now_ms()

    async def _abort_start(self, exc: BaseException) -> None:
        """Close the run row of a start that failed, with the error as its exit reason."""
        assert self.run_id is not None
        cancelled = isinstance(exc, asyncio.CancelledError)
        reason = "cancelled" if cancelled else f"error: start failed ({type(exc).__name__})"
        now = int(time.time() * 1000)  # the venue's clock may be what failed
        if not cancelled:
            self.journal.record_event("engine_error", f"start failed: {type(exc).__name__}: {exc}",
                                      severity="critical", ts=now)
        self.journal.end_run(self.run_id, reason, ts=now)
        self.journal.flush()
        try:
            await self.executor.close()
        except Exception as close_exc:  # the start error is the one to report
            logger.warning("closing the executor after a failed start: {}", type(close_exc).__name__)
        self.run_id = None

    async def _start_reconcile(self, now: int) -> None:
        """Reconcile at start; a venue error on the way (a 5xx or timeout on one of its reads)
        does not end the process but starts it with trading blocked.

        A bot that exits on one transient error leaves its positions unwatched until someone
        restarts it (the soak found that: one 5xx on an order look-up during reconciliation ended
        the process). Blocked, it keeps running: every cycle re-runs the reconciliation (see
        :meth:`cycle`), and the watchdog keeps every position's stop in place meanwhile.
        """
        try:
            await self._reconcile(now)
        except venue_errors("OperationFailed", "ExchangeNotAvailable") as exc:
            self.trading_allowed = False
            logger.warning("reconciliation at start failed ({}): trading blocked, retried every cycle",
                           type(exc).__name__)
            self.journal.record_event("reconciliation_failed", f"reconciliation at start failed: "
                                      f"{type(exc).__name__}: {redact(str(exc))}; trading blocked until a "
                                      "cycle completes it", severity="error", ts=now)
            self.journal.flush()

    async def _reconcile(self, now: int) -> None:
        """Rebuild the book from the journal and diff it against the exchange (see
        bot.trading.reconcile); trading is allowed only when nothing is left unresolved."""
        assert self.protector is not None
        for trade in list(self.book):
            self.book.remove(trade.symbol)
        self.plans.clear()
        reconciler = Reconciler(self.executor, self.journal, self.book, self.plans, self.protector,
                                strategies=self.settings.strategies, funding=self.funding)
        report = await reconciler.run(now)
        self.trading_allowed = report.resolved
        self.journal.flush()

    def request_stop(self, reason: str) -> None:
        """Ask the loop to stop after the current cycle; a pause between cycles ends at once.

        Signal handlers (installed with ``loop.add_signal_handler``) and the cycle itself call
        this on the event loop's thread, which ``asyncio.Event.set`` requires.
        """
        self._stop_reason = self._stop_reason or reason
        if self._stop_event is not None:
            self._stop_event.set()

    async def shutdown(self, reason: str) -> None:
        """Close the run. No orders are cancelled: the stops stay on the exchange."""
        if self.run_id is None:
            return
        try:
            now = await self.executor.now_ms()
        except Exception:  # the venue may be gone; the journal row still closes
            now = int(time.time() * 1000)
        self.breaker.save()
        self.journal.record_event("run_stop", f"run stopped: {reason}", ts=now,
                                  data={"open_trades": [t.symbol for t in self.book]})
        self.journal.end_run(self.run_id, reason, ts=now)
        self.journal.flush()
        await self.executor.close()
        self.run_id = None

    async def run(self, *, max_cycles: int | None = None, duration_s: float | None = None,
                  cycle_seconds: float | None = None) -> str:
        """Cycle until stopped; returns the exit reason.

        ``max_cycles`` counts attempts (a cycle skipped because the venue was down counts), so a
        bounded run stays bounded during an outage. ``duration_s`` also bounds the last pause.
        """
        interval = cycle_seconds if cycle_seconds is not None else self.settings.engine.cycle_seconds
        check_run_limits(interval, max_cycles, duration_s)
        self._stop_event = asyncio.Event()
        if self._stop_reason:
            self._stop_event.set()
        if self.run_id is None:
            await self.start()
        deadline = time.monotonic() + duration_s if duration_s is not None else None
        reason = "completed"
        try:
            while (end := self._end_reason(max_cycles, deadline)) is None:
                began = time.monotonic()
                await self.safe_cycle()
                if self._end_reason(max_cycles, deadline) is None:  # no pause after the last cycle
                    await self._pause(began + interval, deadline)
            reason = end
        except asyncio.CancelledError:
            reason = "cancelled"
            raise
        except Exception as exc:
            reason = f"error: {type(exc).__name__}"
            self.journal.record_event("engine_error", f"{type(exc).__name__}: {exc}", severity="critical")
            logger.exception("engine stopped by an error")
            raise
        finally:
            await self.shutdown(reason)
        return reason

    def _end_reason(self, max_cycles: int | None, deadline: float | None) -> str | None:
        """Why the loop must end now (a stop request first), or None to go on."""
        if self._stop_reason:
            return self._stop_reason
        if max_cycles is not None and self.attempts >= max_cycles:
            return "max_cycles"
        if deadline is not None and time.monotonic() >= deadline:
            return "duration"
        return None

    async def _pause(self, until: float, deadline: float | None) -> None:
        """Wait until ``until`` (monotonic), or the run's deadline, or a stop request."""
        assert self._stop_event is not None
        timeout = min(until, deadline if deadline is not None else math.inf) - time.monotonic()
        if timeout <= 0:
            return
        self.pausing = True
        try:
            with contextlib.suppress(TimeoutError):  # the pause ran its full length
                await asyncio.wait_for(self._stop_event.wait(), timeout)
        finally:
            self.pausing = False

    # -- one cycle ------------------------------------------------------------------------------

    async def safe_cycle(self) -> CycleReport | None:
        """One cycle at the venue's time; a venue error skips the cycle instead of stopping the
        bot (resting stops keep protecting positions; the next cycle re-syncs everything).
        Every call counts as an attempt (``--max-cycles``), skipped or not.

        Skipped: outages (5xx, timeouts, 429/418), a clock the resync could not fix (-1021) and
        any other answer of the venue; a refused API key still stops the run (it will not heal).
        ``consecutive_failures`` resets only when a cycle completes, so a bot that can never
        trade is counted, not forgotten: see :meth:`_cycle_failed` (issue 11, item 8).
        """
        self.attempts += 1
        began = time.monotonic()
        try:
            now = await self.executor.now_ms()
            report = await self.cycle(now)
        except venue_errors("AuthenticationError", "PermissionDenied"):
            raise
        except venue_errors("BaseError") as exc:
            self._cycle_failed(exc)
            report = None
        else:
            self.consecutive_failures = 0
        if self.cycle_observer is not None:
            self.cycle_observer(report, time.monotonic() - began)
        return report

    def _cycle_failed(self, exc: Exception) -> None:
        """Count a skipped cycle; at :data:`FAILURES_ESCALATE_AFTER` in a row, and every
        :data:`FAILURES_ESCALATE_EVERY` after, journal an ``error`` event and log at ERROR."""
        self.consecutive_failures += 1
        count = self.consecutive_failures
        unavailable = isinstance(exc, venue_errors("OperationFailed", "ExchangeNotAvailable"))
        what = "venue unavailable" if unavailable else "venue error"
        detail = redact(" ".join(str(exc).split()))[:300]
        logger.warning("cycle skipped: {} ({}: {})", what, type(exc).__name__, detail)
        self.journal.record_event("cycle_skipped", f"{what}: {type(exc).__name__}",
                                  severity="warning" if count < FAILURES_ESCALATE_AFTER else "error",
                                  data={"consecutive": count})
        if count < FAILURES_ESCALATE_AFTER or (count - FAILURES_ESCALATE_AFTER) % FAILURES_ESCALATE_EVERY:
            return
        message = f"{count} cycles in a row failed; last error {type(exc).__name__}: {detail}"
        logger.error(message)
        self.journal.record_event("cycles_failing", message, severity="error",
                                  data={"consecutive": count, "error": type(exc).__name__})

    async def cycle(self, now: int) -> CycleReport:
        self.cycles += 1
        report = CycleReport(ts=now)
        snaps = await self.feed.snapshots(now)
        report.snapshots = len(snaps)
        self._ingest(snaps)
        if getattr(self.executor, "live_prices", False):  # live paper: move the simulated market
            for snap in snaps.values():
                self.executor.on_snapshot(snap)

        await self._book_funding(now)
        positions, balance, open_orders = await self._sync_account(now)
        await self._book_cash_flows(now)
        transitions = self.breaker.update(now, balance.equity)
        for transition in transitions:
            self._journal_transition(transition)
        report.risk_state = self.breaker.state.value
        self._watch_journal(now)

        if self.breaker.must_flatten:
            changed = await self._flatten(positions, open_orders, now)
            report.orders += changed
            if changed:
                positions, balance, open_orders = await self._sync_account(now)
            if not positions and self.breaker.data.halt_reason is TransitionReason.KILL_SWITCH:
                self.request_stop("kill_switch")  # `derivbot halt`: flatten, then stop
        elif self.trading_allowed:
            await self._decide_and_trade(snaps, positions, balance, now, report)
            if report.orders:  # the account changed: the watchdog must see it as it is now
                positions, balance, open_orders = await self._sync_account(now)
        else:
            await self._reconcile(now)  # not trading until journal and exchange agree
            if not self.trading_allowed and self.cycles % 10 == 0:
                self.journal.record_event("trading_blocked", "reconciliation unresolved: not trading",
                                          severity="warning", ts=now)

        report.orders += await self._protect(positions, open_orders, now)
        self._record_equity(balance, positions, now)
        if self.flush_every_cycle or (self.flush_on_trades and (transitions or report.entries or report.exits)):
            self.breaker.save()  # live: every cycle; a backtest's state file is saved at shutdown
        if self.flush_every_cycle or (self.flush_on_trades and (report.entries or report.exits)):
            self._flush_journal()
        report.equity, report.unrealised = balance.equity, balance.unrealized_pnl
        report.open_positions, report.exposure = len(positions), sum(p.notional for p in positions)
        if self.cycles % 24 == 0 or report.entries or report.exits:
            logger.info("cycle {} at {}: equity {:.2f}, {} open, state {}, {} signals, {} entries, {} exits",
                        self.cycles, iso(now), balance.equity, len(positions), report.risk_state, report.signals,
                        report.entries, report.exits)
        return report

    async def observe(self, now: int) -> int:
        """Warm-up: extend the histories without trading (backtests before their start)."""
        snaps = await self.feed.snapshots(now)
        self._ingest(snaps)
        return len(snaps)

    def _ingest(self, snaps: dict[str, Snapshot]) -> None:
        keep = self.settings.engine.history_bars
        for symbol, snap in snaps.items():
            history = self.histories.get(symbol)
            if history is None:
                history = self.histories[symbol] = deque(maxlen=keep)
            if history and history[-1].ts >= snap.ts:
                continue  # same or older observation: nothing new
            history.append(snap)
            if snap.mark_price.value is not None:
                self._last_marks[symbol] = snap.mark_price.value
            elif snap.last_price.value is not None:
                self._last_marks[symbol] = snap.last_price.value
            if snap.funding_rate.value is not None:
                self._last_rates[symbol] = snap.funding_rate.value
            if self.record_observations == "all":
                self.journal.record_observation(snap)

    async def _sync_account(self, now: int) -> tuple[list[PositionState], BalanceState, list[OrderState]]:
        positions = await self.executor.positions()
        held = {p.symbol for p in positions}
        for trade in list(self.book):
            if trade.symbol not in held:
                await self._close_trade(trade, now)
        balance = await self.executor.balance()
        symbols = held | {t.symbol for t in self.book}
        open_orders: list[OrderState] = []
        for symbol in sorted(symbols):
            open_orders.extend(await self.executor.open_orders(symbol))
        return positions, balance, open_orders

    async def _close_trade(self, trade: OpenTrade, now: int) -> None:
        assert self.protector is not None
        info = await resolve_exit(self.executor, trade, now_ms=now, own_exit_reason=self.protector.own_exits,
                                  booked_elsewhere=booked_on_other_trades(self.journal, trade))
        reason = info.reason
        plan = self.plans.get(trade.symbol)
        if reason is ExitReason.STOP_LOSS and plan is not None and plan.trailing is not None and plan.best_price \
                and trade.side.sign * (plan.stop_price - plan.entry_price) > 0:
            reason = ExitReason.TRAILING_STOP  # the stop had trailed into profit
        journal_exit_fills(self.journal, trade, info, reason)
        fees = trade.fees + info.exit_fees
        self.journal.record_trade_exit(trade.trade_id, exit_ts=info.ts, exit_price=info.price,
                                       exit_reason=reason,
                                       realised_pnl=info.realised_pnl, fees=fees, funding=trade.funding,
                                       note=info.note)
        net = info.realised_pnl - fees + trade.funding
        self.closed_trades.append({"trade_id": trade.trade_id, "symbol": trade.symbol, "side": trade.side.value,
                                   "strategy": trade.strategy, "entry_ts": trade.entry_ts,
                                   "entry_price": trade.entry_price, "exit_ts": info.ts, "exit_price": info.price,
                                   "reason": reason.value, "pnl": info.realised_pnl, "fees": fees,
                                   "funding": trade.funding, "net": net, "quantity": trade.quantity})
        for transition in self.breaker.record_trade_result(net, now):
            self._journal_transition(transition)
        if reason in (ExitReason.STOP_LOSS, ExitReason.TRAILING_STOP, ExitReason.LIQUIDATION):
            self.risk.record_stop_out(trade.symbol, info.ts)
        self.book.remove(trade.symbol)
        self.plans.pop(trade.symbol, None)
        self.protector.unseen.forget_symbol(trade.symbol)
        # protective orders left behind (e.g. the take-profit after a stop) are cancelled
        for order in await self.executor.open_orders(trade.symbol):
            if order.is_conditional and order.is_open and order.is_protective:
                await self.executor.cancel(trade.symbol, exchange_id=order.exchange_id, conditional=True)
        logger.info("trade {} {} {} closed: {} at {} (net {:.2f})", trade.trade_id[:8], trade.side.value,
                    trade.symbol, reason.value, info.price, net)

    async def _book_funding(self, now: int) -> None:
        """Book the funding settled since the last pass on the trades still in the book.

        Runs before :meth:`_sync_account` closes the trades whose position is gone (issue 11,
        item 9): the 08:00 settlement of a position stopped out at 08:00:30 belongs to that
        trade, in the journal and in its net P&L. See bot.trading.funding.
        """
        await self.funding.book_income(now)

    async def _book_cash_flows(self, now: int) -> None:
        """Tell the breaker about wallet transfers before it sees the new equity (issue 11, item 5).

        Moving money to spot lowers the equity exactly like a loss; without this, an 8% transfer
        trips ``max_drawdown`` and flattens everything. Binance lists transfers in
        ``GET /fapi/v1/income`` as ``incomeType: "TRANSFER"`` (reference §2.3, income rows), so they
        are read from the breaker's last update on (also the ones made while the bot was down: the
        saved state keeps that time), each applied once by ``tranId``. A row later than ``now`` may
        have missed this cycle's balance read: it waits for the next cycle, whose balance has it.
        """
        since = self.breaker.data.last_update_ms
        if since is None:  # no baseline yet: the first update takes the equity as it is
            return
        rows = await self.executor.income(since_ms=since, income_type="TRANSFER")
        for row in sorted(rows, key=lambda r: (r.ts, r.income_id)):
            if row.income_type.upper() != "TRANSFER" or row.ts > now:
                continue
            if not self.breaker.record_transfer(row.income_id, row.amount):
                continue
            asset = str(row.info.get("asset") or "USDT")
            direction = "into" if row.amount > 0 else "out of"
            self.journal.record_event("cash_flow", f"transfer of {abs(row.amount):g} {asset} {direction} the futures "
                                      "wallet: risk baselines shifted, not counted as P&L", ts=row.ts,
                                      data={"amount": row.amount, "asset": asset, "tran_id": row.income_id})

    # -- decisions ------------------------------------------------------------------------------

    async def _decide_and_trade(self, snaps: dict[str, Snapshot], positions: list[PositionState],
                                balance: BalanceState, now: int, report: CycleReport) -> None:
        portfolio = self.book.portfolio(now, balance.equity, self._last_marks)
        intents: list[Intent] = []
        # symbols with a position (ours or found on the venue): always decided; the others may be
        # skipped where a strategy's pre-screen proves nothing can happen (strategies/base.py)
        active = {p.symbol for p in positions} | {t.symbol for t in self.book}
        for name, strategy in self.strategies.items():
            skips = getattr(strategy, "skips", None)  # a strategy with only ``decide`` is never skipped
            for symbol in snaps:
                history = self.histories.get(symbol)
                if not history:
                    continue
                try:
                    if skips is not None and symbol not in active and skips(history):
                        continue
                    decided = strategy.decide(list(history), portfolio)
                except Exception as exc:  # one strategy's bug must not stop the others
                    logger.exception("strategy {} failed on {}", name, symbol)
                    self.journal.record_event("strategy_error", f"{name} on {symbol}: {exc}", severity="error",
                                              ts=now)
                    continue
                intents.extend(self._with_config(i, name) for i in decided)
        report.signals = len(intents)
        exits = [i for i in intents if i.kind is IntentKind.EXIT]
        entries = sorted((i for i in intents if i.is_entry), key=lambda i: -i.strength)
        signal_ids: dict[int, str] = {}
        for intent in intents:
            signal_ids[id(intent)] = self.journal.record_signal(intent)
            if self.record_observations != "all" and intent.symbol in snaps:
                self.journal.record_observation(snaps[intent.symbol])
        for intent in exits:
            trade = self.book.get(intent.symbol)
            if trade is None or trade.strategy != intent.strategy:
                continue
            pos = next((p for p in positions if p.symbol == intent.symbol), None)
            if pos is None:
                continue
            decision = self.risk.evaluate(intent, self._account(positions, balance, now),
                                          self.executor.instrument(intent.symbol), pos.mark_price or pos.entry_price)
            self._journal_decision(intent, decision, signal_ids.get(id(intent)), now)
            if decision.approved:
                reason = ExitReason.TIME_STOP if intent.reasons.get("exit") == "time_limit" else ExitReason.SIGNAL
                assert self.protector is not None
                state = await self.protector.close_at_market(intent.symbol, trade.side.exit_order_side, pos.quantity,
                                                             reason, trade=trade)
                if state is not None:
                    report.exits += 1
                    report.orders += 1
        if report.exits:
            positions = await self.executor.positions()
        for intent in entries:
            if intent.symbol in self.book:
                continue
            if intent_key(intent.strategy, intent.symbol, intent.ts, intent.kind.value) in self._sent_intents:
                continue  # its entry was sent once, whatever came of it: one intent, one entry (issue 11)
            account = self._account(positions, balance, now)
            price = self._last_marks.get(intent.symbol)
            if price is None:
                continue
            try:
                instrument = self.executor.instrument(intent.symbol)
            except KeyError:
                continue
            if await self.executor.symbol_status(intent.symbol) not in (None, "TRADING"):
                continue  # settling or closed: the venue takes no new position (delisting, issue 11)
            decision = self.risk.evaluate(intent, account, instrument, price)
            decision_id = self._journal_decision(intent, decision, signal_ids.get(id(intent)), now)
            if not decision.approved or decision.plan is None:
                report.rejected += 1
                report.rejects[decision.reason_code.value] += 1
                continue
            if await self._enter(intent, decision, decision_id, signal_ids.get(id(intent)), now, positions):
                report.entries += 1
                report.orders += 1
                try:
                    positions = await self.executor.positions()  # the next intent sees this exposure
                except venue_errors("OperationFailed", "ExchangeNotAvailable") as exc:
                    # exposure unknown: no more entries this cycle; the trade and its stop are in place
                    logger.warning("positions read after an entry failed ({}): no more entries this cycle",
                                   type(exc).__name__)
                    break

    def _with_config(self, intent: Intent, name: str) -> Intent:
        """Fill the stop/take-profit/leverage/time stop from the strategy's config when absent."""
        cfg = self.settings.strategies.get(name)
        if cfg is None or not intent.is_entry:
            return intent
        return replace(
            intent,
            stop_loss_pct=intent.stop_loss_pct or cfg.stop_loss_pct,
            take_profit_pct=intent.take_profit_pct or cfg.take_profit_pct,
            leverage=intent.leverage or cfg.leverage,
            time_stop_hours=intent.time_stop_hours or cfg.time_stop_hours,
        )

    async def _enter(self, intent: Intent, decision, decision_id: str, signal_id: str | None, now: int,
                     positions: list[PositionState] | None = None) -> bool:
        """Send the entry once and, once its fill is known, open the trade with its whole plan.

        An entry whose outcome is unknown (lost response, order not visible yet) or that was
        answered zero-filled is resolved in this same cycle from the position (``positions``: the
        account as it was before the send) and the user trades, never by sending it again (issue
        11, Part 2 items 2 and 3): if it executed it becomes the intended trade, stop and all.
        """
        plan = decision.plan
        assert self.protector is not None and plan is not None
        key = intent_key(intent.strategy, intent.symbol, intent.ts, intent.kind.value)
        cid = client_order_id(self.run_key, key, "e")
        before = _signed_quantity(positions or [], plan.symbol)
        request = OrderRequest(client_id=cid, symbol=plan.symbol, side=plan.side.entry_order_side,
                               type=OrderType.MARKET, quantity=plan.quantity)
        try:
            await self.executor.ensure_symbol_setup(plan.symbol, int(plan.leverage), plan.margin_mode)
            # Sent once, never again under the same client id: a refused entry (-4131, -2019) would
            # otherwise be resent next cycle while the bar is unchanged, and its second order row
            # (same client id) would break the journal and stop the loop. The next bar is a new intent.
            self._sent_intents.add(key)
            placed: PlacedOrder | None = await self.router.place(
                request, purpose="entry", signal_id=signal_id, requested_price=plan.entry_price,
                record_fills=False)
        except OrderOutcomeUnknownError as exc:
            placed = await self._resolve_entry(exc.pending, before, None, now)
        except OrderRejectedError as exc:
            # Journaled, not only logged: a refused set-up (-4168, -4028) is something to review.
            logger.warning("entry {} {} not placed: {}", plan.side.value, plan.symbol, exc)
            self.journal.record_event("entry_not_placed", f"{plan.symbol}: {exc}", severity="warning", ts=now,
                                      data={"symbol": plan.symbol, "client_id": cid})
            return False
        finally:
            self.risk.record_orders(now)
        if placed is not None and placed.state.filled <= 0:  # zero-filled: it may still have executed
            pending = PendingOrder(request, placed.journal_id, placed.sent_ts)
            placed = await self._resolve_entry(pending, before, placed.state, now)
        if placed is None:
            return False
        state = placed.state
        fill_price = state.avg_price or plan.entry_price
        stop_price, take_profit_price = exits_for_fill(self.executor.instrument(plan.symbol), plan, fill_price)
        entry_ts = state.ts or now  # the venue's fill time: exits, ADL and liquidations are stamped on its clock
        liquidation = estimated_liquidation(self.executor.instrument(plan.symbol), plan, fill_price, state.filled)
        trade = OpenTrade(
            trade_id=_new_trade_id(), symbol=plan.symbol, side=plan.side, strategy=intent.strategy, entry_ts=entry_ts,
            entry_price=fill_price, quantity=state.filled, leverage=plan.leverage, margin_mode=plan.margin_mode,
            key=key, stop_price=None, take_profit_price=take_profit_price, time_stop_ms=plan.time_stop_ms,
            liquidation_price=liquidation, signal_id=signal_id, order_ids={cid: placed.journal_id},
        )
        # Book, plan and trade row first, with no venue call in between (issue 11 item 4): if a
        # read fails after this, the next cycle's stop rows still reference a trade that exists.
        self.book.add(trade)
        self.plans[plan.symbol] = self._protection_plan(intent.strategy, plan, fill_price, stop_price,
                                                        take_profit_price)
        self.journal.record_trade_open(
            trade_id=trade.trade_id, symbol=plan.symbol, side=plan.side, strategy=intent.strategy, entry_ts=entry_ts,
            entry_price=fill_price, quantity=state.filled, leverage=plan.leverage, margin_mode=plan.margin_mode,
            stop_price=stop_price, take_profit_price=take_profit_price, liquidation_price=liquidation,
            time_stop_at=plan.time_stop_ms, signal_id=signal_id, risk_decision_id=decision_id,
        )
        # The stop goes on the exchange right away, from the fill itself: no positions or open
        # orders read stands between the fill and its stop (if placing fails, the watchdog
        # escalates now and tries again next cycle).
        self.protector.unseen.forget_symbol(plan.symbol)
        filled = PositionState(plan.symbol, plan.side, state.filled, fill_price, mark_price=fill_price)
        await self._protect([filled], [], now)
        self._pending_entry_fills[trade.trade_id] = (placed, plan.entry_price)
        await self._record_entry_fills()
        if self.flush_on_trades:
            self._flush_journal()
        return True

    async def _resolve_entry(self, pending: PendingOrder, before: float, answered: OrderState | None,
                             now: int) -> PlacedOrder | None:
        """Decide whether an entry with an unknown or zero-filled outcome executed (see
        bot.trading.orders.EntryResolver). Either way its intent is never sent again (``_enter``
        marked it sent before placing it); the entry's order row gets its real state, and an entry
        that did not execute is journaled as such."""
        request = pending.request
        try:
            state = await EntryResolver(self.executor).resolve(pending, before, answered)
        except venue_errors("OperationFailed", "ExchangeNotAvailable") as exc:
            self.journal.record_event("entry_unknown", f"{request.symbol}: entry {request.client_id} outcome unknown "
                                      f"and the venue could not be read ({type(exc).__name__}); not resent",
                                      severity="error", ts=now,
                                      data={"symbol": request.symbol, "client_id": request.client_id})
            return None
        if state is None:
            status = answered.status if answered is not None and answered.status.is_terminal else OrderStatus.EXPIRED
            self.journal.record_order_status(pending.journal_id, ts=now, status=status, filled_qty=0,
                                             raw_status="NOT_EXECUTED (position and trades unchanged)")
            logger.warning("entry {} on {} did not execute (position and trades unchanged): not resent",
                           request.client_id, request.symbol)
            self.journal.record_event("entry_not_executed", f"{request.symbol}: entry {request.client_id} did not "
                                      "execute (position and user trades unchanged); the intent is not sent again",
                                      severity="warning", ts=now,
                                      data={"symbol": request.symbol, "client_id": request.client_id})
            return None
        self.router.record_state(pending.journal_id, state, ts=state.ts or now)
        self.journal.record_event("entry_resolved", f"{request.symbol}: entry {request.client_id} executed "
                                  f"({state.filled} at {state.avg_price}) though its outcome was unknown: adopted "
                                  "as the intended trade", severity="warning", ts=now,
                                  data={"symbol": request.symbol, "client_id": request.client_id,
                                        "exchange_order_id": state.exchange_id})
        return PlacedOrder(state, pending.journal_id, 0, pending.sent_ts)

    async def _record_entry_fills(self) -> None:
        """Journal the fills of entries whose trade rows exist; a failed read keeps them pending
        for the next cycle (the trade and its stop never wait on this read)."""
        for trade_id, (placed, requested) in list(self._pending_entry_fills.items()):
            try:
                fills = await self.router.record_fills(
                    placed.journal_id, placed.state, since_ms=placed.sent_ts - FILL_LOOKBACK_MS, trade_id=trade_id,
                    requested_price=requested, latency_ms=placed.latency_ms)
            except venue_errors("OperationFailed", "ExchangeNotAvailable") as exc:
                logger.warning("entry fills of trade {} not read yet ({}): retried next cycle", trade_id[:8],
                               type(exc).__name__)
                continue
            del self._pending_entry_fills[trade_id]
            trade = next((t for t in self.book if t.trade_id == trade_id), None)
            if trade is not None:
                trade.fees += sum(f.fee_in_usdt for f in fills)  # BNB fees at their USDT value

    def _protection_plan(self, strategy: str, plan, fill_price: float, stop_price: float,
                         take_profit_price: float | None) -> ProtectionPlan:
        """The exits to maintain for a new position: stop, take-profit, time stop, and the
        strategy's optional trailing stop and break-even move (moved by the bot, place-new-
        then-cancel, see bot.risk.stops)."""
        trailing, breakeven = protection_settings(self.settings.strategies.get(strategy))
        return ProtectionPlan(symbol=plan.symbol, side=plan.side, entry_price=fill_price, stop_price=stop_price,
                              take_profit_price=take_profit_price, time_stop_ms=plan.time_stop_ms,
                              trailing=trailing, breakeven_trigger_pct=breakeven)

    # -- protection and flattening ------------------------------------------------------------

    async def _protect(self, positions: list[PositionState], open_orders: list[OrderState], now: int) -> int:
        """Advance trailing/break-even plans to the marks, then let the watchdog make every
        position hold exactly one confirmed stop (see bot.risk.stops); entry fills a failed
        read left unjournaled are retried here, every cycle."""
        assert self.protector is not None
        if self._pending_entry_fills:
            await self._record_entry_fills()
        for pos in positions:
            plan = self.plans.get(pos.symbol)
            if plan is not None and pos.mark_price:
                self.plans[pos.symbol] = advance_protection(plan, pos.mark_price,
                                                            self.executor.instrument(pos.symbol))
        # A stop placed moments ago may be missing from a lagging read: trust it, not place a second one.
        read, held = conditional_infos(open_orders), {p.symbol for p in positions}
        await self.protector.check_unseen(read, held)
        conditionals = self.protector.unseen.merge(read, held)
        actions = self.watchdog.check(position_infos(positions), conditionals, self.plans, now)
        if not actions:
            return 0
        return await self.protector.apply(actions, now)

    async def _flatten(self, positions: list[PositionState], open_orders: list[OrderState], now: int) -> int:
        """HALTED: close every position at market, then cancel every order that could open one.
        Returns how many orders were sent or cancelled (0: nothing changed, no need to re-read
        the account).

        Closes come first and a cancel the venue refuses does not stop the rest: an entry order
        left resting is cancelled again next cycle (and what it fills is closed then), while a
        position left open because a cancel raised first is the exposure the halt exists to
        remove (issue 17: a failing cancel used to end the cycle before any close was sent)."""
        assert self.protector is not None
        sent = 0
        for pos in positions:
            state = await self.protector.close_at_market(pos.symbol, pos.side.exit_order_side, pos.quantity,
                                                         ExitReason.HALT, detail="circuit breaker halted",
                                                         trade=self.book.get(pos.symbol))
            sent += state is not None
        for order in open_orders:
            if order.is_open and not order.is_protective and not order.reduce_only:
                try:
                    await self.executor.cancel(order.symbol, exchange_id=order.exchange_id,
                                               conditional=order.is_conditional)
                except venue_errors("BaseError") as exc:
                    self.journal.record_event("cancel_failed", f"{order.symbol}: entry order {order.exchange_id} not "
                                              f"cancelled while halted: {type(exc).__name__}; retried next cycle",
                                              severity="error", ts=now,
                                              data={"symbol": order.symbol, "exchange_order_id": order.exchange_id})
                    continue
                sent += 1
        return sent

    # -- journal helpers ------------------------------------------------------------------------

    def _account(self, positions: list[PositionState], balance: BalanceState, now: int) -> AccountState:
        exposures = []
        for p in positions:
            try:
                exposures.append(Exposure(p.symbol, p.side, p.quantity, p.entry_price, p.mark_price or p.entry_price,
                                          p.leverage))
            except ValueError as exc:
                logger.warning("ignoring malformed position {}: {}", p.symbol, exc)
        return AccountState(ts=now, equity=balance.equity, positions=tuple(exposures),
                            risk_state=self.breaker.effective_state(now), journal_backlogged=self.journal_backlogged)

    def _watch_journal(self, now: int) -> None:
        """Pause new entries while the journal is backlogged, resume once it caught up (issue 18).

        The writer's queue is never cut, so a slow or unreachable database costs memory and, on a
        crash, the rows not yet committed: past the bound the bot takes no new risk it could not
        account for, while exits and stops, which reduce risk, go on. One message when it pauses,
        one when it resumes (the writer's hysteresis). A backtest's market waits for it instead:
        simulated time must not trade differently because a disk was slow."""
        backlogged = self.journal.backlogged  # every cycle: the flag only, the full report on a change
        if not self.flush_every_cycle:
            if backlogged:
                self.journal.flush()
            return
        if backlogged == self.journal_backlogged:
            return
        health = self.journal.health()
        self.journal_backlogged = health.backlogged
        data = {"pending": health.pending, "max_pending": health.max_pending, "lag_s": round(health.lag_s, 3),
                "last_error": health.last_error}
        if health.backlogged:
            message = (f"journal backlogged ({health.pending} rows not committed, bound {health.max_pending}, oldest "
                       f"{health.lag_s:.1f}s): no new entries until it catches up; exits and stops go on")
            logger.warning(message)
            self.journal.record_event("entries_paused", message, severity="warning", ts=now, data=data)
        else:
            message = f"journal caught up ({health.pending} rows pending): new entries resume"
            logger.info(message)
            self.journal.record_event("entries_resumed", message, ts=now, data=data)

    def _flush_journal(self) -> None:
        """Wait for the journal to commit what was recorded, at most ``journal.flush_wait_s``, and not
        at all while its oldest queued row is already older than that (the database is down or
        slow): a stalled database must not hold up exits and stops. The rows stay queued."""
        wait = self.settings.journal.flush_wait_s
        if self.journal.health().lag_s > wait:
            return
        try:
            self.journal.flush(timeout=wait)
        except TimeoutError as exc:
            logger.warning("journal not committed within {:g}s, the loop goes on: {}", wait, exc)

    def _journal_decision(self, intent: Intent, decision, signal_id: str | None, now: int) -> str:
        return self.journal.record_risk_decision(
            ts=now, symbol=intent.symbol, verdict=decision.verdict.value, reason_code=decision.reason_code.value,
            numbers=dict(decision.numbers), plan=decision.plan.to_dict() if decision.plan else None,
            signal_id=signal_id,
        )

    def _journal_transition(self, transition) -> None:
        data = transition.to_dict()
        self.journal.record_event("risk_state", f"{data.get('from')} -> {data.get('to')}: {data.get('reason')}",
                                  severity="warning" if data.get("to") != RiskState.ACTIVE.value else "info",
                                  ts=data.get("ts_ms") or data.get("ts"), data=data)

    def _record_equity(self, balance: BalanceState, positions: list[PositionState], now: int) -> None:
        exposure = sum(p.notional for p in positions)
        self.journal.record_equity(ts=now, wallet=balance.wallet, unrealised=balance.unrealized_pnl,
                                   equity=balance.equity, exposure=exposure, risk_state=self.breaker.state)

    def _fallback_stop_pct(self) -> float:
        stops = [c.stop_loss_pct for c in self.settings.strategies.values() if c.enabled and c.stop_loss_pct]
        return min(stops) if stops else 0.05


def exits_for_fill(instrument: Instrument, plan: OrderPlan, fill_price: float) -> tuple[float, float | None]:
    """Stop and take-profit at the planned *distances* from the real fill price.

    The risk plan priced them from the reference price at decision time; on a fast market the
    fill can be far from it, and a take-profit left where it was planned could even sit on the
    wrong side of the entry. Stops round away from the entry (as the risk manager's do),
    take-profits toward it; if the moved stop would not be on the loss side of the fill, the
    planned one is kept.
    """
    if fill_price == plan.entry_price:
        return plan.stop_price, plan.take_profit_price
    long = plan.side is PositionSide.LONG
    stop = instrument.round_price(fill_price + (plan.stop_price - plan.entry_price),
                                  Rounding.FLOOR if long else Rounding.CEIL)
    if plan.side.sign * (fill_price - stop) <= 0:
        stop = plan.stop_price
    take_profit = None
    if plan.take_profit_price is not None:
        take_profit = instrument.round_price(fill_price + (plan.take_profit_price - plan.entry_price),
                                             Rounding.CEIL if long else Rounding.FLOOR)
    return stop, take_profit


#: Consecutive failed cycles before an ``error`` event, and the period of the reminders after it.
FAILURES_ESCALATE_AFTER = 5
FAILURES_ESCALATE_EVERY = 10


def estimated_liquidation(instrument: Instrument, plan: OrderPlan, fill_price: float, quantity: float) -> float | None:
    """The isolated position's liquidation price from the fill (Binance's isolated-margin formula
    with the symbol's maintenance bracket, as the simulator uses), so the trade row needs no
    positions read after the fill; None for cross margin (it depends on the whole account)."""
    if plan.margin_mode is not MarginMode.ISOLATED or quantity <= 0 or plan.leverage <= 0:
        return None
    liq = isolated_liquidation_price(instrument, plan.side, fill_price, quantity, plan.leverage)
    return liq if math.isfinite(liq) and liq > 0 else None


def check_run_limits(cycle_seconds: float, max_cycles: int | None, duration_s: float | None) -> None:
    """Refuse loop bounds that would spin without pausing or never end (NaN, inf, <= 0).

    The CLI validates its flags with a clear message first; this guards every other caller.
    """
    if not (math.isfinite(cycle_seconds) and cycle_seconds > 0):
        raise ValueError(f"cycle_seconds must be a finite number > 0, got {cycle_seconds!r}")
    if max_cycles is not None and max_cycles < 1:
        raise ValueError(f"max_cycles must be >= 1, got {max_cycles!r}")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a finite number of seconds > 0, got {duration_s!r}")


class _InstrumentLookup(dict):
    """Lets the watchdog look instruments up lazily from the executor."""

    def __init__(self, executor: Executor) -> None:
        super().__init__()
        self._executor = executor

    def get(self, key, default=None):  # type: ignore[override]
        try:
            return self._executor.instrument(key)
        except KeyError:
            return default


def _signed_quantity(positions: list[PositionState], symbol: str) -> float:
    """``symbol``'s position as a signed quantity (long > 0, short < 0, none 0)."""
    pos = next((p for p in positions if p.symbol == symbol), None)
    return pos.side.sign * pos.quantity if pos is not None else 0.0


def _new_trade_id() -> str:
    import uuid

    return str(uuid.uuid4())


__all__ = ["CycleReport", "Engine", "check_run_limits", "exits_for_fill"]
