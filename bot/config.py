"""Configuration: typed settings with hard safety limits.

Precedence, highest first: command-line flags > environment (``DERIVBOT_`` prefix, ``__``
between nested names, e.g. ``DERIVBOT_EXCHANGE__API_SECRET``) > ``.env`` > the TOML file
(``--config``, default ``config/paper.toml``) > defaults.

Anything invalid raises :class:`ConfigError` whose message names the field, the value and
the limit; the CLI prints it and exits with code 2 (never a traceback).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot import safety
from bot.core.enums import MarginMode, Mode

DEFAULT_CONFIG_PATH = Path("config/paper.toml")
DEFAULT_JOURNAL_URL = "sqlite:///data/journal.sqlite"


class ConfigError(Exception):
    """A configuration problem a user can fix; the message says what and where."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ExchangeSettings(_Section):
    """Which exchange, how to reach it, and the keys to sign with."""

    id: Literal["binanceusdm", "bybit", "okx"] = "binanceusdm"
    testnet: bool = Field(False, description="use the exchange's demo/testnet endpoints")
    base_url: str | None = Field(None, description="override every REST base URL (our emulator)")
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    request_budget_per_minute: int = Field(
        1200, ge=60, le=2400, description="our own request-weight budget on top of ccxt's limiter"
    )
    timeout_ms: int = Field(10_000, ge=1_000, le=60_000)
    extra_funding_sources: list[Literal["bybit", "okx"]] = Field(
        default_factory=list, description="extra venues for open-interest-weighted funding"
    )

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value.rstrip("/") if value else value


class LiveSettings(_Section):
    enabled: bool = Field(False, description="live trading also needs --i-accept-live-risk")


class UniverseSettings(_Section):
    symbols: list[str] = Field(default_factory=list, description="explicit symbols; empty = scan by filters")
    min_quote_volume_24h: float = Field(20_000_000.0, ge=0)
    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)
    refresh_minutes: int = Field(60, ge=1, le=24 * 60)
    max_symbols: int = Field(400, ge=1, le=1000)


class StrategyConfig(_Section):
    """One strategy's switch, protective exits and parameters (validated by the strategy)."""

    enabled: bool = False
    stop_loss_pct: float | None = Field(None, gt=0, description="price distance of the stop, fraction of entry")
    take_profit_pct: float | None = Field(None, gt=0)
    leverage: float = Field(2.0, gt=0)
    time_stop_hours: float | None = Field(None, gt=0)
    trailing_stop_pct: float | None = Field(
        None, gt=0, le=safety.MAX_STOP_LOSS_PCT, description="trail the stop this far behind the best price")
    trailing_activation_pct: float = Field(0.0, ge=0, description="start trailing after this favourable move")
    breakeven_trigger_pct: float | None = Field(None, gt=0, description="move the stop to entry after this gain")
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("stop_loss_pct")
    @classmethod
    def _stop_within_limit(cls, value: float | None) -> float | None:
        if value is not None and value > safety.MAX_STOP_LOSS_PCT:
            raise ValueError(f"{value} exceeds the hard limit {safety.MAX_STOP_LOSS_PCT}")
        return value

    @field_validator("leverage")
    @classmethod
    def _leverage_within_ceiling(cls, value: float) -> float:
        if value > safety.ABSOLUTE_MAX_LEVERAGE:
            raise ValueError(f"{value} exceeds the hard leverage ceiling {safety.ABSOLUTE_MAX_LEVERAGE:g}")
        return value

    @model_validator(mode="after")
    def _stop_required(self) -> StrategyConfig:
        if self.enabled and self.stop_loss_pct is None:
            raise ValueError("stop_loss_pct is required: a strategy without a stop-loss cannot be enabled")
        return self


