"""RiskManager.evaluate: every rule, with at / just below / just above boundaries."""

from __future__ import annotations

import math

import pytest

from bot import safety
from bot.config import RiskSettings
from bot.core.enums import IntentKind, MarginMode, Mode, PositionSide, RiskState
from bot.core.intents import Intent
from bot.core.timeutil import MS_PER_HOUR, MS_PER_MINUTE
from bot.risk import ReasonCode, RiskManager, Verdict
from bot.risk.sizing import position_size

from .helpers import SYMBOL, account, brackets, entry, exposure, instrument, settings

LONG, SHORT = PositionSide.LONG, PositionSide.SHORT


def manager(mode: Mode = Mode.PAPER, fee_rate: float = 0.0005, **overrides) -> RiskManager:
    return RiskManager(settings(**overrides), mode, fee_rate=fee_rate)


# -- the plan ---------------------------------------------------------------------------------


def test_approved_long_plan_has_risk_size_stop_tp_and_margin_mode() -> None:
    d = manager().evaluate(entry(LONG, tp=0.1, hours=6), account(ts=1_000), instrument(), 2.5)
    assert d.verdict is Verdict.APPROVED and d.reason_code is ReasonCode.OK
    plan = d.plan
    assert plan is not None
    assert plan.stop_price == 2.4 and plan.take_profit_price == 2.75
    assert plan.quantity == position_size(10_000, 2.5, 2.4, 0.005, 0.001, 0.0005) == 488.042
    assert plan.leverage == 3 and plan.margin_mode is MarginMode.ISOLATED
    assert plan.time_stop_ms == 1_000 + 6 * MS_PER_HOUR
    assert d.numbers["loss_at_stop"] <= 50.0
    assert d.numbers["liquidation"]["passed"] is True


def test_short_stop_and_target_are_mirrored() -> None:
    d = manager().evaluate(entry(SHORT, tp=0.1), account(), instrument(), 2.5)
    assert d.plan is not None
    assert d.plan.side is SHORT
    assert d.plan.stop_price == 2.6 and d.plan.take_profit_price == 2.25


def test_stop_is_rounded_away_from_entry() -> None:
    # 1.2345 * 0.97 = 1.197465 -> long stop floors to 1.1974, short 1.271535 ceils to 1.2716
    inst = instrument()
    long_d = manager().evaluate(entry(LONG, stop=0.03), account(), inst, 1.2345)
    short_d = manager().evaluate(entry(SHORT, stop=0.03), account(), inst, 1.2345)
    assert long_d.plan is not None and short_d.plan is not None
    assert long_d.plan.stop_price == 1.1974 and short_d.plan.stop_price == 1.2716


def test_config_margin_mode_is_passed_through() -> None:
    d = manager(margin_mode=MarginMode.CROSS).evaluate(entry(), account(), instrument(), 2.5)
    assert d.plan is not None and d.plan.margin_mode is MarginMode.CROSS


# -- intents that are not entries -------------------------------------------------------------


def test_exit_is_approved_in_every_breaker_state() -> None:
    pos = exposure(SYMBOL, SHORT)
    intent = Intent(IntentKind.EXIT, SYMBOL, "test", 0)
    for state in RiskState:
        d = manager().evaluate(intent, account(positions=[pos], risk_state=state), instrument(), 10.0)
        assert d.verdict is Verdict.APPROVED and d.reason_code is ReasonCode.EXIT_ALLOWED
        assert d.numbers["quantity"] == pos.quantity and d.numbers["side"] == "short"


def test_exit_without_position_and_none_intent_are_rejected() -> None:
    m = manager()
    assert m.evaluate(Intent(IntentKind.EXIT, SYMBOL, "t", 0), account(), instrument(), 1.0).reason_code \
        is ReasonCode.NO_POSITION
    assert m.evaluate(Intent(IntentKind.NONE, SYMBOL, "t", 0), account(), instrument(), 1.0).reason_code \
        is ReasonCode.NOT_AN_ORDER


