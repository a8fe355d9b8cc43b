"""Circuit breaker: daily loss, drawdown, losing streaks, kill switch, reset, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import RiskSettings
from bot.core.enums import RiskState
from bot.core.timeutil import MS_PER_DAY, MS_PER_MINUTE
from bot.risk import BreakerState, CircuitBreaker, RiskFiles, TransitionReason

DAY0 = 20_000 * MS_PER_DAY  # some 00:00 UTC
ACTIVE, PAUSED, REDUCING, HALTED = RiskState.ACTIVE, RiskState.PAUSED, RiskState.REDUCING, RiskState.HALTED


@pytest.fixture
def files(tmp_path: Path) -> RiskFiles:
    return RiskFiles.from_halt_file(tmp_path / "data" / "HALT")


def breaker(files: RiskFiles, **overrides) -> CircuitBreaker:
    return CircuitBreaker(RiskSettings(**overrides), files)


# -- daily loss --------------------------------------------------------------------------------


def test_daily_loss_just_below_and_at_the_limit(files: RiskFiles) -> None:
    b = breaker(files, daily_loss_limit=0.03, max_drawdown=0.5)
    assert b.update(DAY0 + 1, 10_000.0) == []
    assert b.update(DAY0 + 2, 9_700.01) == [] and b.state is ACTIVE
    [t] = b.update(DAY0 + 3, 9_700.0)  # exactly 3%
    assert (t.from_state, t.to_state, t.reason) == (ACTIVE, REDUCING, TransitionReason.DAILY_LOSS)
    assert t.numbers["daily_loss"] == pytest.approx(0.03) and t.numbers["until_ms"] == DAY0 + MS_PER_DAY
    assert not b.allows_entries and not b.must_flatten


def test_reducing_lasts_until_next_utc_midnight_even_if_equity_recovers(files: RiskFiles) -> None:
    b = breaker(files)
    b.update(DAY0, 10_000.0)
    b.update(DAY0 + 1_000, 9_500.0)  # 5%: daily limit, not the 10% drawdown
    assert b.state is REDUCING
    assert b.update(DAY0 + MS_PER_DAY - 1, 10_000.0) == [] and b.state is REDUCING
    [t] = b.update(DAY0 + MS_PER_DAY, 9_500.0)
    assert (t.to_state, t.reason) == (ACTIVE, TransitionReason.NEW_UTC_DAY)
    assert b.data.day_start_equity == 9_500.0  # new baseline: yesterday's loss does not count


# -- drawdown ----------------------------------------------------------------------------------


def test_restored_state_from_a_later_day_does_not_pin_reducing(files: RiskFiles) -> None:
    """A state saved on a later day (e.g. replaying an earlier period with the same files) must
    not keep the account REDUCING: a different day is a new day, whichever way the clock went."""
    later = breaker(files)
    later.update(DAY0 + 5 * MS_PER_DAY, 10_000.0)
    later.update(DAY0 + 5 * MS_PER_DAY + 1_000, 9_500.0)
    assert later.state is REDUCING
    later.save()
    restored, _ = CircuitBreaker.restore(RiskSettings(), files)
    [t] = restored.update(DAY0 + 1_000, 9_500.0)
    assert (t.to_state, t.reason) == (ACTIVE, TransitionReason.NEW_UTC_DAY)
    assert restored.allows_entries


def test_drawdown_from_peak_halts_at_the_limit(files: RiskFiles) -> None:
    b = breaker(files, max_drawdown=0.10, daily_loss_limit=0.2)
    b.update(DAY0, 10_000.0)
    b.update(DAY0 + MS_PER_DAY, 12_000.0)  # peak
    assert b.update(DAY0 + 2 * MS_PER_DAY, 10_800.01) == []  # 9.9999%
    [t] = b.update(DAY0 + 3 * MS_PER_DAY, 10_800.0)
    assert (t.to_state, t.reason) == (HALTED, TransitionReason.DRAWDOWN)
    assert t.numbers["peak_equity"] == 12_000.0 and t.numbers["drawdown"] == pytest.approx(0.10)
    assert b.must_flatten
    # a new day and a recovery do not clear a halt
    assert b.update(DAY0 + 9 * MS_PER_DAY, 20_000.0) == [] and b.state is HALTED


def test_halted_outranks_reducing(files: RiskFiles) -> None:
    b = breaker(files, max_drawdown=0.05, daily_loss_limit=0.03)
    b.update(DAY0, 10_000.0)
    [t] = b.update(DAY0 + 1, 9_000.0)  # both limits at once
    assert t.to_state is HALTED


# -- consecutive losses ------------------------------------------------------------------------


def test_pause_after_n_losses_and_expiry(files: RiskFiles) -> None:
    b = breaker(files, max_consecutive_losses=3, pause_after_losses_minutes=60)
    b.update(DAY0, 10_000.0)
    assert b.record_trade_result(-1.0, DAY0 + 1) == []
    assert b.record_trade_result(-1.0, DAY0 + 2) == []
    assert b.record_trade_result(5.0, DAY0 + 3) == []  # a win breaks the streak
    b.record_trade_result(-1.0, DAY0 + 4)
    b.record_trade_result(-1.0, DAY0 + 5)
    [t] = b.record_trade_result(-1.0, DAY0 + 6)
    assert (t.to_state, t.reason) == (PAUSED, TransitionReason.CONSECUTIVE_LOSSES)
    until = DAY0 + 6 + 60 * MS_PER_MINUTE
    assert t.numbers["until_ms"] == until
    assert b.update(until - 1, 10_000.0) == [] and b.state is PAUSED
    [t] = b.update(until, 10_000.0)
    assert (t.to_state, t.reason) == (ACTIVE, TransitionReason.PAUSE_EXPIRED)
    assert b.data.consecutive_losses == 0


# -- kill switch and reset ---------------------------------------------------------------------


def test_kill_switch_halts_on_next_update_with_who_and_why(files: RiskFiles) -> None:
    b = breaker(files)
    b.update(DAY0, 10_000.0)
    files.write_halt("alice", "exchange incident", ts_ms=DAY0 + 5)
    [t] = b.update(DAY0 + 10, 10_000.0)
    assert (t.to_state, t.reason) == (HALTED, TransitionReason.KILL_SWITCH)
    assert t.numbers["by"] == "alice" and t.numbers["reason"] == "exchange incident"
    assert b.update(DAY0 + 20, 10_000.0) == []  # one transition, not one per cycle


def test_an_empty_halt_file_still_halts(files: RiskFiles) -> None:
    files.halt.parent.mkdir(parents=True)
    files.halt.write_text("not json")
    b = breaker(files)
    [t] = b.update(DAY0, 10_000.0)
    assert t.to_state is HALTED and t.numbers["by"] == "?"


def test_reset_clears_halt_and_rebases_the_peak(files: RiskFiles) -> None:
    b = breaker(files, max_drawdown=0.10, daily_loss_limit=0.2)
    b.update(DAY0, 10_000.0)
    b.update(DAY0 + MS_PER_DAY, 8_000.0)
    assert b.state is HALTED
    files.write_reset("bob", "checked")
    [t] = b.update(DAY0 + MS_PER_DAY + 1, 8_000.0)
    assert (t.from_state, t.to_state, t.reason) == (HALTED, ACTIVE, TransitionReason.MANUAL_RESET)
    assert t.numbers["by"] == "bob" and t.numbers["was"] == "drawdown"
    assert b.data.peak_equity == 8_000.0
    assert b.update(DAY0 + MS_PER_DAY + 2, 7_300.0) == []  # 8.75% from the new peak
    [t] = b.update(DAY0 + MS_PER_DAY + 3, 7_200.0)  # 10% from the new peak
    assert t.reason is TransitionReason.DRAWDOWN and t.numbers["peak_equity"] == 8_000.0


def test_reset_while_halt_file_exists_does_nothing(files: RiskFiles) -> None:
    b = breaker(files)
    files.write_halt("a", "x")
    b.update(DAY0, 10_000.0)
    files.write_reset("b", "y")
    assert b.update(DAY0 + 1, 10_000.0) == [] and b.state is HALTED
    files.remove_halt()
    [t] = b.update(DAY0 + 2, 10_000.0)
    assert t.reason is TransitionReason.MANUAL_RESET and b.state is ACTIVE


def test_an_old_reset_record_does_not_clear_a_new_halt(files: RiskFiles) -> None:
    files.write_reset("b", "earlier")
    b = breaker(files, max_drawdown=0.1)
    b.update(DAY0, 10_000.0)
    b.update(DAY0 + 1, 8_000.0)
    assert b.update(DAY0 + 2, 8_000.0) == [] and b.state is HALTED


# -- persistence -------------------------------------------------------------------------------


def test_halted_survives_a_restart_until_reset(files: RiskFiles) -> None:
    b = breaker(files)
    files.write_halt("alice", "stop")
    b.update(DAY0, 10_000.0)
    b.save()
    files.remove_halt()  # someone deletes the file by hand: not a reset
    restored, transitions = CircuitBreaker.restore(RiskSettings(), files)
    assert transitions == [] and restored.state is HALTED
    assert restored.data.halt_reason is TransitionReason.KILL_SWITCH
    assert restored.update(DAY0 + 1, 10_000.0) == [] and restored.state is HALTED
    files.write_reset("bob", "ok")
    assert restored.update(DAY0 + 2, 10_000.0)[0].to_state is ACTIVE


def test_corrupt_state_file_starts_halted(files: RiskFiles) -> None:
    files.state.parent.mkdir(parents=True)
    files.state.write_text("{broken")
    b, [t] = CircuitBreaker.restore(RiskSettings(), files)
    assert b.state is HALTED and t.reason is TransitionReason.STATE_UNREADABLE


def test_state_round_trips_through_json() -> None:
    state = BreakerState(state=REDUCING, day_start_ms=DAY0, day_start_equity=1.5, peak_equity=2.0,
                         consecutive_losses=2, reducing_until_ms=DAY0 + MS_PER_DAY)
    again = BreakerState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state


# -- state-machine property --------------------------------------------------------------------

events = st.lists(st.one_of(
    st.tuples(st.just("equity"), st.integers(0, 3 * MS_PER_DAY // 60_000), st.floats(5_000, 15_000)),
    st.tuples(st.just("trade"), st.integers(0, 3 * MS_PER_DAY // 60_000), st.floats(-100, 100)),
    st.tuples(st.just("halt"), st.integers(0, 1), st.just(0.0)),
    st.tuples(st.just("reset"), st.integers(0, 1), st.just(0.0)),
), max_size=30)


@settings(max_examples=60, deadline=None)
@given(events)
def test_property_state_machine_invariants(tmp_path_factory, evts) -> None:
    files = RiskFiles.from_halt_file(tmp_path_factory.mktemp("b") / "HALT")
    b = CircuitBreaker(RiskSettings(max_consecutive_losses=2), files)
    now = DAY0
    for kind, minutes, value in evts:
        now += minutes * 60_000
        before = b.state
        if kind == "equity":
            ts = b.update(now, value)
        elif kind == "trade":
            ts = b.record_trade_result(value, now)
        elif kind == "halt":
            files.write_halt("p", "t")
            ts = b.update(now, b.data.last_equity or 10_000.0)
        else:
            files.remove_halt()
            files.write_reset("p", "t")
            ts = b.update(now, b.data.last_equity or 10_000.0)
        # transitions chain and end at the current state
        prev = before
        for t in ts:
            assert t.from_state is prev and t.to_state is not t.from_state
            prev = t.to_state
        assert prev is b.state
        # HALTED is only ever left through a manual reset
        if before is HALTED and b.state is not HALTED:
            assert any(t.reason is TransitionReason.MANUAL_RESET for t in ts)
        # a halt file on disk always means HALTED after an update
        if kind != "trade" and files.halt_exists():
            assert b.state is HALTED
        assert BreakerState.from_dict(json.loads(json.dumps(b.data.to_dict()))) == b.data