class RiskSettings(_Section):
    """Account risk limits. Hard ceilings live in :mod:`bot.safety`; these can only be tighter."""

    risk_per_trade: float = Field(0.005, gt=0, description="equity fraction risked entry-to-stop")
    max_leverage: float = Field(safety.LIVE_DEFAULT_LEVERAGE, gt=0)
    margin_mode: MarginMode = MarginMode.ISOLATED
    max_open_positions: int = Field(3, ge=1, le=50)
    max_positions_per_symbol: int = Field(1, ge=1, le=1)
    max_same_side_positions: int = Field(3, ge=1, le=50)
    max_gross_exposure: float = Field(3.0, gt=0, le=safety.ABSOLUTE_MAX_LEVERAGE)
    max_net_exposure: float = Field(2.0, gt=0, le=safety.ABSOLUTE_MAX_LEVERAGE)
    max_notional_per_position: float | None = Field(None, gt=0)
    max_margin_fraction_per_position: float = Field(0.25, gt=0, le=1.0)
    liquidation_buffer: float = Field(0.5, gt=0, le=0.9, description="stop distance / liquidation distance")
    cooldown_after_stop_minutes: int = Field(240, ge=0)
    max_orders_per_minute: int = Field(30, ge=1, le=1200)
    daily_loss_limit: float = Field(0.03, gt=0)
    max_drawdown: float = Field(0.10, gt=0)
    max_consecutive_losses: int = Field(4, ge=1)
    pause_after_losses_minutes: int = Field(720, ge=0)

    @field_validator("risk_per_trade")
    @classmethod
    def _risk_within_limit(cls, value: float) -> float:
        if value > safety.MAX_RISK_PER_TRADE:
            raise ValueError(f"{value} exceeds the hard limit {safety.MAX_RISK_PER_TRADE} (2% of equity)")
        return value

    @field_validator("max_leverage")
    @classmethod
    def _leverage_within_ceiling(cls, value: float) -> float:
        if value > safety.ABSOLUTE_MAX_LEVERAGE:
            raise ValueError(f"{value} exceeds the hard leverage ceiling {safety.ABSOLUTE_MAX_LEVERAGE:g}")
        return value

    @field_validator("daily_loss_limit")
    @classmethod
    def _daily_within_limit(cls, value: float) -> float:
        if value > safety.MAX_DAILY_LOSS_LIMIT:
            raise ValueError(f"{value} exceeds the hard limit {safety.MAX_DAILY_LOSS_LIMIT}")
        return value

    @field_validator("max_drawdown")
    @classmethod
    def _drawdown_within_limit(cls, value: float) -> float:
        if value > safety.MAX_DRAWDOWN_LIMIT:
            raise ValueError(f"{value} exceeds the hard limit {safety.MAX_DRAWDOWN_LIMIT}")
        return value


class PaperSettings(_Section):
    """The simulated account used by paper mode and backtests."""

    starting_balance: float = Field(10_000.0, gt=0)
    maker_fee: float = Field(0.0002, ge=0, le=0.01)
    taker_fee: float = Field(0.0005, ge=0, le=0.01)
    seed: int = 7


class EngineSettings(_Section):
    cycle_seconds: float = Field(60.0, gt=0, le=3600)
    timeframe: Literal["1m", "5m", "15m", "1h"] = "1h"
    history_bars: int = Field(200, ge=10, le=5000)
    halt_file: str = Field("data/HALT", description="the kill switch: the bot flattens when this file exists")


class JournalSettings(_Section):
    url: str = DEFAULT_JOURNAL_URL
    batch_size: int = Field(200, ge=1, le=10_000)
    flush_interval_ms: int = Field(200, ge=1, le=10_000)

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(f"must be a sqlite:/// or postgresql:// URL, got {value.split(':', 1)[0]!r}")
        return value


class LoggingSettings(_Section):
    level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    json_file: str | None = Field(None, description="path of a JSON log file (rotated); None = console only")
    rotation_mb: int = Field(20, ge=1, le=1024)
    retention_files: int = Field(5, ge=1, le=100)


class _PrefixedDotEnvSource(DotEnvSettingsSource):
    """``.env`` reader that ignores variables without the ``DERIVBOT_`` prefix.

    The same ``.env`` file feeds docker-compose (e.g. ``POSTGRES_PASSWORD``); only our own
    prefixed keys are validated, so a misspelt ``DERIVBOT_`` key is still an error.
    """

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        prefix = (self.env_prefix or "").lower()
        fields = set(self.settings_cls.model_fields)
        return {k: v for k, v in data.items() if k in fields or k.lower().startswith(prefix)}


