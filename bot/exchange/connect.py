"""``connect(settings)``: the only function that builds a ccxt client, and the one place that
decides which endpoints a client may reach and whether it holds the API keys.

The **mode** decides the endpoints (issue 16, item 1: a testnet run used to reach production
because ``exchange.testnet`` was false). Endpoint families:

* ``production``: the exchange's real hosts;
* ``demo``: the exchange's demo venue. Binance/Bybit: ``enable_demo_trading(True)``, never
  Binance's deprecated futures sandbox, which raises on every signed call in ccxt 4.5; OKX:
  its sandbox (same host plus the ``x-simulated-trading`` header);
* ``emulator``: an explicit ``exchange.base_url`` (``--exchange-url``): every entry of
  ``urls['api']``, nested ``ws`` dicts included, keeps its path and gets the base URL's
  scheme/host/port (reference §1), and the linear error table is merged into
  ``exceptions['exact']`` so a loopback URL maps errors like the real host (§0.1).

The policy (:func:`plan_endpoints`), mode by mode:

========  ==========================================================  ==========================
mode      endpoints                                                   API keys
========  ==========================================================  ==========================
paper     ``base_url`` -> emulator; else ``exchange.testnet`` -> demo;  never: paper reads public
          else production                                               market data only
testnet   ``base_url`` -> emulator; else demo, whatever                 yes (if configured)
          ``exchange.testnet`` says (the mode decides)
live      refused unless ``live.enabled = true`` AND the               yes (if configured)
          ``--i-accept-live-risk`` flag (``live_opt_in``); then
          ``base_url`` -> emulator, else production
========  ==========================================================  ==========================

Decided contradictions: live mode with ``exchange.testnet = true`` is refused (a live run that
trades on a demo venue, or a "testnet" config that trades real money, are both guesses we will
not make). ``exchange.testnet = false`` in testnet mode is not refused: it is the default of
``config/paper.toml`` and only chooses paper mode's market-data venue. A client for another
exchange than ``exchange.id`` (``exchange_id=...``, e.g. an extra funding source) and a
``public=True`` client never get the keys; a keyless client cannot trade, so it needs no live
opt-in.

Defence in depth: after building, :func:`endpoint_family` reads the URLs the client will really
use (every entry of ``urls['api']``, nested ``ws`` dicts included) and a client that holds keys
and reaches a production host outside live mode with both opt-ins is refused, whatever the plan
said (e.g. an ``--exchange-url`` that names a production host in testnet mode).

Keys come from ``SecretStr`` and are handed to ccxt only; nothing here logs them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
from loguru import logger

from bot.config import ConfigError, Settings
from bot.core.enums import Mode

_HOST = re.compile(r"^(?P<scheme>[a-z]+)://[^/]+", re.IGNORECASE)
#: Binance USDⓈ-M allows 2,400 request weight per minute per IP.
BINANCE_MS_PER_WEIGHT = 60_000 / 2400
#: Exchanges whose demo venue is ccxt's ``enable_demo_trading`` (the others use the sandbox).
_DEMO_TRADING_IDS = ("binanceusdm", "binance", "bybit")
#: Keys of ccxt's ``urls`` that describe demo/testnet venues (``demotrading`` is Bybit's).
_DEMO_URL_KEYS = ("demo", "test", "demotrading")

Family = Literal["production", "demo", "emulator"]


class EndpointPolicyError(ConfigError):
    """A mode/config combination that could reach the wrong venue; the message says what to fix.

    A :class:`~bot.config.ConfigError`, so the CLI prints it as one line and exits 2.
    """


@dataclass(frozen=True)
class EndpointPlan:
    """What a client for a settings/mode combination may be: its endpoint family and keys."""

    exchange_id: str
    family: Family
    keys: bool


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    plain = value.get_secret_value()
    return plain or None


def _rewrite(url: str, base: str) -> str:
    """``url`` with ``base``'s scheme/host/port and its own path; ws(s) URLs keep a ws scheme."""
    scheme = urlsplit(url).scheme.lower()
    target = base
    if scheme in ("ws", "wss"):
        target = re.sub(r"^http", "ws", base, flags=re.IGNORECASE)
    return _HOST.sub(target, url)


def rewrite_urls(api_urls: dict[str, Any], base_url: str) -> dict[str, Any]:
    """Replace the scheme+host of every URL, nested dicts (``ws``) included.

    Nested dicts used to be kept, so a ccxt.pro client "pointed at the emulator" still held the
    production WebSocket hosts; now nothing of the real exchange survives the rewrite.
    """
    base = base_url.rstrip("/")
    out: dict[str, Any] = {}
    for key, value in api_urls.items():
        if isinstance(value, str):
            out[key] = _rewrite(value, base)
        elif isinstance(value, dict):
            out[key] = rewrite_urls(value, base)
        else:
            out[key] = value
    return out


def _live_allowed(settings: Settings, live_opt_in: bool) -> bool:
    return settings.mode is Mode.LIVE and settings.live.enabled and live_opt_in


