"""Deterministic client order ids.

An id is derived from the run and the intent, so a retry after a timeout, or a restart
after a crash, names the same order and can look it up instead of placing it twice.
Binance accepts ``^[.A-Z:/a-z0-9_-]{1,36}$``.
"""

from __future__ import annotations

import hashlib
import re

_VALID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
PREFIX = "db"


def intent_key(strategy: str, symbol: str, ts_ms: int, kind: str) -> str:
    """Stable 10-hex-char key of one intent (strategy, symbol, decision time, kind)."""
    digest = hashlib.sha1(f"{strategy}|{symbol}|{ts_ms}|{kind}".encode()).hexdigest()
    return digest[:10]


def client_order_id(run_key: str, key: str, role: str, seq: int = 0) -> str:
    """``db-<run8>-<key10>-<role><seq>``; role: e=entry, s=stop, t=take-profit, x=exit, c=close."""
    if not role.isalpha() or len(role) != 1:
        raise ValueError(f"role must be one letter, got {role!r}")
    cid = f"{PREFIX}-{run_key[:8]}-{key[:10]}-{role}{seq}"
    if not _VALID.match(cid):
        raise ValueError(f"invalid client order id {cid!r}")
    return cid


def parse_client_order_id(cid: str | None) -> tuple[str, str, str, int] | None:
    """Inverse of :func:`client_order_id`; None for ids we did not make (manual orders)."""
    if not cid or not cid.startswith(PREFIX + "-"):
        return None
    parts = cid.split("-")
    if len(parts) != 4 or len(parts[3]) < 2:
        return None
    try:
        return parts[1], parts[2], parts[3][0], int(parts[3][1:])
    except ValueError:
        return None
