"""Funding settlements: the position pays or receives ``mark * quantity * rate``.

Settlements come from the data (one call per settlement row), so changes of the funding
interval (8h -> 4h -> 1h when a small cap hits its cap) are honoured without any schedule here.
"""

from __future__ import annotations

from bot.sim.account import Account
from bot.sim.margin import funding_payment
from bot.sim.models import SimIncome


def settle(account: Account, symbol: str, ts_ms: int, rate: float, mark_price: float) -> SimIncome | None:
    """Book the funding of ``symbol``'s position (``None`` when flat).

    The amount comes from :func:`bot.sim.margin.funding_payment` (negative when the position
    pays: longs pay when the rate is positive) and is added to both the wallet and the
    position's isolated wallet.
    """
    pos = account.positions.get(symbol)
    if pos is None:
        return None
    amount = funding_payment(pos.side_name, abs(pos.qty), mark_price, rate)
    return account.settle_funding(symbol, amount, ts_ms)
