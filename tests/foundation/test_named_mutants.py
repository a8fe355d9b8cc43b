"""scripts/named_mutants.py, the kept check that the tests kill the mutations issue 17 names: its
patches still apply to the sources (so the list cannot rot), a patch is applied exactly where its
old text is and only there, each mutant's file is restored after its run, and the verdicts and
exit status follow pytest's exit codes. A fake runner stands in for pytest except in the one
end-to-end run."""

from __future__ import annotations

import ast
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import named_mutants as nm  # noqa: E402

SOURCE = "def f(x):\n    return x + 1\n\n\ndef g(x):\n    return x - 1\n"


def _mutation(old: str, new: str, path: str = "pkg/mod.py", number: int = 1) -> nm.Mutation:
    return nm.Mutation(number, f"mutation {number}", path, old, new, ("tests/test_mod.py::test_f",))


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text(SOURCE, encoding="utf-8")
    return root


# -- the list itself ----------------------------------------------------------------------------

def test_every_named_mutation_still_applies_to_the_sources() -> None:
    assert nm.check_patches(ROOT) == []


def test_the_fourteen_are_numbered_once_each_and_name_tests_that_exist() -> None:
    assert [m.number for m in nm.MUTATIONS] == list(range(1, 15))  # the (1)..(14)
    for mutation in nm.MUTATIONS:
        assert mutation.tests, mutation
        for node in mutation.tests:
            path, _, name = node.partition("::")
            tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
            defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
            assert name in defined, f"mutation {mutation.number}: {node} does not exist"


# -- patches ----------------------------------------------------------------------------------

def test_a_patch_replaces_its_old_text_and_nothing_else() -> None:
    out = nm.patch_text(SOURCE, _mutation("return x + 1", "return x + 2"))
    assert out == "def f(x):\n    return x + 2\n\n\ndef g(x):\n    return x - 1\n"


def test_a_multi_line_patch_and_a_removal() -> None:
    out = nm.patch_text(SOURCE, _mutation("def g(x):\n    return x - 1\n", ""))
    assert out == "def f(x):\n    return x + 1\n\n\n"


@pytest.mark.parametrize(("old", "why"), [
    ("return x * 3", "not found"),  # the source moved on
    ("return x", "found 2 times"),  # ambiguous: f and g both have it
])
def test_a_patch_whose_old_text_is_not_there_exactly_once_fails_loudly(old: str, why: str) -> None:
    with pytest.raises(nm.PatchError, match=why):
        nm.patch_text(SOURCE, _mutation(old, "pass"))


def test_a_patch_that_changes_nothing_is_refused() -> None:
    with pytest.raises(nm.PatchError, match="same"):
        nm.patch_text(SOURCE, _mutation("return x + 1", "return x + 1"))