@pytest.mark.parametrize(("state", "code"), [(RiskState.PAUSED, ReasonCode.BREAKER_PAUSED),
                                             (RiskState.REDUCING, ReasonCode.BREAKER_REDUCING),
                                             (RiskState.HALTED, ReasonCode.BREAKER_HALTED)])
def test_breaker_blocks_entries(state: RiskState, code: ReasonCode) -> None:
    d = manager().evaluate(entry(), account(risk_state=state), instrument(), 2.5)
    assert d.verdict is Verdict.REJECTED and d.reason_code is code and d.plan is None


def test_a_backlogged_journal_blocks_entries_but_not_exits() -> None:
    """Issue 18: past the journal's bound no new position is opened; closing one still is."""
    m = manager()
    d = m.evaluate(entry(), account(journal_backlogged=True), instrument(), 2.5)
    assert d.verdict is Verdict.REJECTED and d.reason_code is ReasonCode.JOURNAL_BACKLOGGED and d.plan is None
    pos = exposure(SYMBOL, LONG)
    out = m.evaluate(Intent(IntentKind.EXIT, SYMBOL, "test", 0), account(positions=[pos], journal_backlogged=True),
                     instrument(), 10.0)
    assert out.verdict is Verdict.APPROVED and out.reason_code is ReasonCode.EXIT_ALLOWED
    assert m.evaluate(entry(), account(journal_backlogged=False), instrument(), 2.5).approved


# -- stop-loss sanity and bad input -----------------------------------------------------------


def test_entry_without_stop_is_rejected() -> None:
    assert manager().evaluate(entry(stop=None), account(), instrument(), 2.5).reason_code \
        is ReasonCode.NO_STOP_LOSS


def test_stop_width_hard_limit_at_and_above() -> None:
    m = manager()
    at = m.evaluate(entry(LONG, stop=safety.MAX_STOP_LOSS_PCT, leverage=1), account(), instrument(), 10.0)
    above = m.evaluate(entry(LONG, stop=safety.MAX_STOP_LOSS_PCT + 1e-9, leverage=1), account(),
                       instrument(), 10.0)
    assert at.approved and at.plan is not None and at.plan.stop_price == 5.0
    assert above.reason_code is ReasonCode.STOP_TOO_WIDE


@pytest.mark.parametrize("price", [0.0, -1.0, math.nan, math.inf])
def test_bad_price_is_rejected_not_raised(price: float) -> None:
    d = manager().evaluate(entry(), account(), instrument(), price)
    assert d.reason_code is ReasonCode.INVALID_INPUT and "price" in d.numbers["error"]


def test_bad_equity_and_symbol_mismatch_are_rejected() -> None:
    m = manager()
    assert m.evaluate(entry(), account(equity=0.0), instrument(), 2.5).reason_code is ReasonCode.INVALID_INPUT
    d = m.evaluate(entry(symbol="BTCUSDT"), account(), instrument(), 2.5)
    assert d.reason_code is ReasonCode.INVALID_INPUT and "BTCUSDT" in d.numbers["error"]
    assert m.evaluate(entry(leverage=-2), account(), instrument(), 2.5).reason_code is ReasonCode.INVALID_INPUT


# -- position counts ---------------------------------------------------------------------------


def test_one_position_per_symbol() -> None:
    d = manager().evaluate(entry(SHORT), account(positions=[exposure(SYMBOL)]), instrument(), 2.5)
    assert d.reason_code is ReasonCode.MAX_POSITIONS_PER_SYMBOL and d.numbers["limit"] == 1


def test_max_open_positions_below_and_at_the_limit() -> None:
    others = [exposure("AUSDT", LONG, 100), exposure("BUSDT", SHORT, 100), exposure("CUSDT", LONG, 100)]
    m = manager(max_open_positions=3)
    assert m.evaluate(entry(), account(positions=others[:2]), instrument(), 2.5).approved
    d = m.evaluate(entry(), account(positions=others), instrument(), 2.5)
    assert d.reason_code is ReasonCode.MAX_OPEN_POSITIONS and d.numbers == {"positions": 3, "limit": 3}


