"""Errors raised by the journal. Each message says what was wrong and what to do about it."""

from __future__ import annotations


class JournalError(Exception):
    """Base class of every journal failure."""


class JournalInputError(JournalError, ValueError):
    """A ``record_*`` call got a value the journal cannot store faithfully (naive datetime, NaN money,
    unknown enum value). Raised in the caller's thread, before anything is queued."""


class JournalWriteError(JournalError):
    """Rows that were queued could not be committed (permanent database error); they are kept in
    :meth:`bot.journal.Journal.health` and were logged with their content."""


class AppendOnlyViolation(JournalError):
    """The journal writer tried to change or remove history (UPDATE/DELETE). Always a bug."""


class JournalClosedError(JournalError):
    """The journal was closed (or its writer died); nothing more can be queued."""


class JournalVersionError(JournalError):
    """The journal's schema revision is one this code does not know: a newer derivbot wrote it.
    Raised before anything is written; the fix is to upgrade derivbot, not to touch the journal."""
