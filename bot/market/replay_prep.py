"""Per-symbol arrays precomputed once for the replay feed, and the vectorised field lookup.

Everything the replay needs for a snapshot at ``t`` is "the last item published at or before
``t``" of some series, plus derived values (24h sums, changes) that depend only on that item
and older ones. So each derived value is precomputed **per row** of its series, and a batch of
decision times is answered with one ``np.searchsorted`` per series. Both
``ReplaySource.snapshot`` and ``iter_snapshots`` go through :func:`field_columns`, so the
single-snapshot path and the fast path cannot disagree.

Quality codes: 0 = FRESH, 1 = STALE, 2 = MISSING (a NaN value is always MISSING).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.core.timeutil import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE
from bot.data.store import SymbolHistory

FRESH, STALE, MISSING = 0, 1, 2
#: Binance's ``fundingTime`` can be a few ms after the hour; allow that much before "stale".
FUNDING_GRACE_MS = MS_PER_MINUTE
DEFAULT_FUNDING_INTERVAL_MS = 8 * MS_PER_HOUR

#: A field: (values float64, publication ts int64, quality int8), one row per decision time.
Column = tuple[np.ndarray, np.ndarray, np.ndarray]


def _ffill_valid_index(values: np.ndarray) -> np.ndarray:
    """For each row, the index of the last row at or before it whose value is not NaN (-1 if none)."""
    idx = np.where(~np.isnan(values), np.arange(len(values)), -1)
    return np.maximum.accumulate(idx) if len(idx) else idx


def _lookback_change(ts: np.ndarray, values: np.ndarray, lag_ms: int) -> np.ndarray:
    """``values[i] / values[j] - 1`` where ``ts[j] == ts[i] - lag`` exactly; NaN otherwise."""
    out = np.full(len(ts), np.nan)
    if len(ts) == 0:
        return out
    j = np.searchsorted(ts, ts - lag_ms)
    jc = np.minimum(j, len(ts) - 1)
    ok = (ts[jc] == ts - lag_ms) & (values[jc] != 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[ok] = values[ok] / values[jc[ok]] - 1.0
    return out


def _rolling_sum(ts: np.ndarray, values: np.ndarray, window_ms: int, step_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum of ``values`` over rows with ``ts`` in ``(ts[i] - window, ts[i]]``, and whether all rows exist."""
    if len(ts) == 0:
        return np.empty(0), np.empty(0, dtype=bool)
    cs = np.concatenate(([0.0], np.cumsum(np.nan_to_num(values))))
    lo = np.searchsorted(ts, ts - window_ms, "right")
    i = np.arange(len(ts))
    total = cs[i + 1] - cs[lo]
    complete = (i + 1 - lo) == window_ms // step_ms
    return total, complete


@dataclass
class Prepared:
    """Arrays derived once per symbol (see module docstring)."""

    h: SymbolHistory
    bar_pub: np.ndarray
    pc1: np.ndarray
    pc4: np.ndarray
    pc24: np.ndarray
    qv24: np.ndarray
    qv24_complete: np.ndarray
    mark_src: np.ndarray
    fund_valid: np.ndarray
    fund_interval: np.ndarray  # ms, NaN for the first settlement
    oi_chg1: np.ndarray
    oi_chg4: np.ndarray
    oi_chg24: np.ndarray
    spot_pub: np.ndarray
    spot_qv24: np.ndarray
    spot_complete: np.ndarray


