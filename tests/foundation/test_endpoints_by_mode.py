"""Issue 16 item 1: the MODE decides the endpoints, and only live mode with both opt-ins can get
a production client that holds the keys.

Every mode x config combination builds the real ccxt client (REST and ccxt.pro) through
``connect()`` and classifies the URLs the client will really call: every entry of
``urls['api']``, nested ``ws`` dicts included. The classification below is written by hand
from ccxt 4.5's URL tables (``../shared/reference/ccxt-binanceusdm.md`` §5 and the installed
``ccxt/binance.py``/``ccxt/pro/binance.py``), not from ``bot.exchange.connect``:

* Binance production hosts are ``*.binance.com`` without a ``demo-`` prefix (fapi, api, dapi,
  eapi, papi, fstream, dstream, stream, ws-api...); ``enable_demo_trading`` swaps them for
  ``demo-*.binance.com`` and ``*.binancefuture.com`` (the futures demo streams);
* the emulator is our loopback base URL.

Expected results (the policy of the issue, hand-worked per axis):

* live mode with ``exchange.testnet = true``: refused (contradiction);
* live mode without ``live.enabled = true`` AND ``--i-accept-live-risk``: refused;
* endpoints: ``base_url`` set -> emulator; else testnet mode -> demo; live -> production;
  paper -> demo if ``exchange.testnet`` else production;
* keys: held only outside paper mode, and only when configured.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from bot.config import ConfigError, Settings
from bot.exchange.connect import EndpointPolicyError, connect, connected

ROOT = Path(__file__).resolve().parents[2]
EMULATOR = "http://127.0.0.1:8765"
KEY, SECRET = "KEY-endpoints-123456", "SECRET-endpoints-654321"


def _urls(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [u for value in node.values() for u in _urls(value)]
    return []


def _host_family(host: str) -> str:
    """Hand-written classification of one host (see the module docstring)."""
    if host == "127.0.0.1":
        return "emulator"
    if host.endswith(".binancefuture.com") or (host.endswith(".binance.com") and host.startswith("demo-")):
        return "demo"
    if host.endswith(".binance.com"):
        return "production"
    if host in ("api-demo.bybit.com", "stream-demo.bybit.com"):
        return "demo"
    if host.endswith(".bybit.com"):
        return "production"
    return f"unknown:{host}"


def families(exchange: Any) -> set[str]:
    """The families of every URL the client holds (all of them, or the client is mixed)."""
    hosts = {urlsplit(exchange.implode_hostname(u)).hostname for u in _urls(exchange.urls["api"])}
    return {_host_family(h) for h in hosts if h}


async def _close(client: Any) -> None:
    """Close without ccxt's 250 ms exit pause (no session was ever opened: nothing to drain)."""
    client.timeout_on_exit = 0
    await client.close()


def _settings(mode: str, testnet: bool, base_url: str | None, keys: bool, live_enabled: bool,
              **exchange: Any) -> Settings:
    # Every field of interest is passed explicitly, so a developer's DERIVBOT_* environment or
    # .env cannot add keys to a "keys absent" case.
    return Settings(mode=mode, live={"enabled": live_enabled},
                    exchange={"testnet": testnet, "base_url": base_url, "api_key": KEY if keys else None,
                              "api_secret": SECRET if keys else None, **exchange})


def expected(mode: str, testnet: bool, base_url: bool, keys: bool, live_enabled: bool,
             opt_in: bool) -> tuple[str, bool] | str:
    """(family, keys held) or "refused", from the policy in the module docstring."""
    if mode == "live" and (testnet or not (live_enabled and opt_in)):
        return "refused"
    if base_url:
        family = "emulator"
    elif mode == "testnet":
        family = "demo"
    elif mode == "live":
        family = "production"
    else:
        family = "demo" if testnet else "production"
    return family, keys and mode != "paper"


COMBOS = list(itertools.product(["paper", "testnet", "live"], [False, True], [False, True], [False, True],
                                [False, True], [False, True], [False, True]))


