"""Number and cell formatting shared by the terminal tables, the HTML report and the dashboard,
so the same value reads the same everywhere."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd

#: Summary statistics in display order: key, label, kind.
STAT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("trades", "trades", "int"),
    ("open_trades", "open", "int"),
    ("win_rate", "win rate", "pct"),
    ("net_pnl", "net P&L", "money"),
    ("fees", "fees", "money"),
    ("funding", "funding", "money"),
    ("profit_factor", "profit factor", "ratio"),
    ("expectancy", "expectancy", "money"),
    ("avg_win", "avg win", "money"),
    ("avg_loss", "avg loss", "money"),
    ("sharpe", "Sharpe", "ratio"),
    ("sortino", "Sortino", "ratio"),
    ("max_drawdown", "max DD", "pct"),
    ("max_drawdown_days", "DD days", "int"),
    ("calmar", "Calmar", "ratio"),
    ("time_in_market", "in market", "pct"),
)


def fmt(value: Any, kind: str = "auto") -> str:
    """Human-readable cell; "-" for missing values, "inf" for infinite ratios."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp | datetime):
        if pd.isna(value):
            return "-"
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if kind == "auto" else fmt(float(value), kind)
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if kind == "int":
        return str(int(value))
    if kind == "pct":
        return f"{float(value) * 100:.2f}%"
    if kind == "money":
        return f"{float(value):,.2f}"
    if kind == "ratio":
        return f"{float(value):.2f}"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, default=str)
    return str(value)


def short_id(value: Any) -> str:
    return str(value)[:8] if value is not None else "-"
