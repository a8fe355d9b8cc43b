"""Reviewing the journal: summaries, listings, exports, charts, an HTML report and a read-only
dashboard. Everything here reads the journal through :func:`bot.review.db.open_readonly` and
never writes to it."""
