"""Binance USDⓈ-M request weights: one table for the client (our request budget) and the
server (the emulator's limiter), so both count a request the same way."""

from __future__ import annotations

from collections.abc import Mapping

#: Documented weights of the endpoints the bot uses, ``(with symbol, without symbol)``.
#: The ``futures/data`` endpoints have their own 1000/5 min limit and count 1 here.
BINANCE_WEIGHTS: Mapping[str, tuple[int, int]] = {
    "exchangeInfo": (1, 1),
    "ticker/24hr": (1, 40),
    "premiumIndex": (1, 10),
    "fundingInfo": (1, 1),
    "fundingRate": (1, 1),
    "openInterest": (1, 1),
    "openInterestHist": (1, 1),
    "globalLongShortAccountRatio": (1, 1),
    "topLongShortPositionRatio": (1, 1),
    "takerlongshortRatio": (1, 1),
    "time": (1, 1),
}


def klines_weight(limit: int) -> int:
    """Weight of ``/fapi/v1/klines`` and ``markPriceKlines`` by ``limit``."""
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    if limit <= 1000:
        return 5
    return 10
