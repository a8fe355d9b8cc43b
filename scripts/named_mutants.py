#!/usr/bin/env python3
"""The mutations issue 17 names, each applied alone to a copy of the repository and run against
the tests that must catch it: a kept, re-runnable proof that the order path's tests kill them.

mutmut (scripts/mutation.sh) tries thousands of blind mutants and takes hours; this checks the
fourteen breaks a reviewer named, in minutes. Each is a precise source edit (file, exact old text,
new text). A patch must find its old text exactly once: when the source changes so that it no
longer does, the run says so and fails, so the list cannot go stale silently (the suite checks
that too, without running anything: tests/foundation/test_named_mutants.py).

The working tree is never edited: the repository is copied (sources, tests and data, without
.git, .venv or caches) to a temporary directory, and pytest runs there with that directory as its
working directory and first on ``sys.path`` (checked: ``bot.__file__`` must be inside the copy).
Byte-code is not written (``PYTHONDONTWRITEBYTECODE``), so a restored file can never be shadowed
by the mutant's cached byte-code. First the tests run on the unmutated copy (a red baseline would
make every "killed" meaningless), then each mutation alone, its file restored after it.

    python scripts/named_mutants.py              # all of them, then the table
    python scripts/named_mutants.py --only 6     # one (repeatable, or 3,4,7)
    python scripts/named_mutants.py --list       # the patches and their tests, nothing run

Exit status 1 if any mutation survived, any patch no longer applies, the baseline is red or a
run ended in a pytest error (not a test failure).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ACCOUNTING = "tests/engine/test_order_path_accounting.py"
BRANCHES = "tests/engine/test_order_path_branches.py"
ONE_ENTRY = "tests/engine/test_one_intent_one_entry.py"
STARTUP = "tests/engine/test_startup_resilience.py"
HELD_TRADE = f"{ACCOUNTING}::test_a_held_trade_books_entry_and_exit_fees_and_one_funding_and_exits_whole"

#: Seconds one pytest run of a mutant may take before it counts as killed by a time-out.
RUN_TIMEOUT_S = 900
#: Copied to the temporary directory: everything but version control, environments and caches.
COPY_IGNORE = (".git", ".venv", "mutants", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache",
               "*.egg-info", "build", "dist", "*.pyc")


@dataclass(frozen=True)
class Mutation:
    """One named break: replace ``old`` (found exactly once in ``path``) by ``new``."""

    number: int
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


class PatchError(RuntimeError):
    """A mutation's old text is not in its file exactly once: the list must be updated."""


