"""The read-only dashboard: pages checked in headless Chromium (selenium + the system
chromedriver), and proof that serving never writes to the journal.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``/usr/bin/chromedriver``) and the
``selenium`` Python package (dev extra); without them the browser test is skipped with the reason.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn

from bot.review.dashboard import create_app
from bot.review.db import open_readonly

from .journal_builder import at

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _digest(path: Path) -> str:
    """Hash of the database file and its WAL, i.e. everything SQLite could have written."""
    h = hashlib.sha256()
    for p in (path, Path(f"{path}-wal")):
        if p.exists():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def server(scenario) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(create_app(scenario.url), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("dashboard did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    if not Path(CHROMEDRIVER).exists() or shutil.which("chromium") is None:
        pytest.skip("headless browser test needs apt packages chromium and chromium-driver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_pages_show_real_journal_data_in_a_browser(server, browser, scenario):
    from selenium.webdriver.common.by import By

    before = _digest(Path(scenario.url.removeprefix("sqlite:///")))
    browser.get(server + "/")
    summary = browser.find_element(By.ID, "summary").text
    assert "TOTAL" in summary and "236.00" in summary and "60.00%" in summary
    assert "short_squeeze" in summary and "ORCAUSDT" in summary
    assert browser.execute_script("return document.getElementById('equity').naturalWidth") > 100

    browser.get(server + "/trades?strategy=funding_extreme&symbol=BTCUSDT")
    rows = browser.find_elements(By.CSS_SELECTOR, "#trades tbody tr")
    assert len(rows) == 1
    assert "BTCUSDT" in rows[0].text and "-199.00" in rows[0].text

    browser.get(server + "/trades?status=open")
    rows = browser.find_elements(By.CSS_SELECTOR, "#trades tbody tr")
    assert len(rows) == 1 and scenario.trades["T5"][:8] in rows[0].text

    browser.get(server + "/trades")
    browser.find_element(By.LINK_TEXT, scenario.trades["T1"][:8]).click()
    assert "ORCAUSDT" in browser.find_element(By.TAG_NAME, "h1").text
    assert "net 118.00" in browser.find_element(By.ID, "exit").text
    assert "funding_rate" in browser.find_element(By.ID, "reasons").text
    assert "approved" in browser.find_element(By.ID, "decision").text
    assert "breakeven" in browser.find_element(By.ID, "stops").text
    assert browser.execute_script("return document.getElementById('chart').naturalWidth") > 100
    assert _digest(Path(scenario.url.removeprefix("sqlite:///"))) == before


def _status(url: str, method: str = "GET") -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_dashboard_never_writes(server, scenario):
    path = Path(scenario.url.removeprefix("sqlite:///"))
    before = _digest(path)
    assert _status(server + "/")[0] == 200
    assert _status(server + "/trades?mode=live")[0] == 200
    assert _status(server + f"/trade/{scenario.trades['T3']}")[0] == 200
    code, body = _status(server + f"/api/summary?since={at(2, 0).date().isoformat()}")
    assert code == 200 and json.loads(body)["total"]["trades"] == 3
    assert _status(server + "/trades?mode=real")[0] == 400
    assert _status(server + "/trade/nothing-like-this")[0] == 404
    assert _status(server + "/trades", method="POST")[0] == 405
    assert _digest(path) == before


def test_readonly_engine_refuses_writes(scenario):
    engine = open_readonly(scenario.url)
    try:
        with pytest.raises(sa.exc.OperationalError, match=r"readonly|read-only|query_only"), engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM events"))
    finally:
        engine.dispose()
    with sqlite3.connect(scenario.url.removeprefix("sqlite:///")) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1


@pytest.mark.postgres
def test_postgres_readonly_engine_refuses_writes(pg_url):
    from bot.journal import Journal

    Journal.open(pg_url).close()
    engine = open_readonly(pg_url)
    try:
        with pytest.raises(sa.exc.InternalError, match="read-only"), engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO events (id, recorded_at, ts, kind, severity, message) "
                                 "VALUES ('x', now(), now(), 'k', 'info', 'm')"))
    finally:
        engine.dispose()
