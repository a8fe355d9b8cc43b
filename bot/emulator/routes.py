"""The route table type shared by the public, private and sapi handler modules.

Handlers are plain functions ``(state, params) -> JSON-able``: all state is in memory, so
they need no ``await``; the app wraps them with auth, weights, faults and error mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[[Any, dict[str, str]], Any]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    signed: bool = False
