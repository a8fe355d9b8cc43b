"""The alert dispatcher and its configuration, against a real local HTTP receiver through apprise's
JSON webhook: merging, retries, per-target filters, the crash alert from the process, and the URL
kept secret everywhere (config show, logs, validation errors)."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import AlertTarget, ConfigError, Settings, load_settings
from bot.journal import Journal
from bot.journal.reader import JournalReader
from bot.logging import REDACTED, registered_secrets, reset_secrets, setup_logging
from bot.ops.alert_rules import Alert, AlertRules
from bot.ops.alerts import AlertDispatcher, Target
from tests.ops.receiver import Receiver, fields

TOKEN = "123456789:AAHk3vQ9zXw7pLm2Tn5Rb8Yc4Df6Gh1Js0K"


@pytest.fixture
def receiver() -> Any:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def secrets() -> Any:
    saved = registered_secrets()
    yield
    reset_secrets(saved)


def _target(url: str, index: int = 0, **kw: Any) -> Target:
    return Target(index, AlertTarget(url=url, **kw))


def _alert(title: str = "cycles failing", event: str = "cycle_failures", severity: str = "error",
           **fields: Any) -> Alert:
    return Alert(event, severity, title, fields or {"detail": "venue unavailable"})


def test_identical_alerts_within_the_window_are_sent_once_then_counted(receiver: Receiver) -> None:
    alerts = AlertDispatcher([_target(receiver.url(), level="info")], merge_window_s=3600, backoff_s=0.01)
    alerts.start()
    for _ in range(5):
        alerts.submit(_alert())
    alerts.submit(_alert(detail="another error"))  # different fields: not identical
    stats = alerts.close()
    bodies = [fields(b) | {"title": b["title"]} for b in receiver.bodies]
    # the first of the five, the different one, and at the end one alert counting the 4 repeats
    assert [b["title"] for b in bodies] == ["cycles failing", "cycles failing", "cycles failing (repeated 4x)"]
    assert bodies[1]["detail"] == "another error"
    assert bodies[2]["repeated"] == "4" and bodies[2]["detail"] == "venue unavailable"
    assert stats.merged == 4 and stats.sent == 3 and stats.dropped == 0


def test_a_failing_receiver_gets_every_retry_then_the_drop_is_counted_and_journaled(
        tmp_path: Path, receiver: Receiver) -> None:
    receiver.status = 500
    journal = Journal.open(f"sqlite:///{tmp_path / 'j.sqlite'}")
    alerts = AlertDispatcher([_target(receiver.url(), level="info")], retries=2, backoff_s=0.01)
    alerts.start()
    alerts.attach(journal)
    try:
        alerts.submit(_alert())
        stats = alerts.close()
    finally:
        journal.close()
    assert receiver.requests == 3  # the first attempt and 2 retries
    assert stats.dropped_send_failed == 1 and stats.sent == 0
    with JournalReader(journal.url) as reader:
        (drop,) = reader.events(kind="alert_dropped")
    assert drop.data == {"reason": "send_failed", "count": 1, "event": "cycle_failures", "target": 0,
                         "attempts": 3}
    assert str(receiver.port) not in drop.message


def test_each_target_gets_its_level_and_its_events(receiver: Receiver) -> None:
    everything = _target(receiver.url("all"), level="debug")
    loud = _target(receiver.url("loud"), 1, level="error")
    trades = _target(receiver.url("trades"), 2, level="info", events=["entry", "exit"])
    alerts = AlertDispatcher([everything, loud, trades], merge_window_s=0)
    alerts.start()
    alerts.submit(Alert("entry", "info", "entry long ORCAUSDT", {"symbol": "ORCAUSDT"}))
    alerts.submit(Alert("crash", "critical", "derivbot crashed", {"error": "boom"}))
    alerts.submit(Alert("stop_placed", "info", "stop placed ORCAUSDT", {"symbol": "ORCAUSDT"}))
    alerts.close()
    got: dict[str, list[str]] = {}
    for path, body in zip(receiver.paths, receiver.bodies, strict=True):
        got.setdefault(path, []).append(fields(body)["event"])
    assert got == {"/all": ["entry", "crash", "stop_placed"], "/loud": ["crash"], "/trades": ["entry"]}


def test_the_daily_summary_turns_over_at_midnight_utc_on_the_engines_clock() -> None:
    rules = AlertRules()

    def equity(at: str, value: str) -> list[Alert]:
        return rules("equity_snapshots", {"ts": datetime.fromisoformat(at), "equity": Decimal(value),
                                          "risk_state": "active"})

    assert equity("2025-03-18T22:00:00+00:00", "10000") == []
    rules("trades", {"id": "t1", "symbol": "ORCAUSDT", "side": "long", "strategy": "s",
                     "entry_ts": datetime(2025, 3, 18, 22, 30, tzinfo=UTC)})
    # price P&L 50, fees 2, funding received 1: net 49
    rules("trade_exits", {"trade_id": "t1", "exit_reason": "take_profit", "realised_pnl": Decimal(50),
                          "fees": Decimal(2), "funding": Decimal(1), "exit_ts": datetime(2025, 3, 18, 23, tzinfo=UTC)})
    assert equity("2025-03-18T23:59:59+00:00", "10049") == []
    (summary,) = equity("2025-03-19T00:00:00+00:00", "10049")
    got = fields({"message": summary.body})
    assert summary.event == "daily_summary" and got["day"] == "2025-03-18"
    assert (got["entries"], got["exits"], got["wins"], got["net_pnl"]) == ("1", "1", "1", "49")
    assert (got["equity_start"], got["equity_end"], got["equity_change"]) == ("10000", "10049", "49")
    assert equity("2025-03-19T01:00:00+00:00", "10049") == []  # once a day


_MONEY = st.decimals(min_value=-10_000, max_value=10_000, places=4, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_MONEY, _MONEY.map(abs), _MONEY), max_size=12))
def test_the_daily_summary_adds_up_each_exits_net(exits: list[tuple[Decimal, Decimal, Decimal]]) -> None:
    """net of a trade = price P&L - fees + funding received (journal.record_trade_exit's
    contract); the day's net is their sum and its wins the trades with a net above 0."""
    rules = AlertRules()
    day = datetime(2025, 3, 18, tzinfo=UTC)
    rules("equity_snapshots", {"ts": day, "equity": Decimal(10_000), "risk_state": "active"})
    for i, (pnl, fees, funding) in enumerate(exits):
        rules("trade_exits", {"trade_id": f"t{i}", "exit_reason": "signal", "realised_pnl": pnl, "fees": fees,
                              "funding": funding, "exit_ts": day})
    (summary,) = rules("equity_snapshots", {"ts": datetime(2025, 3, 19, tzinfo=UTC), "equity": Decimal(10_000),
                                            "risk_state": "active"})
    nets = [pnl - fees + funding for pnl, fees, funding in exits]
    assert summary.fields["net_pnl"] == sum(nets, Decimal(0))
    assert summary.fields["exits"] == len(exits) and summary.fields["wins"] == sum(1 for n in nets if n > 0)


