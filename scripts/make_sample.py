"""Rebuild ``bot/data/sample/`` from the shared real-data folder (``/work/shared/data``).

Why a script: the bundled sample must be reproducible and auditable. It keeps each source's
layout, columns and dtypes and only restricts rows to the documented windows, so loaders see
exactly what a full download would give them. Run from the repository root::

    .venv/bin/python scripts/make_sample.py [--src /work/shared/data] [--dst bot/data/sample]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

HARTHOR = "Harthor_marketlab/user_data/data/binance"
PIETRO_SOL = "PietroC21_Crypto-PerpetualFutures/data/SOL/bybit_SOL_2021-10-15_2026-03-06.parquet"
KNX = "0xknxwledge_group-m-finm33150-final/data"

# (base, start, end) with the end day inclusive.
FUTURES_WINDOWS: list[tuple[str, str, str]] = [
    ("ORCA", "2025-02-15", "2025-04-15"),
    ("RIVER", "2025-11-20", "2026-01-20"),
    ("BTC", "2025-02-15", "2026-01-20"),
    ("PIPPIN", "2025-11-01", "2025-12-31"),
]
SPOT_WINDOWS: list[tuple[str, str, str]] = [
    ("ORCA", "2025-02-15", "2025-04-15"),
    ("BTC", "2025-02-15", "2026-01-20"),
]
BYBIT_WINDOW = ("2022-10-20", "2022-11-30")
MULTIVENUE_WINDOW = ("2025-12-07", "2026-01-31")


def _window(start: str, end: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start 00:00, end+1d 00:00) in UTC."""
    return pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)


def _trim_feather(src: Path, dst: Path, start: str, end: str) -> int:
    df = pd.read_feather(src)
    lo, hi = _window(start, end)
    out = df[(df["date"] >= lo) & (df["date"] < hi)].reset_index(drop=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    out.to_feather(dst, compression="zstd")
    return len(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--src", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--dst", type=Path, default=Path("bot/data/sample"))
    args = parser.parse_args()
    src: Path = args.src
    dst: Path = args.dst

    for base, start, end in FUTURES_WINDOWS:
        for kind in ("futures", "mark", "funding_rate"):
            name = f"futures/{base}_USDT_USDT-1h-{kind}.feather"
            n = _trim_feather(src / HARTHOR / name, dst / "binance" / name, start, end)
            print(f"binance/{name}: {n} rows")
    for base, start, end in SPOT_WINDOWS:
        name = f"{base}_USDT-1h.feather"
        n = _trim_feather(src / HARTHOR / name, dst / "binance" / name, start, end)
        print(f"binance/{name}: {n} rows")

    lo, hi = _window(*BYBIT_WINDOW)
    sol = pd.read_parquet(src / PIETRO_SOL)
    sol = sol[(sol.index >= lo) & (sol.index < hi)]
    (dst / "bybit").mkdir(parents=True, exist_ok=True)
    sol.to_parquet(dst / "bybit" / "SOL_bybit_1h.parquet", compression="zstd")
    print(f"bybit/SOL_bybit_1h.parquet: {len(sol)} rows")

    lo, hi = _window(*MULTIVENUE_WINDOW)
    (dst / "multivenue").mkdir(parents=True, exist_ok=True)
    for name in ("open_interest", "funding_rates", "liquidation_volume"):
        df = pd.read_parquet(src / KNX / f"{name}.parquet")
        df = df[(df["coin"] == "BTC") & (df["timestamp"] >= lo) & (df["timestamp"] < hi)]
        df = df.reset_index(drop=True)
        df.to_parquet(dst / "multivenue" / f"{name}.parquet", compression="zstd")
        print(f"multivenue/{name}.parquet: {len(df)} rows")


if __name__ == "__main__":
    main()
