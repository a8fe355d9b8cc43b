"""``/_sim/`` JSON control API: clock, prices, wallet, reset and fault injection.

Not part of Binance: unsigned, not rate limited, never subject to faults. It exists so tests
and demos can move time and prices deterministically while a client trades over HTTP.

Because it can move the market and the wallet, it is guarded (issue 16, item 6):

* JSON only: a POST must say ``Content-Type: application/json`` (else 415). A web page in the
  user's browser can send ``text/plain``, form or body-less POSTs cross-origin without a CORS
  preflight; it cannot send ``application/json`` that way, so this closes the CSRF hole.
* every input is typed, finite and bounded (400 naming the field and the limit), and a request
  is validated completely before anything changes, so a rejected request leaves the state as it was;
* an optional control token (``EmulatorConfig.control_token``): when set, every ``/_sim/``
  request must carry it in :data:`CONTROL_TOKEN_HEADER` (401 otherwise).
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from bot.core.timeutil import MS_PER_DAY, iso, to_ms
from bot.emulator import listings
from bot.emulator.clock import MAX_SERVER_OFFSET_MS, MAX_SPEED, ClockError
from bot.emulator.private import MAX_VISIBILITY_LAG_MS
from bot.emulator.serialize import force_order
from bot.emulator.state import STATE_KEY, EmulatorState
from bot.emulator.weights import MAX_ORDER_LIMIT
from bot.sim.errors import SimError
from bot.sim.exchange import SETTLING_MS

CONTROL_TOKEN_HEADER = "X-Sim-Control-Token"
#: Latest clock time the control API accepts (2100-01-01): far past any data, inside datetime's range.
MAX_TIME_MS = 4_102_444_800_000
#: Largest single clock step: ten years, more than any recorded history needs.
MAX_STEP_MS = 3_660 * MS_PER_DAY
#: Largest price accepted by ``/_sim/price`` (BTC trades near 1e5; 1e9 leaves room and stays sane).
MAX_PRICE = 1e9
#: Largest wallet balance accepted by ``/_sim/balance`` and ``/_sim/reset`` (USDT).
MAX_BALANCE = 1e12

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _state(request: web.Request) -> EmulatorState:
    return request.app[STATE_KEY]


def _error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type="application/json")


def _bad(message: str) -> web.HTTPException:
    return _error(web.HTTPBadRequest, message)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except (json.JSONDecodeError, ValueError):
        raise _bad("body must be a JSON object") from None
    if not isinstance(data, dict):
        raise _bad("body must be a JSON object")
    return data


def _finite(value: float) -> bool:
    """``math.isfinite`` that also says no to an integer too large for a float (``1`` + 400 zeros)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def number(body: dict[str, Any], name: str, lo: float, hi: float, *, integer: bool = False,
           above_lo: bool = False) -> float:
    """``body[name]`` as a finite JSON number within the limits, or a 400 naming the field and the limit.

    ``above_lo`` makes the lower limit exclusive (prices: > 0). Strings and booleans are refused
    rather than coerced: a control call is code talking to code, and a quiet ``"1e3"`` -> 1000.0
    or ``true`` -> 1 hides the caller's bug. ``integer`` accepts whole numbers only (``5.0`` is fine).
    """
    value = body.get(name)
    kind = "an integer" if integer else "a number"
    limit = f"{'>' if above_lo else '>='} {lo:g} and <= {hi:g}"
    shown = json.dumps(value)[:40] if not isinstance(value, float) else repr(value)
    ok_type = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok_type and _finite(value) and (lo < value if above_lo else lo <= value) and value <= hi
    if ok and integer and not float(value).is_integer():
        ok = False
    if not ok:
        raise _bad(f"'{name}' must be {kind} {limit}, got {shown}")
    return value


def _clock_view(state: EmulatorState) -> dict[str, Any]:
    now = state.now_ms()
    return {"now_ms": now, "now": iso(now), "speed": state.clock.speed,
            "synced_to_ms": state.driver.synced_to, "events_applied": state.driver.events_applied}


async def get_clock(request: web.Request) -> web.Response:
    return web.json_response(_clock_view(_state(request)))


