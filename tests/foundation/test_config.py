"""Configuration: precedence, hard limits and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import safety
from bot.config import ConfigError, load_settings
from bot.core.enums import Mode

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["paper.toml", "testnet.toml", "live.example.toml"])
def test_shipped_configs_validate(name: str) -> None:
    settings = load_settings(REPO / "config" / name)
    assert settings.mode.value in name or name.startswith("live")
    for cfg in settings.enabled_strategies().values():
        assert cfg.stop_loss_pct is not None


def test_precedence_cli_over_env_over_dotenv_over_toml(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    toml = write(tmp_path, "[risk]\nmax_open_positions = 2\nmax_same_side_positions = 2\n"
                           "[journal]\nurl = 'sqlite:///toml.sqlite'\n")
    assert load_settings(toml).risk.max_open_positions == 2
    (tmp_path / ".env").write_text("DERIVBOT_RISK__MAX_OPEN_POSITIONS=4\nDERIVBOT_JOURNAL__URL=sqlite:///dotenv.sqlite\n")
    settings = load_settings(toml)
    assert settings.risk.max_open_positions == 4
    assert settings.risk.max_same_side_positions == 2  # untouched keys still come from TOML
    monkeypatch.setenv("DERIVBOT_RISK__MAX_OPEN_POSITIONS", "5")
    assert load_settings(toml).risk.max_open_positions == 5
    assert load_settings(toml).journal.url == "sqlite:///dotenv.sqlite"
    cli = load_settings(toml, {"risk": {"max_open_positions": 6}, "journal": {"url": "sqlite:///cli.sqlite"}})
    assert cli.risk.max_open_positions == 6
    assert cli.journal.url == "sqlite:///cli.sqlite"


def test_defaults_without_any_file(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.mode is Mode.PAPER
    assert settings.risk.max_leverage == safety.LIVE_DEFAULT_LEVERAGE
    assert settings.journal.url == "sqlite:///data/journal.sqlite"


@pytest.mark.parametrize(
    ("overrides", "field", "limit"),
    [
        ({"risk": {"max_leverage": 10.5}}, "risk.max_leverage", "10"),
        ({"risk": {"risk_per_trade": 0.021}}, "risk.risk_per_trade", "0.02"),
        ({"strategies": {"s": {"leverage": 11, "stop_loss_pct": 0.05}}}, "strategies.s.leverage", "10"),
        ({"mode": "live", "risk": {"max_leverage": 5.5}}, "risk.max_leverage", "5"),
        ({"mode": "live", "strategies": {"s": {"leverage": 6, "stop_loss_pct": 0.05}}},
         "strategies.s.leverage", "5"),
        ({"risk": {"daily_loss_limit": 0.5}}, "risk.daily_loss_limit", "0.2"),
    ],
)
def test_beyond_a_hard_limit_names_field_value_and_limit(overrides, field, limit) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, overrides)
    message = str(info.value)
    assert field in message
    assert limit in message


def test_limits_are_accepted_exactly_at_the_boundary() -> None:
    assert load_settings(None, {"risk": {"max_leverage": 10, "risk_per_trade": 0.02}}).risk.max_leverage == 10
    live = load_settings(None, {"mode": "live", "risk": {"max_leverage": 5}})
    assert live.risk.max_leverage == 5


def test_live_mode_defaults_to_3x() -> None:
    assert load_settings(None, {"mode": "live"}).risk.max_leverage == 3


def test_strategy_without_stop_cannot_be_enabled() -> None:
    with pytest.raises(ConfigError, match=r"strategies\.squeeze.*stop_loss_pct is required"):
        load_settings(None, {"strategies": {"squeeze": {"enabled": True}}})
    # disabled without a stop is fine
    load_settings(None, {"strategies": {"squeeze": {"enabled": False}}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[risk\nmax_leverage = 2", "malformed TOML"),
        ("[risk]\nmax_levrage = 2\n", "risk.max_levrage: unknown key"),
        ("[risk]\nmax_leverage = 'lots'\n", "risk.max_leverage"),
        ("mode = 'yolo'\n", "mode"),
        ("[journal]\nurl = 'mysql://x'\n", "journal.url"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path, text, expected) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    assert expected in str(info.value)


def test_missing_config_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_dotenv_ignores_foreign_keys_but_not_misspelt_own_keys(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=x\n")
    load_settings()
    (tmp_path / ".env").write_text("DERIVBOT_RISKK__MAX_LEVERAGE=2\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_settings()


def test_masked_dict_and_hash_hide_secrets(monkeypatch) -> None:
    monkeypatch.setenv("DERIVBOT_EXCHANGE__API_SECRET", "s3cr3t-value-XYZ")
    monkeypatch.setenv("DERIVBOT_EXCHANGE__API_KEY", "k3y-value-ABC")
    settings = load_settings()
    assert settings.exchange.api_secret.get_secret_value() == "s3cr3t-value-XYZ"
    text = repr(settings.masked_dict()) + repr(settings) + str(settings)
    assert "s3cr3t-value-XYZ" not in text
    assert "k3y-value-ABC" not in text
    assert settings.masked_dict()["exchange"]["api_secret"] == "**********"
    assert len(settings.config_hash()) == 16
