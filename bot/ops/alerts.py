"""Sending alerts without ever holding up the trading loop.

:class:`AlertDispatcher` is a journal listener (``Journal.add_listener``): every row the journal
queues goes through :class:`~bot.ops.alert_rules.AlertRules`, and the alerts it implies are put on
a bounded queue in the recording thread, which costs a dictionary look-up and an append. One
sender thread does everything slow:

* **filter**: each target (an apprise URL) gets the alerts at or above its level, of its events;
* **merge**: an alert identical to one sent less than ``merge_window_seconds`` ago is not sent
  again; when the window ends, one alert says how many times it repeated (no flood during an
  outage, and nothing hidden);
* **retry**: a failed send is retried ``retries`` times, ``backoff_seconds`` doubling each time;
* **drop**: a full queue or a send that failed every retry drops the alert, counted
  (:meth:`AlertDispatcher.stats`) and journaled as an ``alert_dropped`` event (which the rules
  never turn into an alert: a dead receiver cannot make a loop).

A slow or dead receiver therefore delays only the sender thread; the queue bound caps the
memory. At shutdown the queue may drain for ``drain_seconds``; what is left is dropped and
journaled. The URLs are secrets: no log line or journal row names one (a target is
``alerts.targets[i]`` with its scheme), and apprise's own log lines go through the redactor.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from loguru import logger

from bot.config import AlertSettings, AlertTarget, ConfigError
from bot.logging import redact
from bot.ops.alert_rules import Alert, AlertRules, severity_at_least

#: Severity -> apprise notify type name (apprise.NotifyType values).
_NOTIFY_TYPES = {"debug": "info", "info": "info", "warning": "warning", "error": "failure", "critical": "failure"}


@dataclass(frozen=True)
class AlertStats:
    """Counters since start: what was sent, merged and dropped (and why), and what waits."""

    sent: int
    merged: int
    dropped_queue_full: int
    dropped_send_failed: int
    dropped_shutdown: int
    queued: int

    @property
    def dropped(self) -> int:
        return self.dropped_queue_full + self.dropped_send_failed + self.dropped_shutdown


class Target:
    """One apprise URL with its level and event filter."""

    def __init__(self, index: int, config: AlertTarget) -> None:
        import apprise  # imported here: runs without alerts never pay for it

        _route_apprise_logs()
        self.index = index
        self.level = config.level
        self.events = frozenset(config.events)
        url = config.url.get_secret_value()
        self.scheme = url.partition("://")[0].lower()
        # The service's plugin itself, not an ``Apprise`` set: its ``notify`` sends in the calling
        # (sender) thread, where ``Apprise.notify`` would use a thread pool, which refuses work at
        # interpreter exit: just when the crash alert of bot.ops.crash is sent.
        self._plugin = apprise.Apprise.instantiate(url)
        if not self._plugin:
            # Never the URL itself: it holds the token.
            raise ConfigError(f"alerts.targets[{index}].url: apprise does not accept this {self.scheme}:// URL "
                              "(unknown service or malformed; see apprise's list of supported URLs)")
        self._notify_type = apprise.NotifyType

    @property
    def name(self) -> str:
        return f"alerts.targets[{self.index}] ({self.scheme})"

    def wants(self, alert: Alert) -> bool:
        return severity_at_least(alert.severity, self.level) and (not self.events or alert.event in self.events)

    def send(self, alert: Alert) -> bool:
        """One attempt; True when apprise reports success. Never raises."""
        try:
            return bool(self._plugin.notify(body=alert.body or alert.title, title=alert.title,
                                            notify_type=self._notify_type(_NOTIFY_TYPES[alert.severity])))
        except Exception as exc:  # a plugin's bug must not kill the sender thread
            logger.warning("{}: sending raised {}: {}", self.name, type(exc).__name__, redact(str(exc)))
            return False


@dataclass
class _Merge:
    """An alert sent at ``since`` (monotonic) and how many identical ones came after it."""

    alert: Alert
    since: float
    repeats: int = 0


class AlertDispatcher:
    """Bounded queue + one sender thread; see the module docstring."""

    def __init__(self, targets: list[Target], *, queue_size: int = 1000, merge_window_s: float = 300.0,
                 retries: int = 3, backoff_s: float = 2.0, drain_s: float = 5.0, rules: AlertRules | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.targets = targets
        self.queue_size = queue_size
        self.merge_window_s = merge_window_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.drain_s = drain_s
        self.rules = rules or AlertRules()
        self._clock = clock
        self._journal: Any = None
        self._cond = threading.Condition()
        self._queue: deque[Alert] = deque()
        self._closing = False
        self._abort = threading.Event()
        self._merges: dict[tuple[str, str, str], _Merge] = {}
        self._sent = self._merged = self._full = self._failed = self._shutdown = 0
        self._full_journaled = 0
        self.crash_reported = False
        self._thread = threading.Thread(target=self._run, name="alert-sender", daemon=True)

    @classmethod
    def from_settings(cls, settings: AlertSettings) -> AlertDispatcher | None:
        """The dispatcher for ``settings``, started; None when no target is configured.
        Raises :class:`ConfigError` (naming the target, not its URL) for a URL apprise refuses."""
        if not settings.targets:
            return None
        targets = [Target(i, t) for i, t in enumerate(settings.targets)]
        dispatcher = cls(targets, queue_size=settings.queue_size, merge_window_s=settings.merge_window_seconds,
                         retries=settings.retries, backoff_s=settings.backoff_seconds, drain_s=settings.drain_seconds)
        dispatcher.start()
        return dispatcher

    # -- wiring -------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def attach(self, journal: Any) -> None:
        """Alert on what ``journal`` records, and journal the drops there."""
        self._journal = journal
        if self.rules.trade_lookup is None:
            self.rules.trade_lookup = _trade_lookup(journal)
        journal.add_listener(self.observe)

    def detach(self) -> None:
        if self._journal is not None:
            self._journal.remove_listener(self.observe)

    def observe(self, table: str, row: Mapping[str, Any]) -> None:
        """The journal listener: the row's alerts go on the queue (never blocks)."""
        for alert in self.rules(table, row):
            self.submit(alert)

    # -- the recording side -------------------------------------------------------------------

    def submit(self, alert: Alert) -> bool:
        """Queue ``alert``; False (counted as a drop) when the queue is full or closed."""
        with self._cond:
            if alert.event == "crash":
                self.crash_reported = True
            if self._closing or len(self._queue) >= self.queue_size:
                self._full += 1
                return False
            self._queue.append(alert)
            self._cond.notify()
            return True

    def stats(self) -> AlertStats:
        with self._cond:
            return AlertStats(self._sent, self._merged, self._full, self._failed, self._shutdown, len(self._queue))

    def close(self, timeout: float | None = None) -> AlertStats:
        """Stop taking alerts, let the queue drain for ``timeout`` (default ``drain_s``) seconds,
        then drop what is left (journaled). Idempotent."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        wait = self.drain_s if timeout is None else timeout
        if self._thread.is_alive():
            self._thread.join(wait)
        if self._thread.is_alive():
            self._abort.set()  # retries give up; a send in progress ends at apprise's socket timeout
            with self._cond:
                self._cond.notify_all()
            self._thread.join(1.0)
        with self._cond:
            left = len(self._queue)
            self._queue.clear()
            self._shutdown += left
        if left:
            self._journal_drop(f"{left} alert(s) still queued at shutdown were not sent", reason="shutdown",
                               count=left)
        self._journal_full_drops()
        self.detach()
        stats = self.stats()
        logger.info("alerts: {} sent, {} merged, {} dropped", stats.sent, stats.merged, stats.dropped)
        return stats

    # -- the sender thread --------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    if not self._cond.wait(self._next_expiry()):
                        break  # a merge window ended
                alert = self._queue.popleft() if self._queue else None
                done = self._closing and alert is None
            if self._abort.is_set():
                if alert is not None:
                    with self._cond:
                        self._queue.appendleft(alert)  # counted as a shutdown drop by close()
                return
            self._journal_full_drops()
            self._send_expired_merges(final=done)
            if alert is not None:
                self._handle(alert)
            if done:
                return

    def _next_expiry(self) -> float | None:
        if not self._merges:
            return None
        oldest = min(m.since for m in self._merges.values())
        return max(0.0, oldest + self.merge_window_s - self._clock())

    def _handle(self, alert: Alert) -> None:
        if self.merge_window_s > 0:
            merge = self._merges.get(alert.key)
            if merge is not None and self._clock() - merge.since < self.merge_window_s:
                merge.repeats += 1
                with self._cond:
                    self._merged += 1
                return
            self._merges[alert.key] = _Merge(alert, self._clock())
        self._deliver(alert)

    def _send_expired_merges(self, *, final: bool = False) -> None:
        """Windows that ended: a merged alert's repeats are told once, and its window restarts
        (so a flood stays one alert per window); a window without repeats is forgotten."""
        now = self._clock()
        for key, merge in list(self._merges.items()):
            if not final and now - merge.since < self.merge_window_s:
                continue
            del self._merges[key]
            if merge.repeats:
                repeated = replace(merge.alert, title=f"{merge.alert.title} (repeated {merge.repeats}x)",
                                   fields={**merge.alert.fields, "repeated": merge.repeats,
                                           "window_s": self.merge_window_s})
                if not final:
                    self._merges[key] = _Merge(merge.alert, now)
                self._deliver(repeated)

    def _deliver(self, alert: Alert) -> None:
        for target in self.targets:
            if not target.wants(alert):
                continue
            if self._send_with_retries(target, alert):
                with self._cond:
                    self._sent += 1
                continue
            with self._cond:
                self._failed += 1
            logger.warning("{}: {} alert dropped after {} attempts", target.name, alert.event, self.retries + 1)
            self._journal_drop(f"{alert.event} alert to {target.name} dropped after {self.retries + 1} failed "
                               f"attempts: {alert.title}", reason="send_failed", count=1, event=alert.event,
                               target=target.index, attempts=self.retries + 1)

    def _send_with_retries(self, target: Target, alert: Alert) -> bool:
        for attempt in range(self.retries + 1):
            if self._abort.is_set():
                return False
            if target.send(alert):
                return True
            if attempt < self.retries and self._abort.wait(self.backoff_s * 2 ** attempt):
                return False
        return False

    # -- journaling drops ---------------------------------------------------------------------

    def _journal_full_drops(self) -> None:
        with self._cond:
            new = self._full - self._full_journaled
            self._full_journaled = self._full
        if new:
            logger.warning("alerts: {} alert(s) dropped, the queue was full ({})", new, self.queue_size)
            self._journal_drop(f"{new} alert(s) dropped: the alert queue was full ({self.queue_size})",
                               reason="queue_full", count=new)

    def _journal_drop(self, message: str, **data: Any) -> None:
        if self._journal is None:
            return
        try:
            self._journal.record_event("alert_dropped", message, severity="warning", data=data)
        except Exception as exc:  # the journal may be closing: the counters still have it
            logger.warning("alerts: could not journal a drop ({})", type(exc).__name__)


def _trade_lookup(journal: Any) -> Callable[[str], tuple[str, str, str] | None]:
    """(symbol, side, strategy) of a trade opened by an earlier run, read from ``journal``."""

    def lookup(trade_id: str) -> tuple[str, str, str] | None:
        reader = journal.reader()
        try:
            view = reader.trade(trade_id)
        finally:
            reader.close()
        return (view.symbol, view.side, view.strategy) if view is not None else None

    return lookup


class _ToLoguru(logging.Handler):
    """apprise logs through the standard library; its lines go to loguru, redacted, at DEBUG
    (a failed send is reported by the dispatcher itself, naming the target, never its URL)."""

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # logging must never raise
            logger.debug("apprise: {}", redact(record.getMessage()))


def _route_apprise_logs() -> None:
    log = logging.getLogger("apprise")
    if not any(isinstance(h, _ToLoguru) for h in log.handlers):
        log.addHandler(_ToLoguru())
        log.propagate = False


__all__ = ["AlertDispatcher", "AlertStats", "Target"]
