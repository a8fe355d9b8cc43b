"""Request-weight budget and retry policy for exchange REST calls.

ccxt's own limiter (``enableRateLimit``) spaces requests by its cost table, but it knows
nothing about *our* share of the IP budget (``settings.exchange.request_budget_per_minute``),
about Binance's 429 ``Retry-After`` or about 418 bans. :class:`RequestBudget` sits on top of
it: every call is admitted through an ``asyncio-throttle`` window sized in weight units, is
counted (for ``scripts/bench_feed.py`` and the logs), and is retried on transient network
errors with jittered, bounded exponential backoff.

Error classes matter: ccxt raises ``DDoSProtection`` for HTTP 429/418, which is a sibling of
``RateLimitExceeded`` (both subclass ``NetworkError``), so catching only ``RateLimitExceeded``
would miss every real rate-limit reply.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import ccxt
from asyncio_throttle import Throttler
from loguru import logger

from bot.exchange.binance_weights import BINANCE_WEIGHTS, klines_weight

T = TypeVar("T")

def endpoint_weight(endpoint: str, *, with_symbol: bool = True, limit: int | None = None) -> int:
    """Weight of one request; unknown endpoints weigh 1 (Binance's default)."""
    if endpoint in ("klines", "markPriceKlines"):
        return klines_weight(limit if limit is not None else 500)
    pair = BINANCE_WEIGHTS.get(endpoint, (1, 1))
    return pair[0] if with_symbol else pair[1]


class BudgetExhausted(Exception):
    """A call gave up: retries used up, or the exchange asked us to wait longer than allowed."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded jittered exponential backoff for transient errors."""

    max_attempts: int = 4
    base_delay_s: float = 0.25
    max_delay_s: float = 8.0
    #: Longest Retry-After / ban we wait out inside one call; beyond it the call fails fast
    #: (the scan flags the symbol) and the pause still applies to the following calls.
    max_wait_s: float = 30.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay before retry number ``attempt`` (1-based): full jitter on an exponential cap."""
        cap = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return rng.uniform(cap / 2, cap)


def retry_after_seconds(headers: Mapping[str, Any] | None) -> float | None:
    """``Retry-After`` in seconds from a response's headers (case-insensitive), if present."""
    if not headers:
        return None
    for key, value in headers.items():
        if str(key).lower() == "retry-after":
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                return None
            return seconds if seconds >= 0 else None
    return None


class RequestBudget:
    """Admits weighted requests within a per-minute budget and retries transient failures.

    One instance per exchange client (weights are per IP and per venue).
    """

    def __init__(
        self,
        per_minute: int,
        *,
        policy: RetryPolicy | None = None,
        seed: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 1:
            raise ValueError(f"request budget must be >= 1 weight per minute, got {per_minute}")
        self.per_minute = per_minute
        self.policy = policy or RetryPolicy()
        self._throttler = Throttler(rate_limit=per_minute, period=60.0, retry_interval=0.05)
        self._rng = random.Random(seed)
        self._sleep = sleep
        self._monotonic = monotonic
        self._paused_until = 0.0
        self.used_weight = 0
        self.requests = 0
        self.retries = 0
        self.by_endpoint: Counter[str] = Counter()

    # -- accounting -----------------------------------------------------------------------

    def snapshot_counters(self) -> tuple[int, int]:
        """(weight used, requests made) so far; subtract two snapshots to cost a scan."""
        return self.used_weight, self.requests

    async def _admit(self, endpoint: str, weight: int) -> None:
        if weight > self.per_minute:
            raise ValueError(f"{endpoint} weighs {weight}, more than the whole budget {self.per_minute}/min")
        wait = self._paused_until - self._monotonic()
        if wait > 0:
            await self._sleep(wait)
        for _ in range(weight):
            await self._throttler.acquire()
        self.used_weight += weight
        self.requests += 1
        self.by_endpoint[endpoint] += weight

    def pause(self, seconds: float) -> None:
        """Hold every following request for ``seconds`` (after a 429 or a 418 ban)."""
        self._paused_until = max(self._paused_until, self._monotonic() + seconds)

    # -- the call wrapper -----------------------------------------------------------------

    async def call(
        self,
        endpoint: str,
        weight: int,
        fn: Callable[[], Awaitable[T]],
        *,
        headers: Callable[[], Mapping[str, Any] | None] | None = None,
    ) -> T:
        """Run ``fn`` inside the budget; retry network errors, honour Retry-After on 429/418.

        ``headers`` returns the last response's headers (``client.last_response_headers``),
        read only after a rate-limit error. Non-network errors (bad symbol, exchange errors,
        bad payloads) propagate at once: retrying them cannot help.
        """
        attempt = 0
        while True:
            attempt += 1
            await self._admit(endpoint, weight)
            try:
                return await fn()
            except ccxt.DDoSProtection as exc:  # HTTP 429 / 418 (not a RateLimitExceeded!)
                delay = self._rate_limit_delay(headers, attempt)
                self.pause(delay)
                self._give_up_or_log(endpoint, attempt, delay, exc)
            except ccxt.RateLimitExceeded as exc:  # -1003 / -1015 without a 429 status
                delay = self._rate_limit_delay(headers, attempt)
                self.pause(delay)
                self._give_up_or_log(endpoint, attempt, delay, exc)
            except ccxt.NetworkError as exc:  # timeouts, 5xx, connection resets
                delay = self.policy.backoff(attempt, self._rng)
                self._give_up_or_log(endpoint, attempt, delay, exc)
                await self._sleep(delay)
            self.retries += 1

    def _rate_limit_delay(self, headers: Callable[[], Mapping[str, Any] | None] | None, attempt: int) -> float:
        advised = retry_after_seconds(headers() if headers else None)
        if advised is not None:
            return advised
        return self.policy.backoff(attempt, self._rng) * 4  # no advice: back off harder than for 5xx

    def _give_up_or_log(self, endpoint: str, attempt: int, delay: float, exc: Exception) -> None:
        name = type(exc).__name__
        if attempt >= self.policy.max_attempts:
            raise BudgetExhausted(f"{endpoint}: gave up after {attempt} attempts ({name}: {exc})") from exc
        if delay > self.policy.max_wait_s:
            raise BudgetExhausted(
                f"{endpoint}: exchange asks to wait {delay:.0f}s (> {self.policy.max_wait_s:.0f}s); "
                f"requests paused ({name})"
            ) from exc
        logger.debug("{}: {} on attempt {}, retrying in {:.2f}s", endpoint, name, attempt, delay)
