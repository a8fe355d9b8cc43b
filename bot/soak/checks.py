"""The soak's consistency checks: pure functions over plain records (no I/O).

Why separate from the observer: a check that cannot fail proves nothing, so each one is
unit-tested on hand-made inconsistent inputs (tests/soak/test_checks.py), and the harness only
feeds it what it read from the venue and the journal.

What "consistent" means here (issue 11, "Done when"):

* every open position has exactly one protective stop on its exit side covering all of it, and a
  position is never bare for longer than one bot cycle;
* one intent, one entry: at most one *executed* entry order per intent key (the key is the
  part of the client id that names the intent; a restarted bot has another run key, same intent key);
* the journal's open trades are the exchange's positions (symbol, side, quantity);
* the journal's fills are the exchange's user trades, each once;
* the journal's net P&L equals the income history's REALIZED_PNL + COMMISSION + FUNDING_FEE
  within 0.01 USDT.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from bot.execution.ids import parse_client_order_id

#: Largest journal-vs-income P&L difference the issue accepts (USDT).
PNL_TOLERANCE = 0.01
#: Relative tolerance of quantity comparisons (venue quantities are step-rounded decimals).
QTY_REL_TOL = 1e-9
#: Conditional order types that protect a position against an adverse move.
STOP_TYPES = frozenset({"STOP_MARKET", "TRAILING_STOP_MARKET", "STOP"})
#: Income types that make up trading P&L (TRANSFER and the like are cash flows, not P&L).
PNL_INCOME_TYPES = frozenset({"REALIZED_PNL", "COMMISSION", "FUNDING_FEE"})


@dataclass(frozen=True, slots=True)
class Position:
    """An open position: ``side`` is "long" or "short", ``quantity`` is positive."""

    symbol: str
    side: str
    quantity: float


@dataclass(frozen=True, slots=True)
class Conditional:
    """A resting conditional order (stop or take-profit) as the venue lists it."""

    symbol: str
    order_type: str  # wire type: STOP_MARKET, TAKE_PROFIT_MARKET, ...
    side: str  # "buy" / "sell"
    quantity: float | None
    reduce_only: bool
    close_position: bool


@dataclass(frozen=True, slots=True)
class EntryOrder:
    """An order the venue knows, with its client id and executed quantity."""

    client_id: str
    symbol: str
    executed: float


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """A fill: the venue's trade id and what was traded (from the venue or the journal)."""

    trade_id: str
    symbol: str
    side: str
    quantity: float
    price: float


@dataclass(frozen=True, slots=True)
class Finding:
    """One failed check: which check, on what, and what was seen."""

    check: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.subject}: {self.detail}"


def _exit_side(side: str) -> str:
    return "sell" if side == "long" else "buy"


def _covers(order: Conditional, pos: Position) -> bool:
    if order.close_position:
        return True
    return order.quantity is not None and order.quantity >= pos.quantity * (1 - QTY_REL_TOL)


def protective_stops(pos: Position, orders: Iterable[Conditional]) -> list[Conditional]:
    """The orders that would close ``pos`` on an adverse move: stops, reduce-only or
    close-position, on the exit side of ``pos``."""
    return [o for o in orders if o.symbol == pos.symbol and o.order_type.upper() in STOP_TYPES
            and (o.reduce_only or o.close_position) and o.side == _exit_side(pos.side)]


def protection(positions: Iterable[Position], orders: Sequence[Conditional]) -> list[Finding]:
    """Positions without exactly one protective stop covering the whole position."""
    out = []
    for pos in positions:
        stops = protective_stops(pos, orders)
        covering = [o for o in stops if _covers(o, pos)]
        if len(stops) == 1 and covering:
            continue
        if not stops:
            what = "no protective stop"
        elif not covering:
            what = f"{len(stops)} stop(s), none covers {pos.quantity:g}"
        else:
            what = f"{len(stops)} protective stops (expected exactly one)"
        out.append(Finding("protection", f"{pos.symbol} {pos.side} {pos.quantity:g}", what))
    return out


def intent_key_of(client_id: str) -> tuple[str, str] | None:
    """``(intent key, role)`` of one of our client ids, or None for ids we did not make."""
    parsed = parse_client_order_id(client_id)
    if parsed is None:
        return None
    _run, key, role, _seq = parsed
    return key, role


def duplicate_entries(orders: Iterable[EntryOrder]) -> list[Finding]:
    """Intents with more than one entry order that executed (any run key: a restart counts)."""
    executed: dict[str, list[str]] = defaultdict(list)
    for order in orders:
        parsed = intent_key_of(order.client_id)
        if parsed is None or parsed[1] != "e" or order.executed <= 0:
            continue
        executed[parsed[0]].append(order.client_id)
    return [Finding("entries_per_intent", f"intent {key}", f"{len(cids)} executed entries: {', '.join(cids)}")
            for key, cids in sorted(executed.items()) if len(cids) > 1]


