"""Request weights and the IP limit: 429 past the per-minute budget, 418 for clients that ignore it.

Weights are the ones Binance documents for USDⓈ-M (they depend on parameters: ``depth`` by
``limit``, ``ticker/24hr`` and ``openOrders`` by whether a symbol is given). The budget is
counted over a rolling 60 s window of *wall* time, because a rate limit is about real
requests, not about the simulated market clock.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.emulator import errors
from bot.exchange.binance_weights import klines_weight

WINDOW_S = 60.0
USED_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
ORDER_COUNT_10S_HEADER = "X-MBX-ORDER-COUNT-10S"
ORDER_COUNT_1M_HEADER = "X-MBX-ORDER-COUNT-1M"
#: Requests that place orders: the only ones the ORDERS rate limits count (cancels never do).
NEW_ORDER_ENDPOINTS = frozenset({("POST", "/fapi/v1/order"), ("POST", "/fapi/v1/algoOrder"),
                                 ("POST", "/fapi/v1/batchOrders")})
#: Binance USDⓈ-M exchangeInfo ``rateLimits``: ORDERS 300 per 10 SECOND and 1,200 per 1 MINUTE.
ORDERS_PER_10S = 300
ORDERS_PER_MINUTE = 1200
#: Largest order limit the control API accepts (far above Binance's; only tests lower them).
MAX_ORDER_LIMIT = 1_000_000


def _depth_weight(params: Mapping[str, str]) -> int:
    limit = _int(params.get("limit"), 500)
    if limit <= 50:
        return 2
    if limit <= 100:
        return 5
    if limit <= 500:
        return 10
    return 20


def _klines_weight(params: Mapping[str, str]) -> int:
    return klines_weight(_int(params.get("limit"), 500))


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def _with_symbol(with_symbol: int, without: int) -> Callable[[Mapping[str, str]], int]:
    return lambda params: with_symbol if params.get("symbol") else without


# (method, path) -> weight or a function of the parameters. Unlisted paths weigh 1.
_WEIGHTS: dict[tuple[str, str], int | Callable[[Mapping[str, str]], int]] = {
    ("GET", "/fapi/v1/depth"): _depth_weight,
    ("GET", "/fapi/v1/klines"): _klines_weight,
    ("GET", "/fapi/v1/markPriceKlines"): _klines_weight,
    ("GET", "/fapi/v1/ticker/24hr"): _with_symbol(1, 40),
    ("GET", "/fapi/v1/ticker/bookTicker"): _with_symbol(2, 5),
    ("GET", "/fapi/v2/ticker/price"): _with_symbol(1, 2),
    ("GET", "/fapi/v1/openOrders"): _with_symbol(1, 40),
    ("GET", "/fapi/v1/openAlgoOrders"): _with_symbol(1, 40),
    ("GET", "/fapi/v1/allOrders"): 5,
    ("GET", "/fapi/v1/allAlgoOrders"): 5,
    ("GET", "/fapi/v3/account"): 5,
    ("GET", "/fapi/v2/account"): 5,
    ("GET", "/fapi/v3/positionRisk"): 5,
    ("GET", "/fapi/v2/positionRisk"): 5,
    ("GET", "/fapi/v1/symbolConfig"): 5,
    ("GET", "/fapi/v1/userTrades"): 5,
    ("GET", "/fapi/v1/income"): 30,
    ("GET", "/fapi/v1/forceOrders"): _with_symbol(20, 50),
    ("GET", "/fapi/v1/commissionRate"): 20,
    ("GET", "/fapi/v1/positionSide/dual"): 30,
    ("GET", "/fapi/v1/multiAssetsMargin"): 30,
    ("GET", "/fapi/v1/feeBurn"): 30,
    ("GET", "/fapi/v1/leverageBracket"): 1,
    ("POST", "/fapi/v1/batchOrders"): 5,
}


def request_weight(method: str, path: str, params: Mapping[str, str]) -> int:
    """Binance's weight of one request; sapi paths count against a separate limit (0 here)."""
    if path.startswith("/sapi/") or path.startswith("/_sim/"):
        return 0
    rule = _WEIGHTS.get((method, path), 1)
    return rule(params) if callable(rule) else rule


@dataclass
class LimiterConfig:
    max_weight: int = 2400
    #: Requests answered 429 in a row (within the window) before the IP is banned (418).
    ban_after_429s: int = 10
    ban_seconds: int = 120


