"""Property tests: no approved entry breaks any cap, and its stop sits between entry and liquidation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import RiskSettings
from bot.core.enums import Mode, PositionSide
from bot.risk import RiskManager
from bot.risk.leverage import mode_cap
from bot.sim.margin import liquidation_price_for

from .helpers import SYMBOL, account, entry, exposure, instrument

REL = 1e-9  # float slack on money comparisons: far below a cent on any account size


@st.composite
def scenarios(draw):
    mode = draw(st.sampled_from(list(Mode)))
    cfg = RiskSettings(
        risk_per_trade=draw(st.floats(0.0005, 0.02)),
        max_leverage=draw(st.floats(1.0, 5.0 if mode is Mode.LIVE else 10.0)),
        max_open_positions=draw(st.integers(1, 6)),
        max_same_side_positions=draw(st.integers(1, 6)),
        max_gross_exposure=draw(st.floats(0.2, 5.0)),
        max_net_exposure=draw(st.floats(0.2, 5.0)),
        max_notional_per_position=draw(st.one_of(st.none(), st.floats(10.0, 1e6))),
        max_margin_fraction_per_position=draw(st.floats(0.01, 1.0)),
        liquidation_buffer=draw(st.floats(0.1, 0.9)),
    )
    side = draw(st.sampled_from(list(PositionSide)))
    price = draw(st.floats(0.001, 50_000.0))
    inst = instrument(tick_size=draw(st.sampled_from([1e-6, 1e-4, 0.01])),
                      step_size=draw(st.sampled_from([0.001, 1.0, 0.1])),
                      min_notional=draw(st.sampled_from([0.0, 5.0])))
    intent = entry(side, stop=draw(st.floats(0.002, 0.5)), leverage=draw(st.one_of(st.none(),
                   st.floats(0.5, 20.0))), tp=draw(st.one_of(st.none(), st.floats(0.01, 0.5))))
    equity = draw(st.floats(50.0, 1e7))
    others = draw(st.lists(st.tuples(st.sampled_from(list(PositionSide)), st.floats(1.0, 3.0)), max_size=4))
    positions = [exposure(f"P{i}USDT", s, equity * frac / 3, 10.0) for i, (s, frac) in enumerate(others)]
    return mode, cfg, inst, intent, account(equity=equity, positions=positions), price


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_property_approved_entries_respect_every_cap(case) -> None:
    mode, cfg, inst, intent, acct, price = case
    d = RiskManager(cfg, mode, fee_rate=0.0005).evaluate(intent, acct, inst, price)
    if not d.approved:
        assert d.plan is None
        return
    plan = d.plan
    assert plan is not None and plan.symbol == SYMBOL and plan.side is intent.side
    equity, notional = acct.equity, plan.quantity * plan.entry_price
    # sizing budget, fees included
    loss = plan.quantity * (abs(plan.entry_price - plan.stop_price) + 0.0005 * (plan.entry_price + plan.stop_price))
    assert loss <= equity * min(cfg.risk_per_trade, 0.02) * (1 + REL)
    # notional, margin fraction, exchange limits
    if cfg.max_notional_per_position is not None:
        assert notional <= cfg.max_notional_per_position * (1 + REL)
    assert notional / plan.leverage <= cfg.max_margin_fraction_per_position * equity * (1 + REL)
    assert plan.quantity <= inst.market_max_qty and plan.quantity >= inst.min_qty
    assert notional >= inst.min_notional
    # leverage: integer, within every cap and the bracket for this notional
    requested = intent.leverage if intent.leverage is not None else cfg.max_leverage
    assert isinstance(plan.leverage, int) and plan.leverage >= 1
    assert plan.leverage <= max(1, min(requested, cfg.max_leverage, mode_cap(mode), 10.0))
    assert plan.leverage <= inst.max_leverage_for(notional)
    # exposure
    assert acct.gross_notional + notional <= cfg.max_gross_exposure * equity * (1 + REL)
    net_after = acct.net_notional + intent.side.sign * notional
    assert abs(net_after) <= max(cfg.max_net_exposure * equity, abs(acct.net_notional)) * (1 + REL)
    # the stop lies strictly between entry and liquidation, inside the buffer
    liq = liquidation_price_for(inst, plan.side.value, plan.entry_price, plan.quantity, notional / plan.leverage)
    if plan.side is PositionSide.LONG:
        assert liq < plan.stop_price < plan.entry_price
    else:
        assert plan.entry_price < plan.stop_price < liq
    assert abs(plan.entry_price - plan.stop_price) <= cfg.liquidation_buffer * abs(plan.entry_price - liq) \
        * (1 + REL)
