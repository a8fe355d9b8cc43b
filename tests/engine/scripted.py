"""A deterministic test strategy: enters where a script says, nothing else.

Duck-typed like ``strategies.base.Strategy`` (the engine only calls ``decide``), so engine tests
exercise execution, risk and journaling without depending on a real strategy's signals.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.enums import IntentKind
from bot.core.intents import Intent, PortfolioView
from bot.market.snapshot import Snapshot


class Scripted:
    name = "scripted"

    def __init__(self, entries: dict[str, tuple[int, IntentKind]], *, stop_pct: float = 0.05,
                 tp_pct: float | None = 0.10, leverage: float = 3.0, exits: dict[str, int] | None = None) -> None:
        """``entries``: symbol -> (first decision time at or after which to enter, kind)."""
        self.entries = dict(entries)
        self.exits = dict(exits or {})
        self.stop_pct = stop_pct
        self.tp_pct = tp_pct
        self.leverage = leverage
        self.held: set[str] = set()  # symbols whose scripted position has existed

    def decide(self, history: Sequence[Snapshot], portfolio: PortfolioView) -> list[Intent]:
        snap = history[-1]
        symbol = snap.symbol
        if symbol in self.exits and snap.ts >= self.exits[symbol] and portfolio.position(symbol) is not None:
            return [Intent(IntentKind.EXIT, symbol, self.name, snap.ts, 1.0, {"exit": "scripted"})]
        if portfolio.position(symbol) is not None:
            self.held.add(symbol)
            return []
        plan = self.entries.get(symbol)
        # Keep asking until the position exists (an entry lost to an outage is asked for again),
        # never after it has existed once.
        if plan is None or symbol in self.held or snap.ts < plan[0]:
            return []
        return [Intent(plan[1], symbol, self.name, snap.ts, 1.0, {"script": {"at": plan[0]}},
                       stop_loss_pct=self.stop_pct, take_profit_pct=self.tp_pct, leverage=self.leverage)]
