"""Arrow allocates from the system allocator unless the user chose one (issue 12's memory target).

mimalloc, Arrow's default, kept ~40 MB of freed load buffers resident through a whole backtest.
``bot/__init__`` sets ``ARROW_DEFAULT_MEMORY_POOL`` before anything imports pyarrow.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECK = "import bot, pyarrow; print(pyarrow.default_memory_pool().backend_name)"


def _backend(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    result = subprocess.run([sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, timeout=60,
                            env=base | env)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_the_system_allocator_is_the_default_and_a_users_choice_wins() -> None:
    assert _backend() == "system"
    assert _backend(ARROW_DEFAULT_MEMORY_POOL="mimalloc") == "mimalloc"
