"""Issue 16 items 7, 8 (configuration part) and 11: hostile configuration values.

Every numeric setting must be finite and bounded, safety fields strictly typed (in TOML; the
environment's strings still work), and ordinary mistakes must give one line naming the field,
file or variable, with exit code 2 and no traceback. The bounds below are the documented ones
(bot/config.py "upper bounds"), written out by hand.
"""

from __future__ import annotations

import socket
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from bot.cli.main import app
from bot.config import ConfigError, LoggingSettings, Settings, StrategyConfig, load_settings
from bot.logging import setup_logging
from tests.cli_inprocess import CliResult, derivbot

REPO = Path(__file__).resolve().parents[2]
STRATEGY = "[strategies.short_squeeze]\nenabled = true\nstop_loss_pct = 0.05\n"


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer .env is read (tests/conftest.py already drops the DERIVBOT_ variables)."""
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path: Path, toml: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, toml))
    return str(info.value)


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> CliResult:
    """The real program's entry (``bot.cli.main.run``, which the console script and ``python -m
    bot`` call) in this process, run from ``cwd`` as a user would (``tests/cli_inprocess``)."""
    return derivbot(*args, cwd=cwd, env=env)


def _scalar(annotation: object) -> object:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def numeric_fields() -> list[tuple[str, str, type]]:
    """(TOML table, key, type) of every numeric setting of every section."""
    out = []
    sections: list[tuple[str, type[BaseModel]]] = [("strategies.x", StrategyConfig)]
    for name, field in Settings.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            sections.append((name, field.annotation))
    for table, model in sections:
        for key, field in model.model_fields.items():
            kind = _scalar(field.annotation)
            if kind in (int, float):
                out.append((table, key, kind))
    return out


def test_the_walk_finds_the_fields_of_every_section() -> None:
    found = {f"{table}.{key}" for table, key, _ in numeric_fields()}
    for expected in ("risk.max_notional_per_position", "strategies.x.time_stop_hours", "paper.starting_balance",
                     "universe.min_quote_volume_24h", "engine.cycle_seconds", "journal.batch_size",
                     "logging.rotation_mb", "exchange.timeout_ms", "paper.seed"):
        assert expected in found


@pytest.mark.parametrize(("table", "key", "kind"), numeric_fields(), ids=lambda v: str(v))
def test_every_numeric_setting_is_finite_and_bounded(tmp_path: Path, table: str, key: str, kind: type) -> None:
    huge = ["1e308", "inf", "nan", "-inf"] if kind is float else ["9223372036854775807"]
    for value in huge:
        message = error_of(tmp_path, f"[{table}]\n{key} = {value}\n")
        assert f"{table}.{key}:" in message, (value, message)
        assert "(got " in message


@pytest.mark.parametrize(
    ("toml", "field", "limit", "ok_value", "bad_value"),
    [
        ("[risk]\nmax_notional_per_position = {}\n", "risk.max_notional_per_position", "1000000000", "1e9", "1e308"),
        ("[paper]\nstarting_balance = {}\n", "paper.starting_balance", "1000000000", "1e9", "1e308"),
        ("[strategies.x]\ntake_profit_pct = {}\n", "strategies.x.take_profit_pct", "10", "10", "1e308"),
        ("[strategies.x]\ntime_stop_hours = {}\n", "strategies.x.time_stop_hours", "2160", "2160", "1e308"),  # 90 d
        ("[risk]\ncooldown_after_stop_minutes = {}\n", "risk.cooldown_after_stop_minutes", "43200", "43200",
         "43201"),  # 30 days
        ("[risk]\npause_after_losses_minutes = {}\n", "risk.pause_after_losses_minutes", "43200", "43200", "43201"),
        ("[universe]\nmin_quote_volume_24h = {}\n", "universe.min_quote_volume_24h", "1000000000000", "1e12",
         "1e308"),
        # the journal's queue bound (issue 18): below 100 the bot would pause on a normal cycle's rows
        ("[journal]\nmax_pending = {}\n", "journal.max_pending", "1000000", "1000000", "1000001"),
        ("[journal]\nmax_pending = {}\n", "journal.max_pending", "greater than or equal to 100", "100", "99"),
        ("[journal]\nflush_wait_s = {}\n", "journal.flush_wait_s", "300", "300", "300.5"),
    ],
)
def test_documented_bounds_name_field_value_and_limit(tmp_path: Path, toml: str, field: str, limit: str,
                                                      ok_value: str, bad_value: str) -> None:
    load_settings(write(tmp_path, toml.format(ok_value)))  # the bound itself is allowed
    message = error_of(tmp_path, toml.format(bad_value))
    shown = "1e+308" if bad_value == "1e308" else bad_value
    assert field in message and limit in message and f"(got {shown})" in message


@pytest.mark.parametrize(
    ("toml", "field", "limit"),
    [
        ("[risk]\nmax_notional_per_position = inf\n", "risk.max_notional_per_position", "1e+09"),
        ("[strategies.x]\ntime_stop_hours = inf\n", "strategies.x.time_stop_hours", "2160"),
        ("[paper]\nstarting_balance = inf\n", "paper.starting_balance", "1e+09"),
        ("[risk]\nmax_leverage = inf\n", "risk.max_leverage", "10"),
        ("[risk]\nrisk_per_trade = nan\n", "risk.risk_per_trade", "0.02"),
    ],
)
def test_infinite_values_name_field_value_and_limit(tmp_path: Path, toml: str, field: str, limit: str) -> None:
    message = error_of(tmp_path, toml)
    assert field in message and "finite" in message and limit in message
    assert "(got inf)" in message or "(got nan)" in message


def test_config_check_refuses_what_crashed_the_run(tmp_path: Path) -> None:
    config = write(tmp_path, "[risk]\nmax_notional_per_position = 1e308\n[paper]\nstarting_balance = inf\n"
                             + STRATEGY + "take_profit_pct = 1e308\ntime_stop_hours = inf\n")
    result = cli("config", "check", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    for field in ("risk.max_notional_per_position", "paper.starting_balance",
                  "strategies.short_squeeze.take_profit_pct", "strategies.short_squeeze.time_stop_hours"):
        assert field in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# -- item 11: strict types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ("[risk]\nmax_leverage = true\n", "risk.max_leverage"),
        ("[risk]\nmax_leverage = '3'\n", "risk.max_leverage"),
        ("[risk]\nrisk_per_trade = '0.01'\n", "risk.risk_per_trade"),
        ("[risk]\ndaily_loss_limit = false\n", "risk.daily_loss_limit"),
        ("[risk]\nmax_open_positions = 2.5\n", "risk.max_open_positions"),
        ("[risk]\nmax_notional_per_position = '1000'\n", "risk.max_notional_per_position"),
        ("[strategies.x]\nleverage = true\n", "strategies.x.leverage"),
        ("[strategies.x]\nstop_loss_pct = '0.05'\n", "strategies.x.stop_loss_pct"),
        ("[live]\nenabled = 1\n", "live.enabled"),
        ("[live]\nenabled = 'true'\n", "live.enabled"),
        ("[exchange]\ntestnet = 'false'\n", "exchange.testnet"),
        ("[strategies.x]\nenabled = 'yes'\n", "strategies.x.enabled"),
    ],
)
def test_toml_values_of_the_wrong_type_are_refused_not_coerced(tmp_path: Path, toml: str, field: str) -> None:
    message = error_of(tmp_path, toml)
    assert field in message
    assert "without quotes" in message  # says how to write it


def test_toml_integers_still_fill_float_fields(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "[risk]\nmax_leverage = 3\n[live]\nenabled = false\n"))
    assert settings.risk.max_leverage == 3.0 and settings.live.enabled is False


def test_environment_strings_still_set_strict_fields(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DERIVBOT_RISK__MAX_LEVERAGE", "3")
    monkeypatch.setenv("DERIVBOT_RISK__MAX_OPEN_POSITIONS", "2")
    monkeypatch.setenv("DERIVBOT_LIVE__ENABLED", "false")
    monkeypatch.setenv("DERIVBOT_EXCHANGE__TESTNET", "true")
    monkeypatch.setenv("DERIVBOT_STRATEGIES__SHORT_SQUEEZE__LEVERAGE", "1.5")
    settings = load_settings(write(tmp_path, STRATEGY))
    assert settings.risk.max_leverage == 3.0
    assert settings.risk.max_open_positions == 2
    assert settings.live.enabled is False and settings.exchange.testnet is True
    assert settings.strategies["short_squeeze"].leverage == 1.5
    assert settings.strategies["short_squeeze"].stop_loss_pct == 0.05  # the TOML part is kept


def test_dotenv_strings_still_set_strict_fields(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DERIVBOT_RISK__MAX_LEVERAGE=4\nDERIVBOT_EXCHANGE__TESTNET=true\n")
    settings = load_settings()
    assert settings.risk.max_leverage == 4.0 and settings.exchange.testnet is True


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("DERIVBOT_RISK__MAX_LEVERAGE", "true", "risk.max_leverage"),
        ("DERIVBOT_RISK__MAX_LEVERAGE", "inf", "risk.max_leverage"),
        ("DERIVBOT_RISK__MAX_NOTIONAL_PER_POSITION", "1e308", "risk.max_notional_per_position"),
        ("DERIVBOT_LIVE__ENABLED", "maybe", "live.enabled"),
    ],
)
def test_bad_environment_values_are_refused(monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
                                            field: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert field in str(info.value)


def test_config_check_builds_the_enabled_strategies(tmp_path: Path) -> None:
    unknown = write(tmp_path, "[strategies.no_such_strategy]\nenabled = true\nstop_loss_pct = 0.05\n", "u.toml")
    result = cli("config", "check", "--config", str(unknown), cwd=tmp_path)
    assert result.returncode == 2
    assert "no_such_strategy" in result.stderr and "short_squeeze" in result.stderr  # lists the known ones
    bad_param = write(tmp_path, STRATEGY + "params = { no_such_param = 1 }\n", "p.toml")
    result = cli("config", "check", "--config", str(bad_param), cwd=tmp_path)
    assert result.returncode == 2
    assert "no_such_param" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    good = write(tmp_path, STRATEGY, "g.toml")
    assert cli("config", "check", "--config", str(good), cwd=tmp_path).returncode == 0


def _closed_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_selfcheck_fails_for_an_unreachable_postgresql_journal(tmp_path: Path) -> None:
    url = f"postgresql://bot:Hunter2Secret@127.0.0.1:{_closed_loopback_port()}/journal"
    result = cli("selfcheck", cwd=tmp_path, env={"DERIVBOT_JOURNAL__URL": url})
    assert result.returncode == 1
    assert "FAIL journal url" in result.stdout
    assert "Hunter2Secret" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_selfcheck_passes_for_a_sqlite_journal_without_creating_it(tmp_path: Path) -> None:
    journal = tmp_path / "j" / "journal.sqlite"
    result = cli("selfcheck", cwd=tmp_path, env={"DERIVBOT_JOURNAL__URL": f"sqlite:///{journal}"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   journal url" in result.stdout
    assert not journal.exists()


@pytest.mark.parametrize(
    "toml",
    [
        "mode = '{}'\n",
        "[exchange]\nbase_url = '{}'\n",
        "[risk]\nmax_leverage = '{}'\n",
        "[risk]\n{} = 1\n",  # an unknown key 10,000 characters long
    ],
)
def test_long_values_are_not_echoed_whole(tmp_path: Path, toml: str) -> None:
    message = error_of(tmp_path, toml.format("y" * 10_000))
    assert "y" * 81 not in message
    assert "…" in message
    assert len(message) < 400


# -- item 8: one line instead of a traceback ---------------------------------------------------


def test_non_utf8_config_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "latin1.toml"
    config.write_bytes("# caf\xe9\nmode = 'paper'\n".encode("latin-1"))
    message = error_of_path(config)
    assert str(config) in message and "UTF-8" in message
    result = cli("config", "check", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "UTF-8" in result.stderr


def error_of_path(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return str(info.value)


def test_non_utf8_dotenv_is_named(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"DERIVBOT_MODE=paper\n# caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(tmp_path / ".env") in str(info.value) and "UTF-8" in str(info.value)
    result = cli("config", "check", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr and ".env" in result.stderr


@pytest.mark.parametrize("source", ["environment", ".env"])
def test_list_variable_that_is_not_json_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                source: str) -> None:
    if source == "environment":
        monkeypatch.setenv("DERIVBOT_UNIVERSE__SYMBOLS", "BTCUSDT")
    else:
        (tmp_path / ".env").write_text("DERIVBOT_UNIVERSE__SYMBOLS=BTCUSDT\n")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "DERIVBOT_UNIVERSE__SYMBOLS" in message and "JSON" in message and '["BTCUSDT"]' in message


def test_list_variable_as_json_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DERIVBOT_UNIVERSE__SYMBOLS", '["BTCUSDT", "ETHUSDT"]')
    assert load_settings().universe.symbols == ["BTCUSDT", "ETHUSDT"]


def test_cli_names_a_bad_list_variable(tmp_path: Path) -> None:
    result = cli("config", "check", cwd=tmp_path, env={"DERIVBOT_UNIVERSE__SYMBOLS": "BTCUSDT"})
    assert result.returncode == 2
    assert "DERIVBOT_UNIVERSE__SYMBOLS" in result.stderr and "Traceback" not in result.stderr


def test_unwritable_log_file_is_a_config_error_naming_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    path = blocker / "logs" / "derivbot.jsonl"
    try:
        with pytest.raises(ConfigError) as info:
            setup_logging(LoggingSettings(json_file=str(path)))
    finally:
        setup_logging()
    assert str(path) in str(info.value) and "logging.json_file" in str(info.value)
    assert f"{blocker} is a file, not a folder" in str(info.value)


def test_log_file_under_proc_is_a_config_error(tmp_path: Path) -> None:
    """/proc refuses new files even to root (tests here run as root, so chmod proves nothing)."""
    path = Path("/proc/derivbot-no-such-dir/derivbot.jsonl")
    try:
        with pytest.raises(ConfigError, match=r"logging\.json_file: cannot write the log file /proc/"):
            setup_logging(LoggingSettings(json_file=str(path)))
    finally:
        setup_logging()


def test_cli_reports_an_unwritable_log_file_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    result = cli("selfcheck", cwd=tmp_path, env={"DERIVBOT_LOGGING__JSON_FILE": str(tmp_path / "afile" / "x.jsonl")})
    assert result.returncode == 2
    assert "logging.json_file" in result.stderr and "Traceback" not in result.stderr


def test_runner_can_invoke_check_in_process() -> None:
    """CliRunner path (no subprocess) for the default config: still ok after the stricter types."""
    result = CliRunner().invoke(app, ["config", "check", "--config", str(REPO / "config" / "paper.toml")])
    assert result.exit_code == 0, result.output