def test_check_patches_names_each_stale_patch_and_a_missing_file(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    problems = nm.check_patches(root, [_mutation("return x + 1", "return x", number=1),
                                       _mutation("return x * 3", "pass", number=2),
                                       _mutation("x", "y", path="pkg/gone.py", number=3)])
    assert len(problems) == 2
    assert problems[0].startswith("mutation 2 (pkg/mod.py): old text not found")
    assert "gone.py" in problems[1]


def test_select_takes_the_numbers_asked_and_refuses_unknown_ones() -> None:
    assert [m.number for m in nm.select(nm.MUTATIONS, [6, 3])] == [3, 6]
    assert len(nm.select(nm.MUTATIONS, [])) == 14
    with pytest.raises(ValueError, match="no mutation numbered 15"):
        nm.select(nm.MUTATIONS, [15])


# -- running, with a fake pytest ------------------------------------------------------------

class FakeRunner:
    """Answers each run with the next exit code, recording what the mutated file held meanwhile."""

    def __init__(self, root: Path, codes: Sequence[int | None]) -> None:
        self.root, self.codes = root, list(codes)
        self.seen: list[tuple[tuple[str, ...], str]] = []

    def __call__(self, tests: Sequence[str]) -> tuple[int | None, str]:
        self.seen.append((tuple(tests), (self.root / "pkg" / "mod.py").read_text(encoding="utf-8")))
        return self.codes.pop(0), "1 passed"


@pytest.mark.parametrize(("code", "outcome", "ok"), [
    (1, "killed", True),  # pytest: tests failed
    (None, "killed (timeout)", True),
    (0, "SURVIVED", False),  # every test passed on the mutant
    (4, "ERROR (pytest exit 4)", False),  # e.g. a test id that no longer exists: proves nothing
    (2, "ERROR (pytest exit 2)", False),
])
def test_the_mutant_runs_mutated_then_its_file_is_restored(tmp_path: Path, code: int | None, outcome: str,
                                                           ok: bool) -> None:
    root = _tree(tmp_path)
    runner = FakeRunner(root, [code])
    result = nm.run_mutation(_mutation("return x + 1", "return x + 2"), root, runner)
    assert (result.outcome, result.ok) == (outcome, ok)
    ((tests, during),) = runner.seen
    assert tests == ("tests/test_mod.py::test_f",)
    assert "return x + 2" in during and "return x + 1" not in during
    assert (root / "pkg" / "mod.py").read_text(encoding="utf-8") == SOURCE


def test_the_file_is_restored_when_the_run_itself_fails(tmp_path: Path) -> None:
    root = _tree(tmp_path)

    def broken(tests: Sequence[str]) -> tuple[int | None, str]:
        raise OSError("no interpreter")

    with pytest.raises(OSError):
        nm.run_mutation(_mutation("return x + 1", "return x + 2"), root, broken)
    assert (root / "pkg" / "mod.py").read_text(encoding="utf-8") == SOURCE


def test_a_stale_patch_is_reported_and_nothing_runs(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    runner = FakeRunner(root, [])
    result = nm.run_mutation(_mutation("return x * 3", "pass"), root, runner)
    assert result.outcome == "PATCH FAILED" and not result.ok and "not found" in result.detail
    assert runner.seen == []


@pytest.mark.parametrize(("codes", "status", "outcomes"), [
    ([0, 1, 1], 0, ["killed", "killed"]),  # baseline green, both killed
    ([0, 1, 0], 1, ["killed", "SURVIVED"]),  # one survivor fails the run
    ([1], 1, []),  # baseline red: no mutant is run
])
def test_exit_status_and_the_baseline(tmp_path: Path, codes: list[int], status: int, outcomes: list[str]) -> None:
    root = _tree(tmp_path)
    runner = FakeRunner(root, codes)
    mutations = [_mutation("return x + 1", "return x + 2", number=1), _mutation("return x - 1", "return x", number=2)]
    got, results = nm.run_all(mutations, root, runner, echo=lambda _: None)
    assert (got, [r.outcome for r in results]) == (status, outcomes)
    assert runner.seen[0] == (("tests/test_mod.py::test_f",), SOURCE)  # the baseline: unmutated, tests once


def test_a_stale_patch_fails_the_run(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    got, results = nm.run_all([_mutation("return x * 3", "pass")], root, FakeRunner(root, []), baseline=False,
                              echo=lambda _: None)
    assert got == 1 and [r.outcome for r in results] == ["PATCH FAILED"]


def test_the_copy_leaves_out_version_control_environments_and_byte_code(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    for junk in (".git/HEAD", ".venv/bin/python", "pkg/__pycache__/mod.cpython-311.pyc", "mutants/x.py"):
        (src / junk).parent.mkdir(parents=True, exist_ok=True)
        (src / junk).write_text("junk", encoding="utf-8")
    copy = nm.copy_repo(src, tmp_path / "tmp")
    copied = sorted(str(p.relative_to(copy)) for p in copy.rglob("*") if p.is_file())
    assert copied == ["pkg/mod.py"]


def test_the_table_lists_every_test_of_a_mutation() -> None:
    six = nm.select(nm.MUTATIONS, [6])[0]
    text = nm.table([nm.Result(six, "killed", 12.34)])
    lines = text.splitlines()
    assert len(lines) == 3  # header, the mutation with its first test, its second test
    assert "killed" in lines[1] and "12.3" in lines[1]
    assert lines[1].endswith("engine/test_one_intent_one_entry::test_lost_response_and_order_not_visible_yet_is_"
                             "unknown_not_resent")
    assert lines[2].strip() == "engine/test_one_intent_one_entry::test_lost_response_is_resolved_once_the_order_" \
                               "becomes_visible"
