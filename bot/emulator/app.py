"""The aiohttp application: one dispatcher applies, in Binance's order, weight accounting,
fault injection, authentication and the market sync, then calls the route's handler.
"""

from __future__ import annotations

import asyncio
import json
import socket
import traceback
from typing import Any

from aiohttp import web
from loguru import logger

from bot.emulator import control, errors, private, public
from bot.emulator.auth import API_KEY_HEADER, parse_params, verify_signed
from bot.emulator.faults import Fault
from bot.emulator.routes import Route
from bot.emulator.state import STATE_KEY, EmulatorState
from bot.emulator.weights import NEW_ORDER_ENDPOINTS, USED_WEIGHT_HEADER, request_weight
from bot.logging import redact

ROUTES: dict[tuple[str, str], Route] = {(r.method, r.path): r for r in public.ROUTES + private.ROUTES}


def _json(data: Any, used_weight: int) -> web.Response:
    return web.Response(text=json.dumps(data), content_type="application/json",
                        headers={USED_WEIGHT_HEADER: str(used_weight)})


def _error(exc: errors.BinanceError, used_weight: int | None) -> web.Response:
    response = exc.response()
    if used_weight is not None:
        response.headers[USED_WEIGHT_HEADER] = str(used_weight)
    return response


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Serve one Binance REST request."""
    from bot.sim.errors import SimError

    state: EmulatorState = request.app[STATE_KEY]
    path = request.path
    route = ROUTES.get((request.method, path))
    if route is None:
        if any(path == p for (_, p) in ROUTES):
            return _error(errors.BinanceError(-1101, "Method not allowed for this endpoint.", 405), None)
        return errors.not_found(path)
    query = request.rel_url.raw_query_string
    body = (await request.read()).decode("utf-8", "replace") if request.can_read_body else ""
    raw_params = dict(parse_params(query)) | dict(parse_params(body))
    if state.request_log is not None:
        state.request_log.append((request.method, path, query, body))
    used: int | None = None
    try:
        used = state.limiter.admit(request_weight(request.method, path, raw_params))
        fault = state.faults.draw(request.method, path)
        if state.faults.config.latency_ms:
            await asyncio.sleep(state.faults.config.latency_ms / 1000.0)
        if fault is Fault.SERVER_ERROR:
            raise errors.internal_error()
        if fault is Fault.RATE_LIMIT:
            raise errors.too_many_requests(state.limiter.config.max_weight, 1)
        if fault is Fault.TIMEOUT:
            await asyncio.sleep(state.faults.config.hang_seconds)
            raise errors.internal_error()
        params = raw_params
        if route.signed:
            # Real Binance checks timestamps against wall time, and so does a client that signs
            # with its own clock (our bot). A client synced to the (accelerated) market clock
            # with load_time_difference() is accepted too.
            params = verify_signed(query, body, request.headers.get(API_KEY_HEADER), state.credentials,
                                   state.request_clocks())
        state.driver.sync()
        data = route.handler(state, params)
        state.requests_served += 1
        if fault is Fault.DROP_RESPONSE:
            # The exchange did the work; the client never hears about it.
            await asyncio.sleep(state.faults.config.hang_seconds)
        return _json(data, used)
    except errors.BinanceError as exc:
        return _error(exc, used)
    except SimError as exc:
        return _error(errors.from_sim_error(exc), used)
    except Exception:  # a bug must not kill the server; the client sees Binance's generic error
        _log_unexpected(request.method, path)
        return _error(errors.BinanceError(-1000, "An unknown error occurred while processing the request.",
                                          500), used)


def _log_unexpected(method: str, path: str) -> None:
    """Log a handler bug with a plain traceback, never with local variables.

    ``logger.exception`` would let a sink with loguru's ``diagnose`` on (its default) print every
    frame's locals: the signed query, the API key header, the credentials. A plain
    ``traceback.format_exc`` has no locals, and :func:`redact` removes registered secrets and
    signatures from what is left, whatever sinks are installed.
    """
    logger.error("emulator: unexpected error in {} {}\n{}", method, path, redact(traceback.format_exc()))


async def _order_count_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Binance puts ``X-MBX-ORDER-COUNT-10S`` / ``-1M`` on every order-placing response
    (see ``weights.OrderCountLimiter``)."""
    if (request.method, request.path) in NEW_ORDER_ENDPOINTS:
        response.headers.update(request.app[STATE_KEY].order_limiter.headers())


def create_app(state: EmulatorState) -> web.Application:
    app = web.Application()
    app[STATE_KEY] = state
    control.add_routes(app)
    app.on_response_prepare.append(_order_count_headers)
    for method, path in ROUTES:
        app.router.add_route(method, path, dispatch)
    app.router.add_route("*", "/{tail:(fapi|futures|sapi|api)/.*}", dispatch)
    return app


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def start_emulator(state: EmulatorState, host: str = "127.0.0.1",
                         port: int = 0) -> tuple[web.AppRunner, str]:
    """Start serving ``state``; ``port=0`` picks a free port. Returns (runner, base_url).

    Stop with ``await runner.cleanup()``; hung (fault-injected) requests are cancelled then.
    """
    runner = web.AppRunner(create_app(state), handle_signals=False, access_log=None,
                           shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
    bound = int(sockets[0].getsockname()[1]) if sockets else port
    base_url = f"http://{host}:{bound}"
    logger.info("exchange emulator listening on {}", base_url)
    return runner, base_url
