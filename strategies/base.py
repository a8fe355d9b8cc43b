"""The strategy interface (docs/architecture.md, "Contract: strategies").

A strategy is a name, a pydantic ``Params`` model (documented defaults and bounds), the
snapshot fields it needs, and a pure, deterministic ``decide(history, portfolio)``.

How ``decide`` stays cheap on a long history: each strategy describes its features as an
incremental state (:meth:`Strategy.new_state`, built from :mod:`strategies.features`) that
turns one snapshot into one *frame* of feature values. ``decide`` keeps that state per symbol,
keyed by the last snapshot it consumed. When the next history contains that snapshot (the
usual case: the same history plus one bar, or a bounded buffer that slid forward) only the new
snapshots are fed; otherwise (the last consumed snapshot is absent or its data changed) the
state is rebuilt from the whole history. Snapshots before the last consumed one are taken as
immutable point-in-time records and are not re-compared. Both paths run the
same ``update`` calls in the same order, so they give identical frames and decisions
(tests/strategies/test_equivalence.py proves it on real data). With a bounded buffer the
long-lived state remembers more than the buffer holds; it then equals a recomputation over
the full stream since the first call, which is what a backtest computes.

Evaluation (:meth:`Strategy.evaluate`) is a pure function of the current snapshot, the frame,
the parameters and the portfolio.

Pre-screen (issue 12): a strategy may declare :meth:`Strategy.prescreen`, a causal, vectorised
test over a batch of replayed bars ("this bar could produce an intent for a symbol without a
position"). The engine asks :meth:`Strategy.skips` before ``decide`` for symbols with no
position: a bar the pre-screen rules out still advances the feature state exactly as
``decide`` would, and is otherwise skipped. The pre-screen must be True wherever ``evaluate``
could return anything for a flat symbol, and wherever a required field is unusable (``decide``
then warns); tests/strategies/test_prescreen.py proves both for every strategy that has one,
and that backtests give the same trades with and without it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from loguru import logger
from pydantic import BaseModel, ValidationError

from bot.config import ConfigError, StrategyConfig
from bot.core.enums import IntentKind, PositionSide
from bot.core.intents import Intent, PortfolioView, PositionView
from bot.core.text import shorten
from bot.market.snapshot import Snapshot

if TYPE_CHECKING:
    import numpy as np

F = TypeVar("F")


class StrategyConfigError(ConfigError):
    """A strategy's configuration is wrong; the message names the strategy and the key."""


class FeatureState(Protocol[F]):
    """Per-symbol incremental feature state: one snapshot in, one frame of values out."""

    def update(self, snap: Snapshot) -> F: ...


@dataclass(slots=True)
class _SymbolCache:
    state: Any
    last: Snapshot
    frame: Any


def reason(value: float | None, threshold: float | None = None, op: str | None = None,
           **extra: Any) -> dict[str, Any]:
    """One entry of ``Intent.reasons``: the signal value and the threshold it crossed."""
    out: dict[str, Any] = {"value": value}
    if threshold is not None:
        out["threshold"] = threshold
    if op is not None:
        out["op"] = op
    out.update(extra)
    return out