@pytest.mark.parametrize(("mode", "testnet", "base_url", "keys", "live_enabled", "opt_in", "pro"), COMBOS,
                         ids=lambda v: str(v))
async def test_every_mode_and_config_combination(mode: str, testnet: bool, base_url: bool, keys: bool,
                                                 live_enabled: bool, opt_in: bool, pro: bool) -> None:
    settings = _settings(mode, testnet, EMULATOR if base_url else None, keys, live_enabled)
    want = expected(mode, testnet, base_url, keys, live_enabled, opt_in)
    if want == "refused":
        with pytest.raises(EndpointPolicyError) as info:
            connect(settings, live_opt_in=opt_in, pro=pro)
        message = str(info.value)
        assert ("exchange.testnet" in message) if testnet else ("--i-accept-live-risk" in message)
        assert KEY not in message and SECRET not in message
        return
    client = connect(settings, live_opt_in=opt_in, pro=pro)
    try:
        family, held = want
        assert families(client) == {family}, client.urls["api"]
        assert bool(client.apiKey) is held and bool(client.secret) is held
        if held:
            assert (client.apiKey, client.secret) == (KEY, SECRET)
        # the invariant of the issue, stated on its own
        if held and "production" in families(client):
            assert mode == "live" and live_enabled and opt_in and not base_url
    finally:
        await _close(client)


def test_the_matrix_covers_every_axis_and_reaches_keyed_production_only_one_way() -> None:
    """Hand count: 3 modes x 2^5 config/flag combinations x REST/WS = 192 cases; of the 64
    live ones, only exchange.testnet = false with both opt-ins builds (4 x 2 = 8 cases: base URL x
    keys x REST/WS); keyed production among them: no base URL, keys present -> 1 x 2 = 2."""
    assert len(COMBOS) == 192
    built_live = [c for c in COMBOS if c[0] == "live" and expected(*c[:6]) != "refused"]
    assert len(built_live) == 8
    keyed_prod = [c for c in COMBOS if expected(*c[:6]) not in ("refused",)
                  and expected(*c[:6]) == ("production", True)]
    assert {c[:6] for c in keyed_prod} == {("live", False, False, True, True, True)}


@pytest.mark.parametrize("mode", ["paper", "testnet"])
@pytest.mark.parametrize("pro", [False, True])
async def test_a_production_base_url_never_gets_the_keys_outside_live(mode: str, pro: bool) -> None:
    """``--exchange-url https://fapi.binance.com`` is an explicit URL, but a production one."""
    settings = _settings(mode, False, "https://fapi.binance.com", True, False)
    if mode == "testnet":
        with pytest.raises(EndpointPolicyError, match="production") as info:
            connect(settings, pro=pro)
        assert KEY not in str(info.value) and SECRET not in str(info.value)
        return
    client = connect(settings, pro=pro)  # paper: keyless public data is harmless
    try:
        assert families(client) == {"production"} and not client.apiKey and not client.secret
    finally:
        await _close(client)


async def test_a_production_base_url_is_fine_in_opted_in_live() -> None:
    client = connect(_settings("live", False, "https://fapi.binance.com", True, True), live_opt_in=True)
    try:
        assert families(client) == {"production"} and client.apiKey == KEY
    finally:
        await _close(client)


def test_the_refusal_is_a_config_error_the_cli_prints_in_one_line() -> None:
    with pytest.raises(ConfigError) as info:
        connect(_settings("live", True, None, True, True), live_opt_in=True)
    assert isinstance(info.value, EndpointPolicyError)
    assert "\n" not in str(info.value) and "exchange.testnet = true" in str(info.value)


