"""``/_sim/`` JSON control API: clock, prices, wallet, reset and fault injection.

Not part of Binance: unsigned, not rate limited, never subject to faults. It exists so tests
and demos can move time and prices deterministically while a client trades over HTTP.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from aiohttp import web

from bot.core.timeutil import iso, to_ms
from bot.emulator.clock import ClockError


def _state(request: web.Request) -> Any:
    from bot.emulator.app import STATE_KEY

    return request.app[STATE_KEY]


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


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def _clock_view(state: Any) -> dict[str, Any]:
    now = state.now_ms()
    return {"now_ms": now, "now": iso(now), "speed": state.clock.speed,
            "synced_to_ms": state.driver.synced_to, "events_applied": state.driver.events_applied}


async def get_clock(request: web.Request) -> web.Response:
    return web.json_response(_clock_view(_state(request)))


async def set_clock(request: web.Request) -> web.Response:
    """``{"now": ms | ISO}`` jumps forward, ``{"step_ms": n}`` steps, ``{"speed": x}`` sets the rate."""
    state = _state(request)
    body = await _body(request)
    try:
        if "speed" in body:
            state.clock.set_speed(float(body["speed"]))
        if "now" in body:
            state.clock.set(to_ms(body["now"]))
        if "step_ms" in body:
            state.clock.step(int(body["step_ms"]))
    except (ClockError, ValueError, TypeError) as exc:
        raise _bad(str(exc)) from None
    applied = state.driver.sync()
    return web.json_response(_clock_view(state) | {"applied": applied})


async def set_price(request: web.Request) -> web.Response:
    """``{"symbol": "ORCAUSDT", "last": 1.23, "mark": 1.22}`` (mark defaults to last)."""
    state = _state(request)
    body = await _body(request)
    symbol = str(body.get("symbol", "")).upper()
    if symbol not in state.instruments:
        raise _bad(f"unknown symbol {symbol!r}; known: {', '.join(state.symbols)}")
    try:
        last = float(body["last"])
        mark = float(body["mark"]) if body.get("mark") is not None else None
    except (KeyError, TypeError, ValueError):
        raise _bad("'last' (number) is required; 'mark' is optional") from None
    if last <= 0 or (mark is not None and mark <= 0):
        raise _bad("prices must be positive")
    events = state.driver.set_price(symbol, last, mark)
    return web.json_response({"symbol": symbol, "last": last, "mark": mark if mark is not None else last,
                              "events": [str(getattr(e, "kind", e)) for e in events]})


async def set_balance(request: web.Request) -> web.Response:
    state = _state(request)
    body = await _body(request)
    try:
        amount = float(body["balance"])
    except (KeyError, TypeError, ValueError):
        raise _bad("'balance' (number) is required") from None
    if amount < 0:
        raise _bad("balance must be >= 0")
    state.exchange.set_wallet_balance(amount)
    return web.json_response({"balance": amount})


async def reset(request: web.Request) -> web.Response:
    state = _state(request)
    body = await _body(request)
    balance = body.get("balance")
    try:
        state.reset(None if balance is None else float(balance))
    except (TypeError, ValueError) as exc:
        raise _bad(str(exc)) from None
    return web.json_response({"reset": True, "balance": float(state.exchange.balance().wallet)})


async def get_faults(request: web.Request) -> web.Response:
    state = _state(request)
    return web.json_response(asdict(state.faults.config) | {"counts": state.faults.counts})


async def set_faults(request: web.Request) -> web.Response:
    """Partial update, e.g. ``{"p_5xx": 0.1, "latency_ms": 50, "seed": 3}``; ``{}`` re-seeds."""
    state = _state(request)
    body = await _body(request)
    try:
        config = state.faults.update(body)
    except (ValueError, TypeError) as exc:
        raise _bad(str(exc)) from None
    return web.json_response(asdict(config))


async def status(request: web.Request) -> web.Response:
    state = _state(request)
    return web.json_response(_clock_view(state) | {
        "symbols": state.symbols, "used_weight_1m": state.limiter.used,
        "requests_served": state.requests_served})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/status", status)
    app.router.add_get("/_sim/clock", get_clock)
    app.router.add_post("/_sim/clock", set_clock)
    app.router.add_post("/_sim/price", set_price)
    app.router.add_post("/_sim/balance", set_balance)
    app.router.add_post("/_sim/reset", reset)
    app.router.add_get("/_sim/faults", get_faults)
    app.router.add_post("/_sim/faults", set_faults)
