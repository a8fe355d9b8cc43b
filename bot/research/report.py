"""Per strategy and side: signal counts, net forward returns and a random-entry baseline,
for a train and a test period; as a rich table and a CSV."""

from __future__ import annotations

import csv
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.table import Table

from bot.core.enums import PositionSide
from bot.core.timeutil import MS_PER_HOUR, iso
from bot.data.store import MarketStore
from bot.research.returns import TAKER_FEE, ForwardReturns
from bot.research.signals import Collected, collect, tradable_symbols
from bot.research.stats import Summary, dedupe, random_times, seeded_rng
from strategies import registry

HORIZONS_H: tuple[int, ...] = (1, 4, 24)
PERIODS = ("train", "test")


@dataclass(frozen=True, slots=True)
class Row:
    strategy: str
    side: str
    period: str
    horizon_h: int
    raw_signals: int  # before de-duplication
    signal: Summary
    baseline: Summary


@dataclass(frozen=True)
class Result:
    rows: list[Row]
    split_ms: int
    symbols: list[str]
    symbol_hours: int
    seconds: float


def midpoint(collected: Collected) -> int:
    """Default train/test split: the middle of the replayed time range."""
    starts = [int(t[0]) for t in collected.decision_times.values() if len(t)]
    ends = [int(t[-1]) for t in collected.decision_times.values() if len(t)]
    if not starts:
        raise ValueError("no data replayed: nothing to split")
    mid = (min(starts) + max(ends)) // 2
    return mid - mid % MS_PER_HOUR


def analyse(store: MarketStore, collected: Collected, strategy_names: list[str], split_ms: int,
            horizons_h: tuple[int, ...] = HORIZONS_H, seed: int = 7, fee: float = TAKER_FEE) -> list[Row]:
    """Turn signals into rows: de-duplicated per symbol and horizon, net returns, baseline."""
    fwd = {s: ForwardReturns.of(store[s]) for s in collected.decision_times}
    by_key: dict[tuple[str, PositionSide, str], list[int]] = defaultdict(list)
    for sig in collected.signals:
        by_key[(sig.strategy, sig.side, sig.symbol)].append(sig.ts)
    rows: list[Row] = []
    for name in strategy_names:
        for side in (PositionSide.LONG, PositionSide.SHORT):
            for period in PERIODS:
                for h in horizons_h:
                    horizon_ms = h * MS_PER_HOUR
                    sig_values, base_values, raw = [], [], 0
                    for symbol, times_all in collected.decision_times.items():
                        in_period = _period_mask(times_all, period, split_ms)
                        times = np.asarray(by_key.get((name, side, symbol), []), dtype=np.int64)
                        times = times[_period_mask(times, period, split_ms)]
                        raw += len(times)
                        if not len(times):
                            continue
                        kept = dedupe(times, horizon_ms)
                        values = fwd[symbol].net(kept, side, horizon_ms, fee)
                        values = values[np.isfinite(values)]
                        sig_values.append(values)
                        candidates = times_all[in_period]
                        cand_values = fwd[symbol].net(candidates, side, horizon_ms, fee)
                        candidates = candidates[np.isfinite(cand_values)]
                        rng = seeded_rng(seed, name, side.value, symbol, period, h)
                        drawn = random_times(candidates, len(values), rng)
                        base_values.append(fwd[symbol].net(drawn, side, horizon_ms, fee))
                    rows.append(Row(name, side.value, period, h, raw, Summary.of(_cat(sig_values)),
                                    Summary.of(_cat(base_values))))
    # a side a strategy never took (short_squeeze is long only) is noise in the table
    active = {(r.strategy, r.side) for r in rows if r.raw_signals}
    return [r for r in rows if (r.strategy, r.side) in active]


def _period_mask(times: np.ndarray, period: str, split_ms: int) -> np.ndarray:
    return times < split_ms if period == "train" else times >= split_ms


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0)


def run(data_dir: Path, train_until_ms: int | None = None, strategy_names: list[str] | None = None,
        seed: int = 7) -> Result:
    """Load ``data_dir``, replay every symbol with price and funding, analyse."""
    started = time.perf_counter()
    names = strategy_names or registry.names()
    for name in names:
        registry.get(name)  # unknown names fail before the slow part
    store = MarketStore.load(data_dir)
    symbols = tradable_symbols(store)
    if not symbols:
        raise ValueError(f"no symbol with both price bars and funding under {data_dir}")
    collected = collect(store, names, symbols)
    split = train_until_ms if train_until_ms is not None else midpoint(collected)
    rows = analyse(store, collected, names, split, seed=seed)
    hours = sum(len(t) for t in collected.decision_times.values())
    return Result(rows, split, symbols, hours, time.perf_counter() - started)


# -- output --------------------------------------------------------------------------------

CSV_COLUMNS = ("strategy", "side", "period", "horizon_h", "raw_signals", "n", "hit_rate", "mean", "median",
               "t_stat", "base_n", "base_hit_rate", "base_mean", "base_median", "base_t_stat")


def row_record(row: Row) -> dict[str, object]:
    s, b = row.signal, row.baseline
    return {"strategy": row.strategy, "side": row.side, "period": row.period, "horizon_h": row.horizon_h,
            "raw_signals": row.raw_signals, "n": s.n, "hit_rate": s.hit_rate, "mean": s.mean,
            "median": s.median, "t_stat": s.t_stat, "base_n": b.n, "base_hit_rate": b.hit_rate,
            "base_mean": b.mean, "base_median": b.median, "base_t_stat": b.t_stat}


def write_csv(rows: list[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v)
                             for k, v in row_record(row).items()})


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{x * 100:+.2f}%"


def _num(x: float, fmt: str = "{:.2f}") -> str:
    return "-" if math.isnan(x) else fmt.format(x)


def table(result: Result) -> Table:
    t = Table(title=f"Signal research: {len(result.symbols)} symbols, {result.symbol_hours:,} symbol-hours, "
                    f"train < {iso(result.split_ms)} <= test; returns net of 2x{TAKER_FEE:.2%} fees and funding",
              title_justify="left")
    for col in ("strategy", "side", "period", "h", "raw", "n", "hit", "mean", "median", "t",
                "rand n", "rand hit", "rand mean", "rand median", "rand t"):
        t.add_column(col, justify="left" if col in ("strategy", "side", "period") else "right")
    for r in result.rows:
        s, b = r.signal, r.baseline
        t.add_row(r.strategy, r.side, r.period, f"{r.horizon_h}h", str(r.raw_signals), str(s.n),
                  _num(s.hit_rate, "{:.0%}"), _pct(s.mean), _pct(s.median), _num(s.t_stat),
                  str(b.n), _num(b.hit_rate, "{:.0%}"), _pct(b.mean), _pct(b.median), _num(b.t_stat))
    return t