def _keys_configured(settings: Settings) -> bool:
    cfg = settings.exchange
    return bool(_secret(cfg.api_key) and _secret(cfg.api_secret))


def _check_live(settings: Settings, *, live_opt_in: bool, keyed: bool) -> None:
    """Refuse live contradictions, and a keyed live client without both opt-ins."""
    if settings.mode is not Mode.LIVE:
        return
    if settings.exchange.testnet:
        raise EndpointPolicyError(
            "live mode with exchange.testnet = true is contradictory: set exchange.testnet = false to trade "
            "live, or use --mode testnet for the demo venue")
    if keyed and not settings.live.enabled:
        raise EndpointPolicyError("live mode needs live.enabled = true in the config AND --i-accept-live-risk")
    if keyed and not live_opt_in:
        raise EndpointPolicyError("live mode needs --i-accept-live-risk on the command line (and live.enabled = true)")


def plan_endpoints(settings: Settings, *, live_opt_in: bool = False, public: bool = False,
                   exchange_id: str | None = None) -> EndpointPlan:
    """The endpoint family and key use for ``settings``; raises :class:`EndpointPolicyError`.

    Pure (no client is built), so the CLI can check a combination before it starts anything.
    """
    cfg = settings.exchange
    ex_id = exchange_id or cfg.id
    own = ex_id == cfg.id
    keys = own and not public and settings.mode is not Mode.PAPER and _keys_configured(settings)
    # Only a client that would trade needs the opt-ins: a keyless client (market data) cannot.
    _check_live(settings, live_opt_in=live_opt_in, keyed=own and not public)
    family: Family
    if own and cfg.base_url is not None:
        family = "emulator"
        if keys and not _live_allowed(settings, live_opt_in):
            _refuse_production_base_url(settings, ex_id)
    elif settings.mode is Mode.TESTNET:
        family = "demo"
    elif settings.mode is Mode.LIVE:
        family = "production"
    else:
        family = "demo" if cfg.testnet else "production"
    return EndpointPlan(ex_id, family, keys)


@lru_cache(maxsize=8)
def production_hosts(exchange_id: str) -> frozenset[str]:
    """The production REST and WebSocket hosts in ccxt's description of ``exchange_id``."""
    probe = getattr(ccxt_pro, exchange_id)({})  # never opened: no session to close
    return frozenset(_hosts(probe, (probe.describe().get("urls") or {}).get("api")))


def _refuse_production_base_url(settings: Settings, exchange_id: str) -> None:
    """An explicit base URL is allowed outside live mode, but not one naming a production host."""
    host = (urlsplit(settings.exchange.base_url or "").hostname or "").lower()
    if host in production_hosts(exchange_id):
        raise EndpointPolicyError(
            f"exchange.base_url (--exchange-url) names {host}, a production host of {exchange_id}: "
            f"{settings.mode.value} mode may not send the API keys there; only live mode with "
            "live.enabled = true AND --i-accept-live-risk may")


