"""The soak (issue 11, Part 3): the real bot, killed and restarted, against a hostile emulator.

Starts ``derivbot exchange-sim`` (replaying recorded Binance data) and ``derivbot run --mode testnet
--exchange-url ...`` with the seeded random-entry strategy ``coin_flip`` on the chosen symbols,
switches on random faults (5xx, 429, timeouts, dropped order responses), an order visibility
lag, a server clock offset and transfers (plus BNB fees, ADL and delisting when the emulator
offers them; PERCENT_PRICE, -2021 and the order-count limits are always on), opens a
USDC-margined BTCUSDC position by hand beside the bot's (the user's own: the bot must leave it
alone), SIGKILLs the bot at seeded random moments and restarts it. After every restart and at
the end it checks: positions without exactly one covering stop (sampled continuously; how long,
in venue seconds and bot cycles), executed entries per intent, journal open trades vs exchange positions, journal fills
vs exchange user trades, journal net P&L vs the income history (within 0.01 USDT), the USDC
position as opened and free of the bot's orders. Each check compares journal and venue at rest
(the same state before and after one whole bot cycle). Exit status 1 when any check fails.

Settings for the long soak (>= 1,000 orders, >= 20 SIGKILLs, ~20-30 min on 2 cores):

    python scripts/soak.py --days 7 --kills 24 --symbols BTCUSDT ETHUSDT SOLUSDT DOGEUSDT XRPUSDT PIPPINUSDT \\
        RIVERUSDT ZECUSDT --out soak.json

What paces it: the bot's cycle, not the venue clock. ``derivbot run`` keeps Binance's request
budget (2,400 weight a minute, ccxt throttled to match), so a cycle over six symbols with faults
takes about 3-8 wall seconds on this machine whatever ``--cycle-seconds`` says. At speed 600
(one wall second = ten venue minutes) that is roughly one venue hour per cycle, which is what
coin_flip's settings are chosen for: a flip per symbol every 30 venue minutes (p = 0.8), 1.5%
stops and take-profits and a 1-hour time stop, so most trades end within a cycle or two and each
is an entry, a stop, a take-profit and often a market exit: about 200 orders per venue day on six
symbols. Each SIGKILL costs a start-up (~10 s) and a check (two cycles with the clock paused).
Data: the shared Binance set when present (it has BNBUSDT, so BNB-paid fees can be valued, as on
Binance), else bot/data/sample (BTC, PIPPIN, RIVER; BNB fees then cannot be valued: use
``--without bnb_fee``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
#: The shared Binance data (BTC, PIPPIN, RIVER and BNBUSDT, so BNB-paid fees can be valued);
#: the bundled sample (no BNB) when it is not there.
SHARED = ROOT.parent / "shared" / "data" / "Harthor_marketlab" / "user_data" / "data"
DEFAULT_DATA = SHARED if SHARED.is_dir() else ROOT / "bot" / "data" / "sample"

from bot.soak.harness import Soak, SoakConfig, SoakSummary, print_summary  # noqa: E402


def parse(argv: list[str] | None = None) -> tuple[SoakConfig, Path | None]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--days", type=float, default=12.0, help="venue days to run (default 12)")
    p.add_argument("--kills", type=int, default=24, help="SIGKILLs at seeded random moments (default 24)")
    p.add_argument("--seed", type=int, default=1, help="seed of the schedule, faults and coin flips")
    p.add_argument("--symbols", nargs="+", default=["BTCUSDT", "PIPPINUSDT", "RIVERUSDT"],
                   help="symbols to trade (must be in --data over the whole soak)")
    p.add_argument("--start", default="2025-11-21T00:00:00Z", help="venue start time (ISO UTC)")
    p.add_argument("--speed", type=float, default=600.0, help="venue clock speed vs wall time (default 600)")
    p.add_argument("--cycle-seconds", type=float, default=0.5, help="the bot's cycle, wall seconds (default 0.5)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help=f"market data for the emulator (default {DEFAULT_DATA})")
    p.add_argument("--workdir", type=Path, default=Path("soak-run"),
                   help="journal, generated config and process logs (default ./soak-run)")
    p.add_argument("--without", nargs="*", default=[], choices=["bnb_fee", "adl", "delist", "usdc"],
                   help="leave these optional behaviours off even when the emulator offers them")
    p.add_argument("--out", type=Path, default=None, help="write the JSON summary here")
    a = p.parse_args(argv)
    if a.days <= 0 or a.kills < 0 or a.speed <= 0 or a.cycle_seconds <= 0:
        p.error("--days, --speed and --cycle-seconds must be > 0 and --kills >= 0")
    return SoakConfig(days=a.days, kills=a.kills, seed=a.seed, symbols=[s.upper() for s in a.symbols],
                      start=a.start, speed=a.speed, cycle_seconds=a.cycle_seconds, data=a.data,
                      workdir=a.workdir, without=tuple(a.without)), a.out


async def _run(cfg: SoakConfig) -> SoakSummary:
    """The soak, cancelled by SIGTERM like by Ctrl-C: either way the emulator and the bot it
    started are stopped (the harness's ``finally``), never left running."""
    task = asyncio.ensure_future(Soak(cfg, log=lambda line: print(line, flush=True)).run())
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await task


def main(argv: list[str] | None = None) -> int:
    cfg, out = parse(argv)
    summary = asyncio.run(_run(cfg))
    print_summary(summary)
    if out is not None:
        out.write_text(json.dumps(summary.to_json(), indent=2, default=str))
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
