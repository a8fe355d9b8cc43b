"""``derivbot journal report``: one self-contained HTML file (charts embedded as base64 PNG), so
it can be mailed or archived next to a backtest without a server or an images folder."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.review import service
from bot.review.formatting import STAT_FIELDS
from bot.review.outfile import OutputPolicy
from bot.review.plots import all_charts
from bot.review.queries import ReviewFilter
from bot.review.templating import environment


def render_report(engine: Engine, flt: ReviewFilter = ReviewFilter(), max_trades: int = 20) -> str:
    """The report's HTML text."""
    data = service.summary(engine, flt)
    charts = [(name, base64.b64encode(png).decode("ascii"))
              for name, png in all_charts(engine, flt, max_trades).items()]
    return environment().get_template("report.html").render(
        data=data, fields=STAT_FIELDS, charts=charts, generated=datetime.now(UTC))


def write_report(engine: Engine, out: Path, flt: ReviewFilter = ReviewFilter(), max_trades: int = 20,
                 policy: OutputPolicy = OutputPolicy()) -> Path:
    """Render the report and write it to ``out`` under ``policy`` (:mod:`bot.review.outfile`):
    checked before the (slow) rendering, written atomically after it."""
    policy.check(out)
    return policy.write_text(out, render_report(engine, flt, max_trades))
