"""funding payments keep the venue's income id

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 17:30:00

Funding settled while the bot was down is read back from the venue's income history on start;
the venue's ``tranId`` of each row is what tells the journal a settlement is already booked
(issue 11, Part 2 item 9). Nullable: rows journaled before this revision have none.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('funding_payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('income_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_funding_payments_income_id'), ['income_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('funding_payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_funding_payments_income_id'))
        batch_op.drop_column('income_id')
