"""Run a soak: ``derivbot exchange-sim`` and ``derivbot run --mode testnet`` as processes, the bot
killed with SIGKILL at seeded random moments and restarted, hostile venue behaviours on, and the
checks of :mod:`bot.soak.checks` after every restart and at the end.

Why processes: SIGKILL must hit the real bot, between any two of its instructions, with nothing
flushed; only a separate process can be killed like that. The harness drives the emulator's
``/_sim/`` control API (never fault-injected) and reads the venue with its own client.

Time: the emulator's clock runs ``speed`` times faster than the wall; the soak ends when the
venue clock has advanced ``days``. Before each check the clock is paused (speed 0) and the bot
given two completed cycles, so that fills that just happened are journaled before they are
compared; then the clock runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.core.timeutil import MS_PER_DAY, iso, to_ms
from bot.data.bundled import sample_dir
from bot.emulator.margin_assets import usdc_symbol
from bot.soak import checks
from bot.soak.checks import BareTracker, Finding, Position
from bot.soak.observer import (
    DataValuer,
    JournalView,
    VenueObserver,
    entry_orders,
    observer_client,
    our_order_count,
    read_journal,
)

ROOT = Path(__file__).resolve().parents[2]
KEY, SECRET = "soak-key", "soak-secret"
CONTROL_HEADER = "X-Sim-Control-Token"


@dataclass
class SoakConfig:
    """Everything a soak run depends on; the same config and seed give the same schedule."""

    days: float = 10.0
    kills: int = 20
    seed: int = 1
    symbols: list[str] = field(default_factory=lambda: ["BTCUSDT", "PIPPINUSDT", "RIVERUSDT"])
    start: str = "2025-11-21T00:00:00Z"
    speed: float = 600.0
    cycle_seconds: float = 0.5
    data: Path = field(default_factory=sample_dir)
    workdir: Path = Path("soak-run")
    balance: float = 10_000.0
    #: entry odds per symbol per decision period, and the period (venue minutes)
    p_enter: float = 0.8
    period_minutes: int = 30
    stop_loss_pct: float = 0.015
    take_profit_pct: float = 0.015
    time_stop_hours: float = 1.0
    #: optional behaviours to leave off even when the emulator offers them (bnb_fee, adl, delist)
    without: tuple[str, ...] = ()
    faults: dict[str, float] = field(default_factory=lambda: {
        "p_5xx": 0.02, "p_429": 0.005, "p_timeout": 0.005, "p_drop_response": 0.05, "hang_seconds": 2.5})
    client_timeout_ms: int = 2000
    visibility_lag_ms: tuple[float, float] = (0.0, 800.0)
    #: Binance accepts a timestamp in [server - recvWindow, server + 1000]; a wall-clock signature
    #: therefore passes with an offset in [-1000, 5000]. Beyond it the bot resyncs to
    #: /fapi/v1/time, which at speed > 1 is the accelerated market clock: a resync cannot succeed
    #: there (an emulator limit: its server time is market time, not wall time plus the offset),
    #: so the soak stays inside.
    server_offset_ms: tuple[int, int] = (-900, 4000)
    transfers_per_day: float = 1.0
    sample_seconds: float = 0.25
    bnb_price: float = 600.0
    bnb_balance: float = 5.0
    adl_per_day: float = 0.5
    #: fraction of the soak after which the last symbol is delisted (0 = never)
    delist_at: float = 0.85
    #: the user's own USDC-margined position, held by hand beside the bot's: the USDC twin of
    #: this USDT symbol ("" = none), its size and the USDC wallet. The bot must leave it alone.
    usdc_variant: str = "BTCUSDT"
    usdc_quantity: float = 0.01
    usdc_balance: float = 5_000.0
    #: longest the bot may take to complete its first cycle after a start (wall seconds)
    first_cycle_timeout_s: float = 90.0
    max_bare_cycles: int = 1


@dataclass
class CheckReport:
    """One check point: when, what was compared, what failed."""

    label: str
    venue_ms: int
    findings: list[str]
    figures: dict[str, Any]


@dataclass
class SoakSummary:
    orders_sent: int = 0
    entries_sent: int = 0
    entries_executed: int = 0
    sigkills: int = 0
    restarts: int = 0
    duplicates: int = 0
    max_bare_seconds: float = 0.0
    max_bare_wall_seconds: float = 0.0
    max_bare_cycles: int = 0
    pnl_difference: float = 0.0
    journal_net_pnl: float = 0.0
    income_net_pnl: float = 0.0
    closed_trades: int = 0
    transfers: int = 0
    adl: int = 0
    delisted: list[str] = field(default_factory=list)
    venue_days: float = 0.0
    wall_seconds: float = 0.0
    behaviours: dict[str, str] = field(default_factory=dict)
    checks: list[CheckReport] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    fault_counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def soak_toml(cfg: SoakConfig, journal_url: str) -> str:
    """The bot's config for the soak: coin_flip on the soak's symbols, breakers that let a
    random strategy keep trading (its losses are fees and noise, not a reason to stop)."""
    symbols = ", ".join(json.dumps(s) for s in cfg.symbols)
    return f"""# generated by bot/soak/harness.py
