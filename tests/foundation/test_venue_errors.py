"""``bot.core.venue_errors``: ccxt's error classes without importing ccxt (issue 12)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHECK = """
import sys
from bot.core.venue_errors import venue_errors
assert venue_errors("OperationFailed", "ExchangeNotAvailable") == ()
try:
    raise ValueError("not a venue error")
except venue_errors("BaseError"):
    raise SystemExit("an empty tuple must match nothing")
except ValueError:
    pass
assert "ccxt" not in sys.modules, "naming the errors must not import ccxt"
import ccxt.async_support as ccxt
assert venue_errors("OperationFailed", "ExchangeNotAvailable") == (ccxt.OperationFailed, ccxt.ExchangeNotAvailable)
try:
    raise ccxt.RequestTimeout("slow")
except venue_errors("OperationFailed"):
    pass
print("ok")
"""


def test_errors_are_empty_until_ccxt_is_loaded_then_the_real_classes() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
