"""Deterministic fault injection: latency, 5xx, 429, hangs and lost responses.

Each exchange request draws from one seeded ``random.Random`` in arrival order, so the same
seed and the same request sequence produce the same faults. A "dropped response" means the
order was accepted by the exchange but the client never hears back (it times out): the
case a bot must reconcile by ``clientOrderId``.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

#: Order-placing endpoints whose responses may be dropped after the order is accepted.
ORDER_ENDPOINTS = frozenset({("POST", "/fapi/v1/order"), ("POST", "/fapi/v1/algoOrder"),
                             ("POST", "/fapi/v1/batchOrders")})

#: Added latency above a minute only hangs every client (ccxt times out after 10 s by default).
MAX_LATENCY_MS = 60_000.0
#: A hung request waits at most this long; longer only ties up server tasks.
MAX_HANG_SECONDS = 600.0
MAX_SEED = 2**63 - 1
MAX_PATHS, MAX_PATH_CHARS = 100, 200
_PROBABILITIES = ("p_5xx", "p_429", "p_timeout", "p_drop_response")


def _number_in(name: str, value: object, lo: float, hi: float) -> None:
    """A finite real number (not a bool, not a string) within [lo, hi], else a ValueError naming the field."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a number within [{lo:g}, {hi:g}], got {value!r}"[:160])


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


class Fault(StrEnum):
    NONE = "none"
    SERVER_ERROR = "5xx"
    RATE_LIMIT = "429"
    TIMEOUT = "timeout"  # hang before processing: nothing happened on the exchange
    DROP_RESPONSE = "drop"  # process, then hang: the order exists but the client never knows


@dataclass
class FaultConfig:
    latency_ms: float = 0.0
    p_5xx: float = 0.0
    p_429: float = 0.0
    p_timeout: float = 0.0
    p_drop_response: float = 0.0
    #: How long a hung request waits before the server gives up (longer than the client timeout).
    hang_seconds: float = 65.0
    #: Only requests whose path starts with one of these are affected (empty = every exchange path).
    paths: list[str] = field(default_factory=list)
    seed: int = 0

    def validate(self) -> None:
        """Every field typed, finite and bounded: NaN or 1e12 ms latency would hang every request."""
        for name in _PROBABILITIES:
            _number_in(name, getattr(self, name), 0.0, 1.0)
        if self.p_5xx + self.p_429 + self.p_timeout > 1.0:
            raise ValueError("p_5xx + p_429 + p_timeout must not exceed 1")
        _number_in("latency_ms", self.latency_ms, 0.0, MAX_LATENCY_MS)
        _number_in("hang_seconds", self.hang_seconds, 0.0, MAX_HANG_SECONDS)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be an integer within [0, {MAX_SEED}], got {self.seed!r}"[:160])
        paths = self.paths
        if not isinstance(paths, list) or len(paths) > MAX_PATHS or not all(
                isinstance(p, str) and p.startswith("/") and len(p) <= MAX_PATH_CHARS for p in paths):
            raise ValueError(f"paths must be a list of at most {MAX_PATHS} strings starting with '/' "
                             f"(each <= {MAX_PATH_CHARS} chars)")


class FaultInjector:
    """Decides, per request, which fault (if any) to inject."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.configure(config or FaultConfig())
        self.counts: dict[str, int] = {f.value: 0 for f in Fault}

    def configure(self, config: FaultConfig) -> None:
        config.validate()
        self.config = config
        self._rng = random.Random(config.seed)

    def update(self, changes: dict[str, Any]) -> FaultConfig:
        """Apply a partial update (control API); unknown keys are an error, the RNG is re-seeded."""
        current = asdict(self.config)
        unknown = set(changes) - set(current)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(sorted(current))}")
        current.update(changes)
        config = FaultConfig(**current)
        self.configure(config)
        return config

    @property
    def active(self) -> bool:
        c = self.config
        return bool(c.latency_ms or c.p_5xx or c.p_429 or c.p_timeout or c.p_drop_response)

    def applies_to(self, path: str) -> bool:
        return not self.config.paths or any(path.startswith(p) for p in self.config.paths)

    def draw(self, method: str, path: str) -> Fault:
        """One fault decision; a single uniform draw keeps the sequence reproducible."""
        if not self.active or not self.applies_to(path):
            return Fault.NONE
        c = self.config
        u = self._rng.random()
        fault = Fault.NONE
        if u < c.p_5xx:
            fault = Fault.SERVER_ERROR
        elif u < c.p_5xx + c.p_429:
            fault = Fault.RATE_LIMIT
        elif u < c.p_5xx + c.p_429 + c.p_timeout:
            fault = Fault.TIMEOUT
        elif (method, path) in ORDER_ENDPOINTS:
            v = self._rng.random()
            if v < c.p_drop_response:
                fault = Fault.DROP_RESPONSE
        self.counts[fault.value] += 1
        return fault