def _target_time(body: dict[str, Any]) -> int:
    """``now`` as ms (int ms or ISO string), bounded like every other input."""
    raw = body["now"]
    if isinstance(raw, str):
        try:
            raw = to_ms(raw[:64])
        except (ValueError, TypeError, OverflowError):
            raise _bad(f"'now' must be ms since the epoch or an ISO-8601 time, got {json.dumps(raw)[:40]}") from None
        body = {"now": raw}
    return int(number(body, "now", 0, MAX_TIME_MS, integer=True))


async def set_clock(request: web.Request) -> web.Response:
    """``{"now": ms | ISO}`` jumps forward, ``{"step_ms": n}`` steps, ``{"speed": x}`` sets the rate.

    All fields are checked before any is applied, so a bad one changes nothing.
    """
    state = _state(request)
    body = await _body(request)
    speed = number(body, "speed", 0, MAX_SPEED) if "speed" in body else None
    target = _target_time(body) if "now" in body else None
    step = int(number(body, "step_ms", 0, MAX_STEP_MS, integer=True)) if "step_ms" in body else None
    now = state.clock.now_ms()
    if target is not None and target < now:
        raise _bad(f"'now': the clock cannot go back: now {now}, asked {target}")
    if (target or now) + (step or 0) > MAX_TIME_MS:
        raise _bad(f"the clock cannot pass {MAX_TIME_MS} ms ({iso(MAX_TIME_MS)})")
    try:
        if speed is not None:
            state.clock.set_speed(speed)
        if target is not None:
            state.clock.set(target)
        if step is not None:
            state.clock.step(step)
    except ClockError as exc:  # defensive: the checks above should have caught it
        raise _bad(str(exc)) from None
    applied = state.driver.sync()
    return web.json_response(_clock_view(state) | {"applied": applied})


async def set_price(request: web.Request) -> web.Response:
    """``{"symbol": "ORCAUSDT", "last": 1.23, "mark": 1.22}`` (mark defaults to last)."""
    state = _state(request)
    body = await _body(request)
    raw_symbol = body.get("symbol")
    symbol = raw_symbol.upper() if isinstance(raw_symbol, str) else ""
    if symbol not in state.instruments:
        raise _bad(f"'symbol' must be one of {', '.join(state.symbols)}; got {json.dumps(raw_symbol)[:40]}")
    last = number(body, "last", 0, MAX_PRICE, above_lo=True)
    mark = number(body, "mark", 0, MAX_PRICE, above_lo=True) if body.get("mark") is not None else None
    events = state.driver.set_price(symbol, last, mark)
    return web.json_response({"symbol": symbol, "last": last, "mark": mark if mark is not None else last,
                              "events": [str(getattr(e, "kind", e)) for e in events]})


async def set_balance(request: web.Request) -> web.Response:
    state = _state(request)
    body = await _body(request)
    amount = float(number(body, "balance", 0, MAX_BALANCE))
    state.exchange.set_wallet_balance(amount)
    return web.json_response({"balance": amount})


#: Assets ``/_sim/transfer`` moves: the simulated futures wallet is a USDT wallet.
TRANSFER_ASSETS = ("USDT",)


async def transfer(request: web.Request) -> web.Response:
    """``{"asset": "USDT", "amount": -800.0}``: move money out of (-) or into (+) the futures wallet.

    Stands for a user's transfer to or from spot (Binance ``POST /sapi/v1/asset/transfer``), which
    Binance lists in ``GET /fapi/v1/income`` as ``incomeType: "TRANSFER"``. ``amount`` is a non-zero
    number within +-:data:`MAX_BALANCE`; an outgoing transfer beyond the available balance is a 400
    naming it (Binance refuses it with -5002 "You have insufficient balance.") and changes nothing.
    """
    state = _state(request)
    body = await _body(request)
    unknown = sorted(set(body) - {"asset", "amount"})
    if unknown:
        raise _bad(f"unknown transfer field(s): {', '.join(unknown)[:80]}; known: asset, amount")
    asset = body.get("asset", "USDT")
    if asset not in TRANSFER_ASSETS:
        raise _bad(f"'asset' must be one of {', '.join(TRANSFER_ASSETS)}, got {json.dumps(asset)[:40]}")
    amount = float(number(body, "amount", -MAX_BALANCE, MAX_BALANCE))
    if amount == 0:
        raise _bad("'amount' must not be 0 (negative: out of the futures wallet, positive: into it)")
    try:
        row = state.exchange.transfer(amount, state.now_ms(), asset)
    except SimError as exc:
        raise _bad(f"'amount' {amount:g} refused ({exc.code}): {exc.msg}") from None
    balance = state.exchange.balance()
    return web.json_response({"asset": asset, "amount": amount, "tranId": row.tran_id, "time": row.ts_ms,
                              "wallet": balance.wallet, "available": balance.available})


