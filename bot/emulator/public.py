"""Public market-data endpoints, answered "as of" the emulator clock.

Only data published at or before the clock is served: a candle once closed, a funding rate
at its settlement, an OI/ratio sample one sampling step after its timestamp. Where the data
set has nothing (5-minute OI, top-trader account ratio...) the list endpoints answer ``[]``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bot.core.instrument import Instrument
from bot.core.precision import format_step
from bot.core.timeutil import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE
from bot.emulator import errors, listings
from bot.emulator import params as P
from bot.emulator.book import BarRange, build_book
from bot.emulator.routes import Route
from bot.sim.exchange import PERCENT_PRICE_DOWN, PERCENT_PRICE_UP

EIGHT_HOURS = 8 * MS_PER_HOUR
_INTERVALS = {"1m": MS_PER_MINUTE, "3m": 3 * MS_PER_MINUTE, "5m": 5 * MS_PER_MINUTE,
              "15m": 15 * MS_PER_MINUTE, "30m": 30 * MS_PER_MINUTE, "1h": MS_PER_HOUR,
              "2h": 2 * MS_PER_HOUR, "4h": 4 * MS_PER_HOUR, "6h": 6 * MS_PER_HOUR,
              "8h": 8 * MS_PER_HOUR, "12h": 12 * MS_PER_HOUR, "1d": MS_PER_DAY, "3d": 3 * MS_PER_DAY}
_PERIODS = {k: _INTERVALS[k] for k in ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")}
_EMPTY = np.empty(0)


def _arr(h: Any, name: str) -> np.ndarray:
    value = getattr(h, name, None)
    return _EMPTY if value is None else np.asarray(value)


def _px(value: float, inst: Instrument) -> str:
    return format_step(float(value), inst.tick_size)


def _num(value: float, places: int = 8) -> str:
    return f"{float(value):.{places}f}"


# -- time / exchangeInfo ------------------------------------------------------------------------

def server_time(state: Any, params: dict[str, str]) -> Any:
    return {"serverTime": state.server_time_ms()}


ORDER_TYPES = ["LIMIT", "MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"]


def _symbol_info(inst: Instrument, status: str = "TRADING") -> dict[str, Any]:
    tick = format_step(inst.tick_size, inst.tick_size)
    step = format_step(inst.step_size, inst.step_size)
    first = inst.brackets[0]
    return {
        "symbol": inst.symbol, "pair": inst.symbol, "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000, "onboardDate": int(inst.onboard_ms), "status": status,
        "maintMarginPercent": f"{first.maint_margin_ratio * 100:.4f}",
        "requiredMarginPercent": f"{100 / first.initial_leverage:.4f}",
        "baseAsset": inst.base, "quoteAsset": inst.quote, "marginAsset": inst.quote,
        "pricePrecision": int(inst.price_precision), "quantityPrecision": int(inst.quantity_precision),
        "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
        "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
        "liquidationFee": "0.012500", "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "1000000", "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": format_step(inst.min_qty, inst.step_size),
             "maxQty": format_step(inst.max_qty, inst.step_size), "stepSize": step},
            {"filterType": "MARKET_LOT_SIZE", "minQty": format_step(inst.min_qty, inst.step_size),
             "maxQty": format_step(inst.market_max_qty, inst.step_size), "stepSize": step},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": f"{inst.min_notional:g}"},
            # the band the core enforces on MARKET orders (-4131): one source for both
            {"filterType": "PERCENT_PRICE", "multiplierUp": f"{PERCENT_PRICE_UP:.4f}",
             "multiplierDown": f"{PERCENT_PRICE_DOWN:.4f}", "multiplierDecimal": "4"},
        ],
        "orderTypes": list(ORDER_TYPES),
        "timeInForce": ["GTC", "IOC", "GTX"],
    }


def exchange_info(state: Any, params: dict[str, str]) -> Any:
    """Symbols listed now (issue 11: listings follow the data), each with its status: TRADING,
    or SETTLING then CLOSE once delisted (``/_sim/delist`` or the data's end)."""
    limit = state.limiter.config.max_weight
    return {
        "timezone": "UTC",
        "serverTime": state.now_ms(),
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": limit},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1,
             "limit": state.order_limiter.limits.per_minute},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
             "limit": state.order_limiter.limits.per_10s},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [_symbol_info(state.instruments[s], listings.status(state.exchange, s, state.now_ms()))
                    for s in state.listed_symbols()],
    }


