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
import os
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from bot import safety
from bot.core.enums import MarginMode, Mode
from bot.core.text import shorten
from bot.logging import mask_url_passwords, url_passwords, url_secret_parts

DEFAULT_CONFIG_PATH = Path("config/paper.toml")
DEFAULT_JOURNAL_URL = "sqlite:///data/journal.sqlite"


class ConfigError(Exception):
    """A configuration problem a user can fix; the message says what and where."""


# -- upper bounds -----------------------------------------------------------------------------
# Every numeric setting is finite and bounded at validation: a value the engine cannot compute
# with (inf, 1e308) must fail ``config check``, not the first entry of a run (Decimal and
# timedelta overflow there). The bounds are far beyond any sensible value, so they only catch
# typos and hostile input; the hard *safety* limits stay in :mod:`bot.safety`.

#: Money amounts in USDT (starting balance, notional cap): a billion is beyond any account here.
MAX_MONEY = 1e9
#: 24h quote volume filter: the largest perpetual trades ~1e11 USDT a day.
MAX_QUOTE_VOLUME = 1e12
#: Take-profit, trailing activation and breakeven distances: a 1,000% move.
MAX_PROFIT_PCT = 10.0
#: Time stop: 90 days.
MAX_TIME_STOP_HOURS = 90 * 24
#: Cool-downs and pauses: 30 days.
MAX_PAUSE_MINUTES = 30 * 24 * 60
#: Losing trades in a row before the pause.
MAX_CONSECUTIVE_LOSSES = 100
#: Random seeds: what numpy and every RNG here accept.
MAX_SEED = 2**32 - 1


def _number(default: Any, *, description: str | None = None, hard_limit: float | None = None,
            **bounds: float) -> Any:
    """A strict, finite numeric field.

    Strict: ``true`` or ``"3"`` in a TOML file is an error, not 1 or 3 (the environment, whose
    values are always strings, is converted by :class:`_ScalarCoercion` first). Finite: NaN and
    inf are refused. ``bounds`` (gt/ge/le) must include ``le``, unless ``hard_limit`` names a
    :mod:`bot.safety` limit that a field validator enforces with its own message.
    """
    if "le" not in bounds and hard_limit is None:
        raise TypeError("every numeric setting needs an upper bound")
    extra = {"hard_limit": hard_limit} if hard_limit is not None else None
    return Field(default, strict=True, allow_inf_nan=False, description=description,
                 json_schema_extra=extra, **bounds)


def _flag(default: bool, *, description: str | None = None) -> Any:
    """A strict boolean: ``1`` or ``"yes"`` in a TOML file is an error (safety switches)."""
    return Field(default, strict=True, description=description)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ExchangeSettings(_Section):
    """Which exchange, how to reach it, and the keys to sign with."""

    id: Literal["binanceusdm", "bybit", "okx"] = "binanceusdm"
    testnet: bool = _flag(False, description="use the exchange's demo/testnet endpoints")
    base_url: str | None = Field(None, description="override every REST base URL (our emulator)")
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    request_budget_per_minute: int = _number(
        1200, ge=60, le=2400, description="our own request-weight budget on top of ccxt's limiter"
    )
    timeout_ms: int = _number(10_000, ge=1_000, le=60_000)
    extra_funding_sources: list[Literal["bybit", "okx"]] = Field(
        default_factory=list, description="extra venues for open-interest-weighted funding"
    )

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value


class LiveSettings(_Section):
    enabled: bool = _flag(False, description="live trading also needs --i-accept-live-risk")


class UniverseSettings(_Section):
    symbols: list[str] = Field(default_factory=list, description="explicit symbols; empty = scan by filters")
    min_quote_volume_24h: float = _number(20_000_000.0, ge=0, le=MAX_QUOTE_VOLUME)
    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)
    refresh_minutes: int = _number(60, ge=1, le=24 * 60)
    max_symbols: int = _number(400, ge=1, le=1000)