def test_a_crash_before_the_engine_runs_is_alerted_from_the_process(tmp_path: Path, receiver: Receiver) -> None:
    """The runner's exception path: a journal that cannot be opened ends the run unasked."""
    from bot.runner import build_and_run

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the journal's folder should be")
    settings = Settings(mode="paper", journal={"url": f"sqlite:///{blocker / 'journal.sqlite'}"},
                        exchange={"base_url": "http://127.0.0.1:9"},
                        alerts={"targets": [{"url": receiver.url(), "level": "error"}], "backoff_seconds": 0.01})
    with pytest.raises(Exception):  # noqa: B017 - whichever error the database driver raises
        import asyncio

        asyncio.run(build_and_run(settings, {}))
    (body,) = receiver.bodies
    got = fields(body)
    assert got["event"] == "crash" and body["type"] == "failure"
    assert body["title"].startswith("derivbot crashed (")


def test_an_exit_nobody_asked_for_is_alerted_at_interpreter_exit(tmp_path: Path, receiver: Receiver) -> None:
    script = textwrap.dedent(f"""
        import sys
        from bot.config import AlertTarget
        from bot.ops.alerts import AlertDispatcher, Target
        from bot.ops.crash import CrashGuard
        alerts = AlertDispatcher([Target(0, AlertTarget(url={receiver.url()!r}, level="error"))])
        alerts.start()
        CrashGuard(alerts).arm()
        sys.exit(3)  # a library's sys.exit: the run never reached its stop
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2], timeout=60,
                          capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    (body,) = receiver.bodies
    assert fields(body)["event"] == "crash"
    assert "exited while its run was still open" in fields(body)["error"]


# -- the URL is a secret ------------------------------------------------------------------------


def test_config_show_and_the_hash_never_hold_the_url() -> None:
    settings = Settings(alerts={"targets": [{"url": f"tgram://{TOKEN}/-100123", "level": "info"}]})
    shown = settings.masked_dict()
    assert shown["alerts"]["targets"][0]["url"] == "**********"
    assert TOKEN not in repr(shown) and TOKEN not in repr(settings)
    assert TOKEN.split(":")[1] in settings.secret_values()  # the token's secret half on its own


def test_logs_redact_the_url_and_its_token(secrets: None) -> None:
    settings = Settings(alerts={"targets": [{"url": f"tgram://{TOKEN}/-100123"}]})
    stream = io.StringIO()
    setup_logging(stream=stream, secrets=settings.secret_values())
    from loguru import logger

    logger.warning("POST /bot{}/sendMessage failed", TOKEN)  # as an HTTP client's error quotes it
    logger.warning("target {}", f"tgram://{TOKEN}/-100123")
    text = stream.getvalue()
    assert TOKEN.split(":")[1] not in text and text.count(REDACTED) == 2


def test_a_malformed_alert_url_is_refused_without_repeating_it(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[alerts.targets]]\nurl = "hooks-s3cr3t-t0ken-no-scheme"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    assert "alerts.targets.0.url" in str(err.value) and "scheme://" in str(err.value)
    assert "s3cr3t" not in str(err.value)


def test_a_url_apprise_does_not_know_is_a_config_error_naming_the_target_not_the_url() -> None:
    settings = Settings(alerts={"targets": [{"url": "json://127.0.0.1:1/ok"},
                                            {"url": "nosuchservice://s3cr3t-t0ken-value"}]})
    with pytest.raises(ConfigError) as err:
        AlertDispatcher.from_settings(settings.alerts)
    assert "alerts.targets[1]" in str(err.value) and "nosuchservice://" in str(err.value)
    assert "s3cr3t" not in str(err.value)
