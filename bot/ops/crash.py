"""The crash alert: an exit nobody asked for, told by the process itself where it can.

A run ends by request (Ctrl-C, SIGTERM, ``--max-cycles``, ``--duration``, the kill switch) or it
crashes. The engine's own error path journals an ``error: ...`` exit reason, which the alert rules
turn into a ``crash`` alert. :class:`CrashGuard` covers what happens outside it:

* an exception out of the run's assembly or teardown (the journal or the venue could not be
  opened, a bug in the runner): :meth:`CrashGuard.report` from the runner's exception path;
* the interpreter exiting while a run is still open (``sys.exit`` from a library, an exception
  that skipped the runner's handler): an ``atexit`` hook, armed for the run's lifetime.

Only one crash alert is sent per process (the first one wins). What no code in the process can
report: SIGKILL, the out-of-memory killer, a power loss, a hung process. For those a watchdog
outside the process must notice that the heartbeat went stale: the engine writes an equity
snapshot (its heartbeat) every cycle, so a run whose latest ``equity_snapshots`` row is older than
a few ``engine.cycle_seconds`` while its run has no ``run_stops`` row is dead or hung (see
docs/operations.md).
"""

from __future__ import annotations

import atexit

from bot.logging import redact
from bot.ops.alert_rules import Alert
from bot.ops.alerts import AlertDispatcher


class CrashGuard:
    """Sends the crash alert for ``dispatcher`` when the process ends without a requested stop."""

    def __init__(self, dispatcher: AlertDispatcher) -> None:
        self.dispatcher = dispatcher
        self.armed = False

    def arm(self) -> None:
        """From here until :meth:`disarm`, an interpreter exit is a crash."""
        if not self.armed:
            self.armed = True
            atexit.register(self._at_exit)

    def disarm(self) -> None:
        if self.armed:
            self.armed = False
            atexit.unregister(self._at_exit)

    def report(self, error: BaseException | str) -> bool:
        """Queue the crash alert for ``error`` unless one was already queued (the engine's own
        ``error: ...`` exit reaches the dispatcher through the journal first). Returns whether
        this call queued it."""
        if self.dispatcher.crash_reported:
            return False
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        what = text if isinstance(error, str) else type(error).__name__
        return self.dispatcher.submit(Alert("crash", "critical", f"derivbot crashed ({redact(what)})",
                                            {"error": redact(" ".join(text.split()))[:500]}))

    def _at_exit(self) -> None:
        if not self.armed:
            return
        self.armed = False
        self.report("the process exited while its run was still open")
        self.dispatcher.close()


__all__ = ["CrashGuard"]