class StrategyConfig(_Section):
    """One strategy's switch, protective exits and parameters (validated by the strategy)."""

    enabled: bool = _flag(False)
    # stop_loss_pct and leverage: the upper bound is a hard limit, checked (with its message) below.
    stop_loss_pct: float | None = _number(None, gt=0, hard_limit=safety.MAX_STOP_LOSS_PCT,
                                          description="price distance of the stop, fraction of entry")
    take_profit_pct: float | None = _number(None, gt=0, le=MAX_PROFIT_PCT)
    leverage: float = _number(2.0, gt=0, hard_limit=safety.ABSOLUTE_MAX_LEVERAGE)
    time_stop_hours: float | None = _number(None, gt=0, le=MAX_TIME_STOP_HOURS)
    trailing_stop_pct: float | None = _number(
        None, gt=0, le=safety.MAX_STOP_LOSS_PCT, description="trail the stop this far behind the best price")
    trailing_activation_pct: float = _number(0.0, ge=0, le=MAX_PROFIT_PCT,
                                             description="start trailing after this favourable move")
    breakeven_trigger_pct: float | None = _number(None, gt=0, le=MAX_PROFIT_PCT,
                                                  description="move the stop to entry after this gain")
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

    # risk_per_trade, max_leverage, daily_loss_limit, max_drawdown: the upper bound is the hard
    # limit in bot.safety, checked (with a message naming it) by the validators below.
    risk_per_trade: float = _number(0.005, gt=0, hard_limit=safety.MAX_RISK_PER_TRADE,
                                   description="equity fraction risked entry-to-stop")
    max_leverage: float = _number(safety.LIVE_DEFAULT_LEVERAGE, gt=0, hard_limit=safety.ABSOLUTE_MAX_LEVERAGE)
    margin_mode: MarginMode = MarginMode.ISOLATED
    max_open_positions: int = _number(3, ge=1, le=50)
    max_positions_per_symbol: int = _number(1, ge=1, le=1)
    max_same_side_positions: int = _number(3, ge=1, le=50)
    max_gross_exposure: float = _number(3.0, gt=0, le=safety.ABSOLUTE_MAX_LEVERAGE)
    max_net_exposure: float = _number(2.0, gt=0, le=safety.ABSOLUTE_MAX_LEVERAGE)
    max_notional_per_position: float | None = _number(None, gt=0, le=MAX_MONEY)
    max_margin_fraction_per_position: float = _number(0.25, gt=0, le=1.0)
    liquidation_buffer: float = _number(0.5, gt=0, le=0.9, description="stop distance / liquidation distance")
    cooldown_after_stop_minutes: int = _number(240, ge=0, le=MAX_PAUSE_MINUTES)
    max_orders_per_minute: int = _number(30, ge=1, le=1200)
    daily_loss_limit: float = _number(0.03, gt=0, hard_limit=safety.MAX_DAILY_LOSS_LIMIT)
    max_drawdown: float = _number(0.10, gt=0, hard_limit=safety.MAX_DRAWDOWN_LIMIT)
    max_consecutive_losses: int = _number(4, ge=1, le=MAX_CONSECUTIVE_LOSSES)
    pause_after_losses_minutes: int = _number(720, ge=0, le=MAX_PAUSE_MINUTES)

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

    starting_balance: float = _number(10_000.0, gt=0, le=MAX_MONEY)
    maker_fee: float = _number(0.0002, ge=0, le=0.01)
    taker_fee: float = _number(0.0005, ge=0, le=0.01)
    seed: int = _number(7, ge=0, le=MAX_SEED)


class EngineSettings(_Section):
    cycle_seconds: float = _number(60.0, gt=0, le=3600)
    timeframe: Literal["1m", "5m", "15m", "1h"] = "1h"
    history_bars: int = _number(200, ge=10, le=5000)
    halt_file: str = Field("data/HALT", description="the kill switch: the bot flattens when this file exists")


class JournalSettings(_Section):
    url: str = DEFAULT_JOURNAL_URL
    batch_size: int = _number(200, ge=1, le=10_000)
    flush_interval_ms: int = _number(200, ge=1, le=10_000)
    max_pending: int = _number(
        10_000, ge=100, le=1_000_000,
        description="rows queued but not yet committed beyond which the bot opens no new positions (exits and "
                    "stops go on) until the journal is back to half of it",
    )
    flush_wait_s: float = _number(
        5.0, gt=0, le=300,
        description="longest a live cycle waits for the journal to commit; a slower or unreachable database "
                    "leaves the rows queued and the loop goes on",
    )

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(f"must be a sqlite:/// or postgresql:// URL, got {value.split(':', 1)[0]!r}")
        return value


