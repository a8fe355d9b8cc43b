"""A venue error during the start-up reconciliation does not end the process (issue 11, soak).

The soak found it: one 5xx on a read the Reconciler makes at start (an order look-up, the
positions) ended ``derivbot run`` with exit 1, leaving its positions unwatched until someone
restarted it. Now the run starts with trading blocked, journals a ``reconciliation_failed``
error, and the next cycle that can read the venue completes the reconciliation and trades.
Through the real ccxt client against the emulator, whose fault injection answers HTTP 500.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.core.enums import IntentKind
from bot.core.timeutil import to_ms
from bot.data.store import MarketStore
from tests.engine import helpers
from tests.engine.restart import open_engine
from tests.engine.scripted import Scripted

SYM = "ORCAUSDT"
T0 = to_ms("2025-03-18T06:00:00Z")
#: The account read the Reconciler starts with (ccxt 4.5 ``fetch_balance`` on USDⓈ-M); the
#: executor's own start-up does not read it, so only the reconciliation meets the 500s.
RECONCILE_READ = "/fapi/v3/account"


async def test_a_5xx_during_start_reconciliation_blocks_trading_until_a_cycle_completes_it(
        tmp_path: Path, sample_dir: Path) -> None:
    store = MarketStore.load(sample_dir, symbols=[SYM])
    emu = await helpers.start(store, T0, [SYM], max_weight=10_000_000)
    sim = emu.state.exchange
    try:
        await emu.control("faults", {"p_5xx": 1.0, "paths": [RECONCILE_READ]})
        bot = await open_engine(tmp_path, emu, SYM, Scripted({SYM: (T0, IntentKind.ENTER_LONG)}))  # used to raise
        engine = bot.engine
        failed_reads = emu.state.faults.counts["5xx"]
        blocked = engine.trading_allowed
        report = await engine.safe_cycle()  # still failing: no entry while not reconciled
        entries_while_down = len(sim.all_orders(SYM, conditional=False))
        await emu.control("faults", {"p_5xx": 0.0, "paths": []})
        await engine.safe_cycle()  # reconciles: trading allowed from the next cycle
        allowed = engine.trading_allowed
        report = await engine.safe_cycle()
        await bot.stop()
        events = _events(helpers.engine_settings(tmp_path).journal.url)
    finally:
        await emu.close()

    assert failed_reads >= 1 and blocked is False
    assert entries_while_down == 0
    assert allowed is True and report is not None and report.entries == 1
    assert sim.position(SYM) is not None
    assert [s for t, s in events if t == "reconciliation_failed"] == ["error"]
    assert any(t == "reconciliation" for t, _ in events)


def _events(url: str) -> list[tuple[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [(r[0], r[1]) for r in conn.execute(sa.text("SELECT kind, severity FROM events ORDER BY ts"))]
    finally:
        engine.dispose()
