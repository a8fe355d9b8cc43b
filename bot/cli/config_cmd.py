"""``derivbot config check|show``."""

from __future__ import annotations

import json

import typer
from rich.syntax import Syntax

from bot.cli.common import EXIT_CONFIG, ConfigOption, JsonOption, console, fail, settings_from_cli
from bot.config import Settings

config_app = typer.Typer(help="Validate and show the effective configuration.", no_args_is_help=True)


@config_app.command("check")
def check(config: ConfigOption = None) -> None:
    """Validate the configuration; exit 0 when valid, 2 with the reason when not."""
    settings = settings_from_cli(config, configure_logging=False)
    _check_strategies(settings)
    _check_alert_targets(settings)
    enabled = ", ".join(settings.enabled_strategies()) or "none"
    console.print(f"[green]ok[/]: mode={settings.mode.value} exchange={settings.exchange.id} "
                  f"strategies={enabled} journal={settings.journal.url.split('://', 1)[0]}")


def _check_strategies(settings: Settings) -> None:
    """Build every enabled strategy as ``run`` does, so an unknown name or a bad parameter fails
    here (exit 2) rather than at the start of a run."""
    from strategies import registry
    from strategies.base import StrategyConfigError

    errors = []
    for name, strategy_config in settings.enabled_strategies().items():
        try:
            registry.build(name, strategy_config)
        except StrategyConfigError as exc:
            errors.append(str(exc))
    if errors:
        fail("\n".join(errors), EXIT_CONFIG)


def _check_alert_targets(settings: Settings) -> None:
    """Let apprise parse every alert URL as a run will, so an unknown service fails here (exit 2,
    naming the target, never its URL) rather than at the start of a run."""
    if not settings.alerts.targets:
        return
    from bot.config import ConfigError
    from bot.logging import register_secrets
    from bot.ops.alerts import Target

    register_secrets(*settings.secret_values())  # apprise's own log lines may quote a URL
    errors = []
    for index, target in enumerate(settings.alerts.targets):
        try:
            Target(index, target)
        except ConfigError as exc:
            errors.append(str(exc))
    if errors:
        fail("\n".join(errors), EXIT_CONFIG)


@config_app.command("show")
def show(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Print the effective configuration (file + .env + environment) with secrets masked."""
    settings = settings_from_cli(config, configure_logging=False)
    data = settings.masked_dict()
    if as_json:
        console.print_json(json.dumps(data, default=str))
        return
    import tomli_w

    console.print(Syntax(tomli_w.dumps(_drop_none(data)), "toml", theme="ansi_dark", word_wrap=True))


def _drop_none(value: object) -> object:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value if v is not None]
    return value


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
