"""Symbol names as files spell them -> exchange ids (``ORCAUSDT``).

freqtrade writes futures pairs as ``<BASE>_<QUOTE>_<SETTLE>`` (``ORCA_USDT_USDT``,
``1000PEPE_USDT_USDT``) and spot pairs as ``<BASE>_<QUOTE>``; long-format files name the coin
only (``BTC``), which we map to its USDT perpetual.
"""

from __future__ import annotations

import re

_ID = re.compile(r"^[A-Z0-9]{2,30}$")


def freqtrade_pair_to_id(pair: str) -> str:
    """``ORCA_USDT_USDT`` -> ``ORCAUSDT``; ``BTC_USDT`` (spot) -> ``BTCUSDT``."""
    parts = pair.upper().split("_")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"not a freqtrade pair name: {pair!r} (expected BASE_QUOTE or BASE_QUOTE_SETTLE)")
    return parts[0] + parts[1]


def coin_to_id(coin: str, quote: str = "USDT") -> str:
    """``BTC`` -> ``BTCUSDT`` (an id that already ends in the quote passes through)."""
    coin = coin.upper().strip()
    return coin if coin.endswith(quote) and len(coin) > len(quote) else coin + quote


def base_of(symbol_id: str, quote: str = "USDT") -> str:
    """``ORCAUSDT`` -> ``ORCA``."""
    return symbol_id[: -len(quote)] if symbol_id.endswith(quote) else symbol_id


def is_symbol_id(name: str) -> bool:
    return bool(_ID.match(name))
