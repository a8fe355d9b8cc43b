"""Clocks: simulated (stepped, monotonic), accelerated (real time x N), wall."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.timeutil import now_ms
from bot.data.clock import AcceleratedClock, Clock, SimClock, WallClock


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_all_clocks_satisfy_the_protocol() -> None:
    for clock in (SimClock(0), WallClock(), AcceleratedClock(0, 2.0)):
        assert isinstance(clock, Clock)


def test_sim_clock_moves_only_when_told() -> None:
    c = SimClock(1_000)
    assert c.now_ms() == 1_000 and c.now_ms() == 1_000
    assert c.advance(3_600_000) == 3_601_000
    c.set(5_000_000)
    assert c.now_ms() == 5_000_000
    with pytest.raises(ValueError, match="backwards"):
        c.set(4_999_999)
    with pytest.raises(ValueError, match="delta_ms >= 0"):
        c.advance(-1)


@given(st.lists(st.integers(min_value=0, max_value=10**9), max_size=50))
def test_sim_clock_is_the_sum_of_its_steps(steps: list[int]) -> None:
    c = SimClock(7)
    seen = [c.now_ms()]
    for s in steps:
        seen.append(c.advance(s))
    assert c.now_ms() == 7 + sum(steps)
    assert seen == sorted(seen)


def test_accelerated_clock_scales_elapsed_time() -> None:
    mono = FakeMonotonic()
    c = AcceleratedClock(start_ms=1_700_000_000_000, speed=60.0, monotonic=mono)
    assert c.now_ms() == 1_700_000_000_000
    mono.t += 60.0  # one real minute
    assert c.now_ms() == 1_700_000_000_000 + 3_600_000  # one simulated hour
    with pytest.raises(ValueError, match="speed must be > 0"):
        AcceleratedClock(0, 0)


def test_wall_clock_is_now() -> None:
    before = now_ms()
    t = WallClock().now_ms()
    assert before <= t <= now_ms()
