"""Binance error replies: ``{"code": <int>, "msg": <str>}`` with the HTTP status Binance uses.

ccxt maps errors by HTTP status (418/429 first), then by ``msg``, then by ``code``
(reference §4), so each reply here carries exactly Binance's code, message and status.
"""

from __future__ import annotations

import html
import json
from typing import Any

from aiohttp import web


class BinanceError(Exception):
    """An error the emulator answers with Binance's JSON body and HTTP status."""

    def __init__(self, code: int, msg: str, http_status: int = 400,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        return web.Response(
            status=self.http_status,
            text=json.dumps({"code": self.code, "msg": self.msg}),
            content_type="application/json",
            headers=self.headers,
        )


# -- constructors for the errors the emulator raises itself ---------------------------------

def mandatory(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def illegal_value(name: str) -> BinanceError:
    return BinanceError(
        -1100,
        f"Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.",
    )


def invalid_symbol() -> BinanceError:
    return BinanceError(-1121, "Invalid symbol.")


def precision_over_max() -> BinanceError:
    return BinanceError(-1111, "Precision is over the maximum defined for this asset.")


def bad_api_key_format() -> BinanceError:
    return BinanceError(-2014, "API-key format invalid.", 401)


def rejected_api_key() -> BinanceError:
    return BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)


def bad_signature() -> BinanceError:
    return BinanceError(-1022, "Signature for this request is not valid.")


def outside_recv_window() -> BinanceError:
    return BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


def recv_window_too_large() -> BinanceError:
    return BinanceError(-1131, "recvWindow must be less than 60000")


def unknown_order() -> BinanceError:
    """DELETE of an order that does not exist (or is no longer open)."""
    return BinanceError(-2011, "Unknown order sent.")


def order_does_not_exist() -> BinanceError:
    """GET of an order that does not exist."""
    return BinanceError(-2013, "Order does not exist.")


def invalid_enum(name: str, code: int) -> BinanceError:
    return BinanceError(code, f"Invalid {name}.")


def algo_required() -> BinanceError:
    return BinanceError(-4120, "Order type not supported for this endpoint. Please use the Algo Order API "
                               "endpoints instead.")


def position_side_mismatch() -> BinanceError:
    return BinanceError(-4061, "Order's position side does not match user's setting.")


def no_need_to_change_position_side() -> BinanceError:
    return BinanceError(-4059, "No need to change position side.")


def too_many_requests(limit: int, retry_after_s: int) -> BinanceError:
    return BinanceError(
        -1003,
        f"Too many requests; current limit of IP(127.0.0.1) is {limit} requests per minute. Please use "
        "WebSocket Streams for live updates to avoid polling the API.",
        429,
        {"Retry-After": str(retry_after_s)},
    )


def ip_banned(until_ms: int, retry_after_s: int) -> BinanceError:
    return BinanceError(
        -1003,
        f"Way too many requests; IP(127.0.0.1) banned until {until_ms}. Please use WebSocket Streams for "
        "live updates to avoid bans.",
        418,
        {"Retry-After": str(retry_after_s)},
    )


def internal_error() -> BinanceError:
    return BinanceError(-1001, "Internal error; unable to process your request. Please try again.", 503)


#: Longest piece of a requested path echoed back in a 404 page.
MAX_ECHOED_PATH = 200


def not_found(path: str) -> web.Response:
    """Unknown path: Binance answers a non-JSON 404 (ccxt -> ExchangeNotAvailable/BadRequest).

    The path is HTML-escaped (and shortened): echoing it raw would let a link such as
    ``/fapi/<script>...`` run script on the emulator's origin, next to its control API.
    """
    shown = html.escape(path[:MAX_ECHOED_PATH], quote=True)
    return web.Response(status=404, text=f"<html><body><h2>404 Not found</h2>{shown}</body></html>",
                        content_type="text/html", headers={"X-Content-Type-Options": "nosniff"})


def from_sim_error(exc: Any) -> BinanceError:
    """Map the core's ``SimError(code, msg, http_status)`` 1:1 to a wire error."""
    return BinanceError(int(exc.code), str(exc.msg), int(getattr(exc, "http_status", 400) or 400))
