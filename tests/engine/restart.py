"""An in-process testnet engine on the real ccxt client against the emulator, restartable.

Each :func:`open_engine` is what a new bot process has: its own ccxt clients, its own
``Journal`` object (nothing remembered in memory) on the same journal file and risk files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.engine import helpers

#: A started engine with its clients and journal (``stop()`` releases them as a bot does).
Bot = helpers.EngineParts


async def open_engine(tmp_path: Path, emu: helpers.Emulator, symbol: str, strategy: Any, **cfg: Any) -> Bot:
    """Start an engine trading ``symbol`` with ``strategy`` as the "scripted" strategy; ``cfg``
    sets fields of its strategy config (trailing_stop_pct, breakeven_trigger_pct, ...)."""
    return await helpers.build_engine(tmp_path, emu, [symbol], strategy, strategy_cfg=cfg)
