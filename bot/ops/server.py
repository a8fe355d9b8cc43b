"""The bot's ops endpoint: ``/metrics`` (Prometheus) and ``/healthz`` on one small HTTP server.

It runs on the bot's own event loop (aiohttp, already a dependency), so a loop blocked by a bug
cannot answer ``/healthz`` at all, which a health check reads as unhealthy too. Bound to
127.0.0.1 by default; on a loopback bind it answers only requests addressed to a loopback name
(``Host: 127.0.0.1``, ``localhost``, ``[::1]``), so a web page cannot read balances and positions
through DNS rebinding. Binding another address is the user's choice to expose it (warned).
"""

from __future__ import annotations

import errno
import ipaddress
import json
from collections.abc import Callable

from aiohttp import web
from loguru import logger

from bot.config import MetricsSettings
from bot.ops.health import HealthState
from bot.ops.metrics import BotMetrics

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """``[::1]:9464`` -> ``::1``, ``localhost:9464`` -> ``localhost``."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class OpsServer:
    """Serves one :class:`BotMetrics` and its :class:`HealthState`; ``start`` / ``stop`` on the loop."""

    def __init__(self, metrics: BotMetrics, health: HealthState, host: str = "127.0.0.1", port: int = 9464) -> None:
        self.metrics = metrics
        self.health = health
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        """Bind and serve; returns the base URL (with the real port when ``port`` is 0).

        A port in use raises ``OSError`` with a message naming the setting to change.
        """
        app = web.Application(middlewares=[self._loopback_only] if is_loopback(self.host) else [])
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            if exc.errno == errno.EADDRINUSE:
                raise OSError(exc.errno, f"metrics.port {self.port} is already in use on {self.host}: set [metrics] "
                                         "port to a free one, or enabled = false") from None
            raise OSError(exc.errno, f"cannot serve metrics on {self.host}:{self.port}: {exc.strerror or exc}") \
                from None
        self._runner = runner
        port = runner.addresses[0][1] if runner.addresses else self.port
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.base_url = f"http://{host}:{port}"
        if not is_loopback(self.host):
            logger.warning("metrics and /healthz bind {!r}, which is not loopback: anyone who reaches port {} reads "
                           "the account's equity and positions", self.host, port)
        logger.info("metrics at {}/metrics, health at {}/healthz", self.base_url, self.base_url)
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _loopback_only(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        if _host_name(request.host or "").lower() not in _LOOPBACK_NAMES:
            return web.Response(status=421, text="misdirected request: this server answers only 127.0.0.1/localhost\n")
        return await handler(request)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), headers={"Content-Type": PROMETHEUS_TEXT})

    async def _healthz(self, request: web.Request) -> web.Response:
        verdict = self.health.verdict()
        return web.Response(status=200 if verdict.ok else 503, text=json.dumps(verdict.to_dict()),
                            content_type="application/json")


def ops_server(settings: MetricsSettings, cycle_seconds: float, *, backlog: Callable[[], int] | None = None,
               clock: Callable[[], float] | None = None) -> OpsServer:
    """The server a run uses: health bound = ``stale_after_cycles`` x ``cycle_seconds``."""
    health = HealthState(settings.stale_after_cycles * cycle_seconds, *(() if clock is None else (clock,)))
    return OpsServer(BotMetrics(health, backlog=backlog), health, settings.host, settings.port)