class WeightLimiter:
    """Rolling-minute weight counter with Binance's 429 -> 418 escalation."""

    def __init__(self, config: LimiterConfig | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or LimiterConfig()
        self._clock = clock
        self._events: deque[tuple[float, int]] = deque()
        self._used = 0
        self._rejections: deque[float] = deque()
        self._banned_until = 0.0

    @property
    def used(self) -> int:
        self._expire(self._clock())
        return self._used

    def reset(self) -> None:
        self._events.clear()
        self._rejections.clear()
        self._used = 0
        self._banned_until = 0.0

    def _expire(self, now: float) -> None:
        while self._events and self._events[0][0] <= now - WINDOW_S:
            _, weight = self._events.popleft()
            self._used -= weight
        while self._rejections and self._rejections[0] <= now - WINDOW_S:
            self._rejections.popleft()

    def admit(self, weight: int) -> int:
        """Count a request of ``weight``; return the used weight, or raise 429/418."""
        now = self._clock()
        self._expire(now)
        if now < self._banned_until:
            raise errors.ip_banned(int(time.time() * 1000 + (self._banned_until - now) * 1000),
                                   max(1, math.ceil(self._banned_until - now)))
        if weight and self._used + weight > self.config.max_weight:
            self._rejections.append(now)
            if len(self._rejections) > self.config.ban_after_429s:
                self._banned_until = now + self.config.ban_seconds
                self._rejections.clear()
                raise errors.ip_banned(int(time.time() * 1000 + self.config.ban_seconds * 1000),
                                       self.config.ban_seconds)
            raise errors.too_many_requests(self.config.max_weight, self._retry_after(now, weight))
        if weight:
            self._events.append((now, weight))
            self._used += weight
        return self._used

    def _retry_after(self, now: float, weight: int) -> int:
        """Seconds until enough weight has rolled out of the window to admit ``weight``."""
        excess = self._used + weight - self.config.max_weight
        freed = 0
        for ts, w in self._events:
            freed += w
            if freed >= excess:
                return max(1, math.ceil(ts + WINDOW_S - now))
        return max(1, math.ceil(WINDOW_S))


@dataclass
class OrderLimits:
    """The account's ORDERS rate limits (exchangeInfo ``rateLimits``), Binance's by default."""

    per_10s: int = ORDERS_PER_10S
    per_minute: int = ORDERS_PER_MINUTE

    def validate(self) -> None:
        for name in ("per_10s", "per_minute"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ORDER_LIMIT:
                raise ValueError(f"{name} must be an integer within [1, {MAX_ORDER_LIMIT}], got {value!r}"[:160])


class OrderCountLimiter:
    """Binance's per-account ORDERS limits: new orders in the last 10 s and the last minute.

    Binance USDⓈ-M ("General Info", order rate limits): every order response carries
    ``X-MBX-ORDER-COUNT-10S`` / ``X-MBX-ORDER-COUNT-1M``; past a limit a new order is refused with
    HTTP 429 and -1015 "Too many new orders" (no ``Retry-After``); cancels are never counted.
    Counted on wall time like the weight limit: it is about real requests, not the replay clock.
    Algo (conditional) orders count too: stricter than Binance if its algo service counts them
    apart, never looser.
    """

    def __init__(self, limits: OrderLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or OrderLimits()
        self.limits.validate()
        self._clock = clock
        self._times: deque[float] = deque()

    def reset(self) -> None:
        self._times.clear()

    def _expire(self, now: float) -> None:
        while self._times and self._times[0] <= now - WINDOW_S:
            self._times.popleft()

    def counts(self) -> tuple[int, int]:
        """(orders in the last 10 s, orders in the last minute)."""
        now = self._clock()
        self._expire(now)
        recent = sum(1 for t in reversed(self._times) if t > now - 10.0)
        return recent, len(self._times)

    def admit(self) -> None:
        """Count one new order, or raise -1015 (HTTP 429) if either window is full."""
        in_10s, in_1m = self.counts()
        if in_10s >= self.limits.per_10s:
            raise _too_many_orders(self.limits.per_10s, "10 SECOND")
        if in_1m >= self.limits.per_minute:
            raise _too_many_orders(self.limits.per_minute, "1 MINUTE")
        self._times.append(self._clock())

    def headers(self) -> dict[str, str]:
        in_10s, in_1m = self.counts()
        return {ORDER_COUNT_10S_HEADER: str(in_10s), ORDER_COUNT_1M_HEADER: str(in_1m)}


def _too_many_orders(limit: int, interval: str) -> errors.BinanceError:
    """-1015 at HTTP 429 (ccxt: DDoSProtection, as for every 429): Binance's TOO_MANY_ORDERS."""
    return errors.BinanceError(-1015, f"Too many new orders; current limit is {limit} orders per {interval}.", 429)
