"""The soak's checks fail on inconsistent inputs and pass on consistent ones (hand-made records)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from bot.soak import checks
from bot.soak.checks import BareStretch, BareTracker, Conditional, EntryOrder, Position, TradeRecord

LONG = Position("BTCUSDT", "long", 0.011)


def stop(symbol: str = "BTCUSDT", side: str = "sell", qty: float | None = 0.011, *, kind: str = "STOP_MARKET",
         reduce_only: bool = True, close_position: bool = False) -> Conditional:
    return Conditional(symbol, kind, side, qty, reduce_only, close_position)


# -- protection ------------------------------------------------------------------------------------

def test_one_covering_stop_is_fine() -> None:
    assert checks.protection([LONG], [stop()]) == []
    assert checks.protection([LONG], [stop(qty=None, reduce_only=False, close_position=True)]) == []


def test_a_take_profit_alone_is_not_protection() -> None:
    found = checks.protection([LONG], [stop(kind="TAKE_PROFIT_MARKET")])
    assert [(f.check, f.detail) for f in found] == [("protection", "no protective stop")]


def test_a_stop_on_the_wrong_side_or_not_reduce_only_does_not_protect() -> None:
    assert checks.protection([LONG], [stop(side="buy")])[0].detail == "no protective stop"
    assert checks.protection([LONG], [stop(reduce_only=False)])[0].detail == "no protective stop"


def test_a_stop_smaller_than_the_position_does_not_cover_it() -> None:
    found = checks.protection([LONG], [stop(qty=0.010)])
    assert found[0].detail == "1 stop(s), none covers 0.011"


def test_two_stops_are_one_too_many() -> None:
    found = checks.protection([LONG], [stop(), stop()])
    assert found[0].detail == "2 protective stops (expected exactly one)"


def test_a_short_needs_a_buy_stop() -> None:
    short = Position("PIPPINUSDT", "short", 46320.0)
    assert checks.protection([short], [stop("PIPPINUSDT", "buy", 46320.0)]) == []
    assert checks.protection([short], [stop("PIPPINUSDT", "sell", 46320.0)])


# -- one intent, one entry -------------------------------------------------------------------------

def test_two_executed_entries_for_one_intent_across_runs_are_a_duplicate() -> None:
    orders = [EntryOrder("db-aaaaaaaa-0123456789-e0", "BTCUSDT", 0.011),
              EntryOrder("db-bbbbbbbb-0123456789-e0", "BTCUSDT", 0.011)]  # restarted: other run key
    found = checks.duplicate_entries(orders)
    assert [(f.check, f.subject) for f in found] == [("entries_per_intent", "intent 0123456789")]


def test_an_entry_that_did_not_execute_and_other_roles_are_not_duplicates() -> None:
    orders = [EntryOrder("db-aaaaaaaa-0123456789-e0", "BTCUSDT", 0.0),
              EntryOrder("db-bbbbbbbb-0123456789-e0", "BTCUSDT", 0.011),
              EntryOrder("db-bbbbbbbb-0123456789-x1", "BTCUSDT", 0.011),
              EntryOrder("db-bbbbbbbb-9876543210-e0", "BTCUSDT", 0.011),
              EntryOrder("manual-1", "BTCUSDT", 1.0)]
    assert checks.duplicate_entries(orders) == []
    assert checks.count_entries(orders) == (3, 2)


# -- journal vs exchange ---------------------------------------------------------------------------

def test_a_journal_trade_without_an_exchange_position_is_found() -> None:
    found = checks.open_trades_vs_positions([LONG], [])
    assert [f.detail for f in found] == ["open journal trade long 0.011 has no exchange position"]


def test_an_exchange_position_without_a_journal_trade_is_found() -> None:
    assert checks.open_trades_vs_positions([], [LONG])[0].detail == (
        "exchange position long 0.011 has no open journal trade")


def test_side_or_quantity_mismatch_is_found_and_a_match_is_not() -> None:
    assert checks.open_trades_vs_positions([LONG], [LONG]) == []
    assert checks.open_trades_vs_positions([LONG], [Position("BTCUSDT", "short", 0.011)])
    assert checks.open_trades_vs_positions([LONG], [Position("BTCUSDT", "long", 0.012)])


def test_fills_vs_user_trades() -> None:
    venue = [TradeRecord("1", "BTCUSDT", "buy", 0.011, 84781.0), TradeRecord("2", "BTCUSDT", "sell", 0.011, 83109.0)]
    assert checks.fills_vs_user_trades(venue, venue) == []
    missing = checks.fills_vs_user_trades(venue[:1], venue)
    assert [f.subject for f in missing] == ["trade 2"] and "not in the journal" in missing[0].detail
    twice = checks.fills_vs_user_trades([*venue, venue[0]], venue)
    assert [f.detail for f in twice] == ["journaled 2 times"]
    unknown = checks.fills_vs_user_trades([*venue, TradeRecord("9", "BTCUSDT", "buy", 1, 1)], venue)
    assert "unknown to the exchange" in unknown[0].detail
    wrong_price = checks.fills_vs_user_trades([venue[0], TradeRecord("2", "BTCUSDT", "sell", 0.011, 86479.0)], venue)
    assert "86479" in wrong_price[0].detail


# -- P&L -------------------------------------------------------------------------------------------

def test_income_pnl_sums_pnl_types_only() -> None:
    rows = [{"incomeType": "REALIZED_PNL", "income": "18.714", "asset": "USDT"},
            {"incomeType": "COMMISSION", "income": "-0.4770", "asset": "USDT"},
            {"incomeType": "FUNDING_FEE", "income": "0.1234", "asset": "USDT"},
            {"incomeType": "TRANSFER", "income": "-800", "asset": "USDT"}]
    # 18.714 - 0.477 + 0.1234 = 18.3604 (the transfer is a cash flow)
    assert math.isclose(checks.income_pnl(rows), 18.3604, abs_tol=1e-9)


def test_bnb_commission_is_valued_at_its_price_and_an_unpriced_asset_fails() -> None:
    rows = [{"incomeType": "COMMISSION", "income": "-0.0007", "asset": "BNB", "time": 7}]
    seen = []

    def price(asset: str, ts: int) -> float:
        seen.append((asset, ts))
        return 600.0

    assert math.isclose(checks.income_pnl(rows, price), -0.42, abs_tol=1e-12)  # 0.0007 * 600
    assert seen == [("BNB", 7)]  # valued at the row's time
    unpriced = checks.income_pnl(rows)
    assert math.isnan(unpriced)
    assert checks.pnl_vs_income(0.0, unpriced)


def test_a_pnl_gap_of_two_cents_fails_and_one_cent_passes() -> None:
    assert [f.check for f in checks.pnl_vs_income(10.02, 10.00)] == ["pnl"]
    assert checks.pnl_vs_income(10.01, 10.00) == []


@given(st.floats(-1e6, 1e6), st.floats(0.0101, 100.0), st.booleans())
def test_any_gap_beyond_a_cent_fails(income: float, gap: float, above: bool) -> None:
    journal = income + gap if above else income - gap
    assert checks.pnl_vs_income(journal, income)


# -- bare time -------------------------------------------------------------------------------------

def test_tracker_measures_a_bare_stretch_from_first_bad_to_first_good_sample() -> None:
    tracker = BareTracker()
    bare = checks.protection([LONG], [])
    tracker.sample(1_000, [])
    tracker.sample(2_000, bare)
    tracker.sample(3_000, bare)
    tracker.sample(4_500, [])
    [stretch] = tracker.stretches()
    assert (stretch.symbol, stretch.start_ms, stretch.end_ms, stretch.samples) == ("BTCUSDT", 2_000, 4_500, 2)


def test_bare_for_two_cycles_fails_for_one_passes() -> None:
    stretch = BareStretch("BTCUSDT", start_ms=10_000, end_ms=25_000)
    cycles = [0, 10_000, 20_000, 30_000]  # one cycle (20,000) starts inside (10,000, 25,000]
    assert checks.cycles_within(stretch, cycles, now_ms=40_000) == 1
    assert checks.bare_too_long([stretch], cycles, now_ms=40_000) == []
    longer = BareStretch("BTCUSDT", start_ms=10_000, end_ms=31_000)  # 20,000 and 30,000
    found = checks.bare_too_long([longer], cycles, now_ms=40_000)
    assert [f.check for f in found] == ["bare_time"] and "2 cycles" in found[0].detail


def test_a_stretch_still_open_counts_up_to_now_and_grace_is_taken_off_its_end() -> None:
    stretch = BareStretch("BTCUSDT", start_ms=10_000)
    cycles = [20_000, 30_000, 40_000]
    assert checks.cycles_within(stretch, cycles, now_ms=45_000) == 3
    assert checks.cycles_within(stretch, cycles, now_ms=45_000, grace_ms=10_000) == 2


# -- settled reads ---------------------------------------------------------------------------------

def _key(open_trades=(LONG,), fills=2, closed=1, positions=(LONG,), stops=(stop(),),
         orders=({"clientOrderId": "a", "status": "FILLED", "executedQty": "0.011"},), trades=2, income=3) -> tuple:
    return checks.state_key(list(open_trades), fills, closed, list(positions), list(stops), list(orders), trades,
                            income)


def test_state_key_ignores_read_order_and_sees_every_move_of_either_side() -> None:
    short = Position("ETHUSDT", "short", 0.5)
    assert _key(open_trades=(LONG, short), positions=(short, LONG)) == _key(open_trades=(short, LONG),
                                                                             positions=(LONG, short))
    base = _key()
    moved = [
        _key(open_trades=()),  # the journal booked the exit
        _key(fills=3), _key(closed=2),
        _key(positions=()),  # the venue closed the position, the journal not yet (the soak's race)
        _key(stops=()), _key(stops=(stop(qty=0.02),)),
        _key(orders=({"clientOrderId": "a", "status": "NEW", "executedQty": "0"},)),
        _key(trades=3), _key(income=4),
    ]
    assert all(k != base for k in moved)


# -- a position the user holds by hand -------------------------------------------------------------

def test_a_users_position_must_stay_as_opened_and_free_of_the_bots_orders() -> None:
    opened = Position("BTCUSDC", "long", 0.01)
    assert checks.untouched(opened, Position("BTCUSDC", "long", 0.01), [{"clientOrderId": "x-user-1"}]) == []
    for now in (None, Position("BTCUSDC", "long", 0.005), Position("BTCUSDC", "short", 0.01)):
        [finding] = checks.untouched(opened, now, [])
        assert finding.check == "foreign_position"
    bot_order = {"clientAlgoId": "db-1a2b3c4d-0123456789-s1"}  # one of the bot's ids (run, intent, role, seq)
    [finding] = checks.untouched(opened, opened, [bot_order])
    assert "db-1a2b3c4d-0123456789-s1" in finding.detail


def test_cycles_during_a_paused_venue_clock_are_counted_by_the_wall() -> None:
    """While the venue clock is paused every cycle has the same venue time: ordered by it, a bare
    stretch that began after three paused cycles still 'contains' them. By the wall it does not."""
    paused_venue_ts = 50_000
    walls = [1_000, 2_000, 3_000]  # three cycle ends during the pause, wall ms
    venue_stretch = BareStretch("BTCUSDT", start_ms=paused_venue_ts - 1, end_ms=paused_venue_ts + 10)
    assert checks.cycles_within(venue_stretch, [paused_venue_ts] * 3, now_ms=0) == 3  # the artefact
    wall_stretch = BareStretch("BTCUSDT", start_ms=3_500, end_ms=4_200)  # after them, by the wall
    assert checks.cycles_within(wall_stretch, walls, now_ms=5_000) == 0
