"""The trade journal: an append-only record of everything the bot saw, decided and did.

``Journal`` (write side, batched and non-blocking), ``bot.journal.reader`` (read side),
``bot.journal.migrate.upgrade_to_head`` (schema), ``bot.journal.db.create_journal_engine``.
"""

from bot.journal.errors import (
    AppendOnlyViolation,
    JournalClosedError,
    JournalError,
    JournalInputError,
    JournalVersionError,
    JournalWriteError,
)
from bot.journal.journal import Journal
from bot.journal.writer import FailedRow, WriterHealth

__all__ = [
    "AppendOnlyViolation",
    "FailedRow",
    "Journal",
    "JournalClosedError",
    "JournalError",
    "JournalInputError",
    "JournalVersionError",
    "JournalWriteError",
    "WriterHealth",
]