async def reset(request: web.Request) -> web.Response:
    state = _state(request)
    body = await _body(request)
    balance = None if body.get("balance") is None else float(number(body, "balance", 0, MAX_BALANCE))
    state.reset(balance)
    return web.json_response({"reset": True, "balance": float(state.exchange.balance().wallet)})


async def get_faults(request: web.Request) -> web.Response:
    state = _state(request)
    return web.json_response(asdict(state.faults.config) | {"counts": state.faults.counts})


async def set_faults(request: web.Request) -> web.Response:
    """Partial update, e.g. ``{"p_5xx": 0.1, "latency_ms": 50, "seed": 3}``; ``{}`` re-seeds.

    Limits: probabilities in [0, 1], ``latency_ms`` <= :data:`~bot.emulator.faults.MAX_LATENCY_MS`, ``hang_seconds``
    <= :data:`~bot.emulator.faults.MAX_HANG_SECONDS` (checked by :meth:`FaultConfig.validate`).
    """
    state = _state(request)
    body = await _body(request)
    try:
        config = state.faults.update(body)
    except (ValueError, TypeError) as exc:
        raise _bad(str(exc)) from None
    return web.json_response(asdict(config))


_ACCOUNT_FLAGS = ("multi_assets", "hedge_mode", "bnb_fee")
_ACCOUNT_KEYS = (*_ACCOUNT_FLAGS, "server_time_offset_ms", "bnb_price", "bnb_balance")


def _flag(body: dict[str, Any], name: str) -> bool:
    """``body[name]`` as a JSON boolean, or a 400 naming the field (no ``1`` / ``"true"`` coercion)."""
    value = body[name]
    if not isinstance(value, bool):
        raise _bad(f"'{name}' must be true or false, got {json.dumps(value)[:40]}")
    return value


def _account_view(state: EmulatorState) -> dict[str, Any]:
    return asdict(state.account) | {"bnb_balance": state.bnb_balance()}


async def get_account(request: web.Request) -> web.Response:
    return web.json_response(_account_view(_state(request)))


async def set_account(request: web.Request) -> web.Response:
    """Account modes, partial update: ``{"multi_assets": true, "hedge_mode": false,
    "server_time_offset_ms": -30000, "bnb_fee": true, "bnb_price": 600, "bnb_balance": 2}``
    (see :class:`~bot.emulator.state.AccountModes`). ``bnb_balance`` sets the futures wallet's BNB,
    which pays the fees while ``bnb_fee`` is on; ``bnb_fee`` needs a BNB price: BNBUSDT in the
    replayed data, or ``bnb_price``.

    Unknown keys are refused (a typo must not pass silently); everything is validated first.
    """
    state = _state(request)
    body = await _body(request)
    unknown = sorted(set(body) - set(_ACCOUNT_KEYS))
    if unknown:
        raise _bad(f"unknown account setting(s): {', '.join(unknown)[:80]}; known: {', '.join(_ACCOUNT_KEYS)}")
    changes: dict[str, Any] = {name: _flag(body, name) for name in _ACCOUNT_FLAGS if name in body}
    if "server_time_offset_ms" in body:
        changes["server_time_offset_ms"] = int(number(body, "server_time_offset_ms", -MAX_SERVER_OFFSET_MS,
                                                      MAX_SERVER_OFFSET_MS, integer=True))
    if "bnb_price" in body:
        changes["bnb_price"] = float(number(body, "bnb_price", 0, MAX_PRICE, above_lo=True))
    bnb_balance = float(number(body, "bnb_balance", 0, MAX_BALANCE)) if "bnb_balance" in body else None
    if changes.get("bnb_fee") and changes.get("bnb_price", state.account.bnb_price) is None \
            and state.bnb_price_now() is None:
        raise _bad("'bnb_fee' needs a BNB price: BNBUSDT in the replayed data, or 'bnb_price'")
    for name, value in changes.items():
        setattr(state.account, name, value)
    if bnb_balance is not None:
        state.set_bnb_balance(bnb_balance)
    state.apply_fee_mode()
    return web.json_response(_account_view(state))


