"""The health rule (bot.ops.health): healthy while the last good cycle is at most the bound old.

Times are moved by hand on an injected clock; the expected verdicts are worked out from the
rule's definition (age = now - last good cycle, or - start before the first; ok iff age <= bound).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ops.health import HealthState, healthz_url, probe


class _Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_the_bound_is_inclusive_and_a_good_cycle_resets_the_age() -> None:
    clock = _Clock(100.0)
    health = HealthState(180.0, clock)
    clock.t = 280.0  # 180 s after the start, no cycle yet: at the bound, still healthy
    assert health.verdict().ok
    assert health.verdict().message == "healthy: no good cycle yet, started 180.0 s ago (bound 180 s)"
    clock.t = 280.1
    assert not health.verdict().ok  # never completed a cycle within the bound
    health.record_good_cycle()
    clock.t = 300.0
    verdict = health.verdict()
    assert verdict.ok and verdict.age_seconds == pytest.approx(19.9)
    clock.t = 460.2  # 180.1 s after the last good cycle
    assert health.verdict().message == "unhealthy: last good cycle 180.1 s ago (bound 180 s)"


@given(bound=st.floats(0.001, 1e6), good_at=st.floats(0, 1e6), later=st.floats(0, 2e6))
def test_healthy_exactly_while_the_age_is_within_the_bound(bound: float, good_at: float, later: float) -> None:
    clock = _Clock(0.0)
    health = HealthState(bound, clock)
    clock.t = good_at
    health.record_good_cycle()
    clock.t = good_at + later
    assert health.verdict().ok is ((good_at + later) - good_at <= bound)


def test_a_bound_that_is_not_positive_is_refused() -> None:
    with pytest.raises(ValueError, match="max_age_s must be > 0"):
        HealthState(0.0)


def test_the_url_asks_a_wildcard_bind_on_loopback() -> None:
    assert healthz_url("127.0.0.1", 9464) == "http://127.0.0.1:9464/healthz"
    assert healthz_url("0.0.0.0", 9464) == "http://127.0.0.1:9464/healthz"
    assert healthz_url("::", 9464) == "http://[::1]:9464/healthz"
    assert healthz_url("::1", 1) == "http://[::1]:1/healthz"


def test_nobody_listening_is_unhealthy_with_what_to_check() -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago and is closed now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    verdict = probe(f"http://127.0.0.1:{port}/healthz", timeout_s=5)
    assert not verdict.ok
    assert verdict.message.startswith(f"unhealthy: no bot answers at http://127.0.0.1:{port}/healthz")
    assert "[metrics] enabled = true" in verdict.message
