"""ccxt's error classes, for ``except`` clauses, without importing ccxt.

Importing ``ccxt.async_support`` costs ~0.6 s (a hundred exchange classes, aiohttp, requests),
which a backtest paid only to name the exceptions it catches around venue calls (issue 12: a
backtest imports only what it needs). A ccxt error can only be raised once ccxt has been
imported, so while it is not in ``sys.modules`` the tuple is empty and the clause matches
nothing, which is exactly what catching a class of an unimported module would do. Once ccxt
is loaded (live, testnet, the emulator's client) the real classes are returned.
"""

from __future__ import annotations

import sys

_MODULE = "ccxt.base.errors"  # where ccxt and ccxt.async_support both take their classes from


def venue_errors(*names: str) -> tuple[type[BaseException], ...]:
    """The ccxt error classes ``names`` (e.g. ``"OperationFailed"``), or ``()`` if ccxt is not loaded."""
    module = sys.modules.get(_MODULE)
    if module is None:
        return ()
    return tuple(getattr(module, name) for name in names)
