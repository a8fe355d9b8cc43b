"""``derivbot exchange-sim``: serve the offline Binance USDⓈ-M emulator over recorded data.

Every flag is checked before anything starts (one line naming the flag and the limit, exit 2):
the process is often started by scripts, and a traceback from deep inside aiohttp or numpy
does not say which flag was wrong. Logging goes through the redacting sink with loguru's
``diagnose`` off, so a server error never prints local variables (keys, signatures).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli.common import EXIT_CONFIG, bundled_sample, fail

if TYPE_CHECKING:
    from bot.emulator import EmulatorState

CONTROL_TOKEN_ENV = "DERIVBOT_SIM_CONTROL_TOKEN"
MAX_PORT = 65_535
#: Largest starting wallet (USDT); beyond it the margin arithmetic stops meaning anything.
MAX_BALANCE = 1e12
#: Weight budget per minute; Binance's is 2,400, the benchmarks use up to 1e9.
MAX_WEIGHT = 10**12


def _is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses; anything else exposes the emulator."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def _check_flags(port: int, speed: float, balance: float, max_weight: int) -> None:
    """Exit 2 with one line naming the flag and its limit for any value the emulator cannot use."""
    from bot.emulator.clock import MAX_SPEED

    if not 0 <= port <= MAX_PORT:
        fail(f"--port must be within 1..{MAX_PORT} (or 0 for any free port), got {port}", EXIT_CONFIG)
    if not math.isfinite(speed) or not 0 <= speed <= MAX_SPEED:
        fail(f"--speed must be a finite number within [0, {MAX_SPEED:g}], got {speed}", EXIT_CONFIG)
    if not math.isfinite(balance) or not 0 <= balance <= MAX_BALANCE:
        fail(f"--balance must be a finite number within [0, {MAX_BALANCE:g}], got {balance}", EXIT_CONFIG)
    if not 0 < max_weight <= MAX_WEIGHT:
        fail(f"--max-weight must be within 1..{MAX_WEIGHT}, got {max_weight}", EXIT_CONFIG)


def _warn_if_exposed(host: str, token: str | None) -> None:
    """A non-loopback bind serves the exchange API and its unsigned control API to the network."""
    from loguru import logger

    if _is_loopback(host):
        return
    advice = "" if token else f"; set --control-token (or {CONTROL_TOKEN_ENV}) to guard /_sim/"
    logger.warning("exchange-sim binds {!r}, which is not loopback: anyone who can reach this machine can "
                   "trade on it and move its clock and prices{}", host, advice)


def _chosen_symbols(store: Any, symbols: list[str] | None) -> list[str] | None:
    """Normalise ``--symbols`` (``ORCA/USDT:USDT`` -> ``ORCAUSDT``); unknown ones exit 2 with what the data has."""
    if not symbols:
        return None
    chosen = [s.strip().upper().replace("/", "").split(":")[0] for s in symbols]
    unknown = [s for s in chosen if s not in store]
    if unknown:
        fail(f"--symbols: not in the data: {', '.join(unknown)}; the data has: {', '.join(store.symbols)}",
             EXIT_CONFIG)
    return chosen


def _start_ms(store: Any, chosen: list[str] | None, start: str | None) -> int:
    """``--start``, or by default the first time most served symbols trade (see :func:`busiest_start`)."""
    from bot.core.timeutil import to_ms

    if start:
        try:
            return to_ms(start)
        except (ValueError, TypeError, OverflowError) as exc:
            fail(f"--start: {exc} (give an ISO UTC time such as 2025-03-18T00:00:00Z)", EXIT_CONFIG)
    spans = [(int(store[s].ts[0]), int(store[s].ts[-1]) + int(store[s].bar_ms))
             for s in (chosen or store.symbols) if len(store[s].ts)]
    if not spans:
        fail("the chosen symbols have no price bars to serve", EXIT_CONFIG)
    return busiest_start(spans)


def busiest_start(spans: list[tuple[int, int]]) -> int:
    """One day after a symbol's first bar, chosen where the most symbols have data (earliest on ties).

    The emulator lists a symbol only while the replay covers it (bot.emulator.listings), so a start
    before most of the data begins would serve a market of one or two symbols. ``spans`` are
    (first bar open, end of last bar) per symbol; the day of history lets strategies warm up.
    """
    from bot.core.timeutil import MS_PER_DAY

    def live(t: int) -> int:
        return sum(first + MS_PER_DAY <= t < end for first, end in spans)

    candidates = sorted(first + MS_PER_DAY for first, _ in spans)
    return max(candidates, key=lambda t: (live(t), -t))


def _bind_error(exc: OSError, host: str, port: int) -> str:
    """One line for a failed bind: port taken, address not on this machine, or unknown host."""
    if exc.errno == errno.EADDRINUSE:
        return f"--port {port}: already in use on {host} (stop the other process or pick another port; 0 = any free)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"--host {host}: not an address of this machine"
    if exc.errno == errno.EACCES:
        return f"--port {port}: permission denied (ports below 1024 need privileges)"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


async def _serve(state: EmulatorState, host: str, port: int, start_ms: int, speed: float) -> None:
    from loguru import logger

    from bot.core.timeutil import iso
    from bot.emulator import start_emulator

    try:
        runner, base_url = await start_emulator(state, host, port)
    except OSError as exc:
        fail(_bind_error(exc, host, port), EXIT_CONFIG)
    logger.info("emulator clock starts at {} (speed x{}), symbols: {}", iso(start_ms), speed,
                ", ".join(state.symbols))
    logger.info("point the bot at it with exchange.base_url = {!r}", base_url)
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        await runner.cleanup()


def _run(data: Path | None, host: str, port: int, speed: float, start: str | None, balance: float,
         api_key: str, api_secret: str, symbols: list[str] | None, max_weight: int,
         control_token: str | None, usdc_variants: list[str] | None = None, usdc_balance: float = 10_000.0) -> None:
    from bot.data.store import MarketStore
    from bot.emulator import EmulatorConfig, EmulatorState
    from bot.logging import setup_logging

    # The redacting console sink, diagnose off: no locals (keys, signatures) in any traceback.
    setup_logging(None, secrets=[api_key, api_secret, control_token or ""])
    _warn_if_exposed(host, control_token)
    if data is None:
        data = bundled_sample()
    if not data.is_dir():
        fail(f"data directory not found: {data} (give --data DIR, or leave it out for the bundled sample)",
             EXIT_CONFIG)
    store = MarketStore.load(data)
    if not store.symbols:
        fail(f"no market data found under {data}", EXIT_CONFIG)
    chosen = _chosen_symbols(store, symbols)
    start_ms = _start_ms(store, chosen, start)
    config = EmulatorConfig(api_key=api_key, api_secret=api_secret, balance=balance, max_weight=max_weight,
                            control_token=control_token or None,
                            usdc_variants=tuple(s.upper() for s in usdc_variants or ()), usdc_balance=usdc_balance)
    try:
        state = EmulatorState.build(store, start_ms, speed=speed, config=config, symbols=chosen)
    except ValueError as exc:
        fail(str(exc), EXIT_CONFIG)
    asyncio.run(_serve(state, host, port, start_ms, speed))


def exchange_sim(
    data: Annotated[Path | None, typer.Option(
        "--data", help="Market data directory (freqtrade layout; default: the bundled real sample).")] = None,
    port: Annotated[int, typer.Option("--port", help="TCP port, 1..65535 (0 = any free port).")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Interface to bind (warns unless loopback).")] = "127.0.0.1",
    speed: Annotated[float, typer.Option("--speed", help="Clock rate vs wall time; 0 = step via /_sim/clock.")] = 1.0,
    start: Annotated[str | None, typer.Option(
        "--start", help="Start time, ISO UTC (default: the first day most symbols have data).")] = None,
    balance: Annotated[float, typer.Option("--balance", help="Starting USDT wallet.")] = 10_000.0,
    api_key: Annotated[str, typer.Option("--api-key", help="API key the emulator accepts.")] = "test",
    api_secret: Annotated[str, typer.Option("--api-secret", help="API secret the emulator accepts.")] = "test",
    symbols: Annotated[list[str] | None, typer.Option("--symbols", help="Symbols to serve (repeatable).")] = None,
    max_weight: Annotated[int, typer.Option("--max-weight", help="Request weight per minute before 429.")] = 2400,
    control_token: Annotated[str | None, typer.Option(
        "--control-token", envvar=CONTROL_TOKEN_ENV, show_envvar=True,
        help="Require this token in the X-Sim-Control-Token header of every /_sim/ request.")] = None,
    usdc_variant: Annotated[list[str] | None, typer.Option(
        "--usdc-variant", help="Also list this USDT symbol's USDC-margined twin (e.g. BTCUSDT -> BTCUSDC, priced "
                               "from the same data, margined from a USDC wallet); repeatable.")] = None,
    usdc_balance: Annotated[float, typer.Option("--usdc-balance", help="Starting USDC wallet.")] = 10_000.0,
) -> None:
    """Serve a Binance USDⓈ-M compatible REST API over recorded market data (offline)."""
    _check_flags(port, speed, balance, max_weight)
    if not math.isfinite(usdc_balance) or not 0 <= usdc_balance <= MAX_BALANCE:
        fail(f"--usdc-balance must be a finite number within [0, {MAX_BALANCE:g}], got {usdc_balance}", EXIT_CONFIG)
    try:
        _run(data, host, port, speed, start, balance, api_key, api_secret, symbols, max_weight, control_token,
             usdc_variant, usdc_balance)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def register(app: typer.Typer) -> None:
    app.command("exchange-sim")(exchange_sim)
