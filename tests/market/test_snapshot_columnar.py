"""Lazy, columnar snapshots (issue 12) read exactly what eagerly built snapshots held.

A replayed :class:`Snapshot` is created unfilled and builds an ``Obs`` from the batch's arrays
the first time a field is read (``bot.market.replay.Columns``). The reference here is the
previous construction, kept in :func:`eager`: every field of every row turned into an ``Obs``
up front from the same :func:`field_columns` arrays. On the real bundled sample, for every
symbol and every hour of its history, both the engine's path (``snapshot`` at increasing times,
served from the read-ahead batch) and the research path (``iter_snapshots``) must give, field by
field, the same values, publication times, qualities and Python types, and the same equality,
hash, record and repr.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from bot.core.enums import Quality
from bot.core.timeutil import MS_PER_HOUR
from bot.data.store import MarketStore
from bot.market.replay import ReplaySource
from bot.market.replay_prep import field_columns, prepare
from bot.market.snapshot import MISSING, Obs, Snapshot
from tests.data.helpers import SAMPLE

QUALITY = (Quality.FRESH, Quality.STALE, Quality.MISSING)
FIELDS = Snapshot.field_names()


@pytest.fixture(scope="module")
def store() -> MarketStore:
    return MarketStore.load(SAMPLE)


def eager(store: MarketStore, symbol: str, times: np.ndarray) -> list[Snapshot]:
    """The reference: every Obs of every row built up front (the construction before issue 12)."""
    h = store[symbol]
    cols = field_columns(prepare(h), times, 1.5)
    values = {name: (v.tolist(), s.tolist(), c.tolist()) for name, (v, s, c) in cols.items()}
    out = []
    for i, t in enumerate(times.tolist()):
        kw = {name: MISSING if c[i] == 2 else Obs(v[i], s[i], QUALITY[c[i]]) for name, (v, s, c) in values.items()}
        out.append(Snapshot(symbol, t, h.exchange, **kw))
    return out


def _hours(store: MarketStore, symbol: str) -> np.ndarray:
    h = store[symbol]
    first = int(h.ts[0]) - 2 * MS_PER_HOUR  # before the first bar too: all-MISSING rows
    return first + np.arange(len(h.ts) + 4, dtype=np.int64) * MS_PER_HOUR


def _assert_same(lazy: Snapshot, ref: Snapshot) -> None:
    assert (lazy.symbol, lazy.ts, lazy.exchange) == (ref.symbol, ref.ts, ref.exchange)
    for name in FIELDS:
        got, want = getattr(lazy, name), getattr(ref, name)
        assert got == want, (lazy.symbol, lazy.ts, name, got, want)
        assert type(got.value) is type(want.value), name  # plain float, never a numpy scalar
        assert type(got.ts) is type(want.ts), name
        assert got.quality is want.quality, name


def test_engine_path_reads_every_field_like_the_eager_snapshots(store: MarketStore) -> None:
    src = ReplaySource(store)
    rng = random.Random(12)
    checked = 0
    for symbol in store.symbols:
        times = _hours(store, symbol)
        for i, (ref, t) in enumerate(zip(eager(store, symbol, times), times.tolist(), strict=True)):
            lazy = src.snapshot(symbol, t)  # increasing times: served from the read-ahead batch
            if i % 50 == 25:  # off the batch's grid: must not be answered by a neighbouring row
                half = t + MS_PER_HOUR // 2
                _assert_same(src.snapshot(symbol, half), eager(store, symbol, np.array([half]))[0])
            # read one field first (a strategy's pattern), the others afterwards
            first = rng.choice(FIELDS)
            assert getattr(lazy, first) == getattr(ref, first)
            _assert_same(lazy, ref)
            checked += 1
    assert checked > 10_000  # the whole sample, not a corner of it


def test_research_path_equality_hash_record_and_repr_match(store: MarketStore) -> None:
    src = ReplaySource(store)
    for symbol in store.symbols:
        times = _hours(store, symbol)
        refs = eager(store, symbol, times)
        fast = list(src.iter_snapshots(symbol, int(times[0]), int(times[-1])))
        assert len(fast) == len(refs)
        for i, (lazy, ref) in enumerate(zip(fast, refs, strict=True)):
            if i % 7:  # untouched snapshots compare through the lazy fill too
                _assert_same(lazy, ref)
            assert lazy == ref and hash(lazy) == hash(ref)
            if i % 97 == 0:
                assert lazy.to_record() == ref.to_record()
                assert repr(lazy) == repr(ref)


def test_a_lazy_snapshot_stays_immutable_and_replaceable(store: MarketStore) -> None:
    src = ReplaySource(store)
    symbol = "ORCAUSDT"
    t = int(store[symbol].ts[100]) + MS_PER_HOUR
    lazy = src.snapshot(symbol, t)
    with pytest.raises(dataclasses.FrozenInstanceError):
        lazy.last_price = MISSING  # type: ignore[misc]
    moved = dataclasses.replace(lazy, ts=t + 1)
    assert moved.ts == t + 1 and moved.funding_rate == lazy.funding_rate and moved.last_price.known
    assert Snapshot.from_record(lazy.to_record()) == lazy
