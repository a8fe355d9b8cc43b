"""Test helpers: copy real sample rows into temporary freqtrade folders, capture loguru warnings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from loguru import logger

SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample"
FUT = SAMPLE / "binance" / "futures"


def sample_frame(base: str, kind: str) -> pd.DataFrame:
    """A real sample file as a DataFrame (kind: futures | mark | funding_rate | spot)."""
    if kind == "spot":
        return pd.read_feather(SAMPLE / "binance" / f"{base}_USDT-1h.feather")
    return pd.read_feather(FUT / f"{base}_USDT_USDT-1h-{kind}.feather")


def write_freqtrade(root: Path, base: str, kind: str, df: pd.DataFrame) -> Path:
    """Write ``df`` where the freqtrade layout puts it under ``root/binance``."""
    if kind == "spot":
        path = root / "binance" / f"{base}_USDT-1h.feather"
    else:
        path = root / "binance" / "futures" / f"{base}_USDT_USDT-1h-{kind}.feather"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.reset_index(drop=True).to_feather(path)
    return path


def copy_symbol(root: Path, base: str, kinds: tuple[str, ...] = ("futures", "mark", "funding_rate")) -> None:
    for kind in kinds:
        write_freqtrade(root, base, kind, sample_frame(base, kind))


@contextmanager
def captured_warnings() -> Iterator[list[str]]:
    """Collect loguru WARNING messages emitted inside the block."""
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(m.record["message"]), level="WARNING", format="{message}")
    try:
        yield messages
    finally:
        logger.remove(sink)