# -- candles --------------------------------------------------------------------------------

def _interval(params: dict[str, str], bar_ms: int) -> int:
    name = P.req_str(params, "interval")
    ms = _INTERVALS.get(name)
    if ms is None or ms < bar_ms or ms % bar_ms:
        raise errors.BinanceError(-1120, "Invalid interval.")
    return ms


def _aggregate(ts: np.ndarray, o: np.ndarray, hi: np.ndarray, lo: np.ndarray, c: np.ndarray,
               v: np.ndarray, qv: np.ndarray, step: int, bar_ms: int) -> tuple[np.ndarray, ...]:
    if step == bar_ms or len(ts) == 0:
        return ts, o, hi, lo, c, v, qv
    keys = ts // step
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(ts)] - 1
    return (keys[starts] * step, o[starts], np.maximum.reduceat(hi, starts),
            np.minimum.reduceat(lo, starts), c[ends], np.add.reduceat(v, starts),
            np.add.reduceat(qv, starts))


def _select(ts: np.ndarray, params: dict[str, str], default_limit: int, max_limit: int) -> slice:
    """Binance windowing: from startTime forward, else the most recent ``limit`` rows."""
    start = P.opt_int(params, "startTime")
    end = P.opt_int(params, "endTime")
    limit = P.limit(params, default_limit, max_limit)
    lo = int(np.searchsorted(ts, start, "left")) if start is not None else 0
    hi = int(np.searchsorted(ts, end, "right")) if end is not None else len(ts)
    if start is not None:
        return slice(lo, min(hi, lo + limit))
    return slice(max(lo, hi - limit), hi)


def _klines(state: Any, params: dict[str, str], mark: bool) -> Any:
    inst = state.instrument(P.opt_str(params, "symbol"))
    h = state.history(inst.symbol)
    bar_ms = int(h.bar_ms)
    step = _interval(params, bar_ms)
    n = int(h.bars_known_at(state.now_ms()))
    ts = _arr(h, "ts")[:n].astype(np.int64)
    if mark:
        cols = [_arr(h, f"mark_{k}")[:n].astype(float) for k in ("open", "high", "low", "close")]
        ok = np.isfinite(cols[3])
        ts = ts[ok]
        cols = [col[ok] for col in cols]
        vol = np.zeros(len(ts))
        qv = vol
    else:
        cols = [_arr(h, k)[:n].astype(float) for k in ("open", "high", "low", "close")]
        vol = _arr(h, "volume")[:n].astype(float)
        qv_raw = _arr(h, "quote_volume")
        qv = qv_raw[:n].astype(float) if len(qv_raw) >= n else vol * cols[3]
        qv = np.where(np.isfinite(qv), qv, vol * cols[3])
    ts, o, hi, lo, c, v, q = _aggregate(ts, *cols, vol, qv, step, bar_ms)
    window = _select(ts, params, 500, 1500)
    rows = []
    for i in range(len(ts))[window]:
        vol_s = "0" if mark else format_step(float(v[i]), inst.step_size)
        fmt = (lambda x: _num(x, 8)) if mark else (lambda x: _px(x, inst))  # mark is not tick-aligned
        rows.append([int(ts[i]), fmt(o[i]), fmt(hi[i]), fmt(lo[i]), fmt(c[i]),
                     vol_s, int(ts[i]) + step - 1, "0" if mark else _num(q[i], 4), 0,
                     "0", "0", "0"])
    return rows


def klines(state: Any, params: dict[str, str]) -> Any:
    return _klines(state, params, mark=False)


def mark_klines(state: Any, params: dict[str, str]) -> Any:
    return _klines(state, params, mark=True)


# -- tickers / book -------------------------------------------------------------------------

def _last_bar(state: Any, symbol: str) -> BarRange | None:
    h = state.history(symbol)
    n = int(h.bars_known_at(state.now_ms()))
    if n == 0:
        return None
    return BarRange(float(h.high[n - 1]), float(h.low[n - 1]), float(h.close[n - 1]), float(h.volume[n - 1]))