def count_entries(orders: Iterable[EntryOrder]) -> tuple[int, int]:
    """(entry orders sent, entry orders that executed) among ``orders``."""
    sent = executed = 0
    for order in orders:
        parsed = intent_key_of(order.client_id)
        if parsed is not None and parsed[1] == "e":
            sent += 1
            executed += order.executed > 0
    return sent, executed


def open_trades_vs_positions(journal: Iterable[Position], exchange: Iterable[Position]) -> list[Finding]:
    """Journal open trades and exchange positions must be the same (symbol, side, quantity)."""
    out = []
    by_symbol_j: dict[str, list[Position]] = defaultdict(list)
    for p in journal:
        by_symbol_j[p.symbol].append(p)
    by_symbol_x = {p.symbol: p for p in exchange}
    for symbol in sorted(set(by_symbol_j) | set(by_symbol_x)):
        trades = by_symbol_j.get(symbol, [])
        pos = by_symbol_x.get(symbol)
        if len(trades) > 1:
            out.append(Finding("open_trades", symbol, f"{len(trades)} open journal trades for one symbol"))
            continue
        if not trades:
            assert pos is not None
            out.append(Finding("open_trades", symbol, f"exchange position {pos.side} {pos.quantity:g} has no "
                                                      "open journal trade"))
            continue
        trade = trades[0]
        if pos is None:
            out.append(Finding("open_trades", symbol, f"open journal trade {trade.side} {trade.quantity:g} has "
                                                      "no exchange position"))
        elif pos.side != trade.side or not math.isclose(pos.quantity, trade.quantity, rel_tol=1e-6):
            out.append(Finding("open_trades", symbol, f"journal {trade.side} {trade.quantity:g} vs exchange "
                                                      f"{pos.side} {pos.quantity:g}"))
    return out


def untouched(opened: Position, now: Position | None, orders: Iterable[dict]) -> list[Finding]:
    """A position the user holds by hand is not the bot's: same side and size as opened, and no
    order on its symbol carries one of the bot's client ids."""
    out = []
    if now is None or now.side != opened.side or not math.isclose(now.quantity, opened.quantity, rel_tol=1e-9):
        held = "gone" if now is None else f"{now.side} {now.quantity:g}"
        out.append(Finding("foreign_position", opened.symbol, f"opened {opened.side} {opened.quantity:g} by hand, "
                                                             f"now {held}"))
    ours = sorted(cid for o in orders if (cid := str(o.get("clientOrderId") or o.get("clientAlgoId") or ""))
                  and parse_client_order_id(cid) is not None)
    if ours:
        out.append(Finding("foreign_position", opened.symbol, f"the bot sent orders on it: {', '.join(ours)}"))
    return out


def fills_vs_user_trades(journal: Iterable[TradeRecord], exchange: Iterable[TradeRecord]) -> list[Finding]:
    """Every venue trade journaled exactly once, with the venue's side, quantity and price, and
    no journal fill the venue does not know."""
    out = []
    journal = list(journal)
    counts = Counter(f.trade_id for f in journal)
    by_id = {f.trade_id: f for f in journal}
    venue = {t.trade_id: t for t in exchange}
    for trade_id, n in sorted(counts.items()):
        if n > 1:
            out.append(Finding("fills", f"trade {trade_id}", f"journaled {n} times"))
    for trade_id, t in sorted(venue.items()):
        mine = by_id.get(trade_id)
        if mine is None:
            out.append(Finding("fills", f"trade {trade_id}", f"{t.symbol} {t.side} {t.quantity:g} @ {t.price:g} "
                                                             "on the exchange, not in the journal"))
        elif (mine.side != t.side or not math.isclose(mine.quantity, t.quantity, rel_tol=1e-6)
              or not math.isclose(mine.price, t.price, rel_tol=1e-9)):
            out.append(Finding("fills", f"trade {trade_id}", f"journal {mine.side} {mine.quantity:g} @ "
                                                             f"{mine.price:g} vs exchange {t.side} {t.quantity:g} "
                                                             f"@ {t.price:g}"))
    for trade_id in sorted(set(by_id) - set(venue)):
        f = by_id[trade_id]
        out.append(Finding("fills", f"trade {trade_id}", f"journal fill {f.symbol} {f.side} {f.quantity:g} unknown "
                                                         "to the exchange"))
    return out


#: ``price(asset, ts_ms)``: the USDT value of one unit of ``asset`` at ``ts_ms`` (NaN if unknown).
Valuer = Callable[[str, int], float]


def usdt_only(asset: str, ts_ms: int) -> float:
    """The valuer of an account that pays everything in USDT."""
    return 1.0 if asset == "USDT" else math.nan


