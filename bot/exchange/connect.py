"""``connect(settings)``: the only function that builds a ccxt client.

Three targets, chosen by the settings:

* real exchange (default);
* the exchange's demo venue (``exchange.testnet``): Binance's ``enable_demo_trading(True)``,
  never the deprecated futures sandbox, which raises on every signed call in ccxt 4.5;
* an emulator (``exchange.base_url``): every string entry of ``urls['api']`` keeps its path
  and gets the emulator's scheme/host/port (reference §1), and the linear error table is
  merged into ``exceptions['exact']`` so a loopback URL maps errors like the real host (§0.1).

Keys come from ``SecretStr`` and are handed to ccxt only; nothing here logs them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
from loguru import logger

from bot.config import Settings

_HOST = re.compile(r"^https?://[^/]+")
#: Binance USDⓈ-M allows 2,400 request weight per minute per IP.
BINANCE_MS_PER_WEIGHT = 60_000 / 2400


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    plain = value.get_secret_value()
    return plain or None


def rewrite_urls(api_urls: dict[str, Any], base_url: str) -> dict[str, Any]:
    """Replace the scheme+host of every string URL (nested dicts such as ``ws`` are kept)."""
    base = base_url.rstrip("/")
    return {k: (_HOST.sub(base, v) if isinstance(v, str) else v) for k, v in api_urls.items()}


def connect(settings: Settings, *, exchange_id: str | None = None, pro: bool = False) -> ccxt_async.Exchange:
    """Build (not open) the async ccxt client for ``settings``; close it with ``await ex.close()``.

    ``pro=True`` builds the ccxt.pro (WebSocket) client of the same exchange, e.g. for the
    liquidation stream; everything else (keys, demo venue, limits) is configured the same way.
    """
    cfg = settings.exchange
    ex_id = exchange_id or cfg.id
    module = ccxt_pro if pro else ccxt_async
    klass = getattr(module, ex_id, None)
    if klass is None:
        raise ValueError(f"unknown ccxt exchange id {ex_id!r}")
    options: dict[str, Any] = {}
    params: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": int(cfg.timeout_ms),
        "options": options,
    }
    api_key, api_secret = _secret(cfg.api_key), _secret(cfg.api_secret)
    if api_key:
        params["apiKey"] = api_key
    if api_secret:
        params["secret"] = api_secret
    if ex_id in ("binanceusdm", "binance"):
        # ccxt's limiter is the second line of defence: pace it at Binance's real IP limit
        # (2,400 weight/min = 25 ms per unit; ccxt's default 50 ms is 1,200/min). Our own
        # request budget (bot.market.budget, exchange.request_budget_per_minute) is the binding
        # one. Set at construction: ccxt builds its throttler from it.
        params["rateLimit"] = BINANCE_MS_PER_WEIGHT
    emulated = cfg.base_url is not None and ex_id == cfg.id
    if emulated:
        # The emulator has no wallet (sapi) endpoints worth calling. Its market clock may run
        # accelerated, but it checks signatures' timestamps against wall time like Binance, so
        # ccxt signs with its own clock (no adjustForTimeDifference).
        options["fetchCurrencies"] = False
    exchange = klass(params)
    if ex_id in ("binanceusdm", "binance"):
        fetch_open = dict(exchange.options.get("fetchOpenOrders") or {})
        fetch_open["warnWithoutSymbol"] = False
        exchange.options["fetchOpenOrders"] = fetch_open
    if emulated:
        assert cfg.base_url is not None
        exchange.urls["api"] = rewrite_urls(exchange.urls["api"], cfg.base_url)
        linear = (exchange.exceptions.get("linear") or {}).get("exact") or {}
        exchange.exceptions["exact"] = exchange.extend(exchange.exceptions["exact"], linear)
        target = "emulator"
    elif cfg.testnet:
        if hasattr(exchange, "enable_demo_trading") and ex_id in ("binanceusdm", "binance", "bybit"):
            exchange.enable_demo_trading(True)
        else:
            exchange.set_sandbox_mode(True)
        target = "demo/testnet"
    else:
        target = "live endpoints"
    logger.info("ccxt {} client built for {} (keys {})", ex_id, target,
                "present" if api_key and api_secret else "absent")
    return exchange


@asynccontextmanager
async def connected(settings: Settings, *, exchange_id: str | None = None) -> AsyncIterator[ccxt_async.Exchange]:
    """``async with connected(settings) as ex:`` -- the client is closed on every exit path."""
    exchange = connect(settings, exchange_id=exchange_id)
    try:
        yield exchange
    finally:
        await exchange.close()
