"""Benchmark: start-up of the ``derivbot`` command (issue 12's start-up bullet).

Times fresh processes of ``derivbot --help``, ``derivbot config show`` and a no-op backtest (one
symbol, a window with no bars to replay, so what is left is start-up: imports, settings, data
index, journal creation and the report) and prints the median, minimum and maximum wall time of
``--runs`` runs each, plus the heavy libraries each command imported (``-X importtime``). A
benchmark, not a test: it prints numbers and asserts nothing. Run from the repository root:

    .venv/bin/python scripts/bench_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Libraries that a command should import only when it needs them.
HEAVY = ("fastapi", "uvicorn", "matplotlib", "ccxt", "aiohttp", "sqlalchemy", "alembic", "pandas", "numpy",
         "pyarrow", "pydantic_settings")


def entry() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m bot``."""
    script = Path(sys.executable).with_name("derivbot")
    if script.is_file():
        return [str(script)]
    found = shutil.which("derivbot")
    return [found] if found else [sys.executable, "-m", "bot"]


def commands(tmp: Path) -> dict[str, Callable[[int], list[str]]]:
    """Each command's arguments for run ``i``. Every no-op backtest journals into a new file, as
    every real backtest does (its default journal is a new file per run)."""
    return {
        "derivbot --help": lambda i: ["--help"],
        "derivbot config show": lambda i: ["config", "show"],
        "no-op backtest": lambda i: ["backtest", "--data", "bot/data/sample", "--symbol", "ORCAUSDT", "--from",
                                     "2025-03-10", "--to", "2025-03-10", "--json", "--journal",
                                     f"sqlite:///{tmp / f'noop-{i}.sqlite'}"],
    }


def wall(argv: list[str]) -> float:
    """Seconds from start to exit of one fresh process (output discarded; a failure stops the bench)."""
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=_env())
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed


def heavy_imports(args: list[str]) -> list[str]:
    """Which of :data:`HEAVY` the command imported, read from ``python -X importtime``."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "bot", *args], cwd=REPO,
                            capture_output=True, text=True, env=_env())
    names = set(re.findall(r"\|\s*([\w.]+)\s*$", result.stderr, flags=re.MULTILINE))
    return [name for name in HEAVY if name in names]


def _env() -> dict[str, str]:
    # no developer settings, no log file in the repository
    return {k: v for k, v in os.environ.items() if not k.startswith("DERIVBOT_")} | {"COLUMNS": "120"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per command (median reported)")
    args = parser.parse_args()
    base = entry()
    print(f"entry: {' '.join(base)}; {args.runs} runs each; wall seconds")
    print(f"{'command':<22} {'median':>7} {'min':>7} {'max':>7}  heavy imports")
    with tempfile.TemporaryDirectory() as tmp:
        for name, cmd in commands(Path(tmp)).items():
            times = [wall([*base, *cmd(i)]) for i in range(args.runs)]
            heavy = ", ".join(heavy_imports(cmd(args.runs))) or "none"
            print(f"{name:<22} {statistics.median(times):7.3f} {min(times):7.3f} {max(times):7.3f}  {heavy}")


if __name__ == "__main__":
    main()