class MetricsSettings(_Section):
    """The Prometheus endpoint and the health check of a running bot (``bot.ops``).

    Off unless enabled (``derivbot init``'s config and the docker-compose file enable it): a port
    bound by every ``derivbot run`` would collide between two bots on one machine. Loopback by
    default; another address exposes balances and positions to whoever reaches the port.
    """

    enabled: bool = _flag(False, description="serve /metrics and /healthz while the bot runs")
    host: str = Field("127.0.0.1", min_length=1, max_length=255, description="interface to bind")
    port: int = _number(9464, ge=1, le=65_535)
    stale_after_cycles: float = _number(
        3.0, ge=1, le=1000, description="unhealthy once the last good cycle is older than this many cycle lengths")


class LoggingSettings(_Section):
    level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    json_file: str | None = Field(None, description="path of a JSON log file (rotated); None = console only")
    rotation_mb: int = _number(20, ge=1, le=1024)
    retention_files: int = _number(5, ge=1, le=100)


#: Everything an alert can be about (see bot.ops.alert_rules, which maps journal rows to these).
ALERT_EVENTS = ("start", "stop", "crash", "entry", "exit", "stop_placed", "stop_moved", "stop_failed", "no_stop",
                "reconciliation", "risk_state", "kill_switch", "cycle_failures", "daily_summary")
AlertEvent = Literal["start", "stop", "crash", "entry", "exit", "stop_placed", "stop_moved", "stop_failed",
                     "no_stop", "reconciliation", "risk_state", "kill_switch", "cycle_failures", "daily_summary"]
#: Alert severities, lowest first (the journal's event severities).
AlertLevel = Literal["debug", "info", "warning", "error", "critical"]


class AlertTarget(_Section):
    """One notification destination: an apprise URL (Telegram, Discord, Slack, e-mail, ntfy, a JSON
    webhook, ...) with the lowest severity it gets and the events it wants.

    The URL is a secret (it holds the bot token or webhook key): it is a ``SecretStr``, masked by
    ``config show`` and registered with the log redactor, whole and piece by piece.
    """

    url: SecretStr = Field(description="an apprise URL, e.g. tgram://TOKEN/CHAT or json://host:port/path")
    level: AlertLevel = Field("warning", description="the lowest severity sent to this target")
    events: list[AlertEvent] = Field(default_factory=list, description="the events sent here; empty = all")

    @field_validator("url")
    @classmethod
    def _looks_like_url(cls, value: SecretStr) -> SecretStr:
        # The message never repeats the value: it is a secret.
        text = value.get_secret_value().strip()
        scheme, sep, rest = text.partition("://")
        if not sep or not rest or not scheme or not scheme[0].isalpha() \
                or not all(c.isalnum() or c in "+.-" for c in scheme):
            raise ValueError("must be an apprise URL of the form scheme://..., e.g. json://127.0.0.1:8080/hook "
                             "or tgram://bot_token/chat_id")
        return SecretStr(text)


class AlertSettings(_Section):
    """Alerts: where they go, and how sending stays off the trading loop (bot.ops.alerts)."""

    targets: list[AlertTarget] = Field(default_factory=list, description="no targets = no alerts")
    queue_size: int = _number(1000, ge=1, le=100_000, description="alerts waiting to be sent; more are dropped")
    merge_window_seconds: float = _number(300.0, ge=0, le=86_400,
                                          description="identical alerts within this window are sent once")
    retries: int = _number(3, ge=0, le=10, description="retries of a failed send before it is dropped")
    backoff_seconds: float = _number(2.0, gt=0, le=300, description="first retry delay; doubles each retry")
    drain_seconds: float = _number(5.0, ge=0, le=120,
                                   description="at shutdown, how long queued alerts may still be sent")


