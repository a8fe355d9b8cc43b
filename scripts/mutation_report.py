"""Summarise a mutation run of the order path (issue 17): per file, how many mutants the tests
killed, how many survived, and the score over the non-equivalent ones.

mutmut keeps one `mutants/<path>.meta` file per mutated source file, mapping each mutant's name to
the exit code of the tests that ran against it. This reads those files directly (mutmut's own
`results` lists names only), so the summary is the same whether the run finished or was stopped
half-way: mutants not yet run count as "not checked" and are left out of the score.

Mutants a person has examined and found equivalent (the mutated code behaves the same on every
input the bot can see) or accepted are listed with their reason in
`scripts/mutation_accepted.toml`; they leave the denominator. A survivor not on that list is a
missing test until someone says why it is not.

    python scripts/mutation_report.py [--survivors] [--min-score 90]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ACCEPTED_FILE = ROOT / "scripts" / "mutation_accepted.toml"

# mutmut 3.8's exit codes (mutmut.stats.status_by_exit_code), repeated here so the report runs
# without importing mutmut, whose import reads and validates the project's mutmut config.
STATUS_BY_EXIT_CODE: dict[int | None, str] = {
    1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
    35: "suspicious", 36: "timeout", 37: "killed", 24: "timeout", -24: "timeout", 152: "timeout",
    255: "timeout", -11: "segfault", -9: "segfault", 2: "interrupted", None: "not checked",
}
# A mutant the tests made hang (timeout) or crash is detected: the suite did not pass with it.
DETECTED = {"killed", "timeout", "segfault"}
UNDETECTED = {"survived", "no tests", "suspicious", "skipped"}
_NAME = re.compile(r"^(?P<function>.+)__mutmut_(?P<n>\d+)$")


@dataclass
class FileScore:
    path: str
    statuses: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)
    accepted: int = 0

    @property
    def checked(self) -> int:
        return sum(n for status, n in self.statuses.items() if status not in {"not checked", "interrupted"})

    @property
    def detected(self) -> int:
        return sum(self.statuses[s] for s in DETECTED)

    @property
    def score(self) -> float | None:
        """Detected over checked non-equivalent mutants, in percent (None before any ran); the
        accepted ones are not in `statuses`, so `checked` already leaves them out."""
        return None if self.checked <= 0 else 100.0 * self.detected / self.checked


def status_of(exit_code: int | None) -> str:
    return STATUS_BY_EXIT_CODE.get(exit_code, "suspicious")


def load_accepted(path: Path = ACCEPTED_FILE) -> dict[str, str]:
    """Mutant name -> the reason it is equivalent or accepted (every entry needs a reason)."""
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    accepted: dict[str, str] = {}
    for entry in data.get("mutant", []):
        name, reason = entry.get("name", ""), entry.get("reason", "").strip()
        if not name or not reason:
            raise SystemExit(f"{path}: every [[mutant]] needs a name and a reason, got {entry!r}")
        accepted[name] = reason
    return accepted


def read_scores(mutants_dir: Path, accepted: dict[str, str]) -> list[FileScore]:
    scores = []
    for meta in sorted(mutants_dir.rglob("*.py.meta")):
        codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {})
        if not codes:
            continue
        score = FileScore(str(meta.relative_to(mutants_dir)).removesuffix(".meta"))
        for name, code in codes.items():
            status = status_of(code)
            if status in UNDETECTED and name in accepted:
                score.accepted += 1
                continue
            score.statuses[status] += 1
            if status in UNDETECTED:
                score.survivors.append(name)
        scores.append(score)
    return scores


def function_of(mutant: str) -> str:
    """`bot.risk.stops.xǁStopWatchdogǁcheck__mutmut_3` -> `bot.risk.stops.StopWatchdog.check`."""
    match = _NAME.match(mutant)
    base = match.group("function") if match else mutant
    module, _, func = base.rpartition(".")
    func = func.removeprefix("x_").removeprefix("xǁ").replace("ǁ", ".")
    return f"{module}.{func}"


def combined(scores: list[FileScore]) -> FileScore:
    total = FileScore("all")
    for s in scores:
        total.statuses.update(s.statuses)
        total.accepted += s.accepted
        total.survivors += s.survivors
    return total


def render(scores: list[FileScore], *, survivors: bool) -> str:
    lines = [f"{'file':38} {'checked':>7} {'killed':>6} {'timeout':>7} {'surv.':>5} {'no test':>7} "
             f"{'equiv.':>6} {'unrun':>5} {'score':>6}"]
    total = combined(scores)
    for s in [*scores, total]:
        pct = "-" if s.score is None else f"{s.score:.1f}%"
        lines.append(f"{s.path:38} {s.checked:7d} {s.statuses['killed'] + s.statuses['segfault']:6d} "
                     f"{s.statuses['timeout']:7d} {s.statuses['survived'] + s.statuses['suspicious']:5d} "
                     f"{s.statuses['no tests']:7d} {s.accepted:6d} {s.statuses['not checked']:5d} {pct:>6}")
    if survivors and total.survivors:
        lines.append("\nundetected mutants by function (show one with `mutmut show NAME`):")
        for func, n in sorted(Counter(function_of(m) for m in total.survivors).items()):
            lines.append(f"  {n:3d}  {func}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants", help="mutmut's work directory")
    parser.add_argument("--survivors", action="store_true", help="list undetected mutants by function")
    parser.add_argument("--min-score", type=float, default=None, help="exit 1 below this score (percent)")
    args = parser.parse_args(argv)
    if not args.mutants.is_dir():
        print(f"no mutation results in {args.mutants}: run `bash scripts/mutation.sh` first", file=sys.stderr)
        return 2
    scores = read_scores(args.mutants, load_accepted())
    print(render(scores, survivors=args.survivors))
    overall = combined(scores)
    if args.min_score is not None and (overall.score is None or overall.score < args.min_score):
        print(f"mutation score below {args.min_score:.0f}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
