"""trade exits may say the exchange auto-deleveraged or settled the position

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 18:05:00

Binance closes positions the bot did not close itself in two more ways than a liquidation:
auto-deleveraging (``forceOrders`` with ``autoCloseType=ADL``, client id ``adl_autoclose``) and
settlement at the delivery price when a symbol leaves trading (issue 11, Part 1). Until this
revision the journal's ``exit_reason`` check did not list them, so such exits had to be booked as
``manual``, which a reviewer cannot tell from a person closing the position by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = ("take_profit", "stop_loss", "trailing_stop", "time_stop", "signal", "liquidation", "manual",
           "reconcile", "halt")
_AFTER = (*_BEFORE, "adl", "settlement")


def _check(reasons: tuple[str, ...]) -> str:
    return "exit_reason IN (" + ", ".join(f"'{r}'" for r in reasons) + ")"


def upgrade() -> None:
    with op.batch_alter_table('trade_exits', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_trade_exits_exit_reason'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_trade_exits_exit_reason'), _check(_AFTER))


def downgrade() -> None:
    # Exits booked as 'adl' / 'settlement' fall back to 'manual' (what they were journaled as
    # before this revision), so the narrower check can be restored.
    op.execute("UPDATE trade_exits SET exit_reason = 'manual' WHERE exit_reason IN ('adl', 'settlement')")
    with op.batch_alter_table('trade_exits', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_trade_exits_exit_reason'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_trade_exits_exit_reason'), _check(_BEFORE))
