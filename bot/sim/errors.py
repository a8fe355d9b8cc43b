"""Errors of the simulated exchange, carrying Binance USDⓈ-M codes and messages.

The emulator turns a :class:`SimError` into Binance's JSON error body unchanged, and ccxt maps
the code to its exception class (``-2019`` -> ``InsufficientFunds`` and so on), so the paper
executor, the emulator and the live exchange fail in the same way for the same mistake.
"""

from __future__ import annotations

# Codes and the exact messages Binance sends (see /work/shared/reference/ccxt-binanceusdm.md §4).
UNSUPPORTED = -1000
INVALID_QUANTITY_FILTER = -1013
MANDATORY_PARAM = -1102
PARAM_NOT_REQUIRED = -1106
PRECISION = -1111
BAD_SYMBOL = -1121
NEW_ORDER_REJECTED = -2010
UNKNOWN_ORDER = -2011
NO_SUCH_ORDER = -2013
MARGIN_INSUFFICIENT = -2019
WOULD_IMMEDIATELY_TRIGGER = -2021
REDUCE_ONLY_REJECTED = -2022
MAX_POSITION_EXCEEDED = -2027
PRICE_NOT_POSITIVE = -4001
QTY_NOT_POSITIVE = -4003
INVALID_LEVERAGE = -4028
MARGIN_TYPE_UNCHANGED = -4046
MARGIN_TYPE_OPEN_ORDERS = -4047
MARGIN_TYPE_POSITION = -4048
POSITION_SIDE_UNCHANGED = -4059
DUPLICATE_CLIENT_ID = -4116
PERCENT_PRICE = -4131
MIN_NOTIONAL = -4164
POST_ONLY_REJECTED = -5022

MESSAGES: dict[int, str] = {
    UNSUPPORTED: "Not supported by the simulated exchange.",
    INVALID_QUANTITY_FILTER: "Filter failure: LOT_SIZE",
    MANDATORY_PARAM: "Mandatory parameter was not sent, was empty/null, or malformed.",
    PARAM_NOT_REQUIRED: "Parameter sent when not required.",
    PRECISION: "Precision is over the maximum defined for this asset.",
    BAD_SYMBOL: "Invalid symbol.",
    NEW_ORDER_REJECTED: "NEW_ORDER_REJECTED",
    UNKNOWN_ORDER: "Unknown order sent.",
    NO_SUCH_ORDER: "Order does not exist.",
    MARGIN_INSUFFICIENT: "Margin is insufficient.",
    WOULD_IMMEDIATELY_TRIGGER: "Order would immediately trigger.",
    REDUCE_ONLY_REJECTED: "ReduceOnly Order is rejected.",
    MAX_POSITION_EXCEEDED: "Exceeded the maximum allowable position at current leverage.",
    PRICE_NOT_POSITIVE: "Price less than 0.",
    QTY_NOT_POSITIVE: "Quantity less than or equal to zero.",
    INVALID_LEVERAGE: "Leverage is not valid.",
    MARGIN_TYPE_UNCHANGED: "No need to change margin type.",
    MARGIN_TYPE_OPEN_ORDERS: "Margin type cannot be changed if there exists open orders.",
    MARGIN_TYPE_POSITION: "Margin type cannot be changed if there exists position.",
    POSITION_SIDE_UNCHANGED: "No need to change position side.",
    DUPLICATE_CLIENT_ID: "ClientOrderId is duplicated.",
    PERCENT_PRICE: "The counterparty's best price does not meet the PERCENT_PRICE filter limit.",
    MIN_NOTIONAL: "Order's notional must be no smaller than 5 (unless you choose reduce only).",
    POST_ONLY_REJECTED: (
        "Due to the order could not be executed as maker, the Post Only order will be rejected. "
        "The order will not be recorded in the order history"
    ),
}


class SimError(Exception):
    """A request the simulated exchange refuses, as Binance would (``code`` < 0)."""

    def __init__(self, code: int, msg: str | None = None, http_status: int = 400) -> None:
        self.code = int(code)
        self.msg = msg if msg is not None else MESSAGES.get(self.code, "Request rejected.")
        self.http_status = int(http_status)
        super().__init__(f"{self.code}: {self.msg}")

    def to_binance(self) -> dict[str, object]:
        """The JSON body Binance returns for this error."""
        return {"code": self.code, "msg": self.msg}


class IllegalTransition(RuntimeError):
    """An order was moved between states the order state machine forbids (a simulator bug)."""
