"""The mutation-run summary (scripts/mutation_report.py) scores what mutmut recorded, by hand-counted
examples: a timeout counts as detected, an accepted survivor leaves the denominator, unrun mutants
are not scored, and a bad accepted-list entry is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import mutation_report as report  # noqa: E402


def _meta(mutants: Path, rel: str, codes: dict[str, int | None]) -> None:
    path = mutants / f"{rel}.meta"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes}), encoding="utf-8")


def test_scores_count_timeouts_as_detected_and_leave_out_unrun_and_accepted(tmp_path: Path) -> None:
    f = "bot.risk.stops.xǁStopWatchdogǁcheck__mutmut_"
    _meta(tmp_path, "bot/risk/stops.py", {
        f"{f}1": 1, f"{f}2": 1, f"{f}3": 36,  # two killed, one timeout: 3 detected
        f"{f}4": 0, f"{f}5": 0,                # two survivors, one of them accepted below
        f"{f}6": 33,                           # no test reaches it: undetected
        f"{f}7": None,                         # not run yet: not scored
    })
    _meta(tmp_path, "bot/trading/book.py", {})  # nothing mutated: not listed
    scores = report.read_scores(tmp_path, {f"{f}5": "equivalent: rounding already done"})
    assert [s.path for s in scores] == ["bot/risk/stops.py"]
    (s,) = scores
    # checked = 7 - 1 unrun = 6; minus 1 accepted = 5; detected 3 -> 60%
    assert (s.checked, s.accepted, s.detected) == (5, 1, 3)
    assert s.score == pytest.approx(60.0)
    assert sorted(s.survivors) == [f"{f}4", f"{f}6"]


def test_function_names_read_back_from_mutant_names() -> None:
    assert report.function_of("bot.risk.stops.xǁStopWatchdogǁcheck__mutmut_12") == "bot.risk.stops.StopWatchdog.check"
    assert report.function_of("bot.risk.stops.x__round_stop__mutmut_3") == "bot.risk.stops._round_stop"


def test_an_accepted_mutant_needs_a_reason(tmp_path: Path) -> None:
    listed = tmp_path / "accepted.toml"
    listed.write_text('[[mutant]]\nname = "bot.engine.x_f__mutmut_1"\nreason = ""\n', encoding="utf-8")
    with pytest.raises(SystemExit, match="needs a name and a reason"):
        report.load_accepted(listed)


def test_min_score_fails_the_command_below_the_bar(tmp_path: Path) -> None:
    _meta(tmp_path, "bot/engine.py", {"bot.engine.x_f__mutmut_1": 1, "bot.engine.x_f__mutmut_2": 0})
    script = ROOT / "scripts" / "mutation_report.py"
    run = [sys.executable, str(script), "--mutants", str(tmp_path), "--survivors"]
    below = subprocess.run([*run, "--min-score", "90"], capture_output=True, text=True)
    assert below.returncode == 1 and "below 90%" in below.stderr
    assert "bot.engine.f" in below.stdout  # the survivor's function is listed
    at = subprocess.run([*run, "--min-score", "50"], capture_output=True, text=True)
    assert at.returncode == 0 and "50.0%" in at.stdout
