"""A trailing stop configured on a strategy is moved by the bot (place new, then cancel old),
every move is journaled, and the exit is attributed to the trailing stop."""

from __future__ import annotations

from pathlib import Path

from bot.backtest import run_backtest
from bot.core.enums import IntentKind
from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from bot.journal.reader import JournalReader
from tests.engine import helpers
from tests.engine.scripted import Scripted


async def test_trailing_stop_follows_the_squeeze_and_exits_in_profit(tmp_path: Path, sample_dir: Path) -> None:
    store = MarketStore.load(sample_dir, symbols=["ORCAUSDT"])
    settings = helpers.engine_settings(tmp_path)
    cfg = settings.strategies["scripted"]
    cfg.take_profit_pct = None
    cfg.trailing_stop_pct = 0.08
    cfg.trailing_activation_pct = 0.05
    entry_at = to_ms("2025-03-19T06:00:00Z")
    strategy = Scripted({"ORCAUSDT": (entry_at, IntentKind.ENTER_LONG)}, stop_pct=0.05, tp_pct=None)
    result = await run_backtest(settings, store, {"scripted": strategy}, journal_url=settings.journal.url,
                                start_ms=to_ms("2025-03-18T00:00:00Z"), end_ms=to_ms("2025-03-26T00:00:00Z"))
    [trade] = result.trades
    assert trade["reason"] == "trailing_stop"
    assert trade["exit_price"] > trade["entry_price"] * 1.05
    with JournalReader(settings.journal.url) as reader:
        [view] = reader.trades()
        moves = reader.stop_moves(view.id)
        assert moves[0].reason == "initial stop" and moves[0].old_stop is None
        trailed = [m for m in moves[1:] if m.reason == "trailed"]
        assert len(trailed) >= 2
        assert all(m.new_stop > m.old_stop for m in trailed)  # a long's stop only ever rises
        stops = [o for o in reader.orders(trade_id=view.id) if o.purpose == "stop"]
        # each move placed a new stop first; every replaced one was cancelled, the last one filled
        assert len(stops) == len(moves)
        assert [o.status for o in stops[:-1]] == ["canceled"] * (len(stops) - 1)
