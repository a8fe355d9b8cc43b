"""``derivbot health``: exit 0 when the running bot completed a cycle recently, 1 otherwise.

It asks the bot's own ``/healthz`` (:mod:`bot.ops.server`), so the rule lives in one place
(:mod:`bot.ops.health`) and the check sees what the bot sees; docker-compose uses it as the
bot's healthcheck. No answer (bot down, metrics off, another port) is unhealthy as well.
"""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import EXIT_CONFIG, EXIT_ERROR, ConfigOption, console, fail, settings_from_cli


def health(
    config: ConfigOption = None,
    url: Annotated[str | None, typer.Option(
        "--url", help="The bot's /healthz URL (default: from [metrics] host and port).")] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, max=120, help="Seconds to wait for it.")] = 5.0,
) -> None:
    """Check that the running bot completes cycles (its /healthz); exit 0 healthy, 1 not."""
    from bot.ops.health import healthz_url, probe

    if url is None:
        settings = settings_from_cli(config, configure_logging=False)
        if not settings.metrics.enabled:
            fail("the health check asks the bot's metrics server, which is off: set [metrics] enabled = true "
                 "(or DERIVBOT_METRICS__ENABLED=true) for the bot, or pass --url", EXIT_CONFIG)
        url = healthz_url(settings.metrics.host, settings.metrics.port)
    elif not url.startswith(("http://", "https://")):
        fail(f"--url must start with http:// or https://, got {url!r}", EXIT_CONFIG)
    verdict = probe(url, timeout)
    console.print(verdict.message, markup=False)
    if not verdict.ok:
        raise typer.Exit(EXIT_ERROR)


def register(app: typer.Typer) -> None:
    app.command("health")(health)
