"""Tamper evidence: the writer chains every row's hash to the previous row of its table, and
``derivbot journal verify`` names every edit, deletion and stripped hash (exit status 1)."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from alembic import command

from bot.journal import Journal
from bot.journal.db import create_journal_engine
from bot.journal.migrate import alembic_config, upgrade_to_head
from tests.cli_inprocess import derivbot
from tests.journal.raw import drop_triggers, raw_connect, rows
from tests.journal.scenario import T0, full_lifecycle

# The canonical form as bot/journal/chain.py documents it, rebuilt here from raw DB-API values.
MONEY = {"trades": {"entry_price", "quantity", "leverage", "stop_price", "take_profit_price", "liquidation_price"},
         "fills": {"price", "quantity", "fee", "requested_price", "fee_usdt"},
         "equity_snapshots": {"wallet", "unrealised", "equity", "exposure"}}
TIMES = {"trades": {"recorded_at", "entry_ts", "time_stop_at"}, "events": {"recorded_at", "ts"},
         "runs": {"recorded_at", "started_at"}, "fills": {"recorded_at", "ts"},
         "equity_snapshots": {"recorded_at", "ts"}}
JSONS = {"events": {"data"}, "runs": {"params"}}
BOOLS = {"fills": {"is_maker"}}  # SQLite hands back 0/1; the canonical form has true/false


def _documented_value(table: str, column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in MONEY.get(table, ()):
        number = Decimal(str(value))
        return "0" if number == 0 else format(number.normalize(), "f")
    if column in TIMES.get(table, ()):
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if column in JSONS.get(table, ()):
        return json.loads(value) if isinstance(value, str) else value
    if column in BOOLS.get(table, ()):
        return bool(value)
    return value


def _expected_hashes(url: str, table: str) -> list[tuple[int, str, str]]:
    """(chain_seq, stored row_hash, hash recomputed with hashlib) for every chained row."""
    conn = raw_connect(url)
    try:
        found = rows(conn, f"SELECT * FROM {table} WHERE chain_seq IS NOT NULL ORDER BY chain_seq")
    finally:
        conn.close()
    out, prev = [], "0" * 64
    for row in found:
        obj = {k: _documented_value(table, k, v) for k, v in row.items() if k != "row_hash"}
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256((prev + "\n" + text).encode("utf-8")).hexdigest()
        out.append((row["chain_seq"], row["row_hash"], digest))
        prev = row["row_hash"]
    return out


def _verify(url: str) -> tuple[int, dict[str, Any]]:
    result = derivbot("journal", "verify", "--journal", url, "--json")
    return result.returncode, json.loads(result.stdout)


def test_row_hashes_follow_the_documented_canonical_form(journal: Journal, journal_url: str) -> None:
    full_lifecycle(journal)
    # a trailing zero and an exponent: SQLite keeps the text, PostgreSQL the number; one canonical value
    journal.record_trade_open(symbol="BUSDT", side="short", strategy="s", entry_ts=T0 + 5, entry_price="0.10",
                              quantity="1E+1", leverage=3, margin_mode="cross", stop_price=None)
    journal.record_event("note", "café ✓ naïve", data={"b": 1, "a": [1.5, "x", None], "z": {"y": True}})
    journal.flush()
    for table, count in (("trades", 2), ("events", 2), ("runs", 1), ("fills", 1), ("equity_snapshots", 1)):
        chain = _expected_hashes(journal_url, table)
        assert [seq for seq, _, _ in chain] == list(range(1, count + 1)), table
        assert [stored for _, stored, _ in chain] == [recomputed for _, _, recomputed in chain], table
    code, report = _verify(journal_url)
    assert (code, report["ok"], report["findings"]) == (0, True, [])


def test_verify_names_an_edited_a_deleted_and_a_stripped_row(journal: Journal, journal_url: str) -> None:
    full_lifecycle(journal)
    events = [journal.record_event("tick", f"n{i}", ts=T0 + i) for i in range(5)]
    journal.flush()
    journal.close()
    trade_id = rows_of(journal_url, "SELECT id FROM trades")[0]["id"]
    conn = raw_connect(journal_url)
    try:  # behind the bot's back, with owner rights: drop the triggers, then change history
        drop_triggers(conn, journal_url, "trades")
        drop_triggers(conn, journal_url, "events")
        conn.execute(f"UPDATE trades SET quantity = '50' WHERE id = '{trade_id}'")
        conn.execute(f"DELETE FROM events WHERE id = '{events[2]}'")
        conn.execute(f"UPDATE events SET chain_seq = NULL, row_hash = NULL WHERE id = '{events[4]}'")
    finally:
        conn.close()
    code, report = _verify(journal_url)
    assert code == 1 and report["ok"] is False
    found = {(f["table"], f["kind"], f["row_id"]) for f in report["findings"]}
    seq_of = {e["id"]: e["chain_seq"] for e in rows_of(journal_url, "SELECT id, chain_seq FROM events")}
    assert found == {
        ("trades", "edited", trade_id),
        ("events", "deleted", events[3]),  # the gap is reported at the row after it
        ("events", "unchained", events[4]),
        ("trades", "triggers", None),
        ("events", "triggers", None),
    }
    [gap] = [f for f in report["findings"] if f["kind"] == "deleted"]
    assert gap["seq"] == seq_of[events[3]] and f"chain_seq {seq_of[events[3]] - 1} missing" in gap["detail"]
    text = derivbot("journal", "verify", "--journal", journal_url)
    assert text.returncode == 1
    assert f"EDITED trades row {trade_id}" in text.stdout
    assert f"DELETED events row {events[3]}" in text.stdout


def rows_of(url: str, sql: str) -> list[dict[str, Any]]:
    conn = raw_connect(url)
    try:
        return rows(conn, sql)
    finally:
        conn.close()


def test_two_writers_on_one_journal_keep_each_chain_whole(journal_url: str) -> None:
    """Two processes' writers (here: two journals) appending to the same tables at once."""
    upgrade_to_head(journal_url)
    journals = [Journal.open(journal_url, batch_size=7, flush_interval_ms=1) for _ in range(2)]
    try:
        def work(j: Journal, name: str) -> None:
            j.start_run("paper", "h", "v")
            for i in range(150):
                j.record_event("tick", f"{name}{i}", ts=T0 + i)
            j.flush()

        threads = [threading.Thread(target=work, args=(j, n)) for j, n in zip(journals, "ab", strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert all(j.health().ok and not j.health().failed for j in journals)
    finally:
        for j in journals:
            j.close()
    seqs = [r["chain_seq"] for r in rows_of(journal_url, "SELECT chain_seq FROM events ORDER BY chain_seq")]
    assert seqs == list(range(1, 301))
    code, report = _verify(journal_url)
    assert (code, report["findings"]) == (0, [])


def test_rows_from_before_the_chain_keep_no_hash_and_verify_says_where_it_starts(journal_url: str) -> None:
    engine = create_journal_engine(journal_url)
    try:
        cfg = alembic_config(journal_url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0004")
    finally:
        engine.dispose()
    old = "'2023-01-01 00:00:00.000000'"
    conn = raw_connect(journal_url)
    try:
        conn.execute(f"INSERT INTO runs (id, recorded_at, mode, config_hash, code_version, started_at) "
                     f"VALUES ('old-run', {old}, 'paper', 'h', 'v', {old})")
        for i in range(2):
            conn.execute(f"INSERT INTO events (id, recorded_at, run_id, ts, kind, severity, message) "
                         f"VALUES ('old-{i}', {old}, 'old-run', {old}, 'k', 'info', 'before 0005')")
    finally:
        conn.close()
    with Journal.open(journal_url, flush_interval_ms=5) as j:  # migrates to head
        j.start_run("paper", "h", "v")
        first = j.record_event("k", "after 0005")
        j.record_event("k", "after 0005 too")
        j.flush()
    assert [(r["id"], r["row_hash"]) for r in rows_of(journal_url, "SELECT id, row_hash FROM events WHERE id "
                                                                     "LIKE 'old-%' ORDER BY id")] == [
        ("old-0", None), ("old-1", None)]  # no hash is invented for history written before the chain
    code, report = _verify(journal_url)
    assert (code, report["findings"]) == (0, [])
    by_table = {t["table"]: t for t in report["tables"]}
    assert (by_table["events"]["rows"], by_table["events"]["unchained"]) == (4, 2)
    assert (by_table["events"]["first_id"], by_table["events"]["head_seq"]) == (first, 2)
    assert (by_table["runs"]["unchained"], by_table["runs"]["head_seq"]) == (1, 1)
    text = derivbot("journal", "verify", "--journal", journal_url).stdout
    assert f"events: 4 rows, chain holds from row {first} to chain_seq 2" in text
    assert "2 rows without hash (written before revision 0005)" in text


def test_verify_refuses_a_journal_from_before_the_chain(sqlite_url: str) -> None:
    engine = create_journal_engine(sqlite_url)
    try:
        cfg = alembic_config(sqlite_url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0004")
    finally:
        engine.dispose()
    result = derivbot("journal", "verify", "--journal", sqlite_url)
    assert result.returncode == 1
    assert "journal migrate" in result.stdout + result.stderr


def test_canonical_time_is_utc_with_microseconds_and_a_z() -> None:
    # hand-written: 07:05:03 and 42 µs on 9 March 2025 in UTC; the same instant at +02:00 and as
    # the naive UTC value SQLite hands back
    from datetime import timedelta, timezone

    from bot.journal.chain import canonical_datetime

    assert canonical_datetime(datetime(2025, 3, 9, 7, 5, 3, 42, tzinfo=UTC)) == "2025-03-09T07:05:03.000042Z"
    assert canonical_datetime(datetime(2025, 3, 9, 7, 5, 3, 42)) == "2025-03-09T07:05:03.000042Z"
    at_plus_two = datetime(2025, 3, 9, 9, 5, 3, 42, tzinfo=timezone(timedelta(hours=2)))
    assert canonical_datetime(at_plus_two) == "2025-03-09T07:05:03.000042Z"
