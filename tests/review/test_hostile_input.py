"""Issue 16 items 9 and 13: hostile journal text and hostile Host headers.

* Journal text (strategy names, symbols, reasons, messages, JSON data) is printed literally by
  every review command: a stray ``[/oops]`` used to crash ``journal summary``/``trade``/
  ``events`` with a Rich MarkupError, ``[link=...]`` became a terminal hyperlink, ``:thumbs_up:``
  an emoji, and a ``$...$`` strategy name broke the matplotlib charts of ``plot``/``report``.
* The dashboard answers only requests addressed to its own names (DNS rebinding defence).
* ``bot.review`` never imports ``bot.cli`` (imports flow downward).
"""

from __future__ import annotations

import ast
import http.client
import io
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from rich.console import Console
from typer.testing import CliRunner

from bot.cli.main import app
from bot.review.dashboard import create_app

from .journal_builder import (
    CLOSE_TAG,
    EMOJI,
    HOSTILE_MESSAGE,
    HOSTILE_STRATEGY,
    HOSTILE_SYMBOL,
    LINK,
    MATH_STRATEGY,
    HostileScenario,
    build_hostile_journal,
)

REPO = Path(__file__).resolve().parents[2]
DERIVBOT = REPO / ".venv" / "bin" / "derivbot"
OSC8 = "\x1b]8;"  # the terminal escape that starts a hyperlink
runner = CliRunner()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> HostileScenario:
    return build_hostile_journal(f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'journal.sqlite'}")


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """The review commands' console as a colour terminal, so a hyperlink or style that markup
    produced would show up as escape codes in the captured text."""
    buffer = io.StringIO()
    fake = Console(file=buffer, force_terminal=True, color_system="truecolor", width=400, highlight=False)
    monkeypatch.setattr("bot.cli.review_cmd.console", fake)
    return buffer


def _invoke(*args: str) -> str:
    result = runner.invoke(app, ["journal", *args], env={"COLUMNS": "400"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


# command -> the journal strings it must show verbatim
COMMANDS: dict[str, tuple[str, ...]] = {
    "summary": (HOSTILE_STRATEGY, HOSTILE_SYMBOL, MATH_STRATEGY),
    "trades": (HOSTILE_STRATEGY, HOSTILE_SYMBOL),
    "signals": (HOSTILE_STRATEGY, HOSTILE_SYMBOL, LINK, CLOSE_TAG),
    "decisions": (HOSTILE_STRATEGY, "ok" + CLOSE_TAG, LINK),
    "events": ("halt" + CLOSE_TAG, HOSTILE_MESSAGE, LINK, EMOJI),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_listing_commands_print_journal_text_literally(hostile, terminal, command):
    _invoke(command, "--journal", hostile.url)
    shown = terminal.getvalue()
    for text in COMMANDS[command]:
        assert text.replace('"', "") in shown.replace('"', ""), (text, shown)
    assert OSC8 not in shown
    assert "\N{THUMBS UP SIGN}" not in shown


def test_trade_story_prints_journal_text_literally(hostile, terminal):
    _invoke("trade", hostile.trade_id[:8], "--journal", hostile.url)
    shown = terminal.getvalue()
    for text in (HOSTILE_STRATEGY, HOSTILE_SYMBOL, f"reason {LINK}:", CLOSE_TAG, "ok" + CLOSE_TAG,
                 "moved " + CLOSE_TAG):
        assert text in shown, (text, shown)
    assert OSC8 not in shown


def test_plot_and_report_survive_math_and_markup_names(hostile, tmp_path):
    out = _invoke("plot", "--out", str(tmp_path / "png"), "--journal", hostile.url)
    assert "5 charts" in out  # equity, pnl by strategy, pnl by symbol, two trades
    _invoke("report", "--out", str(tmp_path / "r.html"), "--journal", hostile.url)
    html = (tmp_path / "r.html").read_text()
    assert HOSTILE_STRATEGY in html and MATH_STRATEGY in html


def test_json_output_keeps_journal_text(hostile):
    import json

    events = json.loads(_invoke("events", "--journal", hostile.url, "--json"))
    assert events[0]["message"] == HOSTILE_MESSAGE and events[0]["data"] == {"x": LINK}


# -- item 13: Host header -----------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard(scenario) -> Iterator[int]:
    """The dashboard app served by uvicorn on loopback (as ``journal serve`` does); yields the port."""
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(scenario.url), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert time.monotonic() < deadline, "dashboard did not start"
        time.sleep(0.05)
    yield port
    srv.should_exit = True
    thread.join(timeout=10)


def _get(port: int, host_header: str, path: str = "/api/summary") -> tuple[int, bytes]:
    """A real HTTP request to 127.0.0.1:port that claims to be for ``host_header`` (what a
    browser sends after DNS rebinding: the attacker's name, our address)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host_header)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize("path", ["/", "/api/summary", "/trades"])
def test_dashboard_refuses_foreign_host_header(dashboard, path):
    status, body = _get(dashboard, "evil.example", path)
    assert status == 400
    assert b"TOTAL" not in body and b"trades" not in body
    assert _get(dashboard, f"evil.example:{dashboard}", path)[0] == 400


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"])
def test_dashboard_answers_its_own_names(dashboard, name):
    assert _get(dashboard, f"{name}:{dashboard}")[0] == 200
    assert _get(dashboard, name)[0] == 200


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("serve did not start listening")


def test_serve_command_checks_host_header(scenario):
    """The real ``derivbot journal serve``: only loopback names, --host and --allow-host pass."""
    port = _free_port()
    proc = subprocess.Popen([str(DERIVBOT), "journal", "serve", "--journal", scenario.url, "--port", str(port),
                             "--allow-host", "proxy.example"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    try:
        _wait_for_port(port, proc)
        assert _get(port, "evil.example")[0] == 400
        assert _get(port, f"127.0.0.1:{port}")[0] == 200
        assert _get(port, "proxy.example")[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_serve_rejects_a_wildcard_allow_host(scenario):
    result = runner.invoke(app, ["journal", "serve", "--journal", scenario.url, "--allow-host", "*"])
    assert result.exit_code == 2
    assert "--allow-host '*' is not a host name" in result.output and "Traceback" not in result.output


# -- imports flow downward; --since parsing moved to bot.core.timeutil ---------------------------

def test_review_package_never_imports_cli():
    offenders = []
    for path in sorted((REPO / "bot" / "review").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if re.match(r"bot\.cli(\.|$)", n)]
    assert offenders == []


def test_dashboard_imports_without_the_cli():
    code = ("import sys; import bot.review.dashboard; "
            "print(sorted(m for m in sys.modules if m.startswith('bot.cli')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),                 # no offset: UTC, not local time
    (" 2024-05-01T12:30 ", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
    ("2024-05-01T12:30Z", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
    ("2024-05-01T12:30+02:00", datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),  # 12:30 at +2h is 10:30 UTC
])
def test_parse_utc_datetime(text, expected):
    from bot.core.timeutil import parse_utc_datetime

    parsed = parse_utc_datetime(text)
    assert parsed == expected and parsed.tzinfo == UTC


def test_parse_utc_datetime_rejects_non_iso():
    from bot.core.timeutil import parse_utc_datetime

    with pytest.raises(ValueError):
        parse_utc_datetime("yesterday")