mode = "testnet"

[exchange]
id = "binanceusdm"
testnet = true
timeout_ms = {cfg.client_timeout_ms}
request_budget_per_minute = 2400

[universe]
symbols = [{symbols}]

[risk]
risk_per_trade = 0.002
max_leverage = 3
margin_mode = "isolated"
max_open_positions = {len(cfg.symbols)}
max_same_side_positions = {len(cfg.symbols)}
cooldown_after_stop_minutes = 0
max_orders_per_minute = 1200
daily_loss_limit = 0.2
max_drawdown = 0.5
max_consecutive_losses = 100
pause_after_losses_minutes = 0

[strategies.coin_flip]
enabled = true
stop_loss_pct = {cfg.stop_loss_pct}
take_profit_pct = {cfg.take_profit_pct}
time_stop_hours = {cfg.time_stop_hours}
leverage = 2
params = {{ seed = {cfg.seed}, p_enter = {cfg.p_enter}, period_minutes = {cfg.period_minutes} }}

[engine]
cycle_seconds = {cfg.cycle_seconds}
halt_file = "{(cfg.workdir / 'HALT').as_posix()}"

[journal]
url = "{journal_url}"
"""


class Control:
    """The emulator's ``/_sim/`` API (unsigned, never fault-injected)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.http = aiohttp.ClientSession(headers={CONTROL_HEADER: token})

    async def call(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        method = self.http.post if body is not None else self.http.get
        async with method(f"{self.base_url}/_sim/{path}", json=body) as resp:
            try:
                data = await resp.json(content_type=None)
            except (json.JSONDecodeError, aiohttp.ContentTypeError):
                data = await resp.text()
            return resp.status, data

    async def ok(self, path: str, body: dict[str, Any] | None = None) -> Any:
        status, data = await self.call(path, body)
        if status != 200:
            raise RuntimeError(f"/_sim/{path} {json.dumps(body)} answered {status}: {data}")
        return data

    async def now_ms(self) -> int:
        return int((await self.ok("clock"))["now_ms"])

    async def close(self) -> None:
        await self.http.close()


class Soak:
    """One soak run (see the module docstring)."""

    def __init__(self, cfg: SoakConfig, log: Any = print) -> None:
        self.cfg = cfg
        self.log = log
        self.rng = random.Random(cfg.seed)
        self.summary = SoakSummary()
        #: bare stretches in venue time (how long, for the report) and in wall time (how many bot
        #: cycles: while the venue clock is paused for a check, the bot still cycles)
        self.tracker = BareTracker()
        self.wall_tracker = BareTracker()
        self.workdir = cfg.workdir.resolve()
        self.journal_url = f"sqlite:///{self.workdir / 'journal.sqlite'}"
        self.emulator: asyncio.subprocess.Process | None = None
        self.bot: asyncio.subprocess.Process | None = None
        self.bot_starts = 0
        self.token = f"soak-{cfg.seed}-{os.getpid()}"
        self.base_url = ""
        self.control: Control | None = None
        self.venue: VenueObserver | None = None
        self.start_ms = to_ms(cfg.start)
        self.end_ms = self.start_ms + int(cfg.days * MS_PER_DAY)
        self.lag_ms = 0.0
        self.wallet = cfg.balance
        self.optional: dict[str, bool] = {}
        self._sampling = True
        #: the user's USDC position as opened (symbol, side, quantity), None when off
        self.usdc_position: Position | None = None
        #: BNB valued from BNBUSDT in the data when it is there (the emulator then serves it, so
        #: the bot can read it too), else at the fixed ``bnb_price`` the emulator is given
        self.valuer = DataValuer(cfg.data, fixed={"BNB": cfg.bnb_price})

    # -- processes ---------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        # DERIVBOT_DEBUG: a bot that dies prints its (redacted) traceback into its log, for the report
        return {**os.environ, "PYTHONPATH": str(ROOT), "DERIVBOT_DEBUG": "1", "DERIVBOT_EXCHANGE__API_KEY": KEY,
                "DERIVBOT_EXCHANGE__API_SECRET": SECRET, "DERIVBOT_SIM_CONTROL_TOKEN": self.token}

    async def _start_emulator(self) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "bot", "exchange-sim", "--data", str(self.cfg.data), "--port", str(port),
               "--speed", "0", "--start", self.cfg.start, "--balance", str(self.cfg.balance),
               "--api-key", KEY, "--api-secret", SECRET, "--max-weight", str(10**9)]
        served = list(self.cfg.symbols)
        if self.valuer.has("BNB") and "BNBUSDT" not in served and "bnb_fee" not in self.cfg.without:
            served.append("BNBUSDT")  # the bot values BNB fees from this market, as on Binance
        for symbol in served:
            cmd += ["--symbols", symbol]
        if self._usdc_on():
            cmd += ["--usdc-variant", self.cfg.usdc_variant, "--usdc-balance", str(self.cfg.usdc_balance)]
        log = open(self.workdir / "emulator.log", "ab")  # noqa: SIM115 - the process owns it
        self.emulator = await asyncio.create_subprocess_exec(*cmd, stdout=log, stderr=log, env=self._env(),
                                                             cwd=str(ROOT))
        self.control = Control(self.base_url, self.token)
        for _ in range(600):
            if self.emulator.returncode is not None:
                raise RuntimeError(f"exchange-sim exited with {self.emulator.returncode}; see {log.name}")
            with contextlib.suppress(aiohttp.ClientError):
                await self.control.ok("status")
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("exchange-sim did not answer within 60 s")

    async def _start_bot(self) -> None:
        self.bot_starts += 1
        cmd = [sys.executable, "-m", "bot", "run", "--mode", "testnet", "--exchange-url", self.base_url,
               "-c", str(self.workdir / "soak.toml"), "--journal", self.journal_url]
        log = open(self.workdir / f"bot-{self.bot_starts:03d}.log", "ab")  # noqa: SIM115
        self.bot = await asyncio.create_subprocess_exec(*cmd, stdout=log, stderr=log, env=self._env(),
                                                        cwd=str(self.workdir))

    async def _kill_bot(self) -> None:
        assert self.bot is not None
        if self.bot.returncode is None:
            self.bot.send_signal(signal.SIGKILL)
            self.summary.sigkills += 1
        await self.bot.wait()

    async def _stop_bot(self) -> None:
        """SIGTERM at the end: the bot stops after its cycle, stops stay on the exchange."""
        if self.bot is None or self.bot.returncode is not None:
            return
        self.bot.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.bot.wait(), 60)
        except TimeoutError:
            await self._kill_bot()

    # -- venue behaviours --------------------------------------------------------------------

    def _usdc_on(self) -> bool:
        return bool(self.cfg.usdc_variant) and "usdc" not in self.cfg.without

    async def _open_usdc_position(self) -> None:
        """The user's USDC-margined position, opened by hand before any fault is on (a market
        order resent after a lost answer would open it twice)."""
        assert self.venue is not None
        symbol = usdc_symbol(self.cfg.usdc_variant)
        client = self.venue.client
        await client.load_markets()
        market = client.safe_symbol(symbol)
        await client.set_leverage(1, market)  # a hand-held position at 1x: a week of BTC moves cannot liquidate it
        await client.create_order(market, "market", "buy", self.cfg.usdc_quantity)
        self.usdc_position = await self.venue.position_of(symbol)
        self.summary.behaviours["USDC-margined position held by hand"] = (
            f"{symbol} long {self.cfg.usdc_quantity:g} (USDC wallet {self.cfg.usdc_balance:g}); checked untouched")

    async def _probe(self) -> None:
        """Switch on every Part 1 behaviour the emulator offers; print which ones are on."""
        assert self.control is not None
        b = self.summary.behaviours
        b["USDC-margined position held by hand"] = "off"
        if self._usdc_on():
            await self._open_usdc_position()
        b["PERCENT_PRICE, -2021, order-count limits, client ids unique among open orders"] = "on (always)"
        faults = {**self.cfg.faults, "seed": self.cfg.seed}
        await self.control.ok("faults", faults)
        b["random faults"] = ", ".join(f"{k}={v:g}" for k, v in self.cfg.faults.items())
        await self._vary_scenario()
        b["order visibility lag"] = f"{self.cfg.visibility_lag_ms[0]:g}..{self.cfg.visibility_lag_ms[1]:g} ms"
        b["server time offset"] = f"{self.cfg.server_offset_ms[0]}..{self.cfg.server_offset_ms[1]} ms"
        b["transfers in/out"] = f"{self.cfg.transfers_per_day:g} per venue day"
        account = await self.control.ok("account")
        self.optional["bnb_fee"] = "bnb_fee" in account and "bnb_fee" not in self.cfg.without
        if self.optional["bnb_fee"]:
            settings: dict[str, Any] = {"bnb_fee": True, "bnb_balance": self.cfg.bnb_balance}
            if not self.valuer.has("BNB"):
                settings["bnb_price"] = self.cfg.bnb_price
            await self.control.ok("account", settings)
        where = "BNBUSDT replayed" if self.valuer.has("BNB") else (
            f"fixed {self.cfg.bnb_price:g} USDT, no BNBUSDT market: the bot cannot value them")
        b["BNB fees"] = f"on ({self.cfg.bnb_balance:g} BNB, {where})" if self.optional["bnb_fee"] else "off"
        for name in ("adl", "delist"):
            status, _ = await self.control.call(name, {})
            self.optional[name] = status != 404 and name not in self.cfg.without
        b["ADL"] = (f"{self.cfg.adl_per_day:g} per venue day on a held position" if self.optional["adl"]
                    else "off")
        b["delisting"] = (f"{self.cfg.symbols[-1]} at {self.cfg.delist_at:.0%} of the soak" if self.optional["delist"]
                          and self.cfg.delist_at else "off")

    async def _vary_scenario(self) -> None:
        """A new visibility lag and server clock offset (called at the start and at every restart)."""
        assert self.control is not None
        lo, hi = self.cfg.visibility_lag_ms
        self.lag_ms = self.rng.uniform(lo, hi)
        await self.control.ok("scenario", {"order_visibility_lag_ms": self.lag_ms})
        olo, ohi = self.cfg.server_offset_ms
        await self.control.ok("account", {"server_time_offset_ms": self.rng.randint(olo, ohi)})

    async def _transfer(self) -> None:
        """Move 2-8% of the wallet out, or some of it back in (a user's spot transfer)."""
        assert self.control is not None
        amount = round(self.rng.uniform(0.02, 0.08) * self.wallet, 2) * (1 if self.rng.random() < 0.5 else -1)
        status, data = await self.control.call("transfer", {"asset": "USDT", "amount": amount})
        if status == 200:
            self.summary.transfers += 1
            self.wallet = float(data.get("wallet", self.wallet))
        else:
            self.log(f"  transfer {amount:+.2f} refused: {data}")

    async def _adl(self) -> None:
        """Auto-deleverage one held position (the venue closes it; the bot must book it)."""
        assert self.control is not None and self.venue is not None
        try:
            held = await self.venue.positions()
        except Exception:
            return
        if not held:
            return
        target = self.rng.choice(held)
        status, data = await self.control.call("adl", {"symbol": target.symbol})
        if status == 200:
            self.summary.adl += 1
            self.log(f"  ADL {target.symbol} {target.side} {target.quantity:g}")
        else:
            self.log(f"  ADL {target.symbol} refused: {data}")

    async def _delist(self) -> None:
        """The last symbol leaves trading at its current mark price (settled, then CLOSE)."""
        assert self.control is not None and self.venue is not None
        symbol = self.cfg.symbols[-1]
        try:
            mark = float(await self.venue.mark_price(symbol))
        except Exception as exc:
            self.log(f"  delist {symbol} skipped: no mark price ({type(exc).__name__})")
            return
        status, data = await self.control.call("delist", {"symbol": symbol, "delivery_price": mark})
        if status == 200:
            self.summary.delisted.append(symbol)
            self.log(f"  delisted {symbol} at {mark:g}")
        else:
            self.log(f"  delist {symbol} refused: {data}")

    # -- sampling ----------------------------------------------------------------------------

    async def _sampler(self) -> None:
        """Positions and resting stops, as often as the venue answers: the bare-time record."""
        assert self.venue is not None and self.control is not None
        while self._sampling:
            try:
                now = await self.control.now_ms()
                positions = await self.venue.positions()
                orders = await self.venue.conditionals()
                was_open = dict(self.tracker.open)
                found = checks.protection(positions, orders)
                self.tracker.sample(now, found)
                self.wall_tracker.sample(_wall_ms(), found)
                self._log_stretches(was_open, now, positions, orders)
            except Exception as exc:  # a read that failed every retry: skip this sample
                self.log(f"  sample skipped: {type(exc).__name__}: {str(exc)[:160]}")
            await asyncio.sleep(self.cfg.sample_seconds)

    def _log_stretches(self, was_open: dict[str, checks.BareStretch], now: int, positions: list,
                       orders: list) -> None:
        """One line when a position goes bare and when it is covered again, with the stops the
        venue listed: a long bare stretch in the report can then be matched with the bot's log."""
        for symbol, stretch in self.tracker.open.items():
            if symbol not in was_open:
                stops = [f"{o.order_type} {o.side} {o.quantity}" for o in orders if o.symbol == symbol]
                held = [f"{p.side} {p.quantity:g}" for p in positions if p.symbol == symbol]
                self.log(f"  bare {symbol} at {iso(now)}: {stretch.detail} (position {held}, stops {stops}, "
                         f"bot log bot-{self.bot_starts:03d}.log)")
        for symbol in was_open.keys() - self.tracker.open.keys():
            self.log(f"  covered {symbol} at {iso(now)} after {(now - was_open[symbol].start_ms) / 1000:.0f} s "
                     "venue time")

    # -- the bot's progress ------------------------------------------------------------------

    def _journal(self, now: int | None = None) -> JournalView | None:
        try:
            return read_journal(self.journal_url, self.valuer)
        except Exception:  # not created yet, or mid-migration
            return None

    async def _cycles_of_latest_run(self, runs_before: int) -> int:
        """Completed cycles of the run started after ``runs_before`` runs (0 until it exists)."""
        from bot.journal.reader import JournalReader

        try:
            with JournalReader(self.journal_url) as reader:
                runs = reader.runs()
                if len(runs) <= runs_before:
                    return 0
                return len(reader.equity(run_id=runs[0].id))
        except Exception:
            return 0

    async def _wait_cycles(self, runs_before: int, cycles: int, label: str) -> bool:
        deadline = time.monotonic() + self.cfg.first_cycle_timeout_s
        while time.monotonic() < deadline:
            assert self.bot is not None
            if self.bot.returncode is not None:
                self.summary.failures.append(f"{label}: the bot exited with {self.bot.returncode} "
                                             f"(see bot-{self.bot_starts:03d}.log)")
                return False
            if await self._cycles_of_latest_run(runs_before) >= cycles:
                return True
            await asyncio.sleep(0.1)
        self.summary.failures.append(f"{label}: the bot did not complete {cycles} cycle(s) within "
                                     f"{self.cfg.first_cycle_timeout_s:g} s")
        return False

    # -- checks ------------------------------------------------------------------------------

    async def check(self, label: str, runs_before: int) -> CheckReport:
        """Pause the venue clock, let the bot finish two more cycles, compare everything."""
        assert self.control is not None and self.venue is not None
        await self.control.ok("clock", {"speed": 0})
        done = await self._cycles_of_latest_run(runs_before)
        await self._wait_cycles(runs_before, done + 2, label)
        now = await self.control.now_ms()
        findings: list[Finding] = []
        journal, snapshot = await self._settled_reads(now, runs_before, label)
        positions, stops, orders, trades, income_rows = snapshot
        protection = checks.protection(positions, stops)
        if protection:  # a stop placed less than the visibility lag ago is not listed yet
            await asyncio.sleep(self.lag_ms / 1000 + 1.0)
            protection = checks.protection(await self.venue.positions(), await self.venue.conditionals())
        findings += protection
        entries = entry_orders(orders)
        dups = checks.duplicate_entries(entries)
        findings += dups
        figures: dict[str, Any] = {}
        if journal is None:
            findings.append(Finding("journal", self.journal_url, "unreadable"))
        else:
            findings += checks.open_trades_vs_positions(journal.open_trades, positions)
            findings += checks.fills_vs_user_trades(journal.fills, trades)
            if self.usdc_position is not None:
                findings += checks.untouched(self.usdc_position,
                                             await self.venue.position_of(self.usdc_position.symbol),
                                             await self.venue.orders_of(self.usdc_position.symbol,
                                                                        self.start_ms - MS_PER_DAY, now + 1))
            income = checks.income_pnl(income_rows, self.valuer)
            findings += checks.pnl_vs_income(journal.net_pnl, income)
            findings += checks.bare_too_long(self.wall_tracker.stretches(), journal.cycle_walls, _wall_ms(),
                                             self.cfg.max_bare_cycles, grace_ms=self._lag_wall_ms())
            self._figures(journal, income, orders, entries, now)
            figures = {"journal_net": round(journal.net_pnl, 4), "income_net": round(income, 4),
                       "open_trades": len(journal.open_trades), "positions": len(positions),
                       "closed_trades": journal.closed_trades}
        self.summary.duplicates = max(self.summary.duplicates, len(dups))
        report = CheckReport(label, now, [str(f) for f in findings], figures)
        self.summary.checks.append(report)
        # a finding still there at the next check is reported once, at the first check that saw it
        known = {f.split(": ", 1)[1] for f in self.summary.failures if ": " in f}
        self.summary.failures += [f"{label}: {f}" for f in findings if str(f) not in known]
        verdict = "ok" if not findings else f"{len(findings)} FAILED"
        self.log(f"check {label} at {iso(now)}: {verdict} {json.dumps(figures)}")
        for f in findings:
            self.log(f"    {f}")
        await self.control.ok("clock", {"speed": self.cfg.speed})
        return report

    async def _settled_reads(self, now: int, runs_before: int, label: str,
                             rounds: int = 6) -> tuple[JournalView | None, tuple[list, list, list, list, list]]:
        """Journal and venue read at rest: the same state (:func:`checks.state_key`) before and
        after one whole bot cycle. The bot keeps cycling while the clock is paused; an exit it
        sends changes the venue at once and the journal some requests later, so one read of each
        can catch it in between (the soak did: a journal trade "still open" for a position the
        bot had just closed, booked a second later). After ``rounds`` unsettled tries the last
        reads are compared anyway, and the check says so."""
        previous: tuple | None = None
        for _round in range(rounds):
            journal = self._journal(now)
            snapshot = await self._read_venue(now)
            key = None if journal is None else _state_key(journal, snapshot)
            if key is not None and key == previous:
                return journal, snapshot
            previous = key
            await self._wait_cycles(runs_before, await self._cycles_of_latest_run(runs_before) + 1, label)
        self.log(f"  {label}: journal and venue still moving after {rounds} cycles; compared as last read")
        return journal, snapshot

    async def _read_venue(self, now: int) -> tuple[list, list, list, list, list]:
        """Positions, resting stops, orders, user trades and income rows, read back to back."""
        assert self.venue is not None
        positions = await self.venue.positions()
        stops = await self.venue.conditionals()
        orders = await self.venue.orders(self.start_ms - MS_PER_DAY, now + 1)
        trades = await self.venue.user_trades()
        income = await self.venue.income(self.start_ms - MS_PER_DAY, now + 1)
        return positions, stops, orders, trades, income

    def _lag_wall_ms(self) -> int:
        """How late a just-placed stop can show in a sample (wall ms): the visibility lag plus
        one sampling interval."""
        return int(self.cfg.visibility_lag_ms[1] + 1000 * self.cfg.sample_seconds)

    def _figures(self, journal: JournalView, income: float, orders: list[dict[str, Any]], entries: list,
                 now: int) -> None:
        s = self.summary
        s.orders_sent = our_order_count(orders)
        s.entries_sent, s.entries_executed = checks.count_entries(entries)
        s.journal_net_pnl, s.income_net_pnl = journal.net_pnl, income
        s.pnl_difference = journal.net_pnl - income
        s.closed_trades = journal.closed_trades
        ends = sorted(journal.cycle_walls)
        grace, wall_now = self._lag_wall_ms(), _wall_ms()
        for stretch in self.tracker.stretches():
            s.max_bare_seconds = max(s.max_bare_seconds, stretch.duration_ms(now) / 1000)
        for stretch in self.wall_tracker.stretches():
            s.max_bare_wall_seconds = max(s.max_bare_wall_seconds, stretch.duration_ms(wall_now) / 1000)
            s.max_bare_cycles = max(s.max_bare_cycles, checks.cycles_within(stretch, ends, wall_now, grace))

    # -- the run -----------------------------------------------------------------------------

    def _schedule(self) -> list[int]:
        """Kill instants (venue ms), uniform over the soak, seeded; none in its first hour."""
        lo = self.start_ms + 3_600_000
        return sorted(self.rng.randint(lo, self.end_ms - 1) for _ in range(self.cfg.kills))

    async def run(self) -> SoakSummary:
        began = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        for stale in self.workdir.glob("journal.sqlite*"):
            stale.unlink()
        (self.workdir / "soak.toml").write_text(soak_toml(self.cfg, self.journal_url))
        sampler: asyncio.Task | None = None
        try:
            await self._start_emulator()
            assert self.control is not None
            self.venue = VenueObserver(observer_client(self.base_url, KEY, SECRET), self.cfg.symbols)
            await self._probe()
            for name, state in self.summary.behaviours.items():
                self.log(f"behaviour {name}: {state}")
            await self._start_bot()
            if not await self._wait_cycles(0, 1, "first start"):
                return self._finish(began)
            await self.control.ok("clock", {"speed": self.cfg.speed})
            sampler = asyncio.create_task(self._sampler())
            await self._loop()
            await self.check("end", self.bot_starts - 1)
        finally:
            self._sampling = False
            if sampler is not None:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sampler
            await self._shutdown()
        return self._finish(began)

    async def _loop(self) -> None:
        """Kill and restart at the scheduled instants; transfers now and then; until the end."""
        assert self.control is not None
        kills = self._schedule()
        day_ms = MS_PER_DAY
        next_transfer = self.start_ms + int(self.rng.expovariate(self.cfg.transfers_per_day or 1e-9) * day_ms)
        adl_rate = self.cfg.adl_per_day if self.optional.get("adl") else 0.0
        next_adl = self.start_ms + int(self.rng.expovariate(adl_rate) * day_ms) if adl_rate else None
        delist_ms = self.start_ms + int(self.cfg.delist_at * (self.end_ms - self.start_ms)) if (
            self.optional.get("delist") and self.cfg.delist_at) else None
        while True:
            now = await self.control.now_ms()
            if now >= self.end_ms:
                for _ in kills:  # restarts took longer than planned: the promised kills still happen
                    await self._kill_and_restart()
                return
            if next_adl is not None and now >= next_adl:
                await self._adl()
                next_adl = now + int(self.rng.expovariate(adl_rate) * day_ms)
            if delist_ms is not None and now >= delist_ms:
                await self._delist()
                delist_ms = None
            if self.cfg.transfers_per_day and now >= next_transfer:
                await self._transfer()
                next_transfer = now + int(self.rng.expovariate(self.cfg.transfers_per_day) * day_ms)
            if kills and now >= kills[0]:
                kills.pop(0)
                await self._kill_and_restart()
                continue
            assert self.bot is not None
            if self.bot.returncode is not None:
                self.summary.failures.append(f"the bot exited by itself with {self.bot.returncode} at {iso(now)} "
                                             f"(see bot-{self.bot_starts:03d}.log); restarted")
                await self._restart_and_check("after unexpected exit")
                continue
            await asyncio.sleep(0.05 + self.rng.random() * 0.1)

    async def _kill_and_restart(self) -> None:
        await self._kill_bot()
        self.log(f"SIGKILL #{self.summary.sigkills} at {iso(await self.control.now_ms())}")  # type: ignore[union-attr]
        await asyncio.sleep(self.rng.uniform(0.0, 2.0))  # down for a while: stops alone protect
        await self._restart_and_check(f"restart {self.summary.sigkills}")

    async def _restart_and_check(self, label: str) -> None:
        await self._vary_scenario()
        runs_before = self.bot_starts
        await self._start_bot()
        self.summary.restarts += 1
        if await self._wait_cycles(runs_before, 1, label):
            await self.check(label, runs_before)

    async def _shutdown(self) -> None:
        if self.control is not None:
            with contextlib.suppress(Exception):
                self.summary.fault_counts = (await self.control.ok("faults")).get("counts", {})
        await self._stop_bot()
        if self.venue is not None:
            await self.venue.client.close()
        if self.control is not None:
            await self.control.close()
        if self.emulator is not None and self.emulator.returncode is None:
            self.emulator.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.emulator.wait(), 20)
            except TimeoutError:
                self.emulator.kill()
                await self.emulator.wait()

    def _finish(self, began: float) -> SoakSummary:
        s = self.summary
        s.wall_seconds = round(time.monotonic() - began, 1)
        s.venue_days = self.cfg.days
        return s


