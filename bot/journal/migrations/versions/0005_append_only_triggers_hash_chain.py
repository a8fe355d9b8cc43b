"""the database refuses UPDATE and DELETE on journal tables; rows carry a hash chain

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 20:45:00

Until this revision only the writer's engine refused to change history; any other connection
could UPDATE or DELETE (issue 18). Now:

* every journal table gets triggers that abort UPDATE and DELETE (and TRUNCATE on PostgreSQL),
  whoever sends them; a privileged fix has to drop the trigger first, visibly;
* every table gets ``chain_seq`` and ``row_hash`` (see ``bot.journal.chain``). Rows written before
  this revision keep NULL there: their hashes are not invented after the fact.

SQLite drops a table's triggers with the table, so a later revision that rebuilds a table in
batch mode must call :func:`create_triggers` for it again (copy the helpers: revisions must not
import code that may change).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("runs", "run_stops", "market_observations", "signals", "risk_decisions", "trades", "trade_exits",
          "stop_moves", "orders", "order_status", "fills", "funding_payments", "equity_snapshots", "events")

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION journal_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'corrections are new rows; see bot/journal/README.md';
END
$$
"""


def create_triggers(table: str) -> None:
    """The append-only triggers of one table, on the current dialect."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION journal_refuse_change()")
        op.execute(f"CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change()")
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER journal_no_{verb.lower()}_{table} BEFORE {verb} ON {table} BEGIN "
                   f"SELECT RAISE(ABORT, 'the journal is append-only: {verb} on {table} refused'); END")


def drop_triggers(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS journal_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS journal_no_truncate ON {table}")
        return
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS journal_no_{verb}_{table}")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column('chain_seq', sa.BigInteger(), nullable=True))
        op.add_column(table, sa.Column('row_hash', sa.String(length=64), nullable=True))
        op.create_index(op.f(f'ix_{table}_chain_seq'), table, ['chain_seq'], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
    for table in TABLES:
        create_triggers(table)


def downgrade() -> None:
    for table in TABLES:
        drop_triggers(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS journal_refuse_change()")
    for table in TABLES:
        op.drop_index(op.f(f'ix_{table}_chain_seq'), table_name=table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('row_hash')
            batch_op.drop_column('chain_seq')