MUTATIONS: tuple[Mutation, ...] = (
    Mutation(1, "funding sign flipped (booked onto the trade)", "bot/trading/funding.py",
             "trade.funding += row.amount", "trade.funding -= row.amount", (HELD_TRADE,)),
    Mutation(2, "funding counted several times (each read of a settlement booked)", "bot/trading/funding.py",
             "if row.income_id in self._seen:", "if row.income_id in ():", (HELD_TRADE,)),
    Mutation(3, "entry fees dropped from the trade", "bot/engine.py",
             "trade.fees += sum(f.fee_in_usdt for f in fills)", "trade.fees += 0.0", (HELD_TRADE,)),
    Mutation(4, "no stop placed right after the entry fill", "bot/engine.py",
             "await self._protect([filled], [], now)", "pass",
             (f"{BRANCHES}::test_the_stop_rests_from_the_fill_even_when_every_read_after_it_fails",)),
    Mutation(5, "trading allowed while reconciliation is unresolved", "bot/engine.py",
             "self.trading_allowed = report.resolved", "self.trading_allowed = True",
             (f"{BRANCHES}::test_unresolved_reconciliation_blocks_trading_on_every_symbol",)),
    Mutation(6, "look-up before a retry removed (unknown outcome resent)", "bot/execution/exchange.py",
             "except _UNKNOWN_OUTCOME as exc:\n                return await self._resolve_unknown(request, exc)",
             "except _UNKNOWN_OUTCOME as exc:\n                last_error = exc\n                continue",
             (f"{ONE_ENTRY}::test_lost_response_and_order_not_visible_yet_is_unknown_not_resent",
              f"{ONE_ENTRY}::test_lost_response_is_resolved_once_the_order_becomes_visible")),
    Mutation(7, "failed stop placement swallowed (no close at market)", "bot/risk/stops.py",
             "            ClosePositionAtMarket(action.symbol, action.side, action.quantity, ExitReason.STOP_LOSS,\n"
             "                                  f\"stop placement failed: {error}\"),\n",
             "",
             (f"{BRANCHES}::test_a_stop_the_exchange_refuses_gets_the_position_closed_at_market",)),
    Mutation(8, "liquidation recorded as a manual exit", "bot/trading/exits.py",
             "reason = ExitReason.LIQUIDATION", "reason = ExitReason.MANUAL",
             (f"{BRANCHES}::test_a_liquidation_is_recorded_as_a_liquidation_and_starts_the_cooldown",)),
    Mutation(9, "unknown positions not adopted at restart", "bot/trading/reconcile.py",
             "for symbol, pos in positions.items():", "for symbol, pos in {}.items():",
             (f"{BRANCHES}::test_an_unknown_position_is_adopted_at_start_and_protected",)),
    Mutation(10, "orphaned orders not cancelled at restart", "bot/trading/reconcile.py",
             "if (order.is_protective and not protects_position) or stale_entry:", "if False:",
             (f"{BRANCHES}::test_orphaned_stops_and_stale_entries_are_cancelled_at_start_others_left",)),
    Mutation(11, "closed trades not fed to the circuit breaker", "bot/engine.py",
             "for transition in self.breaker.record_trade_result(net, now):", "for transition in ():",
             (f"{ACCOUNTING}::test_two_losing_trades_in_a_row_pause_new_entries",)),
    Mutation(12, "stop-out cooldown never recorded", "bot/engine.py",
             "self.risk.record_stop_out(trade.symbol, info.ts)", "pass",
             (f"{ACCOUNTING}::test_a_stop_out_starts_the_cooldown_and_it_ends_on_time",
              f"{BRANCHES}::test_a_liquidation_is_recorded_as_a_liquidation_and_starts_the_cooldown")),
    Mutation(13, "signal exit closes half the position", "bot/engine.py",
             "trade.side.exit_order_side, pos.quantity,", "trade.side.exit_order_side, pos.quantity / 2,",
             (HELD_TRADE,)),
    Mutation(14, "hedge (dual-side) position mode accepted at start", "bot/execution/exchange.py",
             'if mode.get("hedged"):', "if False:",
             (f"{STARTUP}::test_hedge_mode_account_is_refused_and_left_in_hedge_mode",)),
)


# -- patches ----------------------------------------------------------------------------------

def patch_text(text: str, mutation: Mutation) -> str:
    """``text`` with ``mutation.old`` replaced by ``mutation.new``; the old text must occur
    exactly once (absent: the source moved on; twice: the patch is ambiguous)."""
    if mutation.old == mutation.new:
        raise PatchError(f"mutation {mutation.number} ({mutation.path}): old and new text are the same")
    count = text.count(mutation.old)
    if count != 1:
        found = "not found" if count == 0 else f"found {count} times"
        raise PatchError(f"mutation {mutation.number} ({mutation.path}): old text {found}, update "
                         f"scripts/named_mutants.py: {mutation.old!r}")
    return text.replace(mutation.old, mutation.new, 1)


def check_patches(root: Path, mutations: Iterable[Mutation] = MUTATIONS) -> list[str]:
    """Why each mutation that no longer applies to the sources under ``root`` fails (empty: all apply)."""
    problems = []
    for mutation in mutations:
        try:
            patch_text((root / mutation.path).read_text(encoding="utf-8"), mutation)
        except (PatchError, OSError) as exc:
            problems.append(str(exc))
    return problems


