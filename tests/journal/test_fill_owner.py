"""``Journal.fill_owner``: the trade a venue fill is journaled on, found in the database when an
earlier process wrote it (a restart). Exit attribution relies on it so that a fill already booked
on another trade is never counted as this trade's exit too."""

from __future__ import annotations

from bot.core.enums import MarginMode, OrderSide, OrderType, PositionSide
from bot.journal import Journal

T = 1_763_000_000_000  # 2025-11-13T02:13:20Z, the settlement millisecond every lookup below asks about
SYM = "RIVERUSDT"


def _trade(journal: Journal, trade_id: str) -> None:
    journal.record_trade_open(trade_id=trade_id, symbol=SYM, side=PositionSide.SHORT, strategy="s",
                              entry_ts=T - 3_600_000, entry_price=10.0, quantity=1.0, leverage=2,
                              margin_mode=MarginMode.ISOLATED, stop_price=11.0)


def _fill(journal: Journal, order_id: str, *, ts: int, venue_id: str, trade_id: str | None,
          symbol: str = SYM) -> None:
    journal.record_fill(order_id, ts=ts, symbol=symbol, side=OrderSide.BUY, price=10.0, quantity=1.0, fee=0.01,
                        fee_asset="USDT", is_maker=False, exchange_trade_id=venue_id, trade_id=trade_id)


def _order(journal: Journal, client_id: str, trade_id: str | None, symbol: str = SYM) -> str:
    return journal.record_order(client_order_id=client_id, ts=T, symbol=symbol, type=OrderType.MARKET,
                                side=OrderSide.BUY, quantity=1.0, trade_id=trade_id)


def test_an_earlier_runs_fill_is_found_by_its_venue_id_millisecond_and_trade_link(journal_url: str) -> None:
    earlier = Journal.open(journal_url)
    earlier.start_run("testnet", "h", "0")
    for trade_id in ("tA", "tB"):
        _trade(earlier, trade_id)
    on_a = _order(earlier, "c-a", "tA")
    on_b = _order(earlier, "c-b", "tB")
    no_trade = _order(earlier, "c-none", None)
    other_symbol = _order(earlier, "c-x", None, symbol="ORCAUSDT")
    _fill(earlier, on_a, ts=T, venue_id="55", trade_id="tA")  # linked directly
    _fill(earlier, on_b, ts=T, venue_id="56", trade_id=None)  # linked only through its order (tB)
    _fill(earlier, no_trade, ts=T, venue_id="57", trade_id=None)  # on no trade at all
    _fill(earlier, on_a, ts=T + 1, venue_id="58", trade_id="tA")  # one millisecond after T
    _fill(earlier, on_a, ts=T - 1, venue_id="59", trade_id="tA")  # one millisecond before T
    # venue ids are numbered per symbol: ORCAUSDT's fill 60 is not RIVERUSDT's
    _fill(earlier, other_symbol, ts=T, venue_id="60", trade_id="tB", symbol="ORCAUSDT")
    earlier.close()

    journal = Journal.open(journal_url)  # a new process: nothing of the above is in its memory
    journal.start_run("testnet", "h", "0")
    try:
        assert journal.fill_owner(SYM, "55", T) == "tA"
        assert journal.fill_owner(SYM, 56, T) == "tB"  # the order's trade; an int id is the same venue id
        assert journal.fill_owner(SYM, "57", T) is None
        assert journal.fill_owner(SYM, "58", T) is None  # only the fill's own millisecond is searched
        assert journal.fill_owner(SYM, "58", T + 1) == "tA"
        assert journal.fill_owner(SYM, "59", T) is None
        assert journal.fill_owner(SYM, "60", T) is None  # ORCAUSDT's fill 60, not RIVERUSDT's
        assert journal.fill_owner("ORCAUSDT", "60", T) == "tB"
        assert journal.fill_owner(SYM, "61", T) is None  # never journaled
    finally:
        journal.close()