def prepare(h: SymbolHistory) -> Prepared:
    bar_pub = h.ts + h.bar_ms
    qv24, qv24_ok = _rolling_sum(h.ts, h.quote_volume, MS_PER_DAY, h.bar_ms)
    interval = np.full(len(h.funding_ts), np.nan)
    if len(h.funding_ts) > 1:
        # Settlement times jitter by a few ms; the interval is a whole number of minutes.
        d = np.diff(h.funding_ts).astype(np.float64)
        interval[1:] = np.round(d / MS_PER_MINUTE) * MS_PER_MINUTE
    spot_pub = h.spot_ts + h.bar_ms
    spot_qv24, spot_ok = _rolling_sum(h.spot_ts, h.spot_quote_volume, MS_PER_DAY, h.bar_ms)
    return Prepared(
        h=h, bar_pub=bar_pub,
        pc1=_lookback_change(h.ts, h.close, MS_PER_HOUR),
        pc4=_lookback_change(h.ts, h.close, 4 * MS_PER_HOUR),
        pc24=_lookback_change(h.ts, h.close, MS_PER_DAY),
        qv24=qv24, qv24_complete=qv24_ok,
        mark_src=_ffill_valid_index(h.mark_close) if len(h.mark_close) else np.full(len(h.ts), -1),
        fund_valid=_ffill_valid_index(h.funding_rate), fund_interval=interval,
        oi_chg1=_lookback_change(h.oi_ts, h.oi, MS_PER_HOUR),
        oi_chg4=_lookback_change(h.oi_ts, h.oi, 4 * MS_PER_HOUR),
        oi_chg24=_lookback_change(h.oi_ts, h.oi, MS_PER_DAY),
        spot_pub=spot_pub, spot_qv24=spot_qv24, spot_complete=spot_ok,
    )