def income_pnl(rows: Iterable[dict], price: Valuer = usdt_only) -> float:
    """Trading P&L of income-history rows (REALIZED_PNL + COMMISSION + FUNDING_FEE) in USDT.

    ``price`` values other assets in USDT at the row's time (a BNB-paid COMMISSION row is in
    BNB); a row in an asset without a price makes the total NaN, which :func:`pnl_vs_income`
    reports."""
    total = 0.0
    for row in rows:
        if str(row.get("incomeType", "")).upper() in PNL_INCOME_TYPES:
            asset = str(row.get("asset") or "USDT")
            total += float(row["income"]) * (1.0 if asset == "USDT" else price(asset, int(row.get("time", 0))))
    return total


def pnl_vs_income(journal_net: float, income_net: float, tolerance: float = PNL_TOLERANCE) -> list[Finding]:
    """The journal's net P&L must equal the venue's income history within ``tolerance``."""
    gap = journal_net - income_net
    if abs(gap) <= tolerance + 1e-12:  # False for NaN: an unvalued asset is a failure
        return []
    return [Finding("pnl", "net P&L", f"journal {journal_net:.4f} vs income {income_net:.4f} USDT "
                                      f"(difference {gap:+.4f}, tolerance {tolerance})")]


def state_key(open_trades: Iterable[Position], fills: int, closed_trades: int, positions: Iterable[Position],
              conditionals: Iterable[Conditional], orders: Iterable[dict], trades: int, income_rows: int) -> tuple:
    """What must not move between two reads for a check to compare a settled state.

    The bot keeps cycling while the harness reads (the venue clock is paused, but an exit the bot
    sends moves the venue at once and reaches the journal a few requests later). Two keys equal
    across one whole bot cycle mean neither side moved in between: journal and venue are compared
    at rest, not in the middle of a booking."""
    return (tuple(sorted(open_trades, key=lambda p: p.symbol)), fills, closed_trades,
            tuple(sorted(positions, key=lambda p: p.symbol)),
            tuple(sorted((c.symbol, c.order_type, c.side, c.quantity) for c in conditionals)),
            tuple(sorted((str(o.get("clientOrderId") or o.get("clientAlgoId") or ""), str(o.get("status") or
                                                                                        o.get("algoStatus") or ""),
                          str(o.get("executedQty") or "")) for o in orders)),
            trades, income_rows)


@dataclass
class BareStretch:
    """A time a position was seen without exactly one covering stop (venue ms)."""

    symbol: str
    start_ms: int
    end_ms: int | None = None
    samples: int = 1
    detail: str = ""

    def duration_ms(self, now_ms: int) -> int:
        return (self.end_ms if self.end_ms is not None else now_ms) - self.start_ms


@dataclass
class BareTracker:
    """Follows :func:`protection` findings sample after sample: when a bare stretch starts and ends.

    A stretch starts at the first sample that shows the problem and ends at the first sample
    that does not (an upper bound of how long it lasted, within one sampling interval)."""

    open: dict[str, BareStretch] = field(default_factory=dict)
    closed: list[BareStretch] = field(default_factory=list)
    samples: int = 0

    def sample(self, now_ms: int, findings: Iterable[Finding]) -> None:
        self.samples += 1
        seen = {f.subject.split(" ")[0]: f.detail for f in findings if f.check == "protection"}
        for symbol in list(self.open):
            if symbol not in seen:
                stretch = self.open.pop(symbol)
                stretch.end_ms = now_ms
                self.closed.append(stretch)
        for symbol, detail in seen.items():
            if symbol in self.open:
                self.open[symbol].samples += 1
            else:
                self.open[symbol] = BareStretch(symbol, now_ms, detail=detail)

    def stretches(self) -> list[BareStretch]:
        return [*self.closed, *self.open.values()]


def cycles_within(stretch: BareStretch, cycle_starts: Sequence[int], now_ms: int, grace_ms: int = 0) -> int:
    """How many cycle boundaries (starts, or ends: one per cycle either way) fell inside the stretch
    (strictly after its start, up to its end): 0 means the bot fixed it in the cycle that caused
    it, 1 in the next one. The soak passes wall-clock cycle ends and a stretch in wall time, since
    a venue clock paused for a check gives every cycle in the pause the same time.

    ``grace_ms`` is taken off the end: a venue that lists new orders late (visibility lag) and a
    sampling interval make the observed end later than the real one by up to that much."""
    end = (stretch.end_ms if stretch.end_ms is not None else now_ms) - grace_ms
    return sum(1 for t in cycle_starts if stretch.start_ms < t <= end)


def bare_too_long(stretches: Iterable[BareStretch], cycle_starts: Sequence[int], now_ms: int,
                  max_cycles: int = 1, grace_ms: int = 0) -> list[Finding]:
    """Stretches during which more than ``max_cycles`` cycle boundaries passed: the bot saw a bare
    position and did not fix it within one cycle."""
    starts = sorted(cycle_starts)
    out = []
    for s in stretches:
        n = cycles_within(s, starts, now_ms, grace_ms)
        if n > max_cycles:
            out.append(Finding("bare_time", s.symbol, f"{s.detail} for {n} cycles "
                                                      f"({s.duration_ms(now_ms) / 1000:.1f} s) from {s.start_ms}"))
    return out
