"""Throughput of the simulated exchange core: symbol-bar steps per second through ``on_bar``.

Loads real 1h bars (last + mark) from the bundled sample (``bot/data/sample``) or, if missing, from
``../shared/data``, tiles them to ``n_bars`` per symbol and replays ``n_symbols`` symbols
time-major, as the replay driver does. Two runs:

* ``idle``: no positions and no orders (the ``on_bar`` fast path);
* ``active``: every symbol holds a small long with a far stop-loss, a far take-profit and a
  far resting limit order (the full intrabar path engine runs on every bar).

Usage: ``.venv/bin/python scripts/bench_sim_core.py [n_symbols] [n_bars]``. Prints numbers; the
emulator bench imports :func:`bench_core`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.core.enums import OrderSide, OrderType  # noqa: E402
from bot.core.instrument import Instrument  # noqa: E402
from bot.sim.exchange import SimExchange  # noqa: E402

_DIRS = (ROOT / "bot" / "data" / "sample" / "binance" / "futures",
         ROOT.parent / "shared" / "data" / "Harthor_marketlab" / "user_data" / "data" / "binance" / "futures")
_BASES = ("ORCA", "PIPPIN", "RIVER", "BTC")
_COLS = ("open", "high", "low", "close", "volume")


def _load_bars() -> list[np.ndarray]:
    """One ``(n, 9)`` array per available symbol: ts, o, h, l, c, volume, mark o/h/l/c."""
    out: list[np.ndarray] = []
    for folder in _DIRS:
        for base in _BASES:
            fut = folder / f"{base}_USDT_USDT-1h-futures.feather"
            mark = folder / f"{base}_USDT_USDT-1h-mark.feather"
            if not fut.exists():
                continue
            bars = pd.read_feather(fut)
            if mark.exists():
                m = pd.read_feather(mark)[["date", "open", "high", "low", "close"]]
                bars = bars.merge(m, on="date", how="left", suffixes=("", "_mark"))
            else:
                for col in ("open", "high", "low", "close"):
                    bars[f"{col}_mark"] = bars[col]
            ts = bars["date"].astype("int64").to_numpy() // 1_000_000
            cols = [bars[c].to_numpy(float) for c in (*_COLS, "open_mark", "high_mark", "low_mark", "close_mark")]
            out.append(np.column_stack([ts.astype(float), *cols]))
        if out:
            return out
    raise SystemExit("no bar data found in bot/data/sample or ../shared/data")


def _instrument(symbol: str, price: float) -> Instrument:
    tick = 10 ** np.floor(np.log10(price) - 4)
    return Instrument(symbol=symbol, base=symbol[:-4], tick_size=float(tick), step_size=0.001, min_qty=0.001)


def _rows(bars: list[np.ndarray], n_symbols: int, n_bars: int) -> list[list[tuple]]:
    per_symbol = []
    for k in range(n_symbols):
        src = bars[k % len(bars)]
        reps = int(np.ceil(n_bars / len(src)))
        arr = np.tile(src, (reps, 1))[:n_bars].copy()
        arr[:, 0] = arr[0, 0] + np.arange(n_bars) * 3_600_000.0
        rows = [(int(r[0]), *r[1:6], *(None if np.isnan(x) else x for x in r[6:])) for r in arr.tolist()]
        per_symbol.append(rows)
    return per_symbol


def _run(per_symbol: list[list[tuple]], active: bool) -> float:
    symbols = [f"S{k}USDT" for k in range(len(per_symbol))]
    ex = SimExchange({s: _instrument(s, rows[0][4]) for s, rows in zip(symbols, per_symbol, strict=True)},
                     balance=10_000_000.0)
    for sym, rows in zip(symbols, per_symbol, strict=True):
        ex.on_bar(sym, *rows[0])
        if active:
            inst = ex.instruments[sym]
            price = rows[0][4]
            ex.set_leverage(sym, 1)  # a 1x long cannot be liquidated: the run measures steady state
            qty = inst.round_qty(500.0 / price)
            ex.place_order(sym, OrderSide.BUY, OrderType.MARKET, qty)
            ex.place_order(sym, OrderSide.SELL, OrderType.STOP_MARKET, trigger_price=inst.round_price(price * 0.01),
                           close_position=True)
            ex.place_order(sym, OrderSide.SELL, OrderType.TAKE_PROFIT_MARKET,
                           trigger_price=inst.round_price(price * 100), close_position=True)
            ex.place_order(sym, OrderSide.BUY, OrderType.LIMIT, inst.round_qty(100.0 / (price * 0.02)),
                           price=inst.round_price(price * 0.02))
    on_bar = ex.on_bar
    n_bars = len(per_symbol[0])
    pairs = list(zip(symbols, per_symbol, strict=True))
    start = time.perf_counter()
    for i in range(1, n_bars):
        for sym, rows in pairs:
            on_bar(sym, *rows[i])
    elapsed = time.perf_counter() - start
    return (n_bars - 1) * len(symbols) / elapsed


def bench_core(n_symbols: int = 20, n_bars: int = 10_000) -> dict[str, float]:
    """Symbol-bar steps per second of ``SimExchange.on_bar``: ``idle`` and ``active``."""
    per_symbol = _rows(_load_bars(), n_symbols, n_bars)
    return {"idle_steps_per_s": _run(per_symbol, active=False),
            "active_steps_per_s": _run(per_symbol, active=True),
            "symbols": float(n_symbols), "bars": float(n_bars)}


def main() -> None:
    n_symbols = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    n_bars = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    result = bench_core(n_symbols, n_bars)
    print(f"sim core: {n_symbols} symbols x {n_bars} bars")
    print(f"  idle   (no orders/positions): {result['idle_steps_per_s']:>12,.0f} symbol-bar steps/s")
    print(f"  active (position + 2 stops + 1 limit each): {result['active_steps_per_s']:>12,.0f} symbol-bar steps/s")


if __name__ == "__main__":
    main()
