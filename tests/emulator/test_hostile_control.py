"""Issue 16, item 6: the ``/_sim/`` control API and the emulator's error paths under hostile input.

Plain HTTP (aiohttp) against a real server on a free loopback port; no ccxt needed. Each
rejected request is followed by a read of the state to show nothing changed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from loguru import logger

from bot.emulator import EmulatorConfig, EmulatorState, start_emulator
from bot.emulator.auth import sign
from bot.emulator.control import CONTROL_TOKEN_HEADER
from bot.logging import registered_secrets, reset_secrets
from tests.emulator.conftest import START

SYMBOL = "ORCAUSDT"


class Sim:
    """A running emulator and a raw HTTP session to poke it with."""

    def __init__(self, state: EmulatorState, base: str, http: aiohttp.ClientSession) -> None:
        self.state, self.base, self.http = state, base, http

    async def post(self, path: str, data: str | bytes | None = None, content_type: str | None = "application/json",
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        hdrs = dict(headers or {})
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        async with self.http.post(f"{self.base}/_sim/{path}", data=data, headers=hdrs) as r:
            return r.status, await _payload(r)

    async def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        async with self.http.get(f"{self.base}{path}", headers=headers or {}) as r:
            return r.status, await _payload(r)


async def _payload(r: aiohttp.ClientResponse) -> Any:
    text = await r.text()
    return await r.json() if r.content_type == "application/json" else text


async def _open(store: Any, config: EmulatorConfig | None = None) -> tuple[Any, Sim]:
    state = EmulatorState.build(store, START, speed=0, config=config or EmulatorConfig(), symbols=[SYMBOL])
    runner, base = await start_emulator(state, port=0)
    # A short client timeout: a regression that hangs requests (latency 1e12 ms) fails fast.
    return runner, Sim(state, base, aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)))


@pytest.fixture
async def sim(store: Any) -> AsyncIterator[Sim]:
    runner, s = await _open(store)
    try:
        yield s
    finally:
        await s.http.close()
        await runner.cleanup()


def _snapshot(state: EmulatorState) -> tuple:
    """Everything a control request can change."""
    return (state.clock.now_ms(), state.clock.speed, float(state.exchange.balance().wallet),
            repr(state.faults.config))


# -- JSON only (CSRF) --------------------------------------------------------------------------

@pytest.mark.parametrize(("content_type", "body"), [
    ("text/plain", '{"step_ms": 3600000}'),                     # what a cross-site <form enctype=text/plain> sends
    ("application/x-www-form-urlencoded", "step_ms=3600000"),
    ("multipart/form-data; boundary=x", '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n'),
    (None, None),                                               # a body-less cross-site fetch(POST)
])
async def test_control_posts_need_json_content_type(sim: Sim, content_type: str | None, body: str | None) -> None:
    before = _snapshot(sim.state)
    for path in ("clock", "reset", "balance", "faults", "price"):
        status, data = await sim.post(path, body, content_type)
        assert status == 415, (path, status, data)
        assert "application/json" in data["error"]
    assert _snapshot(sim.state) == before


async def test_json_control_posts_still_work(sim: Sim) -> None:
    status, data = await sim.post("clock", '{"step_ms": 3600000}')
    assert status == 200 and data["now_ms"] == START + 3_600_000
    status, data = await sim.post("balance", '{"balance": 123.5}')
    assert status == 200 and data["balance"] == 123.5


# -- every input typed, finite and bounded; a rejected request changes nothing ------------------

@pytest.mark.parametrize(("path", "body", "field", "limit"), [
    ("clock", '{"speed": NaN}', "speed", "1e+06"),
    ("clock", '{"speed": Infinity}', "speed", "1e+06"),
    ("clock", '{"speed": -1}', "speed", ">= 0"),
    ("clock", '{"speed": 1e7}', "speed", "<= 1e+06"),
    ("clock", '{"speed": "5"}', "speed", "1e+06"),
    ("clock", '{"speed": true}', "speed", "1e+06"),
    ("clock", '{"step_ms": NaN}', "step_ms", "integer"),
    ("clock", '{"step_ms": -5}', "step_ms", ">= 0"),
    ("clock", '{"step_ms": 1e300}', "step_ms", "<= "),
    ("clock", '{"step_ms": 1.5}', "step_ms", "integer"),
    ("clock", '{"now": 1e30}', "now", "<= 4.10244e+12"),
    ("clock", '{"now": "not a time"}', "now", "ISO-8601"),
    ("clock", '{"now": 0}', "now", "cannot go back"),
    ("clock", '{"speed": 5, "step_ms": -1}', "step_ms", ">= 0"),  # speed must not be applied either
    ("price", '{"symbol": "ORCAUSDT", "last": NaN}', "last", "> 0"),
    ("price", '{"symbol": "ORCAUSDT", "last": Infinity}', "last", "<= 1e+09"),
    ("price", '{"symbol": "ORCAUSDT", "last": 0}', "last", "> 0"),
    ("price", '{"symbol": "ORCAUSDT", "last": 1.0, "mark": -Infinity}', "mark", "> 0"),
    ("price", '{"symbol": "NOPE", "last": 1.0}', "symbol", "ORCAUSDT"),
    ("balance", '{"balance": NaN}', "balance", "1e+12"),
    ("balance", '{"balance": 1e300}', "balance", "1e+12"),
    ("balance", '{"balance": -1}', "balance", ">= 0"),
    ("reset", '{"balance": NaN}', "balance", "1e+12"),
    ("faults", '{"latency_ms": 1e12}', "latency_ms", "60000"),
    ("faults", '{"latency_ms": NaN}', "latency_ms", "60000"),
    ("faults", '{"latency_ms": "50"}', "latency_ms", "60000"),
    ("faults", '{"hang_seconds": 1e9}', "hang_seconds", "600"),
    ("faults", '{"p_5xx": NaN}', "p_5xx", "[0, 1]"),
    ("faults", '{"seed": "x"}', "seed", "integer"),
    ("faults", '{"paths": "/fapi"}', "paths", "list"),
    ("faults", '{"nope": 1}', "nope", "known"),
])
async def test_bad_control_input_is_400_naming_field_and_limit(sim: Sim, path: str, body: str, field: str,
                                                                limit: str) -> None:
    before = _snapshot(sim.state)
    status, data = await sim.post(path, body)
    assert status == 400, (body, data)
    assert field in data["error"] and limit in data["error"], data["error"]
    assert _snapshot(sim.state) == before


async def test_emulator_keeps_working_after_hostile_speed_and_latency(sim: Sim) -> None:
    """Before the fix ``{"speed": NaN}`` broke every later request and 1e12 ms latency hung them.

    No stopwatch: the refused latency leaves the configured one at 0 ms, so the request is not
    delayed at all; had 1e12 ms been taken, the request would hang past the client's 10 s timeout
    (the session's bound) and raise instead of answering."""
    await sim.post("clock", '{"speed": NaN}')
    await sim.post("faults", '{"latency_ms": 1e12}')
    assert sim.state.faults.config.latency_ms == 0.0
    status, data = await sim.get("/fapi/v1/time")
    assert status == 200 and data["serverTime"] == START
    status, data = await sim.get("/_sim/clock")
    assert status == 200 and data["speed"] == 0.0


# -- escaped 404 ---------------------------------------------------------------------------------

async def test_404_page_escapes_the_path(sim: Sim) -> None:
    status, body = await sim.get("/fapi/v1/<script>alert(1)</script>")
    assert status == 404
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


# -- optional control token ----------------------------------------------------------------------

async def test_control_token_guards_every_sim_route(store: Any) -> None:
    token = "ctl-token-0123456789"
    runner, s = await _open(store, EmulatorConfig(control_token=token))
    try:
        before = _snapshot(s.state)
        for headers in ({}, {CONTROL_TOKEN_HEADER: "wrong"}):
            status, data = await s.get("/_sim/status", headers)
            assert status == 401 and CONTROL_TOKEN_HEADER in data["error"]
            status, data = await s.post("clock", '{"step_ms": 1000}', headers=headers)
            assert status == 401
        assert _snapshot(s.state) == before
        good = {CONTROL_TOKEN_HEADER: token}
        assert (await s.get("/_sim/status", good))[0] == 200
        status, data = await s.post("clock", '{"step_ms": 1000}', headers=good)
        assert status == 200 and data["now_ms"] == START + 1000
        assert (await s.get("/fapi/v1/time"))[0] == 200  # the exchange API itself needs no token
    finally:
        await s.http.close()
        await runner.cleanup()


async def test_without_a_token_the_control_api_stays_open(sim: Sim) -> None:
    assert (await sim.get("/_sim/status"))[0] == 200


# -- a server error never logs secrets -----------------------------------------------------------

async def test_a_handler_bug_logs_no_locals_secrets_or_signature(store: Any, monkeypatch: Any) -> None:
    """A sink with loguru's ``diagnose`` on (its default handler) must still see no key, secret or signature."""
    from bot.emulator import app as emulator_app
    from bot.emulator.routes import Route

    key, secret = "KEYkeyKEY-0123456789", "SECRETsecret-0123456789"

    def boom(state: Any, params: dict[str, str]) -> Any:
        leaked = state.credentials.api_secret  # a local a diagnose traceback would print
        raise RuntimeError("handler bug " + leaked[:0])

    route = ("GET", "/fapi/v2/balance")
    monkeypatch.setitem(emulator_app.ROUTES, route, Route(*route, boom, signed=True))
    saved = registered_secrets()
    lines: list[str] = []
    sink = logger.add(lines.append, level="ERROR", backtrace=True, diagnose=True, colorize=False)
    runner, s = await _open(store, EmulatorConfig(api_key=key, api_secret=secret))
    try:
        query = f"timestamp={int(time.time() * 1000)}&recvWindow=5000"
        signature = sign(secret, query)
        status, data = await s.get(f"/fapi/v2/balance?{query}&signature={signature}", {"X-MBX-APIKEY": key})
        assert status == 500 and data["code"] == -1000
    finally:
        logger.remove(sink)
        reset_secrets(saved)
        await s.http.close()
        await runner.cleanup()
    text = "".join(str(line) for line in lines)
    assert "handler bug" in text and "RuntimeError" in text  # the bug is still reported
    for needle in (key, secret, signature):
        assert needle not in text