def test_max_same_side_positions() -> None:
    longs = [exposure("AUSDT", LONG, 100), exposure("BUSDT", LONG, 100)]
    m = manager(max_same_side_positions=2)
    assert m.evaluate(entry(LONG), account(positions=longs), instrument(), 2.5).reason_code \
        is ReasonCode.MAX_SAME_SIDE_POSITIONS
    assert m.evaluate(entry(SHORT), account(positions=longs), instrument(), 2.5).approved
    assert m.evaluate(entry(LONG), account(positions=longs[:1]), instrument(), 2.5).approved


# -- cooldown and order rate -------------------------------------------------------------------


def test_cooldown_after_stop_out_boundaries() -> None:
    m = manager(cooldown_after_stop_minutes=240)
    stopped = 1_000_000
    m.record_stop_out(SYMBOL, stopped)
    end = stopped + 240 * MS_PER_MINUTE
    d = m.evaluate(entry(), account(ts=end - 1), instrument(), 2.5)
    assert d.reason_code is ReasonCode.COOLDOWN and d.numbers["until_ms"] == end
    assert m.evaluate(entry(), account(ts=end), instrument(), 2.5).approved
    assert m.evaluate(entry(symbol="XUSDT"), account(ts=stopped), instrument("XUSDT"), 2.5).approved


def test_order_rate_sliding_window() -> None:
    m = manager(max_orders_per_minute=10)
    now = 10 * MS_PER_MINUTE
    m.record_orders(now - MS_PER_MINUTE, 5)  # exactly 60 s old: outside the window
    m.record_orders(now - 1_000, 8)
    assert m.evaluate(entry(), account(ts=now), instrument(), 2.5).approved  # 8 + 2 = 10 = limit
    d = m.evaluate(entry(tp=0.1), account(ts=now), instrument(), 2.5)  # 8 + 3 > 10
    assert d.reason_code is ReasonCode.ORDER_RATE
    assert d.numbers == {"orders_last_minute": 8, "orders_needed": 3, "limit": 10}
    assert m.evaluate(entry(tp=0.1), account(ts=now - 1_000 + MS_PER_MINUTE), instrument(), 2.5).approved


def test_manager_memory_round_trips() -> None:
    m = manager()
    m.record_orders(5, 3)
    m.record_stop_out(SYMBOL, 42)
    other = manager()
    other.restore(m.to_dict())
    assert other.order_rate.count(10) == 3 and other.cooldowns.until(SYMBOL) == 42 + 240 * MS_PER_MINUTE


# -- exposure caps -----------------------------------------------------------------------------


def test_gross_exposure_full_just_below_and_at() -> None:
    m = manager(max_gross_exposure=1.0, max_open_positions=5, max_margin_fraction_per_position=1.0)
    full = [exposure("AUSDT", LONG, 5_000), exposure("BUSDT", SHORT, 5_000)]
    d = m.evaluate(entry(), account(positions=full), instrument(), 2.5)
    assert d.reason_code is ReasonCode.GROSS_EXPOSURE_FULL and d.numbers["gross_room"] == 0
    nearly = [exposure("AUSDT", LONG, 5_000), exposure("BUSDT", SHORT, 4_900)]
    d = m.evaluate(entry(), account(positions=nearly), instrument(), 2.5)
    assert d.verdict is Verdict.RESIZED and d.reason_code is ReasonCode.CAP_GROSS_EXPOSURE
    assert d.plan is not None and d.plan.quantity == 40.0  # 100 USDT room / 2.5


def test_net_exposure_blocks_same_direction_only() -> None:
    m = manager(max_net_exposure=0.5, max_gross_exposure=3.0)
    long_heavy = [exposure("AUSDT", LONG, 5_000)]
    assert m.evaluate(entry(LONG), account(positions=long_heavy), instrument(), 2.5).reason_code \
        is ReasonCode.NET_EXPOSURE_FULL
    assert m.evaluate(entry(SHORT), account(positions=long_heavy), instrument(), 2.5).approved
    d = m.evaluate(entry(LONG), account(positions=[exposure("AUSDT", LONG, 4_500)]), instrument(), 2.5)
    assert d.reason_code is ReasonCode.CAP_NET_EXPOSURE and d.plan is not None
    assert d.plan.quantity * 2.5 <= 500.0 and d.plan.quantity == 200.0


