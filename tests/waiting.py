"""Waiting on conditions in tests, never on fixed sleeps (issue 17).

A test that sleeps a fixed time and then asserts is wrong both ways: on a busy machine the
sleep is too short and the test fails although the code is right; on an idle one it is longer
than needed. These helpers poll a condition instead and return as soon as it holds. Their bound
is not a claim about speed: it only turns a condition that never comes (the bug the test checks)
into a failure instead of a hang, so it is generous (a loaded 2-core CI machine must never reach it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: A condition not reached in this long never will be: the test fails instead of hanging.
BOUND_S = 30.0
#: How often a condition is polled (not a wait for anything to happen: only the polling rate).
POLL_S = 0.005


def wait_until(condition: Callable[[], object], what: str, bound_s: float = BOUND_S) -> None:
    """Block until ``condition()`` is truthy; fail naming ``what`` if it never is."""
    deadline = time.monotonic() + bound_s
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(POLL_S)


async def until(condition: Callable[[], object], what: str, bound_s: float = BOUND_S) -> None:
    """:func:`wait_until` for a coroutine: other tasks on the loop run while it polls.

    It yields with ``asyncio.sleep(0)`` and only then with a short timed sleep, so it also works
    while a test has frozen the event loop's clock (a timed sleep would then never end)."""
    deadline = time.monotonic() + bound_s
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0)
        if not condition():
            await asyncio.to_thread(time.sleep, POLL_S)
