"""How skipped cycles are counted and escalated (``Engine._cycle_failed``, issue 17: 29 of its
mutants survived). Pure decision logic, so the engine's method runs on a stand-in ``self`` that has
only what it touches: the failure count and a journal that keeps events.

The rule, from the method's contract (worked by hand below): every skipped cycle journals a
``cycle_skipped`` event, a warning until the 5th failure in a row and an error from then on; the
5th, 15th, 25th... failure in a row also journals one ``cycles_failing`` error naming the count
and the last error, whitespace collapsed, cut at 300 characters, secrets redacted.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import ccxt
import pytest

from bot.engine import FAILURES_ESCALATE_AFTER, FAILURES_ESCALATE_EVERY, Engine
from bot.logging import register_secrets


class Events:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def record_event(self, kind: str, message: str, *, severity: str = "info", ts: int | None = None,
                     data: dict | None = None) -> str:
        self.rows.append({"kind": kind, "message": message, "severity": severity, "data": data})
        return str(len(self.rows))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["kind"] == kind]


def _fail(times: int, exc: Exception) -> Events:
    journal = Events()
    engine = SimpleNamespace(consecutive_failures=0, journal=journal)
    for _ in range(times):
        Engine._cycle_failed(engine, exc)  # type: ignore[arg-type]
    assert engine.consecutive_failures == times
    return journal


def test_the_constants_are_the_documented_ones() -> None:
    assert (FAILURES_ESCALATE_AFTER, FAILURES_ESCALATE_EVERY) == (5, 10)


def test_every_skip_is_journaled_and_escalates_at_5_15_25() -> None:
    journal = _fail(26, ccxt.ExchangeNotAvailable("binanceusdm 503 Service Unavailable"))
    skipped = journal.of("cycle_skipped")
    assert [r["data"] for r in skipped] == [{"consecutive": n} for n in range(1, 27)]
    assert [r["severity"] for r in skipped] == ["warning"] * 4 + ["error"] * 22  # error from the 5th
    assert {r["message"] for r in skipped} == {"venue unavailable: ExchangeNotAvailable"}
    failing = journal.of("cycles_failing")
    assert [r["data"] for r in failing] == [{"consecutive": n, "error": "ExchangeNotAvailable"} for n in (5, 15, 25)]
    assert {r["severity"] for r in failing} == {"error"}
    assert failing[0]["message"] == ("5 cycles in a row failed; last error ExchangeNotAvailable: "
                                     "binanceusdm 503 Service Unavailable")


def test_an_error_that_is_not_unavailability_is_called_a_venue_error() -> None:
    journal = _fail(1, ccxt.BadRequest("binanceusdm {\"code\":-1102}"))
    assert journal.of("cycle_skipped")[0]["message"] == "venue error: BadRequest"
    assert journal.of("cycles_failing") == []


@pytest.mark.parametrize("cls", [ccxt.OperationFailed, ccxt.RequestTimeout, ccxt.NetworkError])
def test_operation_failures_and_their_kinds_count_as_unavailable(cls: type[Exception]) -> None:
    # ccxt: RequestTimeout < NetworkError < OperationFailed; ExchangeNotAvailable < NetworkError
    journal = _fail(1, cls("x"))
    assert journal.of("cycle_skipped")[0]["message"] == f"venue unavailable: {cls.__name__}"


def test_the_last_error_is_collapsed_cut_at_300_characters_and_redacted() -> None:
    register_secrets("s3cr3t-api-key-for-the-test")
    words = "word " * 100  # 500 characters once collapsed
    exc = ccxt.ExchangeNotAvailable(f"line one\n\n   key=s3cr3t-api-key-for-the-test\t{words}")
    (failing,) = _fail(5, exc).of("cycles_failing")
    detail = failing["message"].split("last error ExchangeNotAvailable: ", 1)[1]
    assert "s3cr3t" not in failing["message"]
    assert "\n" not in detail and "\t" not in detail and "  " not in detail
    assert detail.startswith("line one key=")
    assert len(detail) == 300
