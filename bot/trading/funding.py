"""Funding income booked on the trade it belongs to, each settlement once (issue 11, item 9).

The venue lists every funding settlement in its income history (``GET /fapi/v1/income``,
``incomeType=FUNDING_FEE``: one row per position and settlement, ``tranId`` its id). The ledger
reads that history from where the open trades' booked funding ends, so:

* a settlement paid while the bot was down is booked when it starts again: the Reconciler runs
  a pass after loading the journal's open trades and *before* closing the ones whose position
  vanished, so a trade that exited while the bot was down closes with its funding;
* the engine runs a pass at the start of each cycle, before the account sync closes trades
  whose position is gone, so the 08:00 settlement of a position stopped out at 08:00:30 is
  booked on that trade (its journal row and its ``funding``), not on no trade;
* a row is attributed by symbol and time: to the symbol's open trade if it settled at or after
  the trade's entry, else to no trade (it settled on some earlier position);
* each row is journaled once, by its income id, across restarts (``Journal.funding_journaled``).

Not covered: a row the venue lists only after the cycle that closed its trade (Binance posts
settlements within seconds of the funding time, so only an exit in those seconds can race it);
it is journaled without a trade.
"""

from __future__ import annotations

from loguru import logger

from bot.execution.base import Executor
from bot.execution.types import IncomeState
from bot.journal import Journal
from bot.trading.book import OpenTrade, TradeBook

#: Binance's default ``limit`` of GET /fapi/v1/income (the executors send none): a full page
#: means more rows may follow from its last time.
INCOME_PAGE = 100
#: Upper bound of pages read in one pass (100,000 rows), so a venue that keeps answering full
#: pages cannot hold a cycle forever; the next pass continues from where this one stopped.
MAX_PAGES = 1000


class FundingLedger:
    """Reads FUNDING_FEE income and books it on the trades of ``book``.

    ``marks`` and ``rates`` are the engine's latest observed mark prices and funding rates by
    symbol (shared dicts): journaled with a row when known, as the best description of the
    settlement the income row itself does not carry.
    """

    def __init__(self, executor: Executor, journal: Journal, book: TradeBook, *,
                 marks: dict[str, float] | None = None, rates: dict[str, float] | None = None) -> None:
        self.executor = executor
        self.journal = journal
        self.book = book
        self.marks = marks if marks is not None else {}
        self.rates = rates if rates is not None else {}
        #: read the income history from here (venue ms); None until :meth:`resume`
        self.since: int | None = None
        #: rows settled at or before this time may have been journaled by an earlier run
        self._history_until: int | None = None
        self._seen: set[str] = set()

    def resume(self, now: int) -> None:
        """Read from where the open trades' booked funding ends: the last settlement journaled on
        each (``OpenTrade.funding_through_ms``), else its entry. Without open trades, from now."""
        starts = [_booked_through(t) for t in self.book]
        since = min(starts, default=now)
        self.since = since if self.since is None else min(self.since, since)
        self._history_until = max(self._history_until or now, now)

    async def book_income(self, now: int) -> list[IncomeState]:
        """Journal the settlements listed since :attr:`since`, each once; add each to its trade.

        Returns the rows booked now (new to the journal)."""
        if self.since is None:
            self.resume(now)
        rows = await self._read()
        booked = []
        for row in sorted(rows, key=lambda r: (r.ts, r.income_id)):
            if row.income_id in self._seen:
                continue
            self._seen.add(row.income_id)
            if self._journaled_before(row):
                continue
            self._book(row)
            booked.append(row)
        if rows:
            self.since = max(self.since or 0, max(r.ts for r in rows))
        return booked

    def _journaled_before(self, row: IncomeState) -> bool:
        """Only rows settled before this process resumed can be in the journal already: later
        ones need no database read (a backtest books thousands)."""
        if self._history_until is None or row.ts > self._history_until:
            return False
        return self.journal.funding_journaled(row.income_id, row.symbol or "?", row.ts)

    def _book(self, row: IncomeState) -> None:
        trade = self._owner(row)
        if trade is not None:
            trade.funding += row.amount
            trade.funding_through_ms = max(trade.funding_through_ms or row.ts, row.ts)
        symbol = row.symbol or "?"
        self.journal.record_funding(ts=row.ts, symbol=symbol, rate=self.rates.get(symbol, 0), amount=row.amount,
                                    trade_id=trade.trade_id if trade else None, mark_price=self.marks.get(symbol),
                                    position_qty=trade.quantity if trade else None, income_id=row.income_id)

    def _owner(self, row: IncomeState) -> OpenTrade | None:
        """The symbol's open trade if the row settled at or after its entry (a position held at
        the funding time pays or receives it), else None."""
        trade = self.book.get(row.symbol) if row.symbol else None
        if trade is None or row.ts < trade.entry_ts:
            return None
        return trade

    async def _read(self) -> list[IncomeState]:
        """FUNDING_FEE rows from :attr:`since` on, paged by time as Binance pages income (the
        next page starts at the last row's time; rows seen twice at that time are dropped)."""
        since = self.since
        rows: dict[str, IncomeState] = {}
        for _ in range(MAX_PAGES):
            page = [r for r in await self.executor.income(since_ms=since, income_type="FUNDING_FEE")
                    if r.income_type.upper() == "FUNDING_FEE"]
            fresh = [r for r in page if r.income_id not in rows]
            rows.update((r.income_id, r) for r in fresh)
            last = max((r.ts for r in page), default=since)
            if len(page) < INCOME_PAGE or not fresh or last == since:
                break
            since = last
        else:
            logger.warning("funding income: {} pages read, the rest next cycle", MAX_PAGES)
        return list(rows.values())


def _booked_through(trade: OpenTrade) -> int:
    """Where ``trade``'s unbooked funding can start: its last booked settlement, else its entry."""
    return trade.funding_through_ms if trade.funding_through_ms is not None else trade.entry_ts


__all__ = ["INCOME_PAGE", "FundingLedger"]
