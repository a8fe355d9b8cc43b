"""Verification of Binance signed requests (HMAC-SHA256), exactly as the server does it.

The signature covers the raw bytes the client sent: the query string (GET/DELETE) or the
body (POST/PUT), or both concatenated. It is checked over the text left of the last
``&signature=`` verbatim, never over re-encoded parameters, so any difference in
encoding between client and server shows up as ``-1022`` instead of being papered over.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl

from bot.emulator import errors

MAX_RECV_WINDOW_MS = 60_000
DEFAULT_RECV_WINDOW_MS = 5_000
FUTURE_TOLERANCE_MS = 1_000
API_KEY_HEADER = "X-MBX-APIKEY"


@dataclass(frozen=True, slots=True)
class Credentials:
    """One API key pair the emulator accepts (the secret never leaves this object)."""

    api_key: str
    api_secret: str

    def __repr__(self) -> str:  # never print the secret, even in a traceback
        return "Credentials(api_key=***, api_secret=***)"


def parse_params(raw: str) -> list[tuple[str, str]]:
    """Decode ``a=1&b=2`` keeping order and blank values (Binance treats blanks as missing)."""
    return parse_qsl(raw, keep_blank_values=True, strict_parsing=False)


def split_signature(raw: str) -> tuple[str, str | None]:
    """``payload&signature=hex`` -> (payload, hex); (raw, None) when unsigned."""
    marker = "&signature="
    if marker in raw:
        left, sig = raw.rsplit(marker, 1)
        return left, sig
    if raw.startswith("signature="):
        return "", raw[len("signature="):]
    return raw, None


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def check_api_key(header_value: str | None, creds: Credentials) -> None:
    """-2014 when the key header is missing or malformed, -2015 when it is not ours."""
    if not header_value or not header_value.strip():
        raise errors.bad_api_key_format()
    if not hmac.compare_digest(header_value.encode(), creds.api_key.encode()):
        raise errors.rejected_api_key()


def verify_signed(query: str, body: str, api_key: str | None, creds: Credentials,
                  now_ms: int | tuple[int, ...]) -> dict[str, str]:
    """Authenticate one signed request and return its parameters (without ``signature``).

    ``query`` and ``body`` are the raw, still url-encoded strings. ``now_ms`` is the
    emulator clock: a client must be in sync with it as with Binance's server time.
    """
    check_api_key(api_key, creds)
    q_payload, q_sig = split_signature(query)
    b_payload, b_sig = split_signature(body)
    # Binance: totalParams = query string concatenated (no separator) with the request body.
    payload = q_payload + b_payload
    signature = b_sig if b_sig is not None else q_sig
    if not signature:
        raise errors.mandatory("signature")
    expected = sign(creds.api_secret, payload)
    if not hmac.compare_digest(expected, signature.lower()):
        raise errors.bad_signature()
    params = dict(parse_params(q_payload))
    params.update(parse_params(b_payload))
    check_timestamp(params, now_ms)
    return params


def check_timestamp(params: dict[str, str], now_ms: int | tuple[int, ...]) -> None:
    """timestamp must lie in [now - recvWindow, now + 1000] (-1021); recvWindow <= 60000.

    ``now_ms`` may name several acceptable clocks: the request is valid against any of them
    (see :func:`bot.emulator.app.dispatch`: wall time and the emulator's market clock).
    """
    raw_ts = params.get("timestamp", "")
    if not raw_ts:
        raise errors.mandatory("timestamp")
    try:
        ts = int(raw_ts)
    except ValueError:
        raise errors.illegal_value("timestamp") from None
    raw_window = params.get("recvWindow") or str(DEFAULT_RECV_WINDOW_MS)
    try:
        window = int(float(raw_window))
    except ValueError:
        raise errors.illegal_value("recvWindow") from None
    if window > MAX_RECV_WINDOW_MS or window <= 0:
        raise errors.recv_window_too_large()
    clocks = now_ms if isinstance(now_ms, tuple) else (now_ms,)
    if not any(now - window <= ts <= now + FUTURE_TOLERANCE_MS for now in clocks):
        raise errors.outside_recv_window()