def _wall_ms() -> int:
    return int(time.time() * 1000)


def _state_key(journal: JournalView, snapshot: tuple[list, list, list, list, list]) -> tuple:
    positions, stops, orders, trades, income_rows = snapshot
    return checks.state_key(journal.open_trades, len(journal.fills), journal.closed_trades, positions, stops, orders,
                            len(trades), len(income_rows))


def print_summary(s: SoakSummary, log: Any = print) -> None:
    """The figures the issue asks for, one per line."""
    log("== soak summary ==")
    log(f"orders sent:              {s.orders_sent}")
    log(f"entries sent / executed:  {s.entries_sent} / {s.entries_executed}")
    log(f"closed trades (journal):  {s.closed_trades}")
    log(f"SIGKILLs / restarts:      {s.sigkills} / {s.restarts}")
    log(f"transfers / ADL / delist: {s.transfers} / {s.adl} / {', '.join(s.delisted) or '-'}")
    log(f"duplicate entries:        {s.duplicates}")
    log(f"max bare time:            {s.max_bare_seconds:.0f} s venue time, {s.max_bare_wall_seconds:.1f} s wall "
        f"time, {s.max_bare_cycles} complete bot cycle(s)")
    log(f"net P&L journal / income: {s.journal_net_pnl:.4f} / {s.income_net_pnl:.4f} USDT "
        f"(difference {s.pnl_difference:+.4f})")
    log(f"checks:                   {len(s.checks)} ({sum(1 for c in s.checks if not c.findings)} clean)")
    log(f"faults injected:          {s.fault_counts}")
    log(f"venue days / wall time:   {s.venue_days:g} / {s.wall_seconds:.0f} s")
    log(f"result:                   {'OK' if s.ok else f'{len(s.failures)} FAILURE(S)'}")
    for f in s.failures[:50]:
        log(f"  - {f}")
