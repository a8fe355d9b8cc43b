"""Reason codes of risk decisions and breaker transitions.

Every decision the risk layer takes carries one of these codes plus the numbers behind it, so
a reviewer reading the journal can tell *which* limit acted and by how much. Values are the
strings stored in the journal: renaming a member is a schema change.
"""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    APPROVED = "approved"
    RESIZED = "resized"  # approved with a smaller quantity than the risk budget asked for
    REJECTED = "rejected"


class ReasonCode(StrEnum):
    # approvals
    OK = "ok"
    EXIT_ALLOWED = "exit_allowed"
    LEVERAGE_LOWERED = "leverage_lowered"  # approved at a lower leverage to pass the liq buffer
    # resizes (the cap that bound the quantity)
    CAP_MAX_NOTIONAL = "cap_max_notional"
    CAP_MARGIN_FRACTION = "cap_margin_fraction"
    CAP_EXCHANGE_MAX_QTY = "cap_exchange_max_qty"
    CAP_BRACKET_NOTIONAL = "cap_bracket_notional"
    CAP_GROSS_EXPOSURE = "cap_gross_exposure"
    CAP_NET_EXPOSURE = "cap_net_exposure"
    # rejections: the intent itself
    NOT_AN_ORDER = "not_an_order"
    INVALID_INPUT = "invalid_input"
    NO_STOP_LOSS = "no_stop_loss"
    STOP_TOO_WIDE = "stop_too_wide"
    NO_POSITION = "no_position"
    # rejections: breaker state
    BREAKER_PAUSED = "breaker_paused"
    BREAKER_REDUCING = "breaker_reducing"
    BREAKER_HALTED = "breaker_halted"
    # rejections: the journal cannot record the trade in time (issue 18)
    JOURNAL_BACKLOGGED = "journal_backlogged"
    # rejections: account limits
    MAX_OPEN_POSITIONS = "max_open_positions"
    MAX_POSITIONS_PER_SYMBOL = "max_positions_per_symbol"
    MAX_SAME_SIDE_POSITIONS = "max_same_side_positions"
    GROSS_EXPOSURE_FULL = "gross_exposure_full"
    NET_EXPOSURE_FULL = "net_exposure_full"
    COOLDOWN = "cooldown"
    ORDER_RATE = "order_rate"
    # rejections: sizing / liquidation
    ZERO_SIZE = "zero_size"
    BELOW_MIN_QTY = "below_min_qty"
    BELOW_MIN_NOTIONAL = "below_min_notional"
    LIQUIDATION_BUFFER = "liquidation_buffer"


class TransitionReason(StrEnum):
    """Why the circuit breaker changed state."""

    DAILY_LOSS = "daily_loss"
    DRAWDOWN = "drawdown"
    CONSECUTIVE_LOSSES = "consecutive_losses"
    KILL_SWITCH = "kill_switch"
    NEW_UTC_DAY = "new_utc_day"
    PAUSE_EXPIRED = "pause_expired"
    MANUAL_RESET = "manual_reset"
    STATE_UNREADABLE = "state_unreadable"  # the persisted state was corrupt: fail safe, halted