def _scenario_view(state: EmulatorState) -> dict[str, Any]:
    limits = state.order_limiter.limits
    return {"order_visibility_lag_ms": state.visibility.lag_ms,
            "percent_price_check": bool(state.exchange.percent_price_check),
            "orders_per_10s": limits.per_10s, "orders_per_minute": limits.per_minute}


_SCENARIO_KEYS = ("order_visibility_lag_ms", "percent_price_check", "orders_per_10s", "orders_per_minute")


async def get_scenario(request: web.Request) -> web.Response:
    return web.json_response(_scenario_view(_state(request)))


async def set_scenario(request: web.Request) -> web.Response:
    """Order-level Binance behaviours, partial update, e.g. ``{"order_visibility_lag_ms": 1500}``.

    * ``order_visibility_lag_ms`` (wall ms, 0..60000, default 0): an accepted order answers -2013
      to order queries for that long (:class:`~bot.emulator.private.OrderVisibility`);
    * ``percent_price_check`` (default true): MARKET orders beyond the PERCENT_PRICE band are -4131;
    * ``orders_per_10s`` / ``orders_per_minute`` (default 300 / 1200, Binance's ORDERS limits):
      past them a new order is -1015 (HTTP 429).

    Unknown keys are refused and everything is validated before anything changes.
    """
    state = _state(request)
    body = await _body(request)
    unknown = sorted(set(body) - set(_SCENARIO_KEYS))
    if unknown:
        raise _bad(f"unknown scenario setting(s): {', '.join(unknown)[:80]}; known: {', '.join(_SCENARIO_KEYS)}")
    lag = number(body, "order_visibility_lag_ms", 0, MAX_VISIBILITY_LAG_MS) if "order_visibility_lag_ms" in body \
        else None
    check = _flag(body, "percent_price_check") if "percent_price_check" in body else None
    limits = {name: int(number(body, f"orders_{name}", 1, MAX_ORDER_LIMIT, integer=True))
              for name in ("per_10s", "per_minute") if f"orders_{name}" in body}
    if lag is not None:
        state.visibility.lag_ms = float(lag)
    if check is not None:
        state.exchange.percent_price_check = check
    for name, value in limits.items():
        setattr(state.order_limiter.limits, name, value)
    return web.json_response(_scenario_view(state))


def _listed_symbol(state: EmulatorState, body: dict[str, Any]) -> str:
    """``body["symbol"]`` as a symbol the emulator lists now, or a 400 naming the ones it does."""
    raw = body.get("symbol")
    symbol = raw.upper() if isinstance(raw, str) else ""
    listed = state.listed_symbols()
    if symbol not in listed:
        raise _bad(f"'symbol' must be one of {', '.join(listed)[:200]}; got {json.dumps(raw)[:40]}")
    return symbol


