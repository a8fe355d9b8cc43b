"""Data-quality problems: recorded, and logged once per problem per symbol.

Malformed market data must never crash a backtest or the live loop, but it must not pass
silently either. Every loader and the replay feed report through an :class:`IssueLog`, which
keeps the full list (for ``derivbot data list`` and tests) and emits a single loguru warning
the first time a given (symbol, series, kind) is seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from loguru import logger


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem with one series of one symbol (``symbol`` may be ``"*"`` for a whole file)."""

    symbol: str
    series: str
    kind: str  # e.g. "duplicate_ts", "unsorted", "nan_funding", "gap", "missing_file"
    detail: str


@dataclass
class IssueLog:
    """Collects issues; logs the first occurrence of each (symbol, series, kind[, source])."""

    issues: list[Issue] = field(default_factory=list)
    _seen: set[tuple[str, ...]] = field(default_factory=set)

    def report(self, symbol: str, series: str, kind: str, detail: str, source: str = "") -> None:
        """Record one issue; log it unless already logged. ``source`` (a file) makes it once per file."""
        issue = Issue(symbol, series, kind, detail)
        self.issues.append(issue)
        key = (symbol, series, kind, source)
        if key in self._seen:
            return
        self._seen.add(key)
        logger.warning("market data {}/{}: {}: {}", symbol, series, kind, detail)

    def for_symbol(self, symbol: str) -> list[Issue]:
        return [i for i in self.issues if i.symbol == symbol]

    def kinds(self, symbol: str | None = None) -> set[tuple[str, str]]:
        """(series, kind) pairs reported, optionally for one symbol."""
        return {(i.series, i.kind) for i in self.issues if symbol is None or i.symbol == symbol}
