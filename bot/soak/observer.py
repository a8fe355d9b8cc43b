"""What the soak sees: the venue through its own ccxt client, the journal through its reader.

Why its own client: the soak must not trust the bot's view of the venue. It reads the same wire
the bot trades on (Binance USDⓈ-M endpoints served by the emulator), with the same faults
injected, so every read retries transient errors; nothing here places or cancels an order.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import ccxt.async_support as ccxt
import numpy as np

from bot.config import Settings
from bot.exchange.connect import connect
from bot.journal.reader import JournalReader
from bot.soak.checks import Conditional, EntryOrder, Position, TradeRecord, Valuer, usdt_only

T = TypeVar("T")
BAR_MS = 3_600_000

#: Attempts per venue read before the soak gives up on it (faults make single reads fail).
READ_ATTEMPTS = 12
#: Rows per history page (Binance's maximum for allOrders, userTrades and income).
PAGE = 1000


def observer_client(base_url: str, api_key: str, api_secret: str, timeout_ms: int = 8000) -> Any:
    """A keyed ccxt binanceusdm client pointed at the emulator, built like the bot's (testnet
    mode with an explicit URL), with ccxt's own throttle off: the emulator is local."""
    settings = Settings(mode="testnet", exchange={"base_url": base_url, "api_key": api_key,
                                                  "api_secret": api_secret, "timeout_ms": timeout_ms})
    client = connect(settings)
    client.enableRateLimit = False
    return client


async def retry(call: Callable[[], Awaitable[T]], client: Any, attempts: int = READ_ATTEMPTS) -> T:
    """``call()`` until it succeeds; 5xx, 429, timeouts and venue errors are retried.

    No clock resync on -1021: the emulator's ``/fapi/v1/time`` is its (accelerated) market
    clock, so syncing to it would make every later timestamp wrong; the soak keeps the server
    offset inside the window a wall-clock signature is accepted in."""
    delay = 0.05
    for attempt in range(attempts):
        try:
            return await call()
        except ccxt.BaseError:
            if attempt == attempts - 1:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
    return await call()


class DataValuer:
    """USDT prices of fee assets from the replayed data: the close of the last 1h bar of
    ``<ASSET>USDT`` closed at or before the time (how bot/execution/fees.py values a BNB fee
    against the emulator), else a fixed price, else NaN."""

    def __init__(self, data: Path | None, assets: tuple[str, ...] = ("BNB",),
                 fixed: dict[str, float] | None = None) -> None:
        self.fixed = dict(fixed or {})
        self.bars: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if data is None:
            return
        from bot.data.store import MarketStore

        symbols = [f"{a}USDT" for a in assets]
        store = MarketStore.load(data, symbols=symbols)
        for asset, symbol in zip(assets, symbols, strict=True):
            if symbol in store.symbols and len(store[symbol].ts):
                self.bars[asset] = (np.asarray(store[symbol].ts, dtype=np.int64) + BAR_MS,
                                    np.asarray(store[symbol].close, dtype=float))

    def has(self, asset: str) -> bool:
        return asset in self.bars

    def __call__(self, asset: str, ts_ms: int) -> float:
        if asset == "USDT":
            return 1.0
        if asset in self.bars:
            closes_at, close = self.bars[asset]
            i = int(np.searchsorted(closes_at, ts_ms, side="right")) - 1
            if i >= 0:
                return float(close[i])
        return self.fixed.get(asset, math.nan)


def _side_of_amount(amount: float) -> str:
    return "long" if amount > 0 else "short"


