"""A market store with real BNBUSDT bars beside the bundled ORCA sample, for the BNB-fee tests.

The bundled sample has no BNB; ``bnb_data/`` holds a week of real BNBUSDT 1h klines (see its
README). ``bnb_close_at`` reads the BNB price straight from that file (pandas, not the store), so
expected values do not come from the code under test.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from bot.data.store import MarketStore
from tests.conftest import SAMPLE_DIR

BNB_DIR = Path(__file__).resolve().parent / "bnb_data" / "binance" / "futures"
HOUR_MS = 3_600_000


def load_bnb_store(tmp_path: Path, bases: tuple[str, ...] = ("ORCA",)) -> Any:
    """The sample's files of ``bases`` plus the BNB rows, loaded as one store."""
    folder = tmp_path / "market" / "binance" / "futures"
    folder.mkdir(parents=True)
    for base in bases:
        for f in (SAMPLE_DIR / "binance" / "futures").glob(f"{base}_USDT_USDT-1h-*.feather"):
            shutil.copy(f, folder / f.name)
    for f in BNB_DIR.glob("*.feather"):
        shutil.copy(f, folder / f.name)
    return MarketStore.load(tmp_path / "market")


def bnb_close_at(t_ms: int) -> float:
    """BNBUSDT's last price at ``t_ms``: the close of the 1h bar that closed at ``t_ms`` (t on the hour)."""
    bars = pd.read_feather(BNB_DIR / "BNB_USDT_USDT-1h-futures.feather")
    opened = pd.Timestamp(t_ms - HOUR_MS, unit="ms", tz="UTC")
    return float(bars.loc[bars["date"] == opened, "close"].iloc[0])