def _last_index(pub: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Index of the last row published at or before each time (-1 if none)."""
    return np.searchsorted(pub, times, "right") - 1


def _quality(age: np.ndarray, limit: np.ndarray | float, present: np.ndarray) -> np.ndarray:
    q = np.where(age <= limit, FRESH, STALE).astype(np.int8)
    q[~present] = MISSING
    return q


def _take(values: np.ndarray, idx: np.ndarray, present: np.ndarray) -> np.ndarray:
    out = np.full(len(idx), np.nan)
    if present.any():
        out[present] = values[idx[present]]
    return out


def _col(values: np.ndarray, ts: np.ndarray, q: np.ndarray) -> Column:
    q = q.copy()
    q[np.isnan(values)] = MISSING
    return values, ts, q


def field_columns(p: Prepared, times: np.ndarray, stale_factor: float) -> dict[str, Column]:
    """Every present snapshot field for each decision time in ``times`` (int64 ms)."""
    h = p.h
    out: dict[str, Column] = {}

    # --- last-price bars -------------------------------------------------------------------
    if len(h.ts):
        i = _last_index(p.bar_pub, times)
        ok = i >= 0
        ic = np.maximum(i, 0)
        pub = np.where(ok, p.bar_pub[ic], 0)
        q = _quality(times - pub, stale_factor * h.bar_ms, ok)
        for name, arr in (("last_price", h.close), ("bar_open", h.open), ("bar_high", h.high),
                          ("bar_low", h.low), ("volume", h.volume), ("quote_volume", h.quote_volume),
                          ("price_change_1h", p.pc1), ("price_change_4h", p.pc4),
                          ("price_change_24h", p.pc24)):
            out[name] = _col(_take(arr, ic, ok), pub, q)
        qv_q = np.where(ok & ~p.qv24_complete[ic] & (q == FRESH), STALE, q).astype(np.int8)
        fut_qv24 = _take(p.qv24, ic, ok)
        out["quote_volume_24h"] = _col(fut_qv24, pub, qv_q)

        # mark: the last bar with a mark close (may be older than the last-price bar)
        m = np.where(ok, p.mark_src[ic], -1)
        mok = m >= 0
        mc = np.maximum(m, 0)
        mpub = np.where(mok, p.bar_pub[mc], 0)
        out["mark_price"] = _col(_take(h.mark_close, mc, mok), mpub,
                                 _quality(times - mpub, stale_factor * h.bar_ms, mok))

        # spot volume and spot/futures ratio
        if len(h.spot_ts):
            s = _last_index(p.spot_pub, times)
            sok = s >= 0
            sc = np.maximum(s, 0)
            spub = np.where(sok, p.spot_pub[sc], 0)
            sq = _quality(times - spub, stale_factor * h.bar_ms, sok)
            sq = np.where(sok & ~p.spot_complete[sc] & (sq == FRESH), STALE, sq).astype(np.int8)
            sqv = _take(p.spot_qv24, sc, sok)
            out["spot_quote_volume_24h"] = _col(sqv, spub, sq)
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.where(fut_qv24 > 0, sqv / fut_qv24, np.nan)
            out["spot_futures_volume_ratio"] = _col(ratio, np.maximum(spub, pub), np.maximum(sq, qv_q))

    # --- funding ---------------------------------------------------------------------------
    if len(h.funding_ts):
        k = _last_index(h.funding_ts, times)
        ok = k >= 0
        kc = np.maximum(k, 0)
        last_ts = np.where(ok, h.funding_ts[kc], 0)
        interval = _take(p.fund_interval, kc, ok)
        limit = np.where(np.isnan(interval), DEFAULT_FUNDING_INTERVAL_MS, interval) + FUNDING_GRACE_MS
        sched_q = _quality(times - last_ts, limit, ok)
        v = np.where(ok, p.fund_valid[kc], -1)
        vok = v >= 0
        vc = np.maximum(v, 0)
        rate_ts = np.where(vok, h.funding_ts[vc], 0)
        # the rate is fresh only if it is the latest settlement's own rate and that is on time
        rate_q = np.where(vok & (v == k) & (sched_q == FRESH), FRESH, STALE).astype(np.int8)
        rate_q[~vok] = MISSING
        out["funding_rate"] = _col(_take(h.funding_rate, vc, vok), rate_ts, rate_q)
        out["funding_interval_hours"] = _col(interval / MS_PER_HOUR, last_ts, sched_q)
        # next settlement: the last one (minute-aligned) + interval. Within the grace after that
        # time the settlement is "due" (Binance publishes it a few ms late); later than that the
        # data is missing settlements and the schedule is rolled past ``t`` (and marked stale).
        base = (last_ts // MS_PER_MINUTE) * MS_PER_MINUTE
        with np.errstate(invalid="ignore"):
            nxt = base + interval
            behind = nxt + FUNDING_GRACE_MS < times
            steps = np.where(behind, np.floor((times - nxt) / interval) + 1, 0)
            nxt = nxt + steps * interval
        out["next_funding_ms"] = _col(nxt, last_ts, sched_q)

    # --- open interest -------------------------------------------------------------------
    if len(h.oi_ts):
        m = _last_index(h.oi_ts, times)
        ok = m >= 0
        mc = np.maximum(m, 0)
        pub = np.where(ok, h.oi_ts[mc], 0)
        q = _quality(times - pub, stale_factor * h.oi_interval_ms, ok)
        for name, arr in (("open_interest", h.oi), ("open_interest_notional", h.oi_notional),
                          ("oi_change_1h", p.oi_chg1), ("oi_change_4h", p.oi_chg4),
                          ("oi_change_24h", p.oi_chg24)):
            out[name] = _col(_take(arr, mc, ok), pub, q)

    # --- positioning ratios ------------------------------------------------------------
    if len(h.ratio_ts):
        r = _last_index(h.ratio_ts, times)
        ok = r >= 0
        rc = np.maximum(r, 0)
        pub = np.where(ok, h.ratio_ts[rc], 0)
        q = _quality(times - pub, stale_factor * h.ratio_interval_ms, ok)
        for name, arr in (("long_short_account_ratio", h.long_short_ratio),
                          ("top_trader_position_ratio", h.top_position_ratio),
                          ("taker_buy_sell_ratio", h.taker_buy_sell_ratio)):
            out[name] = _col(_take(arr, rc, ok), pub, q)

    # --- liquidations ----------------------------------------------------------------------
    if len(h.liq_ts):
        lq = _last_index(h.liq_ts, times)
        ok = lq >= 0
        lc = np.maximum(lq, 0)
        pub = np.where(ok, h.liq_ts[lc], 0)
        q = _quality(times - pub, stale_factor * h.liq_interval_ms, ok)
        out["liq_long_notional"] = _col(_take(h.liq_long_notional, lc, ok), pub, q)
        out["liq_short_notional"] = _col(_take(h.liq_short_notional, lc, ok), pub, q)
    return out