async def test_other_exchanges_and_public_clients_never_get_the_keys() -> None:
    """Binance keys must not travel to an extra funding source, nor to a market-data client."""
    settings = _settings("testnet", False, None, True, False)
    other = connect(settings, exchange_id="bybit")
    try:
        assert not other.apiKey and not other.secret
        assert families(other) == {"demo"}, other.urls["api"]  # api-demo.bybit.com: the mode decides
    finally:
        await _close(other)
    async with connected(settings) as public:
        assert not public.apiKey and not public.secret and families(public) == {"demo"}
    # live, keys configured, no opt-in: a keyless market-data client is allowed, a keyed one is not
    live = _settings("live", False, None, True, False)
    async with connected(live) as public:
        assert not public.apiKey and families(public) == {"production"}
    with pytest.raises(EndpointPolicyError):
        connect(live)


async def test_bybit_and_okx_testnet_clients_go_to_their_demo_venues() -> None:
    """Bybit: ``api-demo.bybit.com``; OKX keeps ``www.okx.com`` and marks every request with
    ``x-simulated-trading: 1`` (reference §5), so for OKX the header is what proves demo."""
    bybit = connect(_settings("testnet", False, None, True, False, id="bybit"))
    okx = connect(_settings("testnet", False, None, True, False, id="okx"))
    okx_live = connect(_settings("live", False, None, True, True, id="okx"), live_opt_in=True)
    try:
        assert families(bybit) == {"demo"} and bybit.apiKey == KEY
        assert okx.headers.get("x-simulated-trading") == "1" and okx.apiKey == KEY
        assert "x-simulated-trading" not in (okx_live.headers or {})
    finally:
        for client in (bybit, okx, okx_live):
            await _close(client)


async def test_a_keyed_bybit_websocket_client_is_refused_in_testnet() -> None:
    """ccxt's Bybit demo keeps the PUBLIC streams on production hosts (stream.bybit.com): a keyed
    ccxt.pro client would hold the keys next to production URLs, so it is refused; the public
    (keyless) one, which the liquidation stream uses, is allowed."""
    settings = _settings("testnet", False, None, True, False, id="bybit")
    with pytest.raises(EndpointPolicyError, match="production"):
        connect(settings, pro=True)
    client = connect(settings, pro=True, public=True)
    try:
        assert not client.apiKey and "production" in families(client)
    finally:
        await _close(client)


class _Stop(Exception):
    """Raised by the fake feed once every client of the run has been built."""


