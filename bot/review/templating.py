"""The jinja2 environment shared by the HTML report and the dashboard (autoescaped: journal text
such as event messages or signal reasons is data, never markup)."""

from __future__ import annotations

import math
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.review.formatting import fmt

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def sign(value: Any) -> str:
    """CSS class for a number: "pos", "neg" or ""."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        v = float(value)
        if math.isnan(v) or v == 0:
            return ""
        return "pos" if v > 0 else "neg"
    return ""


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt
    env.filters["sign"] = sign
    return env