def _ticker(state: Any, symbol: str) -> dict[str, Any]:
    inst = state.instruments[symbol]
    h = state.history(symbol)
    now = state.now_ms()
    n = int(h.bars_known_at(now))
    ts = _arr(h, "ts")[:n]
    first = int(np.searchsorted(ts, now - MS_PER_DAY, "left"))
    price = state.driver.prices[symbol]
    last = price.last if price.last is not None else 0.0
    if n > first:
        o = float(h.open[first])
        hi = max(float(np.max(h.high[first:n])), last)
        lo = min(float(np.min(h.low[first:n])), last)
        vol = float(np.nansum(h.volume[first:n]))
        qv_raw = _arr(h, "quote_volume")
        qv = float(np.nansum(qv_raw[first:n])) if len(qv_raw) >= n else vol * last
    else:
        o = hi = lo = last
        vol = qv = 0.0
    change = last - o
    return {
        "symbol": symbol, "priceChange": _px(change, inst),
        "priceChangePercent": f"{(change / o * 100) if o else 0.0:.3f}",
        "weightedAvgPrice": _px(qv / vol, inst) if vol > 0 else _px(last, inst),
        "lastPrice": _px(last, inst), "lastQty": format_step(inst.min_qty, inst.step_size),
        "openPrice": _px(o, inst), "highPrice": _px(hi, inst), "lowPrice": _px(lo, inst),
        "volume": format_step(vol, inst.step_size), "quoteVolume": _num(qv, 4),
        "openTime": now - MS_PER_DAY, "closeTime": now, "firstId": 0, "lastId": max(n - first - 1, 0),
        "count": max(n - first, 0),
    }


def _symbols_or_one(state: Any, params: dict[str, str]) -> tuple[list[str], bool]:
    symbol = state.check_symbol(P.opt_str(params, "symbol"))
    return ([symbol], True) if symbol else (state.listed_symbols(), False)


def _priced(state: Any, symbols: list[str]) -> list[str]:
    return [s for s in symbols if state.driver.prices[s].last is not None]


def ticker_24hr(state: Any, params: dict[str, str]) -> Any:
    symbols, single = _symbols_or_one(state, params)
    rows = [_ticker(state, s) for s in _priced(state, symbols)]
    if single:
        if not rows:
            raise errors.invalid_symbol()
        return rows[0]
    return rows


def ticker_price(state: Any, params: dict[str, str]) -> Any:
    symbols, single = _symbols_or_one(state, params)
    now = state.now_ms()
    rows = [{"symbol": s, "price": _px(state.driver.prices[s].last, state.instruments[s]), "time": now}
            for s in _priced(state, symbols)]
    return rows[0] if single and rows else rows


def _book(state: Any, symbol: str, depth: int) -> tuple[list, list]:
    last = state.driver.prices[symbol].last
    if last is None:
        return [], []
    return build_book(state.instruments[symbol], last, _last_bar(state, symbol), depth, state.fill_model)


def book_ticker(state: Any, params: dict[str, str]) -> Any:
    symbols, single = _symbols_or_one(state, params)
    now = state.now_ms()
    rows = []
    for s in _priced(state, symbols):
        inst = state.instruments[s]
        bids, asks = _book(state, s, 1)
        rows.append({"symbol": s, "bidPrice": _px(bids[0][0], inst),
                     "bidQty": format_step(bids[0][1], inst.step_size), "askPrice": _px(asks[0][0], inst),
                     "askQty": format_step(asks[0][1], inst.step_size), "time": now,
                     "lastUpdateId": state.driver.events_applied})
    return rows[0] if single and rows else rows


_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


def depth(state: Any, params: dict[str, str]) -> Any:
    inst = state.instrument(P.opt_str(params, "symbol"))
    limit = P.opt_int(params, "limit") or 500
    if limit not in _DEPTH_LIMITS:
        raise errors.BinanceError(-1130, "Data sent for parameter 'limit' is not valid.")
    bids, asks = _book(state, inst.symbol, limit)
    now = state.now_ms()
    fmt = lambda rows: [[_px(p, inst), format_step(q, inst.step_size)] for p, q in rows]  # noqa: E731
    return {"lastUpdateId": state.driver.events_applied, "E": now, "T": now,
            "bids": fmt(bids), "asks": fmt(asks)}


# -- funding --------------------------------------------------------------------------------

