"""The book of trades the bot believes are open, and the orders that protect them.

It is rebuilt from the journal at start (then checked against the exchange by reconciliation),
so a restart after a crash knows which stop belongs to which trade.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.enums import MarginMode, PositionSide
from bot.core.intents import PortfolioView, PositionView


@dataclass
class OpenTrade:
    trade_id: str
    symbol: str
    side: PositionSide
    strategy: str
    entry_ts: int
    entry_price: float
    quantity: float
    leverage: float
    margin_mode: MarginMode
    key: str  # intent key: derives every client order id of this trade
    stop_price: float | None = None
    take_profit_price: float | None = None
    time_stop_ms: int | None = None
    liquidation_price: float | None = None
    stop_client_id: str | None = None
    tp_client_id: str | None = None
    adopted: bool = False
    fees: float = 0.0
    funding: float = 0.0
    #: time of the last funding settlement booked on this trade (where a restart reads on from)
    funding_through_ms: int | None = None
    signal_id: str | None = None
    order_ids: dict[str, str] = field(default_factory=dict)  # client id -> journal order id


class TradeBook:
    """Open trades by symbol (one-way mode: at most one per symbol)."""

    def __init__(self) -> None:
        self._by_symbol: dict[str, OpenTrade] = {}

    def __contains__(self, symbol: str) -> bool:
        return symbol in self._by_symbol

    def __iter__(self):
        return iter(list(self._by_symbol.values()))

    def __len__(self) -> int:
        return len(self._by_symbol)

    def get(self, symbol: str) -> OpenTrade | None:
        return self._by_symbol.get(symbol)

    def add(self, trade: OpenTrade) -> None:
        if trade.symbol in self._by_symbol:
            raise ValueError(f"{trade.symbol} already has an open trade ({self._by_symbol[trade.symbol].trade_id})")
        self._by_symbol[trade.symbol] = trade

    def remove(self, symbol: str) -> OpenTrade | None:
        return self._by_symbol.pop(symbol, None)

    def portfolio(self, ts: int, equity: float, marks: dict[str, float]) -> PortfolioView:
        """The read-only view strategies decide from."""
        views = []
        for t in self._by_symbol.values():
            mark = marks.get(t.symbol, t.entry_price)
            views.append(PositionView(
                symbol=t.symbol, side=t.side, quantity=t.quantity, entry_price=t.entry_price, entry_ts=t.entry_ts,
                strategy=t.strategy, unrealized_pnl=t.side.sign * t.quantity * (mark - t.entry_price),
                stop_price=t.stop_price, take_profit_price=t.take_profit_price,
            ))
        return PortfolioView.of(ts, equity, views)
