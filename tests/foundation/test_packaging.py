"""An installed derivbot works outside the checkout (issue 15): the sample and the starter
templates ship inside the package.

The wheel is built from a copy of the project's sources (nothing is written into the checkout)
with the build tools already installed (``--no-build-isolation --no-index``: nothing is
downloaded), installed with ``--no-deps`` into a fresh virtualenv that borrows the project
venv's site-packages for the dependencies only (a ``.pth`` line: the editable install's finder
there is not activated), and run from a folder outside the repository. The installed copy, not
the checkout, must be what runs: the test checks where ``bot`` was imported from.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(*args: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DERIVBOT_", "PYTHON", "PIP_"))}
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            env={**env, "COLUMNS": "200", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh virtualenv holding derivbot installed from its wheel."""
    tmp = tmp_path_factory.mktemp("pkg")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("bot", "strategies"):
        shutil.copytree(REPO / package, src / package, ignore=ignore)
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", tmp / "dist", src, cwd=tmp)
    wheel = next((tmp / "dist").glob("derivbot-*.whl"))
    venv = tmp / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp)
    python = venv / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                     cwd=tmp).stdout.strip())
    (site / "_derivbot_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index", wheel,
         cwd=tmp)
    return venv / "bin"


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working folder outside the repository, without config/ or data/."""
    assert REPO not in tmp_path.parents
    return tmp_path


def test_the_installed_package_is_what_runs_and_it_carries_the_sample(installed: Path, elsewhere: Path) -> None:
    out = _run(installed / "python", "-c", "import bot, bot.data.bundled as b, bot.ops.scaffold as s; "
               "print(bot.__file__); print(b.sample_dir()); print(s.template_path('config'))", cwd=elsewhere).stdout
    module, sample, template = (Path(line) for line in out.split())
    venv = installed.parent
    for path in (module, sample, template):
        assert venv in path.parents, f"{path} is not inside the installed venv {venv}"
    # the five symbols of the sample's README, in freqtrade's layout
    names = sorted(p.name for p in (sample / "binance" / "futures").glob("*-1h-futures.feather"))
    assert names == ["BTC_USDT_USDT-1h-futures.feather", "ORCA_USDT_USDT-1h-futures.feather",
                     "PIPPIN_USDT_USDT-1h-futures.feather", "RIVER_USDT_USDT-1h-futures.feather"]


def test_demo_runs_from_another_folder(installed: Path, elsewhere: Path) -> None:
    # the shortest demo: 6 simulated hours of the RIVER run, at the default 4 hours per second
    result = _run(installed / "derivbot", "demo", "--hours", "6", cwd=elsewhere, timeout=180)
    assert re.search(r"demo done in [\d.]+ s: \d+ cycles", result.stdout), result.stdout
    assert list((elsewhere / "data" / "demo").glob("*/journal.sqlite"))


def test_exchange_sim_serves_the_bundled_sample_from_another_folder(installed: Path, elsewhere: Path) -> None:
    help_text = _run(installed / "derivbot", "exchange-sim", "--help", cwd=elsewhere).stdout
    assert "bundled real sample" in help_text
    proc = subprocess.Popen([str(installed / "derivbot"), "exchange-sim", "--port", "0", "--speed", "0"],
                            cwd=elsewhere, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        lines: list[str] = []
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "symbols:" in line:  # logged once the store is loaded and the server listens
                break
        text = "".join(lines)
        assert "symbols: BTCUSDT, ORCAUSDT, PIPPINUSDT, RIVERUSDT" in text, text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
