"""Client order ids: valid for Binance, deterministic per (run, intent, role), parseable."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.execution.ids import client_order_id, intent_key, parse_client_order_id

BINANCE_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")

names = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=40)


@given(strategy=names, symbol=names, ts=st.integers(0, 2**53), kind=st.sampled_from(["enter_long", "exit"]),
       run=st.text("0123456789abcdef", min_size=8, max_size=32), role=st.sampled_from("estxc"),
       seq=st.integers(0, 10**6))
def test_ids_are_valid_deterministic_and_parse_back(strategy, symbol, ts, kind, run, role, seq) -> None:
    key = intent_key(strategy, symbol, ts, kind)
    cid = client_order_id(run, key, role, seq)
    assert BINANCE_CLIENT_ID.match(cid), cid
    assert cid == client_order_id(run, intent_key(strategy, symbol, ts, kind), role, seq)
    assert parse_client_order_id(cid) == (run[:8], key, role, seq)


def test_different_intents_or_roles_never_collide() -> None:
    a = intent_key("short_squeeze", "ORCAUSDT", 1_742_544_000_000, "enter_long")
    b = intent_key("short_squeeze", "ORCAUSDT", 1_742_547_600_000, "enter_long")
    assert a != b
    ids = {client_order_id("run00001", k, r, s) for k in (a, b) for r in "est" for s in range(3)}
    assert len(ids) == 18


def test_foreign_ids_are_not_ours() -> None:
    assert parse_client_order_id("x-cvBPrNm9e89bbbe017d3ae9dc864ad") is None
    assert parse_client_order_id(None) is None
    with pytest.raises(ValueError):
        client_order_id("run00001", "abc", "stop")