def json_safe(value: Any) -> Any:
    """Make reasons JSON-serialisable: non-finite floats become ``None``, enums their value,
    numpy scalars plain Python numbers, tuples lists."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        return json_safe(value.item())
    return str(value)


class Strategy(ABC, Generic[F]):
    """Base of every strategy. Subclasses set the class attributes and implement
    :meth:`new_state` and :meth:`evaluate`."""

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    #: Fields that must be usable in the latest snapshot for the strategy to enter.
    required_fields: ClassVar[tuple[str, ...]] = ()
    #: Fields used when present; their absence weakens or skips a condition, never crashes.
    optional_fields: ClassVar[tuple[str, ...]] = ()
    #: True when the feature state keeps nothing (every frame is the same whatever came before):
    #: a bar skipped by the pre-screen then need not be fed to it.
    stateless: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        known = set(Snapshot.field_names())
        for attr in ("required_fields", "optional_fields"):
            unknown = [f for f in getattr(cls, attr) if f not in known]
            if unknown:
                raise TypeError(f"{cls.__name__}.{attr} names unknown Snapshot fields: {unknown}")

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None, *,
                 config: StrategyConfig | None = None) -> None:
        """``params``: a ``Params`` instance or a dict validated by it (unknown keys are an
        error). ``config``: the strategy's ``StrategyConfig``; its stop/take-profit/leverage/
        time stop travel on every entry intent, and its ``params`` are used when ``params``
        is not given."""
        if params is None and config is not None:
            params = config.params
        self.params = self.validate_params(params)
        self.config = config
        self._cache: dict[str, _SymbolCache] = {}
        self._warned: set[tuple[str, str]] = set()
        self._complete: set[str] = set()  # symbols whose required fields have been seen

    # -- parameters ------------------------------------------------------------------------

    @classmethod
    def validate_params(cls, params: BaseModel | Mapping[str, Any] | None) -> Any:
        """Validate parameters with ``Params``; errors name the strategy and the key."""
        if params is None:
            return cls.Params()
        if isinstance(params, cls.Params):
            return params
        if isinstance(params, BaseModel):
            raise StrategyConfigError(
                f"strategies.{cls.name}.params: expected {cls.Params.__name__}, got {type(params).__name__}"
            )
        try:
            return cls.Params.model_validate(dict(params))
        except ValidationError as exc:
            known = ", ".join(cls.Params.model_fields)
            lines = []
            for item in exc.errors():
                key = ".".join(str(p) for p in item["loc"]) or "(all)"
                if item["type"] == "extra_forbidden":
                    lines.append(f"strategies.{cls.name}.params.{key}: unknown parameter of strategy "
                                 f"'{cls.name}' (known: {known})")
                else:
                    msg = item["msg"].removeprefix("Value error, ")
                    lines.append(f"strategies.{cls.name}.params.{key}: {msg} (got {shorten(repr(item.get('input')))})")
            raise StrategyConfigError("invalid strategy parameters:\n  " + "\n  ".join(lines)) from None

    # -- what subclasses implement ---------------------------------------------------------

    @abstractmethod
    def new_state(self) -> FeatureState[F]:
        """A fresh per-symbol feature state for this strategy's parameters."""

    @abstractmethod
    def evaluate(self, snap: Snapshot, frame: F, portfolio: PortfolioView, *, can_enter: bool) -> list[Intent]:
        """Decide from the latest snapshot and its feature frame (pure). ``can_enter`` is
        False when a required field is unusable: exits may still be given."""

    # -- the contract ----------------------------------------------------------------------

    def decide(self, history: Sequence[Snapshot], portfolio: PortfolioView) -> list[Intent]:
        """Intents for the symbol of ``history`` (oldest first, the last one is "now")."""
        if not history:
            return []
        now = history[-1]
        frame = self._advance(history)
        missing = self.missing_required(now)
        if not missing:
            self._complete.add(now.symbol)
        elif now.symbol in self._complete:  # went missing after having been there (not warm-up)
            self._warn_once(now.symbol, "required", f"{self.name}: {now.symbol} lacks required field(s) "
                            f"{missing} at {now.ts}; no entries until they return")
        return self.evaluate(now, frame, portfolio, can_enter=not missing)

    def prescreen(self, column: Callable[[str], np.ndarray]) -> np.ndarray | None:
        """Optional vectorised pre-screen over a batch of replayed bars: ``column(name)`` gives a
        field's values (NaN where MISSING); return a bool per bar, False only where ``evaluate``
        gives nothing for a symbol without a position and every required field is usable.
        Causal by construction: row ``i`` may read row ``i`` of the fields only. Default: none."""
        return None

    def skips(self, history: Sequence[Snapshot]) -> bool:
        """True when the pre-screen rules out the last bar of ``history`` for a symbol with no
        position (the caller checks that); the feature state is advanced as ``decide`` would."""
        if history[-1].prescreened(self) is not False:
            return False
        if not self.stateless:
            self._advance(history)
        return True

    def frames(self, history: Sequence[Snapshot]) -> list[F]:
        """The batch path: a fresh state run over the whole history (one frame per snapshot)."""
        state = self.new_state()
        return [state.update(snap) for snap in history]

    def reset(self) -> None:
        """Forget every symbol's incremental state."""
        self._cache.clear()

    def missing_required(self, snap: Snapshot) -> list[str]:
        """Required fields without a usable value (stale allowed): ``usable(obs, allow_stale=True)``
        is None exactly when the value is absent or not finite, which is tested here directly
        because this runs for every symbol at every bar (issue 12)."""
        return [f for f in self.required_fields if not _finite(getattr(snap, f).value)]

    # -- incremental state -----------------------------------------------------------------

    def _advance(self, history: Sequence[Snapshot]) -> F:
        now = history[-1]
        symbol = now.symbol
        cache = self._cache.get(symbol)
        start = 0
        if cache is not None:
            idx = _find(history, cache.last)
            if idx is None:
                cache = None
            elif idx == len(history) - 1:
                return cache.frame
            else:
                start = idx + 1
        if cache is None:
            cache = _SymbolCache(self.new_state(), history[0], None)
            cache.frame = None
            last_ts: int | None = None
        else:
            last_ts = cache.last.ts
        state = cache.state
        for i in range(start, len(history)):
            snap = history[i]
            if snap.symbol != symbol:
                raise ValueError(f"{self.name}: history mixes symbols ({snap.symbol} and {symbol})")
            if last_ts is not None and snap.ts <= last_ts:
                self._warn_once(symbol, "order", f"{self.name}: {symbol} snapshot at {snap.ts} is not after "
                                f"{last_ts}; skipped (history must be oldest-first)")
                continue
            cache.frame = state.update(snap)
            cache.last = snap
            last_ts = snap.ts
        self._cache[symbol] = cache
        return cache.frame

    def _warn_once(self, symbol: str, kind: str, message: str) -> None:
        key = (symbol, kind)
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)

    # -- intent helpers --------------------------------------------------------------------

    def own_position(self, portfolio: PortfolioView, symbol: str) -> PositionView | None:
        """The open position on ``symbol`` if this strategy opened it."""
        pos = portfolio.position(symbol)
        if pos is not None and pos.strategy == self.name:
            return pos
        return None

    def enter(self, side: PositionSide, snap: Snapshot, strength: float, reasons: Mapping[str, Any]) -> Intent:
        cfg = self.config
        kind = IntentKind.ENTER_LONG if side is PositionSide.LONG else IntentKind.ENTER_SHORT
        return Intent(
            kind=kind, symbol=snap.symbol, strategy=self.name, ts=snap.ts,
            strength=min(1.0, max(0.0, float(strength))), reasons=json_safe(dict(reasons)),
            stop_loss_pct=cfg.stop_loss_pct if cfg else None,
            take_profit_pct=cfg.take_profit_pct if cfg else None,
            leverage=cfg.leverage if cfg else None,
            time_stop_hours=cfg.time_stop_hours if cfg else None,
        )

    def exit(self, snap: Snapshot, reasons: Mapping[str, Any], strength: float = 1.0) -> Intent:
        return Intent(kind=IntentKind.EXIT, symbol=snap.symbol, strategy=self.name, ts=snap.ts,
                      strength=min(1.0, max(0.0, float(strength))), reasons=json_safe(dict(reasons)))


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _find(history: Sequence[Snapshot], last: Snapshot) -> int | None:
    """Index of ``last`` in ``history`` (searched from the end), or None if it is not there
    or the data at that time changed (then the state must be rebuilt)."""
    for j in range(len(history) - 1, -1, -1):
        snap = history[j]
        if snap.ts == last.ts:
            return j if (snap is last or snap == last) else None
        if snap.ts < last.ts:
            return None
    return None

