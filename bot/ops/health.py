"""Is the bot alive? Healthy while its last good (completed) cycle is recent enough.

A process that is up but no longer completes cycles (a venue outage that never heals, a stuck
call, a loop blocked by a bug) trades nothing and protects nothing new, yet ``docker ps`` shows it
"running": the health check tells the two apart. The bound is a few cycle lengths
(``[metrics] stale_after_cycles``), so one slow or skipped cycle is not an alarm. Before the first
good cycle the time is counted from the start, so a bot that never completes one turns unhealthy
after the same bound.

:func:`probe` is the client side (``derivbot health``): it asks a running bot's ``/healthz``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    message: str
    #: seconds since the last good cycle (since the start while there is none)
    age_seconds: float

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "message": self.message, "age_seconds": round(self.age_seconds, 3)}


class HealthState:
    """The last good cycle's time on a monotonic clock, and the bound it is judged against.

    ``clock`` is injectable so a test can move time past the bound without sleeping.
    """

    def __init__(self, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not max_age_s > 0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s!r}")
        self.max_age_s = max_age_s
        self._clock = clock
        self._started = clock()
        self._last_good: float | None = None

    def record_good_cycle(self) -> None:
        self._last_good = self._clock()

    def age(self) -> float:
        """Seconds since the last good cycle (since the start while there is none)."""
        since = self._last_good if self._last_good is not None else self._started
        return max(0.0, self._clock() - since)

    def verdict(self) -> Verdict:
        age = self.age()
        ok = age <= self.max_age_s
        what = "last good cycle" if self._last_good is not None else "no good cycle yet, started"
        state = "healthy" if ok else "unhealthy"
        return Verdict(ok, f"{state}: {what} {age:.1f} s ago (bound {self.max_age_s:g} s)", age)


def healthz_url(host: str, port: int) -> str:
    """The ``/healthz`` URL of a server bound to ``host``; a wildcard bind is asked on loopback."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host in ("::", "[::]"):
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def probe(url: str, timeout_s: float = 5.0) -> Verdict:
    """Ask a running bot's ``/healthz``; no answer is unhealthy too, with what to check."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return _verdict_from(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 503:
            return _verdict_from(exc.read())
        return Verdict(False, f"unhealthy: {url} answered HTTP {exc.code}", float("nan"))
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Verdict(False, f"unhealthy: no bot answers at {url} ({reason}): is it running, with "
                              "[metrics] enabled = true and this host and port?", float("nan"))


def _verdict_from(body: bytes) -> Verdict:
    try:
        data = json.loads(body)
        return Verdict(bool(data["ok"]), str(data["message"]), float(data["age_seconds"]))
    except (ValueError, KeyError, TypeError):
        return Verdict(False, "unhealthy: /healthz answered something that is not derivbot's health JSON",
                       float("nan"))