def select(mutations: Sequence[Mutation], only: Iterable[int]) -> list[Mutation]:
    """The mutations numbered in ``only`` (all when it is empty); an unknown number is an error."""
    wanted = set(only)
    known = {m.number for m in mutations}
    unknown = sorted(wanted - known)
    if unknown:
        raise ValueError(f"no mutation numbered {', '.join(map(str, unknown))} (known: 1-{max(known)})")
    return [m for m in mutations if not wanted or m.number in wanted]


# -- running ------------------------------------------------------------------------------------

#: Runs pytest on the given node ids in the copy; returns (exit code or None on time-out, output).
Runner = Callable[[Sequence[str]], tuple[int | None, str]]


@dataclass
class Result:
    mutation: Mutation
    outcome: str  # "killed", "killed (timeout)", "SURVIVED", "PATCH FAILED", "ERROR (pytest exit N)"
    seconds: float
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome.startswith("killed")


def copy_repo(src: Path, dst: Path) -> Path:
    """Copy the repository's sources, tests and data under ``dst``; returns the copy's root."""
    target = dst / "repo"
    shutil.copytree(src, target, ignore=shutil.ignore_patterns(*COPY_IGNORE), symlinks=True)
    return target


def _env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["COLUMNS"] = "400"  # room in pytest's summary lines for the error after each test id
    return env


def check_imports_copy(python: str, copy: Path) -> None:
    """Fail unless ``bot`` imported from the copy's directory is the copy's (not the installed one)."""
    out = subprocess.run([python, "-c", "import bot; print(bot.__file__)"], cwd=copy, env=_env(copy),
                         capture_output=True, text=True, check=True).stdout.strip()
    if not Path(out).resolve().is_relative_to(copy.resolve()):
        raise RuntimeError(f"the copy imports bot from {out}, not from {copy}: mutants would not be tested")


