"""Logging, configured in one place.

Every sink goes through :func:`redact`, which removes registered secrets (API key, secret),
signed query strings and API-key headers from the *formatted* text, so messages, ``extra``
fields and tracebacks alike are cleaned before they reach a terminal or a file.
"""

from __future__ import annotations

import json
import logging.handlers
import re
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from loguru import Message

    from bot.config import LoggingSettings

REDACTED = "***REDACTED***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A signed query string or body: everything from timestamp= to the signature.
    (re.compile(r"timestamp=\d+[^\s\"'<>]*?signature=[0-9a-fA-F]+"), "<signed-request " + REDACTED + ">"),
    (re.compile(r"signature=[0-9a-fA-F]{16,}"), "signature=" + REDACTED),
    (re.compile(r"(X-MBX-APIKEY['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+", re.IGNORECASE), r"\1" + REDACTED),
    (re.compile(r"((?:api_?key|api_?secret|secret|apiKey)['\"]?\s*[:=]\s*['\"]?)(?!\*)[^\s'\",}]{6,}",
                re.IGNORECASE), r"\1" + REDACTED),
)

_secrets: set[str] = set()
_lock = threading.Lock()


#: Shorter values are not treated as secrets: redacting them would mangle ordinary words (the
#: emulator's demo key ``test`` would blank out "testnet"). Real API keys and secrets are 64 chars.
MIN_SECRET_LENGTH = 8


def register_secrets(*values: str | None) -> None:
    """Remember secret values so that no log line can ever contain them."""
    with _lock:
        for value in values:
            if value and len(value) >= MIN_SECRET_LENGTH:
                _secrets.add(value)


def registered_secrets() -> frozenset[str]:
    """The secrets currently redacted (tests use this to restore the registry)."""
    with _lock:
        return frozenset(_secrets)


def reset_secrets(values: frozenset[str] | set[str] = frozenset()) -> None:
    """Replace the registry (a process running several configurations, or tests)."""
    with _lock:
        _secrets.clear()
        _secrets.update(values)


def redact(text: str) -> str:
    """Remove secrets and signed requests from ``text``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _RedactingStream:
    """A loguru sink writing redacted text to a stream (console)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, message: Message) -> None:
        self._stream.write(redact(str(message)))
        self._stream.flush()


class _RedactingJsonFile:
    """A loguru sink writing one redacted JSON object per line to a size-rotated file."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))

    def write(self, message: Message) -> None:
        record = message.record
        payload = {
            "time": record["time"].astimezone().isoformat(),
            "level": record["level"].name,
            "module": record["name"],
            "function": record["function"],
            "line": record["line"],
            "message": record["message"],
            "extra": {k: str(v) for k, v in record["extra"].items()},
        }
        if record["exception"] is not None:
            payload["exception"] = str(message).split("\n", 1)[-1]
        line = redact(json.dumps(payload, default=str))
        self._handler.emit(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))

    def close(self) -> None:
        self._handler.close()


_CONSOLE_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS!UTC}Z</green> <level>{level: <7}</level> "
    "<cyan>{name}</cyan> {message}"
)


def setup_logging(settings: LoggingSettings | None = None, *, stream: Any = None,
                  secrets: list[str] | None = None) -> None:
    """(Re)configure loguru: a readable console sink and, optionally, a rotated JSON file."""
    level = settings.level if settings else "INFO"
    register_secrets(*(secrets or []))
    logger.remove()
    logger.add(_RedactingStream(stream or sys.stderr), level=level, format=_CONSOLE_FORMAT,
               colorize=False, backtrace=False, diagnose=False)
    if settings and settings.json_file:
        sink = _RedactingJsonFile(Path(settings.json_file), settings.rotation_mb * 1024 * 1024,
                                  settings.retention_files)
        logger.add(sink.write, level=level, format="{message}", backtrace=False, diagnose=False,
                   enqueue=False)
