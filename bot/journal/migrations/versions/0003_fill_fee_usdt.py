"""fills keep the USDT value of a fee paid in another asset

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 17:40:00

With Binance's BNB fee discount on, a fill's commission is paid in BNB. The journal keeps what was
really paid (``fee``, ``fee_asset``) and, beside it, that fee valued in USDT at the fill time
(``fee_usdt``), which trade fees and P&L use (issue 11, Part 2 item 9). Nullable: fills journaled
before this revision, and fees whose asset price could not be read, have none.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.journal.types import Money

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('fills', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fee_usdt', Money(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('fills', schema=None) as batch_op:
        batch_op.drop_column('fee_usdt')
