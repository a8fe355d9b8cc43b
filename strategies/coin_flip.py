"""``coin_flip``: a seeded random-entry baseline (issue 11, Part 3).

Why it exists: the soak (``scripts/soak.py``) needs a strategy that trades often and on every
symbol, whatever the market does, so that entries, stops, take-profits and time stops happen by
the hundred. It is also the "random baseline" every real strategy must beat: same stop,
take-profit, time stop and sizing, no information.

Pure and deterministic: the decision for a symbol in a decision slot (``period_minutes`` of
venue time) is a hash of ``(seed, symbol, slot start)``, never RNG state. Two processes, a
restarted bot, a backtest and a live run therefore decide the same thing for the same slot, and
the decision uses nothing but the current snapshot's time (causal by construction). The intent
carries the slot start as its time, so every cycle inside one slot names the same intent (and
the same client-id key): a restarted bot cannot make a second intent out of the same coin flip.

Exits come only from the strategy's config (stop-loss, take-profit, time stop), which the engine
and the exchange enforce. Disabled by default like every strategy; enable it in a config's
``[strategies.coin_flip]`` section with at least ``stop_loss_pct``.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from bot.core.enums import PositionSide
from bot.core.intents import Intent, PortfolioView
from bot.market.snapshot import Snapshot
from strategies.base import Strategy

MS_PER_MINUTE = 60_000
_SCALE = float(2**64)


class CoinFlipParams(BaseModel):
    """Parameters of ``coin_flip``: the seed, how often to flip, and the odds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(0, ge=0, le=2**63 - 1, description="seed of the hash; another seed, other flips")
    period_minutes: int = Field(60, ge=1, le=7 * 24 * 60, description="one decision per symbol per period")
    p_enter: float = Field(0.5, ge=0, le=1, description="probability of an entry in a period while flat")
    p_long: float = Field(0.5, ge=0, le=1, description="probability that an entry is long")


def flip(seed: int, symbol: str, slot_ms: int) -> tuple[float, float]:
    """Two independent uniforms in [0, 1) for ``(seed, symbol, slot_ms)``: enter?, and which side.

    SHA-256 rather than Python's ``hash`` (salted per process) so that every process agrees."""
    digest = hashlib.sha256(f"coin_flip|{seed}|{symbol}|{slot_ms}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE, int.from_bytes(digest[8:16], "big") / _SCALE


class _NoFeatures:
    """The flip reads only the snapshot's symbol and time; nothing to accumulate."""

    def update(self, snap: Snapshot) -> None:
        return None


class CoinFlip(Strategy[None]):
    """Enter long or short at random (seeded hash per slot) while flat; exits from the config."""

    name: ClassVar[str] = "coin_flip"
    Params: ClassVar[type[BaseModel]] = CoinFlipParams
    required_fields: ClassVar[tuple[str, ...]] = ("last_price",)
    params: CoinFlipParams

    def new_state(self) -> _NoFeatures:
        return _NoFeatures()

    def slot(self, ts_ms: int) -> int:
        """Start of the decision period holding ``ts_ms`` (UTC ms)."""
        period = self.params.period_minutes * MS_PER_MINUTE
        return ts_ms - ts_ms % period

    def evaluate(self, snap: Snapshot, frame: None, portfolio: PortfolioView, *, can_enter: bool) -> list[Intent]:
        if not can_enter or portfolio.position(snap.symbol) is not None:
            return []
        p = self.params
        slot = self.slot(snap.ts)
        u_enter, u_side = flip(p.seed, snap.symbol, slot)
        if u_enter >= p.p_enter:
            return []
        side = PositionSide.LONG if u_side < p.p_long else PositionSide.SHORT
        reasons = {"coin": {"value": u_enter, "threshold": p.p_enter, "op": "<", "seed": p.seed, "slot_ms": slot,
                            "side_draw": u_side}}
        # The slot, not the snapshot's time: every cycle of the slot is the same intent (one key).
        return [replace(self.enter(side, snap, 1.0, reasons), ts=slot)]