def test_max_notional_per_position() -> None:
    m = manager(max_notional_per_position=1_000.0)
    d = m.evaluate(entry(), account(), instrument(), 2.5)
    assert d.verdict is Verdict.RESIZED and d.reason_code is ReasonCode.CAP_MAX_NOTIONAL
    assert d.plan is not None and d.plan.quantity == 400.0 and d.numbers["qty_risk"] == 488.042
    # a cap above the risk size changes nothing
    assert manager(max_notional_per_position=1_221.0).evaluate(entry(), account(), instrument(), 2.5) \
        .verdict is Verdict.APPROVED


def test_margin_fraction_cap() -> None:
    # risk size 488.042 @ 2.5 = 1220.1 notional; at 3x margin 406.7; cap 3% of 10k = 300 -> 900 notional
    d = manager(max_margin_fraction_per_position=0.03).evaluate(entry(), account(), instrument(), 2.5)
    assert d.reason_code is ReasonCode.CAP_MARGIN_FRACTION and d.plan is not None
    assert d.plan.quantity == 360.0 and d.numbers["margin_fraction"] == pytest.approx(0.03)


def test_exchange_max_quantity() -> None:
    d = manager().evaluate(entry(), account(), instrument(market_max_qty=100.0), 2.5)
    assert d.reason_code is ReasonCode.CAP_EXCHANGE_MAX_QTY and d.plan is not None
    assert d.plan.quantity == 100.0


# -- leverage ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "config_max", "requested", "expected"),
    [
        (Mode.PAPER, 10.0, 8.0, 8),
        (Mode.PAPER, 3.0, 8.0, 3),
        (Mode.PAPER, 10.0, None, 10),
        (Mode.PAPER, 10.0, 2.7, 2),  # floored to an integer
        (Mode.PAPER, 10.0, 0.5, 1),  # never below 1
        (Mode.LIVE, 5.0, 8.0, 5),
        (Mode.LIVE, 5.0, None, 3),  # live default
        (Mode.LIVE, 2.0, None, 2),
        (Mode.TESTNET, 10.0, 10.0, 10),
    ],
)
def test_leverage_is_the_lowest_cap(mode: Mode, config_max: float, requested: float | None,
                                    expected: int) -> None:
    m = RiskManager(RiskSettings(max_leverage=config_max, max_margin_fraction_per_position=1.0), mode)
    d = m.evaluate(entry(stop=0.01, leverage=requested), account(), instrument(), 2.5)
    assert d.plan is not None and d.plan.leverage == expected
    assert d.numbers["leverage"]["mode_cap"] == (5.0 if mode is Mode.LIVE else 10.0)


def test_code_ceilings_hold_even_with_unvalidated_settings() -> None:
    loose = RiskSettings.model_construct(**{**RiskSettings().model_dump(), "max_leverage": 50.0,
                                            "risk_per_trade": 0.5, "liquidation_buffer": 5.0})
    paper = RiskManager(loose, Mode.PAPER).evaluate(entry(stop=0.01, leverage=50), account(), instrument(), 2.5)
    live = RiskManager(loose, Mode.LIVE).evaluate(entry(stop=0.01, leverage=50), account(), instrument(), 2.5)
    assert paper.plan is not None and paper.plan.leverage == 10
    assert live.plan is not None and live.plan.leverage == 5
    assert paper.numbers["risk_fraction"] == safety.MAX_RISK_PER_TRADE
    assert paper.numbers["liquidation"]["buffer"] == 0.9