def pytest_runner(python: str, copy: Path, timeout_s: float = RUN_TIMEOUT_S) -> Runner:
    def run(tests: Sequence[str]) -> tuple[int | None, str]:
        cmd = [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
        try:
            done = subprocess.run(cmd, cwd=copy, env=_env(copy), capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return None, out
        return done.returncode, done.stdout + done.stderr
    return run


def run_mutation(mutation: Mutation, copy: Path, runner: Runner) -> Result:
    """Apply ``mutation`` to the copy, run its tests, restore the file whatever happens."""
    file = copy / mutation.path
    original = file.read_text(encoding="utf-8")
    began = time.monotonic()
    try:
        mutated = patch_text(original, mutation)
    except PatchError as exc:
        return Result(mutation, "PATCH FAILED", 0.0, str(exc))
    file.write_text(mutated, encoding="utf-8")
    try:
        code, output = runner(mutation.tests)
    finally:
        file.write_text(original, encoding="utf-8")
    seconds = time.monotonic() - began
    if code is None:
        return Result(mutation, "killed (timeout)", seconds)
    if code == 1:  # pytest: tests ran and some failed
        return Result(mutation, "killed", seconds, _failures(output))
    if code == 0:
        return Result(mutation, "SURVIVED", seconds, _tail(output))
    return Result(mutation, f"ERROR (pytest exit {code})", seconds, _tail(output))


def _failures(output: str) -> str:
    """pytest's short summary lines (``FAILED node - error``): why a mutant was killed."""
    return "\n".join(line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR ")))


def _tail(output: str, lines: int = 15) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])


def _short(node: str) -> str:
    return node.removeprefix("tests/").replace(".py::", "::")


def table(results: Sequence[Result]) -> str:
    """One line per mutation (its first test on the line, further tests below it)."""
    width = max(len(r.mutation.name) for r in results)
    lines = [f"{'#':>2}  {'mutation':<{width}}  {'result':<16} {'s':>6}  tests"]
    for r in results:
        first, *rest = r.mutation.tests
        lines.append(f"{r.mutation.number:>2}  {r.mutation.name:<{width}}  {r.outcome:<16} {r.seconds:>6.1f}  "
                     f"{_short(first)}")
        lines += [f"{'':>2}  {'':<{width}}  {'':<16} {'':>6}  {_short(t)}" for t in rest]
    return "\n".join(lines)


def describe(mutations: Iterable[Mutation]) -> str:
    """The ``--list`` text: each patch as a one-hunk diff, and its tests."""
    out = []
    for m in mutations:
        out.append(f"{m.number:>2}. {m.name}  [{m.path}]")
        out += [f"      - {line}" for line in m.old.splitlines()]
        out += [f"      + {line}" for line in m.new.splitlines()] or ["      + (removed)"]
        out += [f"      test: {t}" for t in m.tests]
    return "\n".join(out)


def run_all(mutations: Sequence[Mutation], copy: Path, runner: Runner, *, baseline: bool = True,
            echo: Callable[[str], None] = print) -> tuple[int, list[Result]]:
    """Baseline (unless told not to), then each mutation alone. Returns (exit status, results)."""
    if baseline:
        tests = list(dict.fromkeys(t for m in mutations for t in m.tests))
        echo(f"baseline: {len(tests)} tests on the unmutated copy")
        began = time.monotonic()
        code, output = runner(tests)
        if code != 0:
            echo(f"baseline red (pytest exit {code}): a mutant's failing tests would prove nothing\n"
                 f"{_tail(output, 30)}")
            return 1, []
        echo(f"baseline green in {time.monotonic() - began:.1f} s")
    results = []
    for mutation in mutations:
        result = run_mutation(mutation, copy, runner)
        echo(f"{mutation.number:>2} {mutation.name}: {result.outcome} ({result.seconds:.1f} s)")
        results.append(result)
    echo("")
    echo(table(results))
    killed = [r for r in results if r.ok and r.detail]
    if killed:
        echo("\nwhy each was killed (pytest's summary of the first failing test):")
        echo("\n".join(f"{r.mutation.number:>2}  {_short(r.detail.splitlines()[0].removeprefix('FAILED '))[:240]}"
                        for r in killed))
    for r in results:
        if not r.ok and r.detail:
            echo(f"\n-- {r.mutation.number} {r.mutation.name}: {r.outcome}\n{r.detail}")
    bad = [r for r in results if not r.ok]
    echo(f"\n{len(results) - len(bad)} of {len(results)} named mutations killed")
    return (1 if bad else 0), results


def _numbers(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--only takes mutation numbers (e.g. 6 or 3,4), got {text!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", type=_numbers, action="append", default=[], metavar="N",
                        help="run only mutation N (repeatable, or a comma list)")
    parser.add_argument("--list", action="store_true", help="print the patches and their tests, run nothing")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run on the unmutated copy")
    parser.add_argument("--python", default=sys.executable, help="interpreter with derivbot's dependencies")
    parser.add_argument("--repo", type=Path, default=ROOT, help="repository to copy (default: this one)")
    args = parser.parse_args(argv)
    try:
        chosen = select(MUTATIONS, [n for group in args.only for n in group])
    except ValueError as exc:
        parser.error(str(exc))
    if args.list:
        print(describe(chosen))
        problems = check_patches(args.repo, chosen)
        for problem in problems:
            print(f"PATCH FAILED: {problem}")
        return 1 if problems else 0
    with tempfile.TemporaryDirectory(prefix="named-mutants-") as tmp:
        copy = copy_repo(args.repo, Path(tmp))
        check_imports_copy(args.python, copy)
        status, _ = run_all(chosen, copy, pytest_runner(args.python, copy), baseline=not args.no_baseline)
    return status


if __name__ == "__main__":
    sys.exit(main())
