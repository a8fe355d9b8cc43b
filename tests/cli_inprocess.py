"""Run the real ``derivbot`` console entry in the test process instead of a subprocess.

A subprocess pays the interpreter and import start-up on every call (about a second on a busy
2-core machine); argument validation and error-message tests do not need it. :func:`derivbot`
calls :func:`bot.cli.main.run` itself, the function the console script and ``python -m bot``
call, so the same code path runs: typer's parsing, the command, ``clean_errors``, and the
``report_error`` line and exit code for anything uncaught. What a subprocess still proves (the
console-script wiring, ``python -m bot``, real signals) stays in a few subprocess tests.

Differences from a subprocess, handled here: the environment, working directory and ``argv``
are set for the call and restored after it; stdout and stderr are captured as text; the loguru
sinks the command installs (one writes to the captured stderr, one may hold a JSON log file
open) are removed afterwards, so the next test does not log into a dead buffer.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Mapping
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class CliResult:
    """What a finished ``derivbot`` invocation left: like :class:`subprocess.CompletedProcess`."""

    returncode: int
    stdout: str
    stderr: str


def derivbot(*args: str, env: Mapping[str, str] | None = None, cwd: Path = ROOT, columns: int = 200) -> CliResult:
    """Run ``derivbot ARGS`` through :func:`bot.cli.main.run` with ``env`` added to the
    environment (``DERIVBOT_*`` variables of the developer are already dropped by conftest)."""
    from loguru import logger

    from bot.cli.main import run

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        mp.setenv("COLUMNS", str(columns))
        for key, value in (env or {}).items():
            mp.setenv(key, value)
        mp.setattr(sys, "argv", ["derivbot", *args])
        try:
            with redirect_stdout(out), redirect_stderr(err):
                run()
            code: int | str | None = 0
        except SystemExit as exited:
            code = exited.code
        finally:
            logger.remove()  # the command's sinks point at `err` and maybe a log file in tmp_path
            logger.add(sys.stderr)  # loguru's own default, as before the command configured it
    if isinstance(code, str):  # sys.exit("message") prints the message and exits 1
        err.write(code + "\n")
        code = 1
    return CliResult(code or 0, out.getvalue(), err.getvalue())