def test_bracket_lowers_leverage_for_a_large_notional() -> None:
    # 10x allowed below 1_000 notional, 4x up to 50_000
    inst = instrument(brackets=brackets((10, 0, 1_000, 0.01, 0.0), (4, 1_000, 50_000, 0.02, 10.0)))
    m = RiskManager(RiskSettings(max_leverage=10, max_margin_fraction_per_position=1.0), Mode.PAPER)
    small = m.evaluate(entry(stop=0.04, leverage=10), account(equity=1_000), inst, 2.5)
    large = m.evaluate(entry(stop=0.04, leverage=10), account(equity=10_000), inst, 2.5)
    assert small.plan is not None and small.plan.leverage == 10 and small.plan.notional < 1_000
    assert large.plan is not None and large.plan.leverage == 4 and large.plan.notional >= 1_000
    assert large.numbers["leverage"]["bracket_cap"] == 4


def test_bracket_notional_cap_limits_quantity() -> None:
    # nothing above 2_000 notional is allowed at any leverage >= 1
    inst = instrument(brackets=brackets((5, 0, 2_000, 0.01, 0.0)))
    d = manager(max_margin_fraction_per_position=1.0).evaluate(entry(stop=0.01), account(), inst, 2.5)
    assert d.reason_code is ReasonCode.CAP_BRACKET_NOTIONAL and d.plan is not None
    assert d.plan.notional <= 2_000


# -- liquidation buffer -----------------------------------------------------------------------


def test_wide_short_stop_lowers_leverage_until_the_buffer_passes() -> None:
    d = manager().evaluate(entry(SHORT, stop=0.3, leverage=3), account(), instrument(), 2.5)
    assert d.verdict is Verdict.APPROVED and d.reason_code is ReasonCode.LEVERAGE_LOWERED
    assert d.plan is not None and d.plan.leverage == 1
    liq = d.numbers["liquidation"]
    assert liq["stop_distance"] <= 0.5 * liq["liquidation_distance"]


def test_buffer_failing_even_at_1x_is_rejected_with_numbers() -> None:
    d = manager(liquidation_buffer=0.4).evaluate(entry(SHORT, stop=0.45, leverage=3), account(),
                                                 instrument(), 2.5)
    assert d.verdict is Verdict.REJECTED and d.reason_code is ReasonCode.LIQUIDATION_BUFFER
    assert d.numbers["leverage"]["chosen"] == 1
    assert d.numbers["liquidation"]["stop_distance"] > d.numbers["liquidation"]["allowed_stop_distance"]


# -- exchange minimums -------------------------------------------------------------------------


def test_min_notional_at_and_just_below() -> None:
    inst = instrument(step_size=0.01, min_qty=0.01, min_notional=100.0)
    m = manager(fee_rate=0.0, risk_per_trade=0.01, max_margin_fraction_per_position=1.0)
    at = m.evaluate(entry(stop=0.1), account(equity=1_000), inst, 10.0)  # 10 units * 10 = 100
    below = m.evaluate(entry(stop=0.1), account(equity=999), inst, 10.0)  # 9.99 units
    assert at.approved and at.plan is not None and at.plan.notional == 100.0
    assert below.reason_code is ReasonCode.BELOW_MIN_NOTIONAL and below.numbers["notional"] == 99.9


def test_min_qty_and_zero_size() -> None:
    inst = instrument(step_size=0.001, min_qty=1.0, min_notional=0.0)
    m = manager(fee_rate=0.0, risk_per_trade=0.01)
    assert m.evaluate(entry(stop=0.1), account(equity=100), inst, 10.0).approved  # exactly 1.0
    assert m.evaluate(entry(stop=0.1), account(equity=99), inst, 10.0).reason_code is ReasonCode.BELOW_MIN_QTY
    coarse = instrument(step_size=1.0, min_qty=1.0, min_notional=0.0)
    assert m.evaluate(entry(stop=0.1), account(equity=99), coarse, 10.0).reason_code is ReasonCode.ZERO_SIZE


def test_decision_serialises_to_plain_data() -> None:
    import json

    d = manager().evaluate(entry(tp=0.1), account(), instrument(), 2.5)
    data = json.loads(json.dumps(d.to_dict()))
    assert data["verdict"] == "approved" and data["plan"]["side"] == "long"
    assert data["numbers"]["leverage"]["chosen"] == 3
