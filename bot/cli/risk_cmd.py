"""``derivbot halt``, ``derivbot risk show`` and ``derivbot risk reset``.

The kill switch and the reset talk to the running engine through files (see
:mod:`bot.risk.files`): ``halt`` writes the halt file, which the circuit breaker sees on its
next update (within one engine cycle); ``risk reset`` removes it and writes a reset record the
breaker picks up. Both are also journaled as events when the journal can be opened; the files
remain the source of truth, so neither command depends on the database being reachable.
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated, Any

import typer
from loguru import logger

from bot.cli.common import ConfigOption, JournalOption, JsonOption, console, fail, settings_from_cli
from bot.config import Settings
from bot.core.timeutil import iso, now_ms
from bot.risk.files import RiskFiles, RiskStateError

risk_app = typer.Typer(help="Show and reset the risk circuit breaker.", no_args_is_help=True)

ReasonOption = Annotated[str, typer.Option("--reason", "-r", help="Why (stored with who and when).")]
ByOption = Annotated[str | None, typer.Option("--by", help="Who (default: the OS user).")]


def _files(settings: Settings) -> RiskFiles:
    return RiskFiles.from_halt_file(settings.engine.halt_file)


def _journal_event(settings: Settings, journal_url: str | None, kind: str, message: str,
                   data: dict[str, Any]) -> str:
    """Best effort: record an event in the journal; returns a status line for the user."""
    url = journal_url or settings.journal.url
    try:
        from bot.journal import Journal

        journal = Journal.open(url, settings=settings.journal)
        try:
            journal.record_event(kind, message, severity="warning", data=data)
            journal.flush(timeout=10)
        finally:
            journal.close()
    except Exception as exc:  # the file is what the engine obeys; the journal is the record
        logger.warning("risk: could not journal {}: {}", kind, exc)
        return f"[yellow]not journaled[/] ({type(exc).__name__}: {exc})"
    return "journaled"


def halt(reason: ReasonOption, by: ByOption = None, config: ConfigOption = None,
         journal: JournalOption = None) -> None:
    """Kill switch: the running bot cancels entries, closes every position and stops trading."""
    settings = settings_from_cli(config)
    files = _files(settings)
    who = by or getpass.getuser()
    note = files.write_halt(who, reason)
    status = _journal_event(settings, journal, "kill_switch", f"halt by {who}: {reason}", note.to_dict())
    console.print(f"[bold red]HALT[/] written to {files.halt} by {who} at {iso(note.ts_ms)}: {reason} "
                  f"({status}). The bot flattens within one cycle; `derivbot risk reset` to resume.")


@risk_app.command("reset")
def reset(reason: ReasonOption, by: ByOption = None, yes: Annotated[bool, typer.Option(
              "--yes", "-y", help="Do not ask for confirmation.")] = False,
          config: ConfigOption = None, journal: JournalOption = None) -> None:
    """Clear a HALT (kill switch or drawdown): remove the halt file and record the reset."""
    settings = settings_from_cli(config)
    files = _files(settings)
    if not yes and not typer.confirm("Resume trading after a halt? The drawdown baseline restarts at "
                                     "the current equity.", default=False):
        fail("reset cancelled", 1)
    who = by or getpass.getuser()
    removed = files.remove_halt()
    note = files.write_reset(who, reason)
    data = {**note.to_dict(), "halt_file_removed": removed}
    status = _journal_event(settings, journal, "risk_reset", f"risk reset by {who}: {reason}", data)
    console.print(f"[green]reset[/] recorded in {files.reset} by {who} at {iso(note.ts_ms)}"
                  f"{'; halt file removed' if removed else ''} ({status}). "
                  "The running bot resumes on its next cycle.")


@risk_app.command("show")
def show(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Print the breaker state the engine last saved, and the kill-switch / reset files."""
    settings = settings_from_cli(config, configure_logging=False)
    files = _files(settings)
    halt_note = files.read_halt()
    reset_note = files.read_reset()
    try:
        state = files.load_state()
    except RiskStateError as exc:
        fail(f"{exc} (the engine will start HALTED; run `derivbot risk reset` after checking)", 1)
    data = {
        "state": (state or {}).get("state", "unknown (no saved state)"),
        "saved_state": state,
        "halt_file": str(files.halt),
        "halt": halt_note.to_dict() if halt_note else None,
        "last_reset": reset_note.to_dict() if reset_note else None,
        "now": iso(now_ms()),
    }
    if halt_note is not None:
        data["state"] = "halted"  # the engine obeys the file on its next cycle
    if as_json:
        console.print_json(json.dumps(data, default=str))
        return
    _print_human(data)


def _print_human(data: dict[str, Any]) -> None:
    state = str(data["state"])
    colour = {"active": "green", "paused": "yellow", "reducing": "yellow", "halted": "red"}.get(state, "white")
    console.print(f"risk state: [bold {colour}]{state.upper()}[/]")
    saved = data["saved_state"] or {}
    if saved:
        rows = [
            ("halt reason", saved.get("halt_reason")),
            ("halted at", iso(saved.get("halted_at_ms"))),
            ("halt numbers", saved.get("halt_numbers") or None),
            ("reducing until", iso(saved.get("reducing_until_ms"))),
            ("paused until", iso(saved.get("paused_until_ms"))),
            ("consecutive losses", saved.get("consecutive_losses")),
            ("peak equity", saved.get("peak_equity")),
            ("equity at 00:00 UTC", saved.get("day_start_equity")),
            ("last equity", saved.get("last_equity")),
            ("last update", iso(saved.get("last_update_ms"))),
        ]
        for label, value in rows:
            if value not in (None, "-"):
                console.print(f"  {label:<20} {value}")
    else:
        console.print("  no saved state yet (the engine writes it each cycle)")
    halt_note = data["halt"]
    if halt_note:
        console.print(f"  [red]kill switch[/] {data['halt_file']}: by {halt_note['by']} at {halt_note['at']}: "
                      f"{halt_note['reason']}")
    if data["last_reset"]:
        r = data["last_reset"]
        console.print(f"  last reset           by {r['by']} at {r['at']}: {r['reason']}")


def register(app: typer.Typer) -> None:
    app.add_typer(risk_app, name="risk")
    app.command("halt")(halt)