class Settings(BaseSettings):
    """The whole effective configuration of one derivbot process."""

    model_config = SettingsConfigDict(
        env_prefix="DERIVBOT_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        validate_default=True,
    )

    #: TOML file read by the next instantiation (set by :func:`load_settings`).
    _toml_path: ClassVar[Path | None] = None

    mode: Mode = Mode.PAPER
    exchange: ExchangeSettings = Field(default_factory=ExchangeSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)
    universe: UniverseSettings = Field(default_factory=UniverseSettings)
    strategies: dict[str, StrategyConfig] = Field(default_factory=dict)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    paper: PaperSettings = Field(default_factory=PaperSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    journal: JournalSettings = Field(default_factory=JournalSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        dotenv = _PrefixedDotEnvSource(settings_cls)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv]
        if cls._toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls._toml_path))
        return tuple(sources)

    @model_validator(mode="after")
    def _mode_limits(self) -> Settings:
        if self.mode is Mode.LIVE:
            if self.risk.max_leverage > safety.LIVE_MAX_LEVERAGE:
                raise ValueError(
                    f"risk.max_leverage = {self.risk.max_leverage:g} exceeds the live-mode limit "
                    f"{safety.LIVE_MAX_LEVERAGE:g}"
                )
            for name, strat in self.strategies.items():
                if strat.leverage > safety.LIVE_MAX_LEVERAGE:
                    raise ValueError(
                        f"strategies.{name}.leverage = {strat.leverage:g} exceeds the live-mode limit "
                        f"{safety.LIVE_MAX_LEVERAGE:g}"
                    )
        return self

    # -- views -----------------------------------------------------------------------------

    def masked_dict(self) -> dict[str, Any]:
        """The effective configuration as plain data with every secret masked."""
        return _mask(self.model_dump(mode="python"))

    def config_hash(self) -> str:
        """Stable hash of the masked configuration, stored with each run."""
        blob = json.dumps(self.masked_dict(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def secret_values(self) -> list[str]:
        """Every secret's plain value, for the log redactor (never printed)."""
        out = []
        for secret in (self.exchange.api_key, self.exchange.api_secret):
            if secret is not None and secret.get_secret_value():
                out.append(secret.get_secret_value())
        return out

    def enabled_strategies(self) -> dict[str, StrategyConfig]:
        return {name: cfg for name, cfg in self.strategies.items() if cfg.enabled}


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "**********" if value.get_secret_value() else ""
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if hasattr(value, "value") and value.__class__.__module__ == "bot.core.enums":
        return value.value
    return value


_SECRET_WORDS = ("secret", "key", "password", "token", "passphrase")


def _format_validation_error(error: ValidationError, secrets: set[str]) -> str:
    lines = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"]) or "(top level)"
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see config/paper.toml for every key)"
        shown = item.get("input")
        shown_text = ""
        # Never echo the value of an unknown key: a misspelt "api_secret" still holds a secret.
        if item["type"] not in ("missing", "extra_forbidden") and not isinstance(shown, dict | list):
            text = repr(shown)
            if any(s and s in text for s in secrets) or any(w in loc for w in _SECRET_WORDS):
                text = "'**********'"
            shown_text = f" (got {text})"
        lines.append(f"  {loc}: {msg}{shown_text}")
    return "invalid configuration:\n" + "\n".join(lines)


def load_settings(config_path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Build the effective settings. ``overrides`` are the CLI flags (highest precedence).

    Raises :class:`ConfigError` with a readable message for every kind of bad input.
    """
    path = Path(config_path) if config_path is not None else DEFAULT_CONFIG_PATH
    if config_path is not None and not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    toml_path: Path | None = path if path.is_file() else None
    if toml_path is not None:
        try:
            with toml_path.open("rb") as handle:
                tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"malformed TOML in {toml_path}: {exc}") from None
    Settings._toml_path = toml_path
    try:
        return Settings(**(overrides or {}))
    except ValidationError as exc:
        secrets = {v for v in _collect_strings(overrides or {}) if len(v) >= 6}
        raise ConfigError(_format_validation_error(exc, secrets)) from None
    finally:
        Settings._toml_path = None


def _collect_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _collect_strings(v)]
    return []
