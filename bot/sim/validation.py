"""Static checks of a new order against the instrument's filters (no account state needed).

Order of checks follows Binance: mandatory parameters, quantity sign, precision (step / tick),
lot-size filters. Account-dependent checks (reduce-only, min notional, margin, triggers) live
in :mod:`bot.sim.exchange` because they need the position and the current price.
"""

from __future__ import annotations

import math

from bot.core.enums import OrderType
from bot.core.instrument import Instrument
from bot.core.precision import is_multiple
from bot.sim import errors as E
from bot.sim.errors import SimError

#: Binance accepts trailing callback rates from 0.1 % to 10 %; here as fractions.
MIN_CALLBACK_RATE = 0.001
MAX_CALLBACK_RATE = 0.10


def _check_price(instrument: Instrument, value: float, name: str) -> float:
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise SimError(E.MANDATORY_PARAM, f"Parameter '{name}' is malformed: {value!r}.")
    if value <= 0:
        raise SimError(E.PRICE_NOT_POSITIVE, f"{name} less than or equal to 0.")
    if not is_multiple(value, instrument.tick_size):
        raise SimError(E.PRECISION, f"Precision is over the maximum defined for this asset. "
                                    f"({name} {value} is not a multiple of tick {instrument.tick_size}).")
    return float(value)


def check_quantity(instrument: Instrument, order_type: OrderType, quantity: float | None) -> float:
    """Validate ``quantity`` against step, min/max and market lot size; return it as float."""
    if quantity is None:
        raise SimError(E.MANDATORY_PARAM, "Mandatory parameter 'quantity' was not sent, was empty/null, "
                                          "or malformed.")
    if not isinstance(quantity, int | float) or not math.isfinite(quantity):
        raise SimError(E.MANDATORY_PARAM, f"Parameter 'quantity' is malformed: {quantity!r}.")
    if quantity <= 0:
        raise SimError(E.QTY_NOT_POSITIVE)
    if not is_multiple(quantity, instrument.step_size):
        raise SimError(E.PRECISION, f"Precision is over the maximum defined for this asset. "
                                    f"(quantity {quantity} is not a multiple of step {instrument.step_size}).")
    if quantity < instrument.min_qty or quantity > instrument.max_qty:
        raise SimError(E.INVALID_QUANTITY_FILTER,
                       f"Filter failure: LOT_SIZE (quantity {quantity} outside "
                       f"[{instrument.min_qty}, {instrument.max_qty}]).")
    if order_type is OrderType.MARKET and quantity > instrument.market_max_qty:
        raise SimError(E.INVALID_QUANTITY_FILTER,
                       f"Filter failure: MARKET_LOT_SIZE (quantity {quantity} > {instrument.market_max_qty}).")
    return float(quantity)


def check_order_shape(instrument: Instrument, order_type: OrderType, quantity: float | None,
                      price: float | None, trigger_price: float | None, close_position: bool,
                      reduce_only: bool, callback_rate: float | None,
                      activation_price: float | None) -> tuple[float, float | None, float | None, float | None]:
    """Return normalised ``(quantity, price, trigger_price, activation_price)`` or raise SimError."""
    if close_position:
        if order_type not in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET):
            raise SimError(E.PARAM_NOT_REQUIRED,
                           "closePosition is only allowed with STOP_MARKET or TAKE_PROFIT_MARKET.")
        if quantity:
            raise SimError(E.PARAM_NOT_REQUIRED, "Parameter 'quantity' sent when not required "
                                                 "(closePosition=true closes the whole position).")
        if reduce_only:
            raise SimError(E.PARAM_NOT_REQUIRED, "Parameter 'reduceOnly' sent when not required "
                                                 "(closePosition=true).")
        qty = 0.0
    else:
        qty = check_quantity(instrument, order_type, quantity)

    if order_type is OrderType.LIMIT:
        if price is None:
            raise SimError(E.MANDATORY_PARAM, "Mandatory parameter 'price' was not sent, was empty/null, "
                                              "or malformed.")
        price = _check_price(instrument, price, "price")
    elif price is not None:
        raise SimError(E.PARAM_NOT_REQUIRED, f"Parameter 'price' sent when not required ({order_type}).")

    if order_type in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET):
        if trigger_price is None:
            raise SimError(E.MANDATORY_PARAM, "Mandatory parameter 'triggerPrice' was not sent, "
                                              "was empty/null, or malformed.")
        trigger_price = _check_price(instrument, trigger_price, "triggerPrice")
    elif trigger_price is not None:
        raise SimError(E.PARAM_NOT_REQUIRED, f"Parameter 'triggerPrice' sent when not required ({order_type}).")

    if order_type is OrderType.TRAILING_STOP_MARKET:
        if callback_rate is None or not (
            isinstance(callback_rate, int | float) and MIN_CALLBACK_RATE <= callback_rate <= MAX_CALLBACK_RATE
        ):
            raise SimError(E.MANDATORY_PARAM,
                           f"callback_rate must be a fraction in [{MIN_CALLBACK_RATE}, {MAX_CALLBACK_RATE}] "
                           f"(0.01 = 1 %), got {callback_rate!r}.")
        if activation_price is not None:
            activation_price = _check_price(instrument, activation_price, "activationPrice")
    elif callback_rate is not None or activation_price is not None:
        raise SimError(E.PARAM_NOT_REQUIRED, "callback_rate/activation_price are only for TRAILING_STOP_MARKET.")
    return qty, price, trigger_price, activation_price
