"""Properties of the cleaning pass and the replay's per-row precomputations."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bot.core.timeutil import MS_PER_HOUR
from bot.data.issues import IssueLog
from bot.data.series import Funding, clean, find_gaps
from bot.market.replay_prep import _lookback_change, _rolling_sum

rows = st.lists(st.tuples(st.integers(min_value=0, max_value=40), st.floats(-1, 1, allow_nan=False)),
                min_size=0, max_size=60)


@given(rows)
def test_clean_sorts_dedups_and_keeps_the_last_row(data: list[tuple[int, float]]) -> None:
    ts = np.array([t for t, _ in data], dtype=np.int64)
    rate = np.array([v for _, v in data], dtype=np.float64)
    out = clean(Funding(ts=ts, rate=rate, mark=rate.copy()), "XUSDT", "funding", IssueLog())
    assert np.all(np.diff(out.ts) > 0)
    last: dict[int, float] = {}
    for t, v in data:
        last[t] = v  # the later row wins
    assert out.ts.tolist() == sorted(last)
    assert out.rate.tolist() == [last[t] for t in sorted(last)]


def test_clean_drops_rows_without_time() -> None:
    ts = np.array([0, np.iinfo(np.int64).min, 5], dtype=np.int64)
    log = IssueLog()
    out = clean(Funding(ts=ts, rate=np.ones(3), mark=np.ones(3)), "XUSDT", "funding", log)
    assert out.ts.tolist() == [0, 5]
    assert ("funding", "missing_ts") in log.kinds()


@given(st.lists(st.booleans(), min_size=1, max_size=80), st.lists(st.floats(0.5, 2.0), min_size=80, max_size=80))
def test_rolling_sum_and_changes_match_a_naive_scan(present: list[bool], vals: list[float]) -> None:
    step = MS_PER_HOUR
    ts = np.array([i * step for i, p in enumerate(present) if p], dtype=np.int64)
    v = np.array([vals[i] for i, p in enumerate(present) if p])
    total, complete = _rolling_sum(ts, v, 4 * step, step)
    change = _lookback_change(ts, v, 2 * step)
    by_t = dict(zip(ts.tolist(), v.tolist(), strict=True))
    for i, t in enumerate(ts.tolist()):
        window = [by_t[u] for u in by_t if t - 4 * step < u <= t]
        assert total[i] == np.float64(sum(window)) or abs(total[i] - sum(window)) < 1e-9
        assert bool(complete[i]) == (len(window) == 4)
        ref = by_t.get(t - 2 * step)
        if ref is None:
            assert np.isnan(change[i])
        else:
            assert change[i] == by_t[t] / ref - 1


def test_find_gaps() -> None:
    h = MS_PER_HOUR
    ts = np.array([0, h, 2 * h, 6 * h, 7 * h, 9 * h], dtype=np.int64)
    assert find_gaps(ts, h) == [(3 * h, 5 * h), (8 * h, 8 * h)]
    assert find_gaps(ts[:3], h) == []
