"""Text for error messages: one line, never a flood.

One place for the cut, so a 10,000-character value in a config, a strategy parameter or an
exchange answer reads the same everywhere.
"""

from __future__ import annotations

import re

#: Longest value echoed back in an error message (a 10,000-character value is not shown whole).
MAX_ECHO_CHARS = 80


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) folded to one space."""
    return re.sub(r"\s+", " ", text).strip()


def shorten(text: str, limit: int = MAX_ECHO_CHARS, ellipsis: str = "…") -> str:
    """``text`` cut to ``limit`` characters plus ``ellipsis``, so errors stay one readable line."""
    return text if len(text) <= limit else text[:limit] + ellipsis
