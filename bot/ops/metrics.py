"""Prometheus series of one running bot, updated once per cycle from the engine's cycle report.

The engine calls :meth:`BotMetrics.observe_cycle` (its ``cycle_observer`` hook) after every cycle
attempt; nothing else in the trading path knows about metrics. Values are the engine's own:
equity, unrealised P&L and gross exposure are the numbers of the cycle's equity row in the
journal, so a dashboard and ``derivbot journal`` never disagree. Two series are computed when
scraped instead: the age of the last good cycle (it must keep growing while the loop stalls, when
no cycle report arrives) and the journal writer's backlog (rows queued, not yet committed).

Labels carry only fixed vocabularies (risk reason codes, cycle outcomes, breaker states), never a
symbol, a URL or any configured text, so no secret can reach a label.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from loguru import logger
from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram, generate_latest

from bot.core.enums import RiskState
from bot.ops.health import HealthState

#: Cycle wall times: a paper cycle takes tens of milliseconds, a slow venue tens of seconds.
CYCLE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class CycleFacts(Protocol):
    """What a cycle report tells the metrics (``bot.engine.CycleReport`` has these fields)."""

    equity: float
    unrealised: float
    exposure: float
    open_positions: int
    orders: int
    risk_state: str
    rejects: Mapping[str, int]


class BotMetrics:
    """The bot's series in a registry of their own (two bots in one test process never mix)."""

    def __init__(self, health: HealthState, *, backlog: Callable[[], int] | None = None) -> None:
        self.health = health
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.equity = Gauge("derivbot_equity_usdt", "Account equity at the end of the last good cycle (USDT).",
                            registry=registry)
        self.unrealised = Gauge("derivbot_unrealised_pnl_usdt", "Unrealised P&L of the open positions (USDT).",
                                registry=registry)
        self.exposure = Gauge("derivbot_gross_exposure_usdt", "Sum of the open positions' notional (USDT).",
                              registry=registry)
        self.open_positions = Gauge("derivbot_open_positions", "Positions open on the venue.", registry=registry)
        self.orders = Counter("derivbot_orders", "Orders the cycles sent: entries (each with its first stop), "
                              "exits, flattening closes and the stop watchdog's repairs.", registry=registry)
        self.rejects = Counter("derivbot_rejects", "Entries the risk manager refused, by reason code.",
                               ["reason"], registry=registry)
        self.cycles = Counter("derivbot_cycles", "Cycle attempts: ok (completed) or skipped (venue error).",
                              ["outcome"], registry=registry)
        self.cycle_seconds = Histogram("derivbot_cycle_duration_seconds", "Wall time of one cycle attempt.",
                                       buckets=CYCLE_BUCKETS, registry=registry)
        self.breaker = Enum("derivbot_breaker_state", "Circuit-breaker state after the last good cycle.",
                            states=[s.value for s in RiskState], registry=registry)
        age = Gauge("derivbot_last_good_cycle_age_seconds",
                    "Seconds since the last completed cycle (since the start before the first).", registry=registry)
        age.set_function(health.age)
        healthy = Gauge("derivbot_healthy", "1 while the last good cycle is within the health bound.",
                        registry=registry)
        healthy.set_function(lambda: 1.0 if health.verdict().ok else 0.0)
        if backlog is not None:
            pending = Gauge("derivbot_journal_backlog_rows", "Journal rows queued but not committed yet.",
                            registry=registry)
            pending.set_function(backlog)
        for outcome in ("ok", "skipped"):  # both series exist from the start (rate() needs a zero)
            self.cycles.labels(outcome=outcome)

    def observe_cycle(self, report: CycleFacts | None, seconds: float) -> None:
        """The engine's hook: a completed cycle's report, or ``None`` for a skipped one.

        Never raises: a metrics bug must not stop the trading loop (it is logged instead).
        """
        try:
            self.cycle_seconds.observe(seconds)
            if report is None:
                self.cycles.labels(outcome="skipped").inc()
                return
            self.cycles.labels(outcome="ok").inc()
            self.health.record_good_cycle()
            self.equity.set(report.equity)
            self.unrealised.set(report.unrealised)
            self.exposure.set(report.exposure)
            self.open_positions.set(report.open_positions)
            self.orders.inc(report.orders)
            for reason, count in report.rejects.items():
                self.rejects.labels(reason=reason).inc(count)
            self.breaker.state(report.risk_state)
        except Exception:
            logger.exception("metrics update failed (the bot goes on)")

    def render(self) -> bytes:
        """The Prometheus text exposition of every series."""
        return generate_latest(self.registry)
