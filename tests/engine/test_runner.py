"""Assembly of live runs (no network: only the decisions that need none are exercised here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import bot.runner as runner
from bot.config import Settings
from bot.exchange.connect import EndpointPolicyError, connect
from bot.market.liquidations import supports_liquidation_stream
from bot.runner import _liquidation_stream, build_and_run, liquidation_client

KEY, SECRET = "k" * 16, "s" * 16


def _ws_hosts(client: Any) -> set[str]:
    """Hosts of every WebSocket URL the ccxt.pro client holds (``urls['api']['ws']``, nested)."""
    def walk(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [u for v in node.values() for u in walk(v)]
        return [node] if isinstance(node, str) else []
    return {urlsplit(u).hostname or "" for u in walk(client.urls["api"]["ws"])}


def test_no_liquidation_stream_against_the_emulator() -> None:
    """Our emulator speaks REST only: no WebSocket watcher is started for it."""
    settings = Settings(exchange={"base_url": "http://127.0.0.1:9"})
    assert _liquidation_stream(settings) == (None, None, None)


async def test_the_pro_client_is_the_same_exchange_with_the_stream() -> None:
    settings = Settings(mode="testnet", exchange={"api_key": KEY, "api_secret": SECRET})
    rest, ws = connect(settings), connect(settings, pro=True)
    try:
        assert ws.id == rest.id == "binanceusdm"
        assert supports_liquidation_stream(ws) and not supports_liquidation_stream(rest)
        assert ws.apiKey == rest.apiKey == KEY and ws.rateLimit == rest.rateLimit
    finally:
        await rest.close()
        await ws.close()


@pytest.mark.parametrize(("mode", "expected_linear"), [
    # ccxt 4.5 pro: production linear stream fstream.binance.com; demo trading: fstream.binancefuture.com
    ("testnet", "fstream.binancefuture.com"),
    ("paper", "fstream.binance.com"),
    ("live", "fstream.binance.com"),  # public data: allowed without the opt-ins, because keyless
])
async def test_the_liquidation_client_is_keyless_and_follows_the_mode(mode: str, expected_linear: str) -> None:
    """Issue 16 item 1: a testnet run must not open a production WebSocket with the keys."""
    settings = Settings(mode=mode, exchange={"api_key": KEY, "api_secret": SECRET, "testnet": False})
    client = liquidation_client(settings)
    assert client is not None
    try:
        assert not client.apiKey and not client.secret
        assert urlsplit(client.urls["api"]["ws"]["linear"]).hostname == expected_linear
        if mode == "testnet":
            assert not any(h.endswith(".binance.com") and not h.startswith("demo-") for h in _ws_hosts(client))
    finally:
        client.timeout_on_exit = 0
        await client.close()


def _live(tmp_path: Path, *, enabled: bool) -> Settings:
    return Settings(mode="live", live={"enabled": enabled},
                    exchange={"api_key": KEY, "api_secret": SECRET, "base_url": "http://127.0.0.1:9"},
                    journal={"url": f"sqlite:///{tmp_path / 'j.sqlite'}"},
                    engine={"halt_file": str(tmp_path / "HALT")})


@pytest.mark.parametrize("enabled", [False, True])
async def test_build_and_run_refuses_live_without_both_opt_ins_before_opening_anything(
        tmp_path: Path, enabled: bool) -> None:
    """Whatever the CLI checked, the runner itself refuses, and no journal/run row is created."""
    with pytest.raises(EndpointPolicyError, match="--i-accept-live-risk"):
        await build_and_run(_live(tmp_path, enabled=enabled), {}, max_cycles=1, live_opt_in=False)
    assert not (tmp_path / "j.sqlite").exists()


class _Stop(Exception):
    pass


async def test_build_and_run_carries_the_opt_in_to_the_keyed_client(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """With both opt-ins the executor's client gets the keys and the market-data client does not.
    The emulator URL (nothing listens on port 9) keeps it offline; the feed stops the run."""
    built: list[Any] = []

    def recording_connect(*args: Any, **kwargs: Any) -> Any:
        built.append(connect(*args, **kwargs))
        return built[-1]

    def stop(*args: Any, **kwargs: Any) -> Any:
        raise _Stop

    monkeypatch.setattr(runner, "connect", recording_connect)
    monkeypatch.setattr(runner, "LiveSource", stop)
    with pytest.raises(_Stop):
        await build_and_run(_live(tmp_path, enabled=True), {}, max_cycles=1, live_opt_in=True)
    data, executor = built
    assert not data.apiKey and (executor.apiKey, executor.secret) == (KEY, SECRET)
    assert executor.urls["api"]["fapiPrivate"].startswith("http://127.0.0.1:9/")
    await executor.close()


class _KeyRestrictions:
    """Answers Binance's ``GET /sapi/v1/account/apiRestrictions`` as the real venue documents it."""

    def __init__(self, withdrawals: bool) -> None:
        self.answer = {"ipRestrict": False, "enableReading": True, "enableFutures": True,
                       "enableWithdrawals": withdrawals}

    async def sapiGetAccountApiRestrictions(self) -> dict[str, Any]:  # ccxt's method name
        return self.answer


async def test_a_live_key_that_can_withdraw_is_refused_as_one_clear_line() -> None:
    """A ConfigError (one redacted line, exit 2 from the CLI), not a bare SystemExit."""
    from bot.config import ConfigError

    settings = Settings(mode="live", live={"enabled": True}, exchange={"api_key": KEY, "api_secret": SECRET})
    with pytest.raises(ConfigError, match="withdrawal permission"):
        await runner.check_key_permissions(_KeyRestrictions(withdrawals=True), settings)
    await runner.check_key_permissions(_KeyRestrictions(withdrawals=False), settings)  # allowed
