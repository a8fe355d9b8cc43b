"""Fees paid in another asset than USDT (BNB), valued in USDT at the fill time.

With Binance's "BNB burn" on (``POST /fapi/v1/feeBurn``), a fill's commission is charged in BNB
(``userTrades`` ``commissionAsset: "BNB"``): 0.0001 BNB is not 0.0001 USDT, so adding it to a
trade's fees as if it were (as the bot once did, issue 11 item 9) books the wrong P&L. The value
in USDT is ``fee x price of <asset>USDT at the fill time``, read through ccxt from the perpetual's
klines: the close of the last candle that closed at or before the fill (1m where the venue has
it, 1h otherwise: the emulator replays 1h bars). Prices are cached per asset and minute.

If the price cannot be read, the latest known price of that asset is used (logged, and reported
to :attr:`FeeConverter.on_warning` so the journal keeps a warning event); the fee is never
counted as if it were USDT, and a failed read never raises into the trading loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import ccxt.async_support as ccxt
from loguru import logger

from bot.execution.types import FillState

SETTLE_ASSET = "USDT"
#: Kline intervals tried for an asset's price, finest first, with their length in ms.
PRICE_INTERVALS = (("1m", 60_000), ("1h", 3_600_000))
MINUTE_MS = 60_000

#: ``on_warning(message, data)``: told when a fee had to be valued with an older price (or none).
WarningSink = Callable[[str, dict[str, Any]], None]


class FeeConverter:
    """Adds ``fee_usdt`` to fills whose fee is paid in another asset (see the module docstring)."""

    def __init__(self, client: Any, *, attempts: int = 3, backoff_s: float = 0.2) -> None:
        self.client = client
        #: reads of a price before falling back to the latest known one: a single 5xx or timeout
        #: (routine on Binance) must not value a fee at a stale price (the soak found two)
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.on_warning: WarningSink | None = None
        self._cache: dict[tuple[str, int], float] = {}
        self._latest: dict[str, tuple[int, float]] = {}  # asset -> (ts, price) of the newest price read
        self._interval = 0  # index into PRICE_INTERVALS: the finest one the venue serves

    async def convert(self, fills: list[FillState]) -> list[FillState]:
        """``fills`` with ``fee_usdt`` set: the fee itself for USDT fees, else its USDT value."""
        out = []
        for fill in fills:
            if fill.fee_asset.upper() == SETTLE_ASSET or not fill.fee:
                out.append(replace(fill, fee_usdt=fill.fee))
                continue
            price = await self.price(fill.fee_asset.upper(), fill.ts, fill)
            out.append(replace(fill, fee_usdt=None if price is None else fill.fee * price))
        return out

    async def price(self, asset: str, ts: int, fill: FillState | None = None) -> float | None:
        """``asset``'s USDT price at ``ts`` (cached per minute); the latest known one if unreadable."""
        key = (asset, ts // MINUTE_MS)
        if key in self._cache:
            return self._cache[key]
        try:
            price = await self._read_retrying(asset, ts)
        except (ccxt.BaseError, KeyError, ValueError, TypeError, IndexError) as exc:
            return self._fallback(asset, ts, fill, f"{type(exc).__name__}: {str(exc)[:120]}")
        if price is None:
            return self._fallback(asset, ts, fill, "no candle at or before the fill")
        self._cache[key] = price
        if asset not in self._latest or ts >= self._latest[asset][0]:
            self._latest[asset] = (ts, price)
        return price

    async def _read_retrying(self, asset: str, ts: int) -> float | None:
        """:meth:`_read`, again after a transient venue error (5xx, timeout, 429), with backoff."""
        for attempt in range(self.attempts):
            try:
                return await self._read(asset, ts)
            except ccxt.OperationFailed:
                if attempt == self.attempts - 1:
                    raise
                await asyncio.sleep(self.backoff_s * 2**attempt)
        return None

    async def _read(self, asset: str, ts: int) -> float | None:
        """Close of the last candle of ``<asset>/USDT:USDT`` closed at or before ``ts``."""
        market = f"{asset}/{SETTLE_ASSET}:{SETTLE_ASSET}"
        while True:
            name, length = PRICE_INTERVALS[self._interval]
            try:
                rows = await self.client.fetch_ohlcv(market, name, None, 1, {"until": ts - length})
            except ccxt.BadRequest as exc:
                if "-1120" not in str(exc) or self._interval + 1 >= len(PRICE_INTERVALS):
                    raise
                self._interval += 1  # -1120 "Invalid interval": the venue has no candles this fine
                continue
            if not rows:
                return None
            close = float(rows[-1][4])
            return close if close > 0 else None

    def _fallback(self, asset: str, ts: int, fill: FillState | None, why: str) -> float | None:
        latest = self._latest.get(asset)
        trade = f" (trade {fill.trade_id} on {fill.symbol})" if fill is not None else ""
        if latest is None:
            message = (f"fee paid in {asset}{trade} not valued in USDT: its price at {ts} could not be read ({why}) "
                       f"and no earlier {asset} price is known; it is left out of the trade's fees")
        else:
            message = (f"fee paid in {asset}{trade} valued at the latest known {asset} price {latest[1]:g} "
                       f"(of {latest[0]}): its price at {ts} could not be read ({why})")
        logger.warning(message)
        if latest is not None:  # one value (and one warning) per fill, however often it is read
            self._cache[(asset, ts // MINUTE_MS)] = latest[1]
        if self.on_warning is not None:
            self.on_warning(message, {"asset": asset, "ts": ts, "price_used": latest[1] if latest else None,
                                      "trade_id": fill.trade_id if fill else None,
                                      "symbol": fill.symbol if fill else None})
        return latest[1] if latest is not None else None
