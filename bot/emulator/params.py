"""Typed access to request parameters with Binance's error for each kind of bad input."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.emulator import errors

_NUMBER = re.compile(r"^-?[0-9]{1,20}(\.[0-9]{1,20})?$")
_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")


def opt_str(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    return value if value not in (None, "") else None


def req_str(params: Mapping[str, str], name: str) -> str:
    value = opt_str(params, name)
    if value is None:
        raise errors.mandatory(name)
    return value


def opt_float(params: Mapping[str, str], name: str) -> float | None:
    value = opt_str(params, name)
    if value is None:
        return None
    if not _NUMBER.match(value):
        raise errors.illegal_value(name)
    return float(value)


def req_float(params: Mapping[str, str], name: str) -> float:
    value = opt_float(params, name)
    if value is None:
        raise errors.mandatory(name)
    return value


def opt_int(params: Mapping[str, str], name: str) -> int | None:
    value = opt_str(params, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range "
                                         "is '^[0-9]{1,20}$'.") from None


def opt_bool(params: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = opt_str(params, name)
    if value is None:
        return default
    low = value.lower()
    if low not in ("true", "false"):
        raise errors.BinanceError(-1130, f"Data sent for parameter '{name}' is not valid.")
    return low == "true"


def limit(params: Mapping[str, str], default: int, maximum: int) -> int:
    value = opt_int(params, "limit")
    if value is None:
        return default
    if value <= 0:
        raise errors.BinanceError(-1130, "Data sent for parameter 'limit' is not valid.")
    return min(value, maximum)


def client_id(params: Mapping[str, str], name: str) -> str | None:
    value = opt_str(params, name)
    if value is not None and not _CLIENT_ID.match(value):
        raise errors.BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range "
                                         "is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.")
    return value


def decimals(text: str) -> int:
    return len(text.split(".", 1)[1].rstrip("0")) if "." in text else 0


def check_precision(params: Mapping[str, str], name: str, max_places: int) -> None:
    """-1111 when a number carries more decimals than the instrument allows."""
    value = opt_str(params, name)
    if value is not None and decimals(value) > max_places:
        raise errors.precision_over_max()
