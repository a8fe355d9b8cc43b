"""Deterministic fault injection: latency, 5xx, 429, hangs and lost responses.

Each exchange request draws from one seeded ``random.Random`` in arrival order, so the same
seed and the same request sequence produce the same faults. A "dropped response" means the
order was accepted by the exchange but the client never hears back (it times out): the
case a bot must reconcile by ``clientOrderId``.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

#: Order-placing endpoints whose responses may be dropped after the order is accepted.
ORDER_ENDPOINTS = frozenset({("POST", "/fapi/v1/order"), ("POST", "/fapi/v1/algoOrder"),
                             ("POST", "/fapi/v1/batchOrders")})


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
        for name in ("p_5xx", "p_429", "p_timeout", "p_drop_response"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.p_5xx + self.p_429 + self.p_timeout > 1.0:
            raise ValueError("p_5xx + p_429 + p_timeout must not exceed 1")
        if self.latency_ms < 0 or self.hang_seconds < 0:
            raise ValueError("latency_ms and hang_seconds must be non-negative")


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