def _urls(node: Any) -> Iterator[str]:
    """Every URL string in a (possibly nested) ccxt ``urls`` entry."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _urls(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _urls(value)


def _hosts(exchange: Any, node: Any) -> set[str]:
    hosts = set()
    for url in _urls(node):
        host = urlsplit(exchange.implode_hostname(url) if "{hostname}" in url else url).hostname
        if host:
            hosts.add(host.lower())
    return hosts


def endpoint_family(exchange: Any) -> Family:
    """The family of the URLs ``exchange`` will really call, read from ``urls['api']``.

    ``production`` if any host (REST or WebSocket) is one of the exchange's own production hosts
    (ccxt's static description, which ``enable_demo_trading`` does not touch); ``demo`` if every
    host belongs to its demo/testnet tables; otherwise ``emulator`` (an explicit base URL). A host
    that production and sandbox share (OKX) counts as demo only with ccxt's sandbox mode on.
    """
    described = exchange.describe().get("urls") or {}
    production = _hosts(exchange, described.get("api"))
    demo = set().union(*(_hosts(exchange, described.get(key)) for key in _DEMO_URL_KEYS))
    shared = production & demo if getattr(exchange, "isSandboxModeEnabled", False) else set()
    used = _hosts(exchange, exchange.urls.get("api"))
    if used & (production - shared):
        return "production"
    if used and used <= demo:
        return "demo"
    return "emulator"


def holds_keys(exchange: Any) -> bool:
    """Whether the client would sign requests (ccxt keeps absent keys as ``None`` or ``""``)."""
    return bool(getattr(exchange, "apiKey", None) or getattr(exchange, "secret", None))


def _client_params(settings: Settings, plan: EndpointPlan) -> dict[str, Any]:
    cfg = settings.exchange
    options: dict[str, Any] = {}
    params: dict[str, Any] = {"enableRateLimit": True, "timeout": int(cfg.timeout_ms), "options": options}
    if plan.keys:
        params["apiKey"] = _secret(cfg.api_key)
        params["secret"] = _secret(cfg.api_secret)
    if plan.exchange_id in ("binanceusdm", "binance"):
        # ccxt's limiter is the second line of defence: pace it at Binance's real IP limit
        # (2,400 weight/min = 25 ms per unit; ccxt's default 50 ms is 1,200/min). Our own
        # request budget (bot.market.budget, exchange.request_budget_per_minute) is the binding
        # one. Set at construction: ccxt builds its throttler from it.
        params["rateLimit"] = BINANCE_MS_PER_WEIGHT
    if plan.family == "emulator":
        # The emulator has no wallet (sapi) endpoints worth calling. Its market clock may run
        # accelerated, but it checks signatures' timestamps against wall time like Binance, so
        # ccxt signs with its own clock (no adjustForTimeDifference).
        options["fetchCurrencies"] = False
    return params


def _point(exchange: Any, settings: Settings, plan: EndpointPlan) -> None:
    """Aim a freshly built client at its planned family (production needs nothing)."""
    if plan.family == "emulator":
        assert settings.exchange.base_url is not None
        exchange.urls["api"] = rewrite_urls(exchange.urls["api"], settings.exchange.base_url)
        linear = (exchange.exceptions.get("linear") or {}).get("exact") or {}
        exchange.exceptions["exact"] = exchange.extend(exchange.exceptions["exact"], linear)
    elif plan.family == "demo":
        try:
            if plan.exchange_id in _DEMO_TRADING_IDS:
                exchange.enable_demo_trading(True)
            else:
                exchange.set_sandbox_mode(True)
        except Exception as exc:  # ccxt.NotSupported: no demo venue to go to, so go nowhere
            raise EndpointPolicyError(
                f"{plan.exchange_id} has no demo/testnet venue in ccxt ({type(exc).__name__}); use "
                "--exchange-url for an emulator or --mode paper") from None


def _verify(exchange: Any, settings: Settings, plan: EndpointPlan, live_opt_in: bool) -> Family:
    """The last word, independent of the plan: no keyed production client outside opted-in live."""
    family = endpoint_family(exchange)
    keyed = holds_keys(exchange)
    if keyed and not plan.keys:
        raise EndpointPolicyError(f"internal: a {settings.mode.value}-mode client would hold the API keys")
    if keyed and family == "production" and not _live_allowed(settings, live_opt_in):
        where = "exchange.base_url" if plan.family == "emulator" else "the endpoints"
        raise EndpointPolicyError(
            f"{settings.mode.value} mode would send the API keys to {plan.exchange_id}'s production hosts "
            f"({where} resolve to production); only live mode with live.enabled = true AND "
            "--i-accept-live-risk may do that")
    return family


def connect(settings: Settings, *, live_opt_in: bool = False, public: bool = False, exchange_id: str | None = None,
            pro: bool = False) -> ccxt_async.Exchange:
    """Build (not open) the async ccxt client for ``settings``; close it with ``await ex.close()``.

    ``live_opt_in`` is the ``--i-accept-live-risk`` flag carried from the CLI: with
    ``live.enabled = true`` it is the only way to a keyed production client (see the module
    docstring for the whole policy). ``public=True`` builds a keyless market-data client in any
    mode. ``pro=True`` builds the ccxt.pro (WebSocket) client of the same exchange, e.g. for the
    liquidation stream; endpoints, keys and limits are decided the same way.

    Raises :class:`EndpointPolicyError` (a ConfigError) for a combination that is not allowed.
    """
    plan = plan_endpoints(settings, live_opt_in=live_opt_in, public=public, exchange_id=exchange_id)
    module = ccxt_pro if pro else ccxt_async
    klass = getattr(module, plan.exchange_id, None)
    if klass is None:
        raise ValueError(f"unknown ccxt exchange id {plan.exchange_id!r}")
    exchange = klass(_client_params(settings, plan))
    try:
        if plan.exchange_id in ("binanceusdm", "binance"):
            fetch_open = dict(exchange.options.get("fetchOpenOrders") or {})
            fetch_open["warnWithoutSymbol"] = False
            exchange.options["fetchOpenOrders"] = fetch_open
        _point(exchange, settings, plan)
        family = _verify(exchange, settings, plan, live_opt_in)
    except BaseException:
        _discard(exchange)
        raise
    logger.info("{} ccxt {} client built for {} endpoints (keys {})", settings.mode.value, plan.exchange_id, family,
                "present" if holds_keys(exchange) else "absent")
    return exchange


def _discard(exchange: Any) -> None:
    """Forget the keys of a refused client (it never opened a session, so nothing to close)."""
    exchange.apiKey = exchange.secret = ""


@asynccontextmanager
async def connected(settings: Settings, *, exchange_id: str | None = None,
                    public: bool = True) -> AsyncIterator[ccxt_async.Exchange]:
    """``async with connected(settings) as ex:`` -- the client is closed on every exit path.

    Keyless by default: its callers (``derivbot data download``) read public history only.
    """
    exchange = connect(settings, exchange_id=exchange_id, public=public)
    try:
        yield exchange
    finally:
        await exchange.close()