def test_cli_testnet_run_with_the_default_config_never_builds_a_production_client(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's reproduction: ``derivbot run --mode testnet --max-cycles 1`` with
    ``config/paper.toml`` (``exchange.testnet = false``) and keys in the environment used to
    build "client built for live endpoints (keys present)". Every client the run builds is
    recorded; the fake feed stops the run before any request is sent (no network)."""
    import bot.runner as runner
    from bot.cli.main import app

    built: list[Any] = []

    def recording_connect(*args: Any, **kwargs: Any) -> Any:
        client = connect(*args, **kwargs)
        built.append(client)
        return client

    class NoWatcher:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def start(self) -> None:
            pass

        async def stop(self) -> None:
            pass

    reached: list[bool] = []

    def stop_feed(*args: Any, **kwargs: Any) -> Any:
        reached.append(True)
        raise _Stop

    monkeypatch.setattr(runner, "connect", recording_connect)
    monkeypatch.setattr(runner, "LiquidationWatcher", NoWatcher)
    monkeypatch.setattr(runner, "LiveSource", stop_feed)
    for name in [n for n in os.environ if n.startswith("DERIVBOT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DERIVBOT_EXCHANGE__API_KEY", KEY)
    monkeypatch.setenv("DERIVBOT_EXCHANGE__API_SECRET", SECRET)
    monkeypatch.setenv("DERIVBOT_ENGINE__HALT_FILE", str(tmp_path / "HALT"))
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    result = CliRunner().invoke(app, ["run", "--mode", "testnet", "--max-cycles", "1", "--config",
                                      str(ROOT / "config" / "paper.toml"), "--journal",
                                      f"sqlite:///{tmp_path / 'j.sqlite'}"])
    assert reached, result.output  # the run got as far as its feed: every client was built
    assert len(built) == 3, "data client, executor client, liquidation stream client"
    data, executor, stream = built
    assert all(families(c) == {"demo"} for c in built), [c.urls["api"] for c in built]
    assert executor.apiKey == KEY and executor.secret == SECRET
    assert not data.apiKey and not stream.apiKey  # market data and the public stream are keyless
    assert "fstream.binancefuture.com" in stream.urls["api"]["ws"]["linear"]


def test_cli_refuses_a_production_exchange_url_in_testnet_mode_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``run --mode testnet --exchange-url https://fapi.binance.com`` with keys: exit 2, one line
    naming the host and the way to live, no traceback, no key, and no journal left behind. The
    feed is replaced so that, were the refusal missing, the run would still stop offline."""
    import bot.runner as runner
    from bot.cli.main import app

    def stop_feed(*args: Any, **kwargs: Any) -> Any:
        raise _Stop

    monkeypatch.setattr(runner, "LiveSource", stop_feed)
    for name in [n for n in os.environ if n.startswith("DERIVBOT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DERIVBOT_EXCHANGE__API_KEY", KEY)
    monkeypatch.setenv("DERIVBOT_EXCHANGE__API_SECRET", SECRET)
    monkeypatch.setenv("DERIVBOT_ENGINE__HALT_FILE", str(tmp_path / "HALT"))
    monkeypatch.chdir(tmp_path)
    journal = tmp_path / "j.sqlite"
    result = CliRunner().invoke(app, ["run", "--mode", "testnet", "--exchange-url", "https://fapi.binance.com",
                                      "--max-cycles", "1", "--config", str(ROOT / "config" / "paper.toml"),
                                      "--journal", f"sqlite:///{journal}"])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if "error" in line]
    assert len(errors) == 1 and "fapi.binance.com" in errors[0] and "--i-accept-live-risk" in errors[0], result.output
    assert "Traceback" not in result.output and KEY not in result.output and SECRET not in result.output
    assert not journal.exists()


@pytest.mark.parametrize("pro", [False, True])
def test_a_wrong_plan_still_cannot_build_a_keyed_production_client(monkeypatch: pytest.MonkeyPatch,
                                                                   pro: bool) -> None:
    """Defence in depth: simulate a programming error in the policy (it plans production with keys
    for testnet mode); the check on the client's real URLs refuses it anyway."""
    import importlib

    connect_module = importlib.import_module("bot.exchange.connect")  # the package re-exports connect()

    def wrong_plan(settings: Settings, **kwargs: Any) -> Any:
        return connect_module.EndpointPlan("binanceusdm", "production", True)

    monkeypatch.setattr(connect_module, "plan_endpoints", wrong_plan)
    with pytest.raises(EndpointPolicyError, match="production"):
        connect(_settings("testnet", False, None, True, False), pro=pro)


async def test_a_host_shared_with_the_sandbox_is_demo_only_with_the_sandbox_on() -> None:
    """OKX's sandbox keeps www.okx.com (reference §5): that one host counts as demo when ccxt's
    sandbox mode is on; any other production host still counts as production."""
    import ccxt.async_support as ccxt_async

    from bot.exchange.connect import endpoint_family

    okx = ccxt_async.okx({})
    binance = ccxt_async.binanceusdm({})
    try:
        assert endpoint_family(okx) == "production"
        okx.set_sandbox_mode(True)
        assert endpoint_family(okx) == "demo"
        binance.options["disableFuturesSandboxWarning"] = True
        binance.set_sandbox_mode(True)  # testnet.binancefuture.com / testnet.binance.vision
        assert endpoint_family(binance) == "demo"
        binance.urls["api"]["sapi"] = "https://api.binance.com/sapi/v1"  # one production entry is enough
        assert endpoint_family(binance) == "production"
    finally:
        for client in (okx, binance):
            await _close(client)
