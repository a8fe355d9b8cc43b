"""Issue 16 item 2: files written from journal data (``journal export``, ``plot``, ``report``).

``journal export --format csv --what trades --out X.sqlite --journal sqlite:///X.sqlite`` used to
replace the database with CSV. Now, through one helper (:mod:`bot.review.outfile`):

* the journal being read (and SQLite's side files) is never a target, however it is spelled,
  even with ``--force``: exit 2, the journal byte for byte unchanged and still readable;
* an existing file is replaced only with ``--force`` (exit 2 naming ``--force`` otherwise);
* output goes through a temporary file and a rename: a write that fails halfway leaves the old
  file (or no file) and no temporary file behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bot.cli.main import app

runner = CliRunner()
JOURNAL = "X.sqlite"


@pytest.fixture
def workdir(scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the scenario journal as ``X.sqlite`` in the current directory."""
    shutil.copyfile(scenario.url.removeprefix("sqlite:///"), tmp_path / JOURNAL)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _names(folder: Path) -> list[str]:
    """Files in ``folder`` except the -wal/-shm files SQLite itself creates when the journal is read."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm")))


def _journal(*args: str):
    return runner.invoke(app, ["journal", *args], env={"COLUMNS": "200"})


def _export(out: str, url: str, *extra: str):
    return _journal("export", "--format", "csv", "--what", "trades", "--out", out, "--journal", url, *extra)


def _assert_journal_intact(workdir: Path, digest: str) -> None:
    assert _digest(workdir / JOURNAL) == digest
    check = _journal("trades", "--journal", f"sqlite:///{workdir / JOURNAL}", "--json")
    assert check.exit_code == 0 and '"trade_id"' in check.output


def _symlink(workdir: Path) -> tuple[str, str]:
    (workdir / "link.sqlite").symlink_to(workdir / JOURNAL)
    return "link.sqlite", f"sqlite:///{JOURNAL}"


def _symlinked_journal(workdir: Path) -> tuple[str, str]:
    (workdir / "link.sqlite").symlink_to(workdir / JOURNAL)
    return JOURNAL, "sqlite:///link.sqlite"


def _hardlink(workdir: Path) -> tuple[str, str]:
    os.link(workdir / JOURNAL, workdir / "hard.sqlite")
    return "hard.sqlite", f"sqlite:///{JOURNAL}"


def _subdir(workdir: Path) -> tuple[str, str]:
    (workdir / "sub").mkdir()
    return f"sub/../{JOURNAL}", f"sqlite:///./{JOURNAL}"


# How a user can point --out and --journal at the same database: (name, setup -> (out, url)).
SPELLINGS: dict[str, Callable[[Path], tuple[str, str]]] = {
    "same relative name (the issue)": lambda w: (JOURNAL, f"sqlite:///{JOURNAL}"),
    "dot slash": lambda w: (f"./{JOURNAL}", f"sqlite:///{JOURNAL}"),
    "absolute out": lambda w: (str(w / JOURNAL), f"sqlite:///{JOURNAL}"),
    "absolute url (sqlite:////)": lambda w: (JOURNAL, f"sqlite:///{w / JOURNAL}"),
    "driver url": lambda w: (JOURNAL, f"sqlite+pysqlite:///{JOURNAL}"),
    "dot dot": _subdir,
    "out is a symlink to the journal": _symlink,
    "journal url is a symlink": _symlinked_journal,
    "out is a hard link to the journal": _hardlink,
    "the journal's WAL file": lambda w: (f"{JOURNAL}-wal", f"sqlite:///{JOURNAL}"),
    "the journal's rollback journal": lambda w: (f"{JOURNAL}-journal", f"sqlite:///{w / JOURNAL}"),
}


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_export_never_writes_over_the_journal(workdir, spelling, force):
    out, url = SPELLINGS[spelling](workdir)
    before = _digest(workdir / JOURNAL)
    files_before = sorted(p.name for p in workdir.iterdir())
    result = _export(out, url, *(["--force"] if force else []))
    assert result.exit_code == 2, result.output
    assert "journal being read" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in workdir.iterdir()) == files_before  # no WAL/temp file was created
    _assert_journal_intact(workdir, before)


def test_export_refuses_an_existing_file_unless_forced(workdir):
    out = workdir / "trades.csv"
    out.write_text("keep me\n")
    refused = _export(str(out), f"sqlite:///{JOURNAL}")
    assert refused.exit_code == 2 and "already exists" in refused.output and "--force" in refused.output
    assert out.read_text() == "keep me\n"
    forced = _export(str(out), f"sqlite:///{JOURNAL}", "--force")
    assert forced.exit_code == 0, forced.output
    assert len(pd.read_csv(out)) == 6  # the scenario's six trades (journal_builder.TRADES)
    assert _names(workdir) == [JOURNAL, "trades.csv"]


def _crash_midway(monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    """Make the CSV/Parquet writer put half a file where it was told to, then fail (disk full)."""
    def half_then_fail(*args, **kwargs):
        Path(args[1]).write_text("trade_id,strat")  # df.to_csv(path) and pq.write_table(table, path)
        raise OSError(28, "No space left on device")

    if fmt == "csv":
        monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)
    else:
        monkeypatch.setattr("pyarrow.parquet.write_table", half_then_fail)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
def test_a_failed_export_leaves_no_half_file(workdir, monkeypatch, fmt, existing):
    out = workdir / f"out.{fmt}"
    if existing:
        out.write_text("previous export\n")
    _crash_midway(monkeypatch, fmt)
    result = _journal("export", "--format", fmt, "--what", "trades", "--out", str(out),
                      "--journal", f"sqlite:///{JOURNAL}", *(["--force"] if existing else []))
    assert result.exit_code == 1, result.output
    assert "cannot write" in result.output and "No space left" in result.output
    if existing:
        assert out.read_text() == "previous export\n"
        assert _names(workdir) == [JOURNAL, out.name]
    else:
        assert _names(workdir) == [JOURNAL]


def test_report_follows_the_same_rules(workdir):
    before = _digest(workdir / JOURNAL)
    over = _journal("report", "--out", JOURNAL, "--journal", f"sqlite:///{JOURNAL}", "--force")
    assert over.exit_code == 2 and "journal being read" in over.output
    _assert_journal_intact(workdir, before)
    (workdir / "r.html").write_text("old report")
    refused = _journal("report", "--out", "r.html", "--journal", f"sqlite:///{JOURNAL}", "--max-trades", "0")
    assert refused.exit_code == 2 and "--force" in refused.output
    assert (workdir / "r.html").read_text() == "old report"
    forced = _journal("report", "--out", "r.html", "--journal", f"sqlite:///{JOURNAL}", "--max-trades", "0",
                      "--force")
    assert forced.exit_code == 0, forced.output
    assert (workdir / "r.html").read_text().lstrip().lower().startswith("<!doctype html")


def test_plot_follows_the_same_rules(workdir):
    charts = workdir / "charts"
    charts.mkdir()
    (charts / "equity.png").write_bytes(b"old chart")
    refused = _journal("plot", "--out", "charts", "--journal", f"sqlite:///{JOURNAL}", "--max-trades", "0")
    assert refused.exit_code == 2 and "equity.png" in refused.output and "--force" in refused.output
    assert sorted(p.name for p in charts.iterdir()) == ["equity.png"]  # nothing written before refusing
    assert (charts / "equity.png").read_bytes() == b"old chart"
    forced = _journal("plot", "--out", "charts", "--journal", f"sqlite:///{JOURNAL}", "--max-trades", "0",
                      "--force")
    assert forced.exit_code == 0, forced.output
    assert sorted(p.name for p in charts.iterdir()) == ["equity.png", "pnl_by_strategy.png", "pnl_by_symbol.png"]
    assert (charts / "equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_never_writes_over_a_journal_named_like_a_chart(workdir):
    (workdir / JOURNAL).rename(workdir / "equity.png")
    before = _digest(workdir / "equity.png")
    result = _journal("plot", "--out", ".", "--journal", "sqlite:///equity.png", "--max-trades", "0", "--force")
    assert result.exit_code == 2 and "journal being read" in result.output
    assert _digest(workdir / "equity.png") == before
    assert _names(workdir) == ["equity.png"]


def test_a_file_that_appears_during_the_write_is_not_overwritten(tmp_path):
    """Without force the final step cannot clobber: a file created after the check (another
    process) survives and the write is refused."""
    from bot.review.outfile import OutputPolicy, OutputRefused

    target = tmp_path / "out.csv"

    def writer(tmp: Path) -> None:
        target.write_text("written by someone else meanwhile")
        tmp.write_text("ours")

    with pytest.raises(OutputRefused, match="already exists"):
        OutputPolicy().write(target, writer)
    assert target.read_text() == "written by someone else meanwhile"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
