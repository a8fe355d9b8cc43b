"""Issue 16, items 6 and 8: ``derivbot exchange-sim`` flags and logging, through the real CLI.

Flag and data errors run the real console entry in-process (``tests/cli_inprocess``: the same
parsing, checks, logging set-up and exit codes; they end before anything serves). The cases
that serve run the command in a subprocess (it serves forever once started), on a tiny
hand-made data folder, bound to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bot.core.timeutil import MS_PER_HOUR, to_ms
from bot.emulator.auth import sign
from tests.cli_inprocess import CliResult, derivbot

T0 = to_ms("2025-01-01T00:00:00Z")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """Two symbols, 48 hourly bars each, in derivbot's parquet layout."""
    root = tmp_path / "data"
    for symbol in ("AAAUSDT", "BBBUSDT"):
        d = root / "binanceusdm" / symbol
        d.mkdir(parents=True)
        n = 48
        cols = {"ts": pa.array([T0 + i * MS_PER_HOUR for i in range(n)], pa.int64())}
        cols |= {k: pa.array([1.0] * n, pa.float64()) for k in ("open", "high", "low", "close", "volume",
                                                                  "quote_volume")}
        pq.write_table(pa.table(cols), d / "ohlcv_1h.parquet")
    return root


def sim_cli(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run ``derivbot exchange-sim ARGS`` to completion in-process (only failing invocations end
    by themselves)."""
    return derivbot("exchange-sim", *args, env=env)


def assert_one_line_error(result: CliResult, *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.mark.parametrize("port", ["99999", "-1", "65536"])
def test_port_out_of_range_is_one_line_exit_2(data: Path, port: str) -> None:
    assert_one_line_error(sim_cli("--data", str(data), "--port", port), "--port", "65535", port)


def test_port_in_use_is_one_line_exit_2(data: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = sim_cli("--data", str(data), "--port", str(port))
    assert_one_line_error(result, f"--port {port}", "already in use")


def test_unknown_symbol_says_which_symbols_the_data_has(data: Path) -> None:
    result = sim_cli("--data", str(data), "--symbols", "NOPE", "--port", "0")
    assert_one_line_error(result, "NOPE", "AAAUSDT, BBBUSDT")


@pytest.mark.parametrize(("flag", "value"), [("--speed", "nan"), ("--speed", "inf"), ("--speed", "1e9"),
                                              ("--balance", "nan"), ("--balance", "-1"), ("--max-weight", "0"),
                                              ("--usdc-balance", "nan"), ("--usdc-balance", "-5")])
def test_unusable_numbers_are_one_line_exit_2(data: Path, flag: str, value: str) -> None:
    assert_one_line_error(sim_cli("--data", str(data), flag, value, "--port", "0"), flag)


def test_non_loopback_bind_warns(tmp_path: Path) -> None:
    """Checked without binding: the warning comes first, then the (deliberately) missing data stops it."""
    result = sim_cli("--host", "0.0.0.0", "--data", str(tmp_path / "missing"))
    assert_one_line_error(result, "data directory not found")
    warning = next(line for line in result.stderr.splitlines() if "WARNING" in line)
    assert "'0.0.0.0'" in warning and "not loopback" in warning and "--control-token" in warning
    quiet = sim_cli("--host", "127.0.0.1", "--data", str(tmp_path / "missing"))
    assert "not loopback" not in quiet.stderr


SERVER = textwrap.dedent("""
    import sys
    from loguru import logger
    from bot.emulator import app as emulator_app
    from bot.emulator.routes import Route

    def boom(state, params):
        secret_copy = state.credentials.api_secret   # a local a diagnose traceback would print
        try:
            raise ValueError("inner")
        except ValueError:  # any code in the process logging a traceback: no locals may show
            logger.exception("inner failure")
        raise RuntimeError("handler bug near " + secret_copy)

    emulator_app.ROUTES[("GET", "/fapi/v2/balance")] = Route("GET", "/fapi/v2/balance", boom, signed=True)
    from bot.cli.main import app
    app(sys.argv[1:], prog_name="derivbot")
""")


def _serve(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start the real CLI (with one route patched to fail) and return it with its base URL."""
    proc = subprocess.Popen([sys.executable, "-c", SERVER, "exchange-sim", *args], cwd=REPO, text=True,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if match:
            return proc, match.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"the emulator did not start: {proc.stderr.read()}")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def test_server_error_log_holds_no_key_secret_or_signature(data: Path) -> None:
    key, secret = "cli-key-0123456789abcdef", "cli-secret-0123456789abcdef"
    proc, base = _serve(["--data", str(data), "--port", "0", "--api-key", key, "--api-secret", secret])
    try:
        query = f"timestamp={int(time.time() * 1000)}&recvWindow=5000"
        signature = sign(secret, query)
        request = urllib.request.Request(f"{base}/fapi/v2/balance?{query}&signature={signature}",
                                         headers={"X-MBX-APIKEY": key})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=10)
        assert err.value.code == 500
    finally:
        log = _stop(proc)
    assert "unexpected error in GET /fapi/v2/balance" in log and "handler bug near" in log
    assert "inner failure" in log
    for needle in (key, secret, signature):
        assert needle not in log


def test_control_token_from_the_environment(data: Path) -> None:
    token = "env-token-0123456789"
    proc, base = _serve(["--data", str(data), "--port", "0"], env={"DERIVBOT_SIM_CONTROL_TOKEN": token})
    try:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/_sim/status", timeout=10)
        assert err.value.code == 401
        ok = urllib.request.Request(f"{base}/_sim/status", headers={"X-Sim-Control-Token": token})
        with urllib.request.urlopen(ok, timeout=10) as resp:
            assert json.load(resp)["symbols"] == ["AAAUSDT", "BBBUSDT"]
    finally:
        log = _stop(proc)
    assert token not in log


def test_usdc_variant_lists_a_usdc_margined_twin_next_to_the_usdt_symbols(data: Path) -> None:
    """``--usdc-variant AAAUSDT``: the account also trades AAAUSDC, margined in USDC (a user's
    USDC-margined position beside the bot's, issue 11 Part 1), with the USDC wallet asked for."""
    proc, base = _serve(["--data", str(data), "--port", "0", "--usdc-variant", "AAAUSDT", "--usdc-balance", "2500"])
    try:
        with urllib.request.urlopen(f"{base}/fapi/v1/exchangeInfo", timeout=10) as resp:
            info = json.load(resp)
        query = f"timestamp={int(time.time() * 1000)}&recvWindow=5000"
        request = urllib.request.Request(f"{base}/fapi/v2/account?{query}&signature={sign('test', query)}",
                                         headers={"X-MBX-APIKEY": "test"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            balances = {row["asset"]: float(row["walletBalance"]) for row in json.load(resp)["assets"]}
    finally:
        _stop(proc)
    margin = {s["symbol"]: s["marginAsset"] for s in info["symbols"]}
    assert margin == {"AAAUSDT": "USDT", "BBBUSDT": "USDT", "AAAUSDC": "USDC"}
    assert balances["USDC"] == 2500.0 and balances["USDT"] == 10_000.0
