"""Logging, configured in one place.

Every sink goes through :func:`redact`, which removes registered secrets (API key, secret,
the journal database password), signed query strings, API-key headers and the password of any
``scheme://user:password@host`` URL from the *formatted* text, so messages, ``extra`` fields
and tracebacks alike are cleaned before they reach a terminal or a file.
"""

from __future__ import annotations

import json
import logging.handlers
import re
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from loguru import logger

if TYPE_CHECKING:
    from loguru import Message

    from bot.config import LoggingSettings

REDACTED = "***REDACTED***"
#: What replaces a URL's password: short, so ``postgresql://bot:***@h/db`` still reads as a URL.
URL_PASSWORD_MASK = "***"

#: The password of ``scheme://[user]:password@host``. RFC 3986 userinfo holds no raw "/",
#: whitespace or quotes, so those end the match (``http://host:8080/a@b`` is left alone); a raw
#: "@" inside a password is tolerated: the last "@" before the host ends it, as for libpq.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@'\"<>]*:)(?P<password>[^\s/'\"<>]+)@")
#: libpq also takes the password as a query parameter (``...?password=x``).
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&;](?:password|passwd|pwd)=)(?P<password>[^&;\s'\"<>#]+)",
                             re.IGNORECASE)


def url_passwords(text: str) -> list[str]:
    """Every URL password in ``text``, as written and percent-decoded (to register as secrets)."""
    found = [m.group("password") for p in (_URL_PASSWORD, _QUERY_PASSWORD) for m in p.finditer(text)]
    return sorted({v for raw in found for v in (raw, unquote(raw))})


#: What splits a notification URL into the parts that may each be a token (see url_secret_parts).
_URL_PARTS = re.compile(r"[/:@?&=#,;]+")
#: Parts that are not credentials and would blank ordinary log text if redacted: a loopback or IP
#: host, and bare numbers (a chat or bot id; redacted, they would blank digits inside order ids).
_PUBLIC_PART = re.compile(r"^(?:localhost|\d{1,3}(?:\.\d{1,3}){3}|-?\d+)$", re.IGNORECASE)


def url_secret_parts(url: str) -> list[str]:
    """A notification URL and every part of it that may be a secret on its own.

    Apprise URLs carry tokens in any position (``tgram://BOT_TOKEN/CHAT_ID``,
    ``discord://WEBHOOK_ID/WEBHOOK_TOKEN``, ``json://user:pass@host/path``), and an HTTP client's
    error may quote the request path without the rest. So the URL is registered whole and split
    at its delimiters; the scheme, an IP or loopback host, bare numbers and parts shorter than
    :data:`MIN_SECRET_LENGTH` are left out (they are not credentials, and redacting them would
    mangle ordinary log lines).
    """
    url = url.strip()
    if not url:
        return []
    rest = url.partition("://")[2]
    parts = [p for raw in _URL_PARTS.split(rest) for p in {raw, unquote(raw)}]
    keep = {p for p in parts if len(p) >= MIN_SECRET_LENGTH and not _PUBLIC_PART.match(p)}
    return sorted({url, *keep})


def mask_url_passwords(text: str) -> str:
    """``text`` with the password of every URL replaced by ``***`` (user and host kept)."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{URL_PASSWORD_MASK}@", text)
    return _QUERY_PASSWORD.sub(lambda m: m.group("head") + URL_PASSWORD_MASK, text)


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
    """Remove secrets, URL passwords and signed requests from ``text``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return mask_url_passwords(text)


class _RedactingStream:
    """A loguru sink writing redacted text to a stream (console)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, message: Message) -> None:
        self._stream.write(redact(str(message)))
        self._stream.flush()


def _why_not(path: Path, exc: OSError) -> str:
    """A reason a person can act on ("/x/y is a file, not a folder" rather than "File exists")."""
    for ancestor in path.parents:
        if ancestor.exists() and not ancestor.is_dir():
            return f"{ancestor} is a file, not a folder"
    return exc.strerror or type(exc).__name__


class _RedactingJsonFile:
    """A loguru sink writing one redacted JSON object per line to a size-rotated file."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
            )
        except OSError as exc:
            # Imported here: bot.config imports this module.
            from bot.config import ConfigError

            raise ConfigError(f"logging.json_file: cannot write the log file {path}: {_why_not(path, exc)} "
                              "(choose a writable path, or leave json_file unset)") from None
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
    """(Re)configure loguru: a readable console sink and, optionally, a rotated JSON file.

    Raises :class:`bot.config.ConfigError` when the JSON log file cannot be opened (the CLI
    prints it and exits 2): a typo in a path is a configuration problem, not a crash.
    """
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