def _only(body: dict[str, Any], known: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise _bad(f"unknown {what} field(s): {', '.join(unknown)[:80]}; known: {', '.join(known)}")


async def auto_deleverage(request: web.Request) -> web.Response:
    """``{"symbol": "ORCAUSDT", "price": 1.23}``: the exchange auto-deleverages the position (ADL).

    The whole position is closed at ``price`` (default: the mark price) by an order with client id
    ``adl_autoclose``, listed by ``GET /fapi/v1/forceOrders`` (``autoCloseType=ADL`` or none), with
    its fill in ``userTrades`` and a ``REALIZED_PNL`` income row
    (:meth:`~bot.sim.exchange.SimExchange.auto_deleverage`). 400 when there is no position.
    """
    state = _state(request)
    body = await _body(request)
    _only(body, ("symbol", "price"), "adl")
    symbol = _listed_symbol(state, body)
    price = number(body, "price", 0, MAX_PRICE, above_lo=True) if body.get("price") is not None else None
    state.driver.sync()
    try:
        order = listings.core(state.exchange, symbol).auto_deleverage(symbol, price, state.now_ms())
    except SimError as exc:
        raise _bad(f"adl refused ({exc.code}): {exc.msg}") from None
    if order is None:
        raise _bad(f"no {symbol} position to auto-deleverage")
    return web.json_response(force_order(order, state.instruments[symbol]))


async def delist(request: web.Request) -> web.Response:
    """``{"symbol": "ORCAUSDT", "delivery_price": 1.2, "at": ms | ISO, "settling_ms": 3600000}``.

    The symbol leaves trading at ``at`` (default and earliest: now): SETTLING from then, CLOSE
    ``settling_ms`` later (default one hour). At ``at`` its open orders are cancelled and its
    position is settled at ``delivery_price`` (:meth:`~bot.sim.exchange.SimExchange.schedule_settlement`);
    new orders answer -4140, then -4141 "Symbol is closed.". A symbol already settled is a 400.
    """
    state = _state(request)
    body = await _body(request)
    _only(body, ("symbol", "delivery_price", "at", "settling_ms"), "delist")
    symbol = _listed_symbol(state, body)
    price = float(number(body, "delivery_price", 0, MAX_PRICE, above_lo=True))
    at = _target_time({"now": body["at"]}) if body.get("at") is not None else state.now_ms()
    settling = int(number(body, "settling_ms", 0, MAX_STEP_MS, integer=True)) if "settling_ms" in body \
        else SETTLING_MS
    state.driver.sync()
    at = max(at, state.now_ms())
    try:
        listings.core(state.exchange, symbol).schedule_settlement(symbol, price, at, settling)
    except SimError as exc:
        raise _bad(f"delist refused ({exc.code}): {exc.msg}") from None
    return web.json_response({"symbol": symbol, "delivery_price": price, "at": at, "close_at": at + settling,
                              "status": listings.status(state.exchange, symbol, state.now_ms())})


async def status(request: web.Request) -> web.Response:
    state = _state(request)
    return web.json_response(_clock_view(state) | {
        "symbols": state.symbols, "used_weight_1m": state.limiter.used,
        "requests_served": state.requests_served})


def _is_json(request: web.Request) -> bool:
    return request.content_type == "application/json"


def guarded(handler: Handler) -> Handler:
    """Wrap a control handler with the token check (401) and the JSON-only rule for POSTs (415)."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        token = _state(request).config.control_token
        if token:
            sent = request.headers.get(CONTROL_TOKEN_HEADER, "")
            if not hmac.compare_digest(sent.encode(), token.encode()):
                raise _error(web.HTTPUnauthorized,
                             f"missing or wrong {CONTROL_TOKEN_HEADER} header (the emulator runs with a control token)")
        if request.method == "POST" and not _is_json(request):
            raise _error(web.HTTPUnsupportedMediaType,
                         f"Content-Type must be application/json, got {request.content_type[:60]!r}")
        return await handler(request)

    wrapper.__doc__ = handler.__doc__
    return wrapper


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/status", guarded(status))
    app.router.add_get("/_sim/clock", guarded(get_clock))
    app.router.add_post("/_sim/clock", guarded(set_clock))
    app.router.add_post("/_sim/price", guarded(set_price))
    app.router.add_post("/_sim/balance", guarded(set_balance))
    app.router.add_post("/_sim/reset", guarded(reset))
    app.router.add_post("/_sim/transfer", guarded(transfer))
    app.router.add_get("/_sim/faults", guarded(get_faults))
    app.router.add_post("/_sim/faults", guarded(set_faults))
    app.router.add_get("/_sim/account", guarded(get_account))
    app.router.add_post("/_sim/account", guarded(set_account))
    app.router.add_get("/_sim/scenario", guarded(get_scenario))
    app.router.add_post("/_sim/scenario", guarded(set_scenario))
    app.router.add_post("/_sim/adl", guarded(auto_deleverage))
    app.router.add_post("/_sim/delist", guarded(delist))
