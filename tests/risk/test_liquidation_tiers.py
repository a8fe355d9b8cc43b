"""The isolated liquidation price on a bracket tier above the first, where the maintenance amount
(``cum``) is not zero (issue 17): checked against numbers worked out by hand, not against the
function that computes it.

Binance's formula ("How to Calculate Liquidation Price of USDⓈ-M Futures Contracts"), one-way
mode, isolated margin (TMM1 = UPNL1 = 0, WB = the position's isolated wallet):

    LP = (WB + cumB - Side x Position x EP) / (Position x MMR - Side x Position)

The tiers are BTCUSDT's as Binance published them (notional floor, maintenance margin rate):
0 / 0.40%, 50,000 / 0.50%, 250,000 / 1.00%, 3,000,000 / 2.50%. Each tier's maintenance amount
follows Binance's documented rule, cum_n = floor_n x (MMR_n - MMR_n-1) + cum_n-1, which gives
0, 50, 1,300 and 46,300 (hand-worked: 50,000 x 0.001 = 50; 250,000 x 0.005 + 50 = 1,300;
3,000,000 x 0.015 + 1,300 = 46,300).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.enums import PositionSide
from bot.core.instrument import Instrument, LeverageBracket
from bot.risk.leverage import check_liquidation_buffer, isolated_liquidation_price

#: (initial leverage, notional floor, notional cap, maintenance margin rate): BTCUSDT's published tiers
TIERS = [(125, 0.0, 50_000.0, 0.004), (100, 50_000.0, 250_000.0, 0.005), (50, 250_000.0, 3_000_000.0, 0.01),
         (20, 3_000_000.0, 15_000_000.0, 0.025)]


def _btc() -> Instrument:
    """BTCUSDT with its tiers, each maintenance amount derived by Binance's documented rule."""
    brackets, cum, previous_mmr = [], 0.0, 0.0
    for number, (leverage, floor, cap, mmr) in enumerate(TIERS, start=1):
        cum += floor * (mmr - previous_mmr)
        previous_mmr = mmr
        brackets.append(LeverageBracket(number, leverage, floor, cap, mmr, cum))
    return Instrument("BTCUSDT", "BTC", tick_size=0.1, step_size=0.001, brackets=tuple(brackets))


def test_the_maintenance_amounts_are_binances() -> None:
    assert [b.cum for b in _btc().brackets] == pytest.approx([0.0, 50.0, 1_300.0, 46_300.0])


@pytest.mark.parametrize(("side", "quantity", "expected"), [
    # tier 2 (notional 100,000, MMR 0.5%, cum 50), 10x: WB = 10,000.
    # long:  (10,000 + 50 - 100,000) / (0.005 - 1) = -89,950 / -0.995 = 90,402.01...
    (PositionSide.LONG, 1.0, 89_950 / 0.995),
    # short: (10,000 + 50 + 100,000) / (0.005 + 1) = 110,050 / 1.005 = 109,502.48...
    (PositionSide.SHORT, 1.0, 110_050 / 1.005),
    # tier 3 (notional 500,000, MMR 1%, cum 1,300), 10x: WB = 50,000.
    # long:  (50,000 + 1,300 - 500,000) / (5 x 0.01 - 5) = -448,700 / -4.95 = 90,646.46...
    (PositionSide.LONG, 5.0, 448_700 / 4.95),
    # short: (50,000 + 1,300 + 500,000) / (5 x 0.01 + 5) = 551,300 / 5.05 = 109,168.31...
    (PositionSide.SHORT, 5.0, 551_300 / 5.05),
])
def test_isolated_liquidation_price_on_higher_tiers(side: PositionSide, quantity: float, expected: float) -> None:
    liq = isolated_liquidation_price(_btc(), side, 100_000.0, quantity, 10)
    assert liq == pytest.approx(expected, rel=1e-12)


def test_at_the_liquidation_price_the_margin_left_is_the_maintenance_margin() -> None:
    """The meaning of the tier-3 long example: at 90,646.46 the isolated wallet plus the loss
    (50,000 + 5 x (90,646.46 - 100,000) = 3,232.32) equals the maintenance margin at that price
    (5 x 90,646.46 x 1% - 1,300 = 3,232.32): liquidation sets in exactly there."""
    liq = isolated_liquidation_price(_btc(), PositionSide.LONG, 100_000.0, 5.0, 10)
    margin_left = 50_000 + 5 * (liq - 100_000)
    maintenance = 5 * liq * 0.01 - 1_300
    assert margin_left == pytest.approx(maintenance, abs=1e-6)
    assert margin_left == pytest.approx(3_232.3232, abs=1e-3)


def test_the_liquidation_buffer_uses_the_tier_maintenance_amount() -> None:
    """Tier 3 long at 10x: liquidation 9,353.54 below the entry (100,000 - 90,646.46). A stop
    9,100 below (at 90,900) passes a 100% buffer. Without the 1,300 maintenance amount the
    liquidation would sit at -450,000 / -4.95 = 90,909.09, only 9,090.91 below, and that stop
    would fail the buffer."""
    inst = _btc()
    passed = check_liquidation_buffer(inst, PositionSide.LONG, 100_000.0, 90_900.0, 5.0, 10, 1.0)
    assert passed.passed and passed.liquidation_distance == pytest.approx(100_000 - 448_700 / 4.95, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(side=st.sampled_from([PositionSide.LONG, PositionSide.SHORT]),
       entry=st.floats(1_000, 200_000), quantity=st.floats(0.001, 100), leverage=st.integers(1, 20))
def test_the_liquidation_price_is_where_the_margin_left_meets_maintenance(side: PositionSide, entry: float,
                                                                         quantity: float, leverage: int) -> None:
    """Binance's definition, for any tier: at LP the isolated wallet (notional / leverage) plus the
    position's P&L equals the maintenance margin ``Q x LP x MMR - cum`` of the entry's tier."""
    inst = _btc()
    liq = isolated_liquidation_price(inst, side, entry, quantity, leverage)
    if liq <= 0:  # a 1x long cannot be liquidated (Binance shows "--")
        return
    tier = inst.bracket_for(entry * quantity)
    margin_left = entry * quantity / leverage + side.sign * quantity * (liq - entry)
    assert margin_left == pytest.approx(quantity * liq * tier.maint_margin_ratio - tier.cum,
                                        rel=1e-9, abs=1e-6 * entry * quantity)
