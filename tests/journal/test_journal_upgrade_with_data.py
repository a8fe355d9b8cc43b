"""Journals written by every earlier release upgrade to head with their rows intact (issue 18).

For each shipped revision before head, a journal is built at that revision by Alembic and filled
with plain SQL - the values an older derivbot stored, in the storage form of each backend (SQLite:
UTC text times, decimal text; PostgreSQL: timestamptz, NUMERIC, JSON) - with a row in every table
that exists at that revision. After ``upgrade_to_head`` every row reads back with the values put
in (the expected values are the literals below, not anything read from the code), the columns a
later revision added are NULL on those rows, the append-only triggers refuse an UPDATE, ``verify``
passes with every old row counted as written before the chain, and the journal takes new rows
whose chain starts at 1.

Also: a journal at a revision this code does not know (a newer derivbot wrote it) is refused
before anything is written.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from bot.journal import Journal, JournalVersionError
from bot.journal.db import create_journal_engine
from bot.journal.migrate import alembic_config, current_revision, head_revision, upgrade_to_head
from bot.journal.models import TABLES_IN_ORDER
from bot.journal.verify import verify_journal
from tests.cli_inprocess import derivbot
from tests.journal.raw import raw_connect

RUN, SIG, DEC, TRADE, ORDER = "run-old", "sig-old", "dec-old", "trade-old", "order-old"


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


REC = _t("2025-03-18 06:00:00.123456")

#: One or two rows per table as the 0001 schema has them, in foreign-key order. Money has
#: trailing zeros, more digits than a double holds, negatives; times have microseconds; JSON is
#: nested; text is not ASCII; nullable columns are NULL in some rows.
ROWS_0001: dict[str, list[dict[str, Any]]] = {
    "runs": [{"id": RUN, "mode": "testnet", "config_hash": "c" * 64, "code_version": "0.0.9",
              "started_at": _t("2025-03-18 05:59:59.000001"), "params": {"strategies": ["squeeze"], "n": 2},
              "recorded_at": REC}],
    "signals": [{"id": SIG, "run_id": RUN, "ts": _t("2025-03-18 06:00:00"), "strategy": "squeeze",
                 "symbol": "ORCAUSDT", "kind": "enter_long", "side": "long", "strength": Decimal("0.750"),
                 "reasons": {"oi_change_1h": 0.12, "why": ["squeeze", "funding"]}, "params": None,
                 "recorded_at": REC}],
    "risk_decisions": [{"id": DEC, "run_id": RUN, "signal_id": SIG, "ts": _t("2025-03-18 06:00:00"),
                        "symbol": "ORCAUSDT", "verdict": "resized", "reason_code": "cap_max_notional",
                        "numbers": {"equity": 10000.5, "caps": {"cap_max_notional": 1234.5}},
                        "plan": {"quantity": 488.042, "stop_price": 2.4}, "recorded_at": REC}],
    "trades": [{"id": TRADE, "run_id": RUN, "signal_id": SIG, "risk_decision_id": DEC, "symbol": "ORCAUSDT",
                "side": "long", "strategy": "squeeze", "entry_ts": _t("2025-03-18 06:00:01.5"),
                "entry_price": Decimal("2.5000"), "quantity": Decimal("488.042"), "leverage": Decimal("3"),
                "margin_mode": "isolated", "stop_price": Decimal("2.4"), "take_profit_price": None,
                "liquidation_price": Decimal("1.6712345678901234567890"), "time_stop_at": None,
                "recorded_at": REC}],
    "trade_exits": [{"id": "exit-old", "run_id": RUN, "trade_id": TRADE, "exit_ts": _t("2025-03-18 09:30:00"),
                     "exit_price": Decimal("2.4"), "exit_reason": "stop_loss", "realised_pnl": Decimal("-48.8042"),
                     "fees": Decimal("0.00012345678901234567"), "funding": Decimal("-0.10"),
                     "note": "stopped — ünïcode", "recorded_at": REC}],
    "stop_moves": [{"id": "move-old", "run_id": RUN, "trade_id": TRADE, "ts": _t("2025-03-18 07:00:00"),
                    "old_stop": None, "new_stop": Decimal("2.41"), "reason": "trailing", "recorded_at": REC}],
    "orders": [{"id": ORDER, "run_id": RUN, "trade_id": TRADE, "signal_id": SIG, "client_order_id": "dbot-old-1",
                "exchange_order_id": "8389765", "ts": _t("2025-03-18 06:00:01"), "symbol": "ORCAUSDT",
                "type": "market", "side": "buy", "quantity": Decimal("488.042"), "price": None,
                "trigger_price": None, "reduce_only": False, "close_position": False, "purpose": "entry",
                "recorded_at": REC},
               {"id": "order-stop", "run_id": RUN, "trade_id": TRADE, "signal_id": None,
                "client_order_id": "dbot-old-2", "exchange_order_id": None, "ts": _t("2025-03-18 06:00:02"),
                "symbol": "ORCAUSDT", "type": "stop_market", "side": "sell", "quantity": None, "price": None,
                "trigger_price": Decimal("2.40"), "reduce_only": True, "close_position": True, "purpose": "stop",
                "recorded_at": REC}],
    "order_status": [{"id": "status-old", "run_id": RUN, "order_id": ORDER, "ts": _t("2025-03-18 06:00:01.25"),
                      "status": "filled", "filled_qty": Decimal("488.042"), "avg_price": Decimal("2.5000"),
                      "exchange_order_id": "8389765", "raw_status": "FILLED", "recorded_at": REC}],
    "fills": [{"id": "fill-old", "run_id": RUN, "order_id": ORDER, "trade_id": TRADE, "exchange_trade_id": "771",
               "ts": _t("2025-03-18 06:00:01.2"), "symbol": "ORCAUSDT", "side": "buy", "price": Decimal("2.5000"),
               "quantity": Decimal("488.042"), "fee": Decimal("0.610052500"), "fee_asset": "USDT", "is_maker": False,
               "requested_price": Decimal("2.4990"), "latency_ms": 183, "recorded_at": REC}],
    "funding_payments": [{"id": "funding-old", "run_id": RUN, "trade_id": TRADE, "ts": _t("2025-03-18 08:00:00"),
                          "symbol": "ORCAUSDT", "rate": Decimal("-0.00012500"), "mark_price": Decimal("2.45"),
                          "position_qty": Decimal("488.042"), "amount": Decimal("0.1494628625"), "asset": "USDT",
                          "recorded_at": REC}],
    "equity_snapshots": [{"id": "equity-old", "run_id": RUN, "ts": _t("2025-03-18 07:00:00"),
                          "wallet": Decimal("10000.00"), "unrealised": Decimal("-12.2010500"),
                          "equity": Decimal("9987.79895"), "exposure": Decimal("1195.7029"), "risk_state": "active",
                          "recorded_at": REC}],
    "events": [{"id": "event-old", "run_id": RUN, "ts": _t("2025-03-18 06:00:03"), "kind": "reconciliation",
                "severity": "warning", "message": "adopted ORCAUSDT — «as found»",
                "data": {"positions": [{"symbol": "ORCAUSDT", "qty": "488.042"}]}, "recorded_at": REC},
               {"id": "event-no-run", "run_id": None, "ts": _t("2025-03-18 05:00:00"), "kind": "note",
                "severity": "info", "message": "before any run", "data": None, "recorded_at": REC}],
    "market_observations": [{"id": "obs-old", "run_id": RUN, "ts": _t("2025-03-18 06:00:00"), "symbol": "ORCAUSDT",
                             "exchange": "binanceusdm", "last_price": Decimal("2.5"), "mark_price": Decimal("2.4987"),
                             "index_price": None, "funding_rate": Decimal("-0.000125"),
                             "predicted_funding_rate": None, "open_interest": Decimal("123456789.123"),
                             "open_interest_notional": None, "oi_change_1h": Decimal("0.12"), "oi_change_24h": None,
                             "price_change_1h": Decimal("-0.031"), "price_change_24h": None,
                             "quote_volume_24h": Decimal("98765432.1"),
                             "record": {"symbol": "ORCAUSDT", "premium": -0.0005, "missing": None},
                             "recorded_at": REC}],
    "run_stops": [{"id": "stop-old", "run_id": RUN, "stopped_at": _t("2025-03-18 10:00:00"),
                   "exit_reason": "completed", "recorded_at": REC}],
}

#: what each later revision added to the rows (None where an older derivbot could not know it)
ADDED = {"0002": ("funding_payments", "income_id"), "0003": ("fills", "fee_usdt")}


def _fixture(revision: str) -> dict[str, list[dict[str, Any]]]:
    """The rows a derivbot at ``revision`` could have written."""
    rows = {table: [dict(r) for r in table_rows] for table, table_rows in ROWS_0001.items()}
    if revision >= "0002":
        rows["funding_payments"][0]["income_id"] = "9876543210"
    if revision >= "0003":
        rows["fills"].append({**rows["fills"][0], "id": "fill-bnb", "exchange_trade_id": "772",
                              "fee": Decimal("0.00091"), "fee_asset": "BNB", "fee_usdt": Decimal("0.5460")})
        rows["fills"][0]["fee_usdt"] = None
    if revision >= "0004":  # the exchange auto-deleveraged a second trade
        rows["trades"].append({**rows["trades"][0], "id": "trade-adl", "side": "short"})
        rows["trade_exits"].append({**rows["trade_exits"][0], "id": "exit-adl", "trade_id": "trade-adl",
                                    "exit_reason": "adl", "note": None})
    return rows


def _stored(value: Any, dialect: str) -> Any:
    """``value`` in the form the backend stores it, for a plain SQL INSERT."""
    if isinstance(value, datetime):  # SQLite: UTC text without offset; PostgreSQL: timestamptz
        if dialect == "sqlite":
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # SQLite TEXT, PostgreSQL NUMERIC: the digits as written
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _at_revision(url: str, revision: str) -> None:
    engine = create_journal_engine(url)
    try:
        cfg = alembic_config(url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        assert current_revision(engine) == revision
    finally:
        engine.dispose()


def _insert(url: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    engine = create_journal_engine(url)
    try:
        with engine.begin() as conn:
            for table, table_rows in rows.items():
                for row in table_rows:
                    columns = ", ".join(row)
                    params = ", ".join(f":{c}" for c in row)
                    conn.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({params})"),
                                 {c: _stored(v, conn.dialect.name) for c, v in row.items()})
    finally:
        engine.dispose()


def _exact(value: Any) -> Any:
    """Decimals compared by their digits (0.10 is not 0.1 here: the stored text must survive)."""
    return ("decimal", str(value)) if isinstance(value, Decimal) else value


@pytest.mark.parametrize("revision", ["0001", "0002", "0003", "0004"])
def test_a_journal_with_rows_at_every_earlier_revision_upgrades_to_head_intact(journal_url: str,
                                                                                revision: str) -> None:
    _at_revision(journal_url, revision)
    rows = _fixture(revision)
    _insert(journal_url, rows)

    assert upgrade_to_head(journal_url) == head_revision()

    tables = {t.name: t for t in TABLES_IN_ORDER}
    assert set(rows) == set(tables), "the fixture covers every journal table"
    engine = create_journal_engine(journal_url)
    try:
        with engine.connect() as conn:
            for name, expected_rows in rows.items():
                got = {r["id"]: {k: _exact(v) for k, v in r.items()}
                       for r in conn.execute(sa.select(tables[name])).mappings()}
                for expected in expected_rows:
                    # columns added after this revision, and the chain columns: NULL on old rows
                    later = {c: None for rev, (t, c) in ADDED.items() if t == name and rev > revision}
                    want = {**{k: _exact(v) for k, v in expected.items()}, **later,
                            "chain_seq": None, "row_hash": None}
                    assert got.get(expected["id"]) == want, f"{name} {expected['id']} changed by the upgrade"
                assert len(got) == len(expected_rows), f"{name}: rows appeared or vanished"
        report = verify_journal(engine)
    finally:
        engine.dispose()
    assert report.ok, report.findings
    assert {t.table: (t.rows, t.unchained, t.head_seq) for t in report.tables} == {
        name: (len(r), len(r), 0) for name, r in rows.items()}  # old rows: counted, no hash invented

    raw = raw_connect(journal_url)
    try:
        with pytest.raises(Exception, match="append-only"):  # the triggers hold for old rows too
            raw.execute("UPDATE trade_exits SET exit_price = 0 WHERE id = 'exit-old'")
    finally:
        raw.close()

    with Journal.open(journal_url, flush_interval_ms=5) as journal:  # the bot goes on writing
        run = journal.start_run("paper", "h", "0.1.0")
        journal.record_trade_exit(TRADE, exit_ts=_t("2025-03-19 00:00:00"), exit_price="2.6",
                                  exit_reason="settlement", realised_pnl="48.8042", fees="0", funding="0",
                                  note="correction after the upgrade")
        journal.flush()
    engine = create_journal_engine(journal_url)
    try:
        report = verify_journal(engine)
    finally:
        engine.dispose()
    assert report.ok, report.findings
    by_table = {t.table: t for t in report.tables}
    assert (by_table["runs"].first_id, by_table["runs"].head_seq, by_table["runs"].unchained) == (run, 1, 1)
    assert (by_table["trade_exits"].head_seq, by_table["trade_exits"].unchained) == (
        1, len(rows["trade_exits"]))


def test_a_journal_from_a_newer_derivbot_is_refused_before_anything_is_written(journal_url: str) -> None:
    upgrade_to_head(journal_url)
    raw = raw_connect(journal_url)
    try:
        raw.execute("UPDATE alembic_version SET version_num = '0099'")  # what a later release would leave
    finally:
        raw.close()
    expected = (r"schema revision 0099, which this derivbot \(.+\) does not know: it knows revisions "
                rf"0001\.\.{head_revision()}, so a newer derivbot wrote this journal\. Upgrade derivbot")
    with pytest.raises(JournalVersionError, match=expected):
        Journal.open(journal_url)
    with pytest.raises(JournalVersionError, match=expected):
        Journal.open(journal_url, migrate=False)
    with pytest.raises(JournalVersionError, match=expected):
        upgrade_to_head(journal_url)
    result = derivbot("status", "--journal", journal_url)
    assert result.returncode == 1
    assert "revision 0099" in result.stderr and result.stderr.rstrip().endswith(
        "upgrade derivbot: this version cannot use a journal a newer version wrote")
    raw = raw_connect(journal_url)
    try:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [("0099",)]
        written = {t.name: raw.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0] for t in TABLES_IN_ORDER}
    finally:
        raw.close()
    assert written == {t.name: 0 for t in TABLES_IN_ORDER}
