"""The short soak: the real bot process (``derivbot run --mode testnet``) against ``derivbot
exchange-sim`` with faults, a visibility lag, a server clock offset, transfers, ADL and
delisting on, SIGKILLed twice and restarted; every check of bot/soak/checks.py must pass.

The long one is ``scripts/soak.py`` (>= 1,000 orders, >= 20 SIGKILLs). This one keeps the
suite's budget: one venue day at speed 5,000, cycles paced by the bot's own request budget.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.soak.harness import Soak, SoakConfig, print_summary

pytestmark = pytest.mark.slow


async def test_short_soak_every_check_passes(tmp_path: Path, sample_dir: Path) -> None:
    cfg = SoakConfig(days=1.0, kills=2, seed=5, speed=5000.0, cycle_seconds=0.2, data=sample_dir,
                     workdir=tmp_path / "soak", without=("bnb_fee",), transfers_per_day=1.0, adl_per_day=1.0)
    lines: list[str] = []
    summary = await Soak(cfg, log=lines.append).run()
    print_summary(summary, log=lines.append)
    report = "\n".join(lines)
    # the soak really ran: the bot traded, was killed and restarted, and was checked each time
    assert summary.sigkills == 2 and summary.restarts >= 2, report
    assert summary.entries_executed >= 3 and summary.orders_sent > summary.entries_executed, report
    assert len(summary.checks) >= 3, report
    assert summary.ok, report