def _funding_known(state: Any, symbol: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    h = state.history(symbol)
    m = int(h.funding_known_at(state.now_ms()))
    return _arr(h, "funding_ts"), _arr(h, "funding_rate"), _arr(h, "funding_mark"), m


def funding_interval_ms(state: Any, symbol: str) -> int:
    """The interval in force at the clock: the gap between the last two known settlements."""
    ts, _, _, m = _funding_known(state, symbol)
    if m < 2:
        return EIGHT_HOURS
    gap = int(ts[m - 1]) - int(ts[m - 2])
    return max(MS_PER_HOUR, round(gap / MS_PER_HOUR) * MS_PER_HOUR)


def _premium(state: Any, symbol: str) -> dict[str, Any]:
    now = state.now_ms()
    price = state.driver.prices[symbol]
    ts, rates, _, m = _funding_known(state, symbol)
    last_rate = float(rates[m - 1]) if m else 0.0
    interval = funding_interval_ms(state, symbol)
    if m:
        last_ts = int(ts[m - 1]) - int(ts[m - 1]) % MS_PER_HOUR
        next_ts = last_ts + interval
        if next_ts <= now:
            next_ts += ((now - next_ts) // interval + 1) * interval
    else:
        next_ts = now - now % interval + interval
    mark = price.mark if price.mark is not None else 0.0
    return {"symbol": symbol, "markPrice": _num(mark), "indexPrice": _num(mark),
            "estimatedSettlePrice": _num(mark), "lastFundingRate": _num(last_rate),
            "interestRate": "0.00010000", "nextFundingTime": int(next_ts), "time": now}


def premium_index(state: Any, params: dict[str, str]) -> Any:
    symbols, single = _symbols_or_one(state, params)
    rows = [_premium(state, s) for s in _priced(state, symbols)]
    if single:
        if not rows:
            raise errors.invalid_symbol()
        return rows[0]
    return rows


def funding_rate(state: Any, params: dict[str, str]) -> Any:
    symbols, _ = _symbols_or_one(state, params)
    out: list[dict[str, Any]] = []
    for s in symbols:
        ts, rates, marks, m = _funding_known(state, s)
        known = ts[:m].astype(np.int64)
        for i in range(m)[_select(known, params, 100, 1000)]:
            mark = float(marks[i]) if len(marks) > i and math.isfinite(float(marks[i])) else None
            out.append({"symbol": s, "fundingRate": _num(rates[i]), "fundingTime": int(known[i]),
                        "markPrice": _num(mark) if mark is not None else ""})
    out.sort(key=lambda r: r["fundingTime"])
    return out


def funding_info(state: Any, params: dict[str, str]) -> Any:
    """Like Binance: only symbols whose interval (or cap) differs from the 8h default."""
    rows = []
    for s in state.listed_symbols():
        interval = funding_interval_ms(state, s)
        if interval != EIGHT_HOURS:
            rows.append({"symbol": s, "adjustedFundingRateCap": "0.02000000",
                         "adjustedFundingRateFloor": "-0.02000000",
                         "fundingIntervalHours": interval // MS_PER_HOUR, "disclaimer": False})
    return rows


# -- open interest and ratios ---------------------------------------------------------------

def _sample_step(ts: np.ndarray) -> int:
    if len(ts) < 2:
        return MS_PER_HOUR
    return int(np.median(np.diff(ts[-50:].astype(np.int64))))


def _known_samples(state: Any, ts: np.ndarray) -> int:
    """OI/ratio timestamps in the store are publication times: known once ``ts <= now``."""
    if len(ts) == 0:
        return 0
    return int(np.searchsorted(ts.astype(np.int64), state.now_ms(), "right"))


def open_interest(state: Any, params: dict[str, str]) -> Any:
    inst = state.instrument(P.opt_str(params, "symbol"))
    h = state.history(inst.symbol)
    ts, oi = _arr(h, "oi_ts"), _arr(h, "oi")
    n = _known_samples(state, ts)
    if n == 0:
        raise errors.BinanceError(-1000, f"No open interest in the emulator's data for {inst.symbol}.")
    return {"symbol": inst.symbol, "openInterest": format_step(float(oi[n - 1]), inst.step_size),
            "time": state.now_ms()}


def _period(params: dict[str, str]) -> int:
    period = _PERIODS.get(P.req_str(params, "period"))
    if period is None:
        raise errors.BinanceError(-1130, "Data sent for parameter 'period' is not valid.")
    return period


def _sampled(state: Any, params: dict[str, str], ts_name: str, value_names: tuple[str, ...]
             ) -> tuple[Any, np.ndarray, list[np.ndarray], slice]:
    inst = state.instrument(P.opt_str(params, "symbol"))
    h = state.history(inst.symbol)
    period = _period(params)
    ts = _arr(h, ts_name).astype(np.int64)
    values = [_arr(h, name) for name in value_names]
    n = _known_samples(state, ts)
    if n == 0 or any(len(v) < n for v in values) or period < _sample_step(ts):
        return inst, _EMPTY.astype(np.int64), [_EMPTY for _ in value_names], slice(0, 0)
    idx = np.flatnonzero(ts[:n] % period == 0)
    idx = idx[np.all([np.isfinite(v[idx].astype(float)) for v in values], axis=0)]
    return inst, ts[idx], [v[idx].astype(float) for v in values], _select(ts[idx], params, 30, 500)


def _close_at(state: Any, symbol: str, t_ms: int) -> float:
    h = state.history(symbol)
    n = int(h.bars_known_at(t_ms))
    return float(h.close[n - 1]) if n else float("nan")


def open_interest_hist(state: Any, params: dict[str, str]) -> Any:
    inst, ts, (oi,), window = _sampled(state, params, "oi_ts", ("oi",))
    rows = []
    for i in range(len(ts))[window]:
        value = float(oi[i]) * _close_at(state, inst.symbol, int(ts[i]))
        rows.append({"symbol": inst.symbol, "sumOpenInterest": _num(oi[i], 4),
                     "sumOpenInterestValue": _num(value if math.isfinite(value) else 0.0, 8),
                     "CMCCirculatingSupply": "0", "timestamp": int(ts[i])})
    return rows


def _ratio_rows(state: Any, params: dict[str, str], field: str) -> Any:
    inst, ts, values, window = _sampled(state, params, "ratio_ts", (field,))
    rows = []
    for i in range(len(ts))[window]:
        r = float(values[0][i])
        rows.append({"symbol": inst.symbol, "longShortRatio": _num(r, 4),
                     "longAccount": _num(r / (1 + r), 4), "shortAccount": _num(1 / (1 + r), 4),
                     "timestamp": int(ts[i])})
    return rows


def global_long_short(state: Any, params: dict[str, str]) -> Any:
    return _ratio_rows(state, params, "long_short_ratio")


def top_position_ratio(state: Any, params: dict[str, str]) -> Any:
    return _ratio_rows(state, params, "top_position_ratio")


def top_account_ratio(state: Any, params: dict[str, str]) -> Any:
    state.instrument(P.opt_str(params, "symbol"))
    _period(params)
    return []  # the data sets carry no top-trader account ratio


def taker_ratio(state: Any, params: dict[str, str]) -> Any:
    inst, ts, values, window = _sampled(state, params, "ratio_ts", ("taker_buy_sell_ratio",))
    rows = []
    h = state.history(inst.symbol)
    for i in range(len(ts))[window]:
        r = float(values[0][i])
        n = int(h.bars_known_at(int(ts[i])))
        vol = float(h.volume[n - 1]) if n else 0.0
        rows.append({"buySellRatio": _num(r, 4), "buyVol": _num(vol * r / (1 + r), 4),
                     "sellVol": _num(vol / (1 + r), 4), "timestamp": int(ts[i])})
    return rows


ROUTES = [
    Route("GET", "/fapi/v1/time", server_time),
    Route("GET", "/fapi/v1/exchangeInfo", exchange_info),
    Route("GET", "/fapi/v1/klines", klines),
    Route("GET", "/fapi/v1/markPriceKlines", mark_klines),
    Route("GET", "/fapi/v1/ticker/24hr", ticker_24hr),
    Route("GET", "/fapi/v2/ticker/price", ticker_price),
    Route("GET", "/fapi/v1/ticker/price", ticker_price),
    Route("GET", "/fapi/v1/ticker/bookTicker", book_ticker),
    Route("GET", "/fapi/v1/depth", depth),
    Route("GET", "/fapi/v1/premiumIndex", premium_index),
    Route("GET", "/fapi/v1/fundingRate", funding_rate),
    Route("GET", "/fapi/v1/fundingInfo", funding_info),
    Route("GET", "/fapi/v1/openInterest", open_interest),
    Route("GET", "/futures/data/openInterestHist", open_interest_hist),
    Route("GET", "/futures/data/globalLongShortAccountRatio", global_long_short),
    Route("GET", "/futures/data/topLongShortPositionRatio", top_position_ratio),
    Route("GET", "/futures/data/topLongShortAccountRatio", top_account_ratio),
    Route("GET", "/futures/data/takerlongshortRatio", taker_ratio),
]
