"""``derivbot journal serve``: a read-only web dashboard (FastAPI + server-rendered jinja2).

Pages: ``/`` summary with the equity chart, ``/trades`` a table filtered by query parameters
(strategy, symbol, mode, status, run, since), ``/trade/{id}`` the trade's story with its chart,
``/api/summary`` the summary as JSON. There are no forms that post and no write paths; the engine
itself is read-only (:mod:`bot.review.db`), so a bug here cannot alter the journal.

Only requests whose ``Host`` header names this server are answered (loopback names, the bound
``--host`` and any ``--allow-host``); others get 400. Without that check a web page the user
visits could point its own domain at 127.0.0.1 (DNS rebinding) and read the journal.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.engine import Engine
from starlette.middleware.trustedhost import TrustedHostMiddleware

from bot.core.timeutil import parse_utc_datetime
from bot.review import service
from bot.review.db import open_readonly
from bot.review.formatting import STAT_FIELDS
from bot.review.plots import equity_png, trade_chart
from bot.review.queries import ReviewFilter, equity, to_float_frame
from bot.review.summary import to_jsonable
from bot.review.templating import environment

MODES = ("paper", "testnet", "live")
MAX_ROWS = 1000
#: Host header names always accepted: the loopback names a local browser uses.
LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")


def _param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "").strip()
    return value or None


def _filter(request: Request) -> ReviewFilter:
    """Query parameters -> filter; a bad value is a 400 with the reason."""
    mode = _param(request, "mode")
    if mode is not None and mode not in MODES:
        raise HTTPException(400, f"mode must be one of {', '.join(MODES)}")
    since = _param(request, "since")
    since_dt = None
    if since is not None:
        try:
            since_dt = parse_utc_datetime(since)
        except ValueError:
            raise HTTPException(400, "since must be an ISO date like 2024-05-01") from None
    return ReviewFilter(run_id=_param(request, "run"), since=since_dt, mode=mode,
                        strategy=_param(request, "strategy"), symbol=_param(request, "symbol"))


def _host_name(name: str, flag: str = "--allow-host") -> str:
    """A name as it appears in a Host header: IPv6 literals in brackets, lower case. A name
    with a wildcard or a port is refused (ValueError): only exact names are trusted."""
    text = name.strip().lower()
    if not text or "*" in text or "/" in text:
        raise ValueError(f"{flag} {name!r} is not a host name (no wildcards, ports or paths)")
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        if isinstance(ipaddress.ip_address(bare), ipaddress.IPv6Address):
            return f"[{bare}]"
    except ValueError:
        if ":" in bare:
            raise ValueError(f"{flag} {name!r} is not a host name (no ports)") from None
    return bare


def allowed_hosts(host: str = "127.0.0.1", extra: Iterable[str] = ()) -> list[str]:
    """The Host header names the dashboard answers: loopback, the bound ``host``, ``extra``."""
    names = [*LOOPBACK_HOSTS, _host_name(host, "--host"), *(_host_name(e) for e in extra)]
    return list(dict.fromkeys(names))


def create_app(url: str, engine: Engine | None = None, *, host: str = "127.0.0.1",
               extra_hosts: Iterable[str] = ()) -> FastAPI:
    """The dashboard app over the journal at ``url`` (opened read-only here), answering only
    requests addressed to :func:`allowed_hosts` (``host`` is the address it is bound to)."""
    trusted = allowed_hosts(host, extra_hosts)  # ValueError before the journal is opened
    db = engine or open_readonly(url)
    env = environment()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        db.dispose()

    app = FastAPI(title="derivbot journal", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=trusted, www_redirect=False)

    def page(name: str, request: Request, **ctx: Any) -> HTMLResponse:
        params = {k: _param(request, k) for k in ("mode", "strategy", "symbol", "status", "run", "since")}
        html = env.get_template(name).render(root="", params=params, fields=STAT_FIELDS, **ctx)
        return HTMLResponse(html)

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        flt = _filter(request)
        data = service.summary(db, flt)
        with db.connect() as conn:
            eq = to_float_frame(equity(conn, ReviewFilter(run_id=flt.run_id, since=flt.since, mode=flt.mode)))
        png = base64.b64encode(equity_png(eq)).decode("ascii")
        return page("index.html", request, data=data, equity_png=png)

    @app.get("/trades", response_class=HTMLResponse)
    def trades(request: Request) -> HTMLResponse:
        status = _param(request, "status")
        if status not in (None, "open", "closed"):
            raise HTTPException(400, "status must be open or closed")
        df = service.trade_list(db, _filter(request), status=status, limit=MAX_ROWS)
        rows = [service._plain(r) for r in df.iloc[::-1].to_dict("records")]  # newest first
        return page("trades.html", request, trades=rows)

    @app.get("/trade/{trade_id}", response_class=HTMLResponse)
    def trade(request: Request, trade_id: str) -> HTMLResponse:
        try:
            story = service.trade_story(db, trade_id)
        except service.NotFoundError as exc:
            raise HTTPException(404, str(exc)) from None
        t = story["trade"]
        chart = base64.b64encode(trade_chart(db, t)).decode("ascii")
        return page("trade.html", request, story=story, chart_png=chart)

    @app.get("/api/summary")
    def api_summary(request: Request) -> JSONResponse:
        return JSONResponse(to_jsonable(service.summary(db, _filter(request))))

    return app
