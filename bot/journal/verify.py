"""``derivbot journal verify``: walk every table's hash chain and report what was changed behind
the writer's back.

What it can tell, per table (chains are per table, ordered by ``chain_seq``):

* **edited** - a row's ``row_hash`` is not the hash of its content after the previous row's hash;
* **deleted** - ``chain_seq`` numbers are missing (reported with the row that follows the gap);
* **unchained** - a row without a hash recorded after the chain began (its hash was removed, or
  code older than revision 0005 wrote it);
* **triggers** - the append-only triggers are missing or disabled (someone prepared an edit).

What it cannot tell: rows written before revision 0005 have no hash (the report says from which
row on the chain holds); rows cut off the *end* of a chain, or a chain recomputed from an edited
row on by someone who knows this (public) algorithm. Against those, keep the heads this command
prints somewhere else and compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.journal.chain import GENESIS, HASH, SEQ, link
from bot.journal.models import TABLES_IN_ORDER

#: rows fetched at a time while walking a chain (market observations can be millions)
YIELD_PER = 2000


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of evidence that the journal was changed: ``kind`` is ``edited``, ``deleted``,
    ``unchained`` or ``triggers``."""

    table: str
    kind: str
    row_id: str | None
    seq: int | None
    detail: str


@dataclass(frozen=True, slots=True)
class TableChain:
    """What the chain of one table covers."""

    table: str
    rows: int
    unchained: int  # rows without a hash (written before revision 0005, or stripped)
    first_id: str | None  # the row the chain holds from (chain_seq 1, or the first one present)
    head_seq: int
    head_hash: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    tables: tuple[TableChain, ...]
    findings: tuple[Finding, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.findings


def verify_journal(engine: Engine) -> VerifyReport:
    """Check every journal table of the (migrated, revision 0005 or later) journal on ``engine``."""
    tables: list[TableChain] = []
    findings: list[Finding] = []
    with engine.connect() as conn:
        for table in TABLES_IN_ORDER:
            chain, found = _verify_table(conn, table)
            tables.append(chain)
            findings.extend(found)
            findings.extend(_check_triggers(conn, table.name))
    return VerifyReport(tuple(tables), tuple(findings))


def _verify_table(conn: sa.Connection, table: sa.Table) -> tuple[TableChain, list[Finding]]:
    seq_col = table.c[SEQ]
    rows = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    unchained = conn.execute(sa.select(sa.func.count()).select_from(table).where(seq_col.is_(None))).scalar_one()
    findings: list[Finding] = []
    first_id: str | None = None
    first_recorded: Any = None
    prev_seq, prev_hash = 0, GENESIS
    result = conn.execution_options(yield_per=YIELD_PER).execute(
        sa.select(table).where(seq_col.is_not(None)).order_by(seq_col))
    for row in result.mappings():
        seq, stored = int(row[SEQ]), row[HASH]
        if first_id is None:
            first_id, first_recorded = row["id"], row["recorded_at"]
        if seq != prev_seq + 1:
            missing = f"{prev_seq + 1}" if seq == prev_seq + 2 else f"{prev_seq + 1}..{seq - 1}"
            findings.append(Finding(table.name, "deleted", row["id"], seq,
                                    f"chain_seq {missing} missing before this row (rows deleted)"))
        elif stored != link(prev_hash, table, row):
            findings.append(Finding(table.name, "edited", row["id"], seq,
                                    "row_hash does not match the row's content after the previous row's hash"))
        prev_seq, prev_hash = seq, str(stored)
    if first_recorded is not None and unchained:
        late = conn.execute(sa.select(table.c.id).where(
            seq_col.is_(None), table.c.recorded_at > first_recorded).order_by(table.c.recorded_at)).scalars()
        findings.extend(Finding(table.name, "unchained", rid, None,
                                "no hash although recorded after the chain began (hash removed, or written "
                                "by code older than revision 0005)") for rid in late)
    return TableChain(table.name, rows, unchained, first_id, prev_seq, prev_hash), findings


def _check_triggers(conn: sa.Connection, table: str) -> list[Finding]:
    if conn.dialect.name == "postgresql":
        found = {str(name): str(enabled) for name, enabled in conn.execute(sa.text(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) AND NOT tgisinternal"),
            {"t": table})}
        expected = ("journal_append_only", "journal_no_truncate")
        bad = [n for n in expected if found.get(n) in (None, "D")]
    else:
        found = set(conn.execute(sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"), {"t": table}).scalars())
        expected = (f"journal_no_update_{table}", f"journal_no_delete_{table}")
        bad = [n for n in expected if n not in found]
    if not bad:
        return []
    return [Finding(table, "triggers", None, None,
                    f"append-only trigger(s) missing or disabled: {', '.join(bad)}")]