@dataclass
class VenueObserver:
    """Read-only views of the venue for the checks."""

    client: Any
    symbols: list[str]

    async def _get(self, method: str, params: dict[str, Any] | None = None) -> Any:
        fn = getattr(self.client, method)
        return await retry(lambda: fn(params or {}), self.client)

    async def positions(self) -> list[Position]:
        rows = await self._get("fapiPrivateV3GetPositionRisk")
        out = []
        for r in rows:
            amount = float(r.get("positionAmt") or 0)
            if amount and r.get("symbol") in self.symbols:
                out.append(Position(r["symbol"], _side_of_amount(amount), abs(amount)))
        return out

    async def position_of(self, symbol: str) -> Position | None:
        """One symbol's position, any margin asset (the soak's own list is USDT symbols only)."""
        for r in await self._get("fapiPrivateV3GetPositionRisk"):
            amount = float(r.get("positionAmt") or 0)
            if amount and r.get("symbol") == symbol:
                return Position(symbol, _side_of_amount(amount), abs(amount))
        return None

    async def orders_of(self, symbol: str, since_ms: int, until_ms: int) -> list[dict[str, Any]]:
        """Every regular and conditional order of one symbol (raw venue rows)."""
        return (await self._paged_by_time("fapiPrivateGetAllOrders", {"symbol": symbol}, "time", "orderId",
                                          since_ms, until_ms)
                + await self._paged_by_time("fapiPrivateGetAllAlgoOrders", {"symbol": symbol}, "createTime",
                                            "algoId", since_ms, until_ms))

    async def conditionals(self) -> list[Conditional]:
        rows = await self._get("fapiPrivateGetOpenAlgoOrders")
        return [Conditional(symbol=r["symbol"], order_type=str(r.get("orderType", "")).upper(),
                            side=str(r.get("side", "")).lower(),
                            quantity=float(r["quantity"]) if r.get("quantity") not in (None, "") else None,
                            reduce_only=bool(r.get("reduceOnly")), close_position=bool(r.get("closePosition")))
                for r in rows]

    async def _paged_by_time(self, method: str, params: dict[str, Any], ts_key: str, id_key: str,
                             since_ms: int, until_ms: int) -> list[dict[str, Any]]:
        """All rows from ``since_ms`` to ``until_ms``: each page restarts at the last row's time
        (rows sharing that millisecond are fetched again and deduplicated by id)."""
        seen: dict[Any, dict[str, Any]] = {}
        start = since_ms
        while True:
            page = await self._get(method, {**params, "startTime": start, "endTime": until_ms, "limit": PAGE})
            new = [r for r in page if (r.get(id_key), r.get("incomeType")) not in seen]
            for r in page:
                seen[(r.get(id_key), r.get("incomeType"))] = r
            if len(page) < PAGE or not new:
                break
            start = int(page[-1][ts_key])
        return list(seen.values())

    async def orders(self, since_ms: int, until_ms: int) -> list[dict[str, Any]]:
        """Every regular and conditional order of the soak's symbols (raw venue rows)."""
        out: list[dict[str, Any]] = []
        for symbol in self.symbols:
            out += await self._paged_by_time("fapiPrivateGetAllOrders", {"symbol": symbol}, "time", "orderId",
                                             since_ms, until_ms)
            out += await self._paged_by_time("fapiPrivateGetAllAlgoOrders", {"symbol": symbol}, "createTime",
                                             "algoId", since_ms, until_ms)
        return out

    async def user_trades(self) -> list[TradeRecord]:
        """Every user trade of the soak's symbols, paged by ``fromId`` (no 7-day window)."""
        out = []
        for symbol in self.symbols:
            from_id = 0
            while True:
                page = await self._get("fapiPrivateGetUserTrades", {"symbol": symbol, "fromId": from_id,
                                                                    "limit": PAGE})
                out += [TradeRecord(str(r["id"]), r["symbol"], str(r["side"]).lower(), float(r["qty"]),
                                    float(r["price"])) for r in page]
                if len(page) < PAGE:
                    break
                from_id = int(page[-1]["id"]) + 1
        return out

    async def mark_price(self, symbol: str) -> float:
        row = await self._get("fapiPublicGetPremiumIndex", {"symbol": symbol})
        return float(row["markPrice"])

    async def income(self, since_ms: int, until_ms: int) -> list[dict[str, Any]]:
        """Income rows of the soak's symbols, and rows of no symbol (transfers). A position the
        user holds by hand (another symbol, another margin asset) has its own income: not ours."""
        rows = await self._paged_by_time("fapiPrivateGetIncome", {}, "time", "tranId", since_ms, until_ms)
        return [r for r in rows if not r.get("symbol") or r.get("symbol") in self.symbols]


def entry_orders(rows: list[dict[str, Any]]) -> list[EntryOrder]:
    """Regular orders as :class:`EntryOrder` (the checks keep those whose client id is an entry's)."""
    return [EntryOrder(r.get("clientOrderId") or "", r["symbol"], float(r.get("executedQty") or 0))
            for r in rows if "orderId" in r]


def our_order_count(rows: list[dict[str, Any]]) -> int:
    """Orders the bot sent (our client-id prefix), regular and conditional."""
    return sum(1 for r in rows if str(r.get("clientOrderId") or r.get("clientAlgoId") or "").startswith("db-"))


@dataclass
class JournalView:
    """What the checks need from the journal, read in one go."""

    open_trades: list[Position]
    fills: list[TradeRecord]
    net_pnl: float
    cycle_starts: list[int]
    #: wall-clock ms at which each cycle's equity row was recorded (the cycle's end): cycles
    #: ordered by the wall, which a paused venue clock cannot do (every paused cycle has one time)
    cycle_walls: list[int]
    runs: int
    closed_trades: int


def _ms(dt: Any) -> int:
    return int(dt.timestamp() * 1000)


def read_journal(url: str, price: Valuer = usdt_only) -> JournalView:
    """Open trades, fills, net P&L and cycle times of the whole journal (every run).

    Net P&L = closed trades' ``realised - fees + funding`` + for open trades the fees of their
    fills so far and the funding booked on them + funding booked on no trade: the same money the
    venue's income history shows (its REALIZED_PNL only arrives with the exit). ``price`` values
    fees paid in another asset (BNB) in USDT at the fill's time; an asset without a price makes
    the sum NaN, which the P&L check reports rather than hides."""
    with JournalReader(url) as reader:
        trades = reader.trades()
        fills = reader.fills()
        funding = reader.funding()
        equity = reader.equity()
        runs = reader.runs()
    open_ids = {t.id for t in trades if t.is_open}
    net = sum(float(t.net_pnl) for t in trades if not t.is_open and t.net_pnl is not None)
    net -= sum(float(f.fee) * (1.0 if f.fee_asset == "USDT" else price(f.fee_asset, _ms(f.ts)))
               for f in fills if f.trade_id in open_ids)
    net += sum(float(p.amount) for p in funding if p.trade_id in open_ids or p.trade_id is None)
    return JournalView(
        open_trades=[Position(t.symbol, t.side, float(t.quantity)) for t in trades if t.is_open],
        fills=[TradeRecord(f.exchange_trade_id or f"journal:{f.id}", f.symbol, f.side.lower(), float(f.quantity),
                           float(f.price)) for f in fills],
        net_pnl=net, cycle_starts=[_ms(e.ts) for e in equity],
        cycle_walls=[_ms(e.recorded_at) for e in equity if e.recorded_at is not None], runs=len(runs),
        closed_trades=sum(1 for t in trades if not t.is_open))
