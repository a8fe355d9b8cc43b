"""A secret put in the config never shows up in config show, errors or logs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from loguru import logger

from bot.config import LoggingSettings
from bot.logging import redact, register_secrets, setup_logging

SECRET = "Zq8sEcReT-tHaT-mUsT-nEvEr-LeAk"
KEY = "AkEy-1234567890-vIsIbLe-NeVeR"
REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or REPO, timeout=60)


def test_config_show_masks_secrets() -> None:
    env = {"DERIVBOT_EXCHANGE__API_SECRET": SECRET, "DERIVBOT_EXCHANGE__API_KEY": KEY}
    for args in (("config", "show"), ("config", "show", "--json")):
        result = _cli(*args, env=env)
        assert result.returncode == 0, result.stderr
        out = result.stdout + result.stderr
        assert SECRET not in out and KEY not in out
        assert "**********" in out


def test_config_error_with_secret_does_not_echo_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(f"[exchange]\napi_secret = '{SECRET}'\napi_kee = '{KEY}'\n")
    result = _cli("config", "check", "--config", str(bad))
    assert result.returncode == 2
    out = result.stdout + result.stderr
    assert "exchange.api_kee" in out
    assert SECRET not in out and KEY not in out
    assert "Traceback" not in out


def test_logs_and_tracebacks_are_redacted(tmp_path: Path) -> None:
    stream = io.StringIO()
    json_path = tmp_path / "log.jsonl"
    setup_logging(LoggingSettings(json_file=str(json_path)), stream=stream, secrets=[SECRET, KEY])
    try:
        logger.info("placing order with key {} secret {}", KEY, SECRET)
        logger.bind(api_secret=SECRET).warning("GET /fapi/v1/order?timestamp=1700000000000&symbol=BTCUSDT"
                                                "&signature=0123456789abcdef0123456789abcdef")
        try:
            raise RuntimeError(f"exchange said no to {SECRET}")
        except RuntimeError:
            logger.exception("order failed")
    finally:
        setup_logging(stream=io.StringIO())
    console = stream.getvalue()
    file_text = json_path.read_text()
    for text in (console, file_text):
        assert SECRET not in text
        assert KEY not in text
        assert "0123456789abcdef0123456789abcdef" not in text
    assert "order failed" in console and "RuntimeError" in console
    lines = [json.loads(line) for line in file_text.splitlines()]
    assert [line["level"] for line in lines] == ["INFO", "WARNING", "ERROR"]
    assert "RuntimeError" in lines[-1]["exception"]


def test_redact_patterns_without_registration() -> None:
    text = "POST body timestamp=1&symbol=X&quantity=1&recvWindow=10000&signature=" + "ab" * 32
    assert "signature=" + "ab" * 32 not in redact(text)
    assert "REDACTED" in redact("headers={'X-MBX-APIKEY': 'abcdefghijkl'}")
    assert "abcdefghijkl" not in redact("headers={'X-MBX-APIKEY': 'abcdefghijkl'}")
    register_secrets("test")  # the emulator's demo key: too short to be a secret
    assert redact("started in testnet mode") == "started in testnet mode"
    register_secrets("k3y-of-8")
    assert redact("key k3y-of-8 used") == "key ***REDACTED*** used"
