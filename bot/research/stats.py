"""Summary statistics of a sample of returns, and the random-entry baseline."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Summary:
    n: int
    hit_rate: float  # fraction of returns > 0
    mean: float
    median: float
    t_stat: float  # mean / (std / sqrt(n)), ddof=1; NaN when n < 2 or std == 0

    @classmethod
    def of(cls, values: np.ndarray) -> Summary:
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        n = len(v)
        if n == 0:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        mean = float(v.mean())
        t = math.nan
        if n >= 2:
            sd = float(v.std(ddof=1))
            if sd > 0:
                t = mean / (sd / math.sqrt(n))
        return cls(n, float((v > 0).mean()), mean, float(np.median(v)), t)


def seeded_rng(seed: int, *keys: object) -> np.random.Generator:
    """A generator determined by ``seed`` and ``keys`` (crc32, not Python's salted ``hash``)."""
    text = "|".join([str(seed), *map(str, keys)])
    return np.random.default_rng(zlib.crc32(text.encode()))


def random_times(candidates: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` entry times drawn from ``candidates`` (without replacement when possible)."""
    if count <= 0 or len(candidates) == 0:
        return np.empty(0, dtype=np.int64)
    replace = count > len(candidates)
    return np.sort(rng.choice(candidates, size=count, replace=replace))


def dedupe(times: np.ndarray, horizon_ms: int) -> np.ndarray:
    """Keep one entry per episode: drop entries within ``horizon_ms`` of the last kept one."""
    kept: list[int] = []
    last = None
    for t in np.sort(np.asarray(times, dtype=np.int64)):
        if last is None or t >= last + horizon_ms:
            kept.append(int(t))
            last = int(t)
    return np.asarray(kept, dtype=np.int64)