def _unwrap_optional(annotation: Any) -> Any:
    """``X`` for ``X | None`` (and ``Optional[X]``); anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _annotation_at(root: type[BaseModel], path: list[str]) -> Any:
    """The annotation of the setting at ``path`` (``["universe", "symbols"]``); None if unknown."""
    annotation: Any = root
    for part in path:
        annotation = _unwrap_optional(annotation)
        if _is_model(annotation):
            field = annotation.model_fields.get(part)
            if field is None:
                return None
            annotation = field.annotation
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return None
    return _unwrap_optional(annotation)


def _coerce_env_strings(data: Any, annotation: Any) -> Any:
    """Environment values are strings: turn those aimed at a number or boolean into one.

    The strict fields refuse strings (``max_leverage = "3"`` in TOML is a mistake), but
    ``DERIVBOT_RISK__MAX_LEVERAGE=3`` can only ever be a string. A string that does not parse
    (``true`` for a number) is left as it is, so strict validation reports it.
    """
    annotation = _unwrap_optional(annotation)
    if isinstance(data, str):
        if annotation in (float, int, bool):
            try:
                return TypeAdapter(annotation).validate_python(data.strip())
            except ValidationError:
                return data
        return data
    if isinstance(data, dict):
        if _is_model(annotation):
            fields = annotation.model_fields
            return {k: _coerce_env_strings(v, fields[k].annotation) if k in fields else v for k, v in data.items()}
        if typing.get_origin(annotation) is dict:
            value_type = typing.get_args(annotation)[1]
            return {k: _coerce_env_strings(v, value_type) for k, v in data.items()}
    return data


def _json_example(annotation: Any) -> str:
    if typing.get_origin(annotation) is list:
        return '\'["BTCUSDT"]\''
    return "'{\"key\": value}'"


class _ScalarCoercion:
    """Mixin for the environment and ``.env`` sources (see :func:`_coerce_env_strings`).

    It also turns a value that must be JSON but is not (``DERIVBOT_UNIVERSE__SYMBOLS=BTCUSDT``)
    into a :class:`ConfigError` naming the variable, instead of pydantic-settings' traceback.
    """

    settings_cls: type[BaseSettings]
    env_vars: Any
    env_prefix: str | None
    env_nested_delimiter: str | None

    def __call__(self) -> dict[str, Any]:
        try:
            data = super().__call__()  # type: ignore[misc]
        except SettingsError:
            raise ConfigError(self._explain_bad_json()) from None
        return _coerce_env_strings(data, self.settings_cls)

    def _explain_bad_json(self) -> str:
        prefix = (self.env_prefix or "").lower()
        delimiter = self.env_nested_delimiter or "__"
        for name, value in self.env_vars.items():
            if not name.lower().startswith(prefix) or value is None:
                continue
            annotation = _annotation_at(self.settings_cls, name[len(prefix):].lower().split(delimiter))
            if not (typing.get_origin(annotation) in (list, dict) or _is_model(annotation)):
                continue
            try:
                json.loads(value)
            except ValueError:
                return (f"{name.upper()} must be JSON, e.g. {_json_example(annotation)} "
                        f"(got {shorten(repr(value))})")
        return "an environment or .env variable holds a value that is not valid JSON"


class _CoercingEnvSource(_ScalarCoercion, EnvSettingsSource):
    """``DERIVBOT_*`` environment variables (strings converted for the strict fields)."""


class _PrefixedDotEnvSource(_ScalarCoercion, DotEnvSettingsSource):
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
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

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
        env = _CoercingEnvSource(settings_cls)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env, dotenv]
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
        """The effective configuration as plain data with every secret masked.

        URL passwords (the journal's PostgreSQL URL) are masked too: this is what ``config show``
        prints and what the run's config hash is computed from.
        """
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
        # A database password also leaks outside its URL (a driver's error message, a DSN).
        for url in (self.journal.url, self.exchange.base_url or ""):
            out.extend(url_passwords(url))
        # An alert URL holds a bot token or webhook key, anywhere in it (tgram://TOKEN/CHAT): the
        # whole URL and each of its parts are redacted (a client's error may quote its path alone).
        for target in self.alerts.targets:
            out.extend(url_secret_parts(target.url.get_secret_value()))
        return out

    def enabled_strategies(self) -> dict[str, StrategyConfig]:
        return {name: cfg for name, cfg in self.strategies.items() if cfg.enabled}


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "**********" if value.get_secret_value() else ""
    if isinstance(value, str):
        return mask_url_passwords(value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if hasattr(value, "value") and value.__class__.__module__ == "bot.core.enums":
        return value.value
    return value


_SECRET_WORDS = ("secret", "key", "password", "token", "passphrase")
#: Messages for the strict fields: say how to write the value, not only that it is wrong.
_STRICT_HINTS = {
    "float_type": "must be a number, written without quotes (true/false are not numbers)",
    "int_type": "must be a whole number, written without quotes or a decimal point",
    "bool_type": "must be true or false, written without quotes",
}


def _limits_text(loc: tuple[Any, ...]) -> str:
    """``" between 0 and 10"``-style bounds of the field at ``loc``, for a "finite number" error."""
    path = [str(part) for part in loc]
    parent = _annotation_at(Settings, path[:-1])
    if not _is_model(parent) or path[-1] not in parent.model_fields:
        return ""
    field = parent.model_fields[path[-1]]
    low = high = None
    for item in field.metadata:  # annotated_types Gt/Ge/Le objects, one bound each
        if getattr(item, "gt", None) is not None:
            low = f"> {item.gt:g}"
        elif getattr(item, "ge", None) is not None:
            low = f">= {item.ge:g}"
        elif getattr(item, "le", None) is not None:
            high = f"<= {item.le:g}"
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if high is None and extra.get("hard_limit") is not None:
        high = f"<= {extra['hard_limit']:g}"
    parts = [p for p in (low, high) if p]
    return f" ({' and '.join(parts)})" if parts else ""


def _format_validation_error(error: ValidationError, secrets: set[str]) -> str:
    """One line per problem: ``section.key: what is wrong (got value)``.

    Values are shortened (a 10,000-character value is not echoed whole) and never show a
    secret or a URL password.
    """
    lines = []
    for item in error.errors():
        loc = ".".join(shorten(str(part), 40) for part in item["loc"]) or "(top level)"
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see config/paper.toml for every key)"
        elif item["type"] == "finite_number":
            msg += _limits_text(item["loc"])
        elif item["type"] in _STRICT_HINTS:
            msg = _STRICT_HINTS[item["type"]]
        shown = item.get("input")
        shown_text = ""
        # Never echo the value of an unknown key: a misspelt "api_secret" still holds a secret.
        if item["type"] not in ("missing", "extra_forbidden") and not isinstance(shown, dict | list):
            text = repr(shown)
            if any(s and s in text for s in secrets) or any(w in loc for w in _SECRET_WORDS) \
                    or loc.startswith("alerts.targets"):  # an alert URL is a secret
                text = "'**********'"
            shown_text = f" (got {shorten(mask_url_passwords(text))})"
        lines.append(f"  {loc}: {mask_url_passwords(msg)}{shown_text}")
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
        _check_toml(toml_path)
    Settings._toml_path = toml_path
    try:
        return Settings(**(overrides or {}))
    except ValidationError as exc:
        secrets = {v for v in _collect_strings(overrides or {}) if len(v) >= 6}
        raise ConfigError(_format_validation_error(exc, secrets)) from None
    except UnicodeDecodeError as exc:
        # The TOML file was decoded above: this is the .env file.
        raise ConfigError(_not_utf8(_dotenv_path(), exc)) from None
    finally:
        Settings._toml_path = None


def _check_toml(path: Path) -> None:
    """Parse the TOML file once up front, so its syntax or encoding errors name the file."""
    try:
        with path.open("rb") as handle:
            tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"malformed TOML in {path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(_not_utf8(path, exc)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None


def _dotenv_path() -> Path:
    return Path(os.fspath(Settings.model_config.get("env_file") or ".env")).resolve()


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> str:
    return (f"{path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}): "
            "save it as UTF-8")


def _collect_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _collect_strings(v)]
    return []
