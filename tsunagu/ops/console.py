"""The operators' web console: Starlette, server-rendered pages, plain JS, no CDN.

Read-only except dead-letter retry. Bound to 127.0.0.1 by default; bound anywhere else it
requires a token, checked on every request (header, ``?token=`` once, then a cookie).
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import nats
import nats.errors
import structlog
from jinja2 import Environment, FileSystemLoader, select_autoescape
from nats.aio.client import Client
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from eventstore.errors import DomainError
from eventstore.settings import Settings
from tsunagu.clikit import cli_connect_options
from tsunagu.ops import console_live, disclosures, dlq, health, stats_page
from tsunagu.ops.labels import AGGREGATE_LABELS_JA, EVENT_LABELS_JA, event_label
from tsunagu.ops.stats_view import report_view

log = structlog.get_logger("tsunagu.console")
HERE = Path(__file__).parent
TOKEN_COOKIE = "tsunagu_console_token"


@dataclass(frozen=True)
class ConsoleConfig:
    host: str = "127.0.0.1"
    port: int = 8780
    token: str | None = None
    stats_agency: str = "ops"

    @classmethod
    def checked(cls, host: str, port: int, token: str | None, **kw: Any) -> ConsoleConfig:
        if not is_loopback(host) and not token:
            raise ValueError(
                f"binding the console to {host} exposes it beyond this machine: give a token "
                f"(--token or TSUNAGU_CONSOLE_TOKEN), or bind to 127.0.0.1"
            )
        return cls(host=host, port=port, token=token, **kw)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TokenMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app)
        self.token = token

    def _ok(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(str(candidate), self.token)

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        auth = request.headers.get("authorization", "")
        bearer = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        query = request.query_params.get("token")
        if self._ok(bearer) or self._ok(request.cookies.get(TOKEN_COOKIE)):
            return await call_next(request)
        if self._ok(query):
            response = await call_next(request)
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
            return response
        return Response("401: a valid console token is required (?token=… or "
                        "Authorization: Bearer …)", status_code=401,
                        media_type="text/plain; charset=utf-8")


class State:
    """Per-app connection and heartbeat tracker, opened in the lifespan."""

    def __init__(self, settings: Settings, config: ConsoleConfig) -> None:
        self.settings = settings
        self.config = config
        self.nc: Client | None = None
        self.tracker: health.HeartbeatTracker | None = None

    @property
    def topology(self):  # type: ignore[no-untyped-def]
        return self.settings.topology

    def client(self) -> Client:
        if self.nc is None:
            raise RuntimeError("not connected to NATS")
        return self.nc

    async def status(self) -> health.PlatformStatus:
        known = self.tracker.snapshot() if self.tracker else None
        return await health.platform_status(self.client(), self.topology, known=known)


def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
    )
    env.filters["label"] = event_label
    env.filters["age"] = lambda s: "—" if s is None else f"{s:.1f}秒前"
    env.filters["n"] = lambda v: "—" if v is None else f"{v:,}"
    return env


def create_app(settings: Settings, config: ConsoleConfig | None = None) -> Starlette:
    config = config or ConsoleConfig()
    state = State(settings, config)
    templates = _templates()

    def page(name: str, **ctx: Any) -> HTMLResponse:
        html = templates.get_template(name).render(
            prefix=settings.prefix, labels=EVENT_LABELS_JA, aggregates=AGGREGATE_LABELS_JA,
            **ctx,
        )
        return HTMLResponse(html)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.nc = await nats.connect(**cli_connect_options(settings))
        state.tracker = health.HeartbeatTracker(state.nc, settings.topology)
        await state.tracker.start()
        log.info("console up", host=config.host, port=config.port)
        try:
            yield
        finally:
            await state.tracker.stop()
            with contextlib.suppress(Exception):
                await state.nc.close()

    async def index(request: Request) -> Response:
        st = await state.status()
        return page("index.html", st=st, active="flow",
                    case=request.query_params.get("case", ""),
                    type=request.query_params.get("type", ""),
                    agency=request.query_params.get("agency", ""))

    async def status_page(request: Request) -> Response:
        return page("status.html", st=await state.status(), active="status")

    async def status_fragment(request: Request) -> Response:
        return page("_status.html", st=await state.status())

    async def status_json(request: Request) -> Response:
        return JSONResponse((await state.status()).to_json())

    async def dlq_page(request: Request) -> Response:
        letters = await dlq.list_dead_letters(state.client(), state.topology)
        return page("dlq.html", letters=letters, active="dlq")

    async def dlq_fragment(request: Request) -> Response:
        letters = await dlq.list_dead_letters(state.client(), state.topology)
        return page("_dlq.html", letters=letters)

    async def dlq_retry(request: Request) -> Response:
        # A custom header: a cross-site form cannot send it, so no CSRF on the one write.
        if request.headers.get("x-tsunagu-console") != "1":
            return JSONResponse({"ok": False, "error": {"code": "forbidden",
                                 "message": "missing X-Tsunagu-Console header"}}, 403)
        seq = int(request.path_params["seq"])
        try:
            result = await dlq.retry(state.client(), state.topology, seq)
        except DomainError as exc:
            return JSONResponse(exc.to_reply(), 409)
        except LookupError as exc:
            return JSONResponse({"ok": False, "error": {"code": "no_owner",
                                 "message": str(exc)}}, 409)
        return JSONResponse({"ok": True, "result": result})

    async def ask(as_of: date) -> tuple[dict[str, Any] | None, str | None]:
        return await stats_page.ask_stats(state.client(), settings.prefix,
                                          state.config.stats_agency, as_of)

    async def stats(request: Request) -> Response:
        raw = request.query_params.get("as_of")
        try:
            as_of = date.fromisoformat(raw) if raw else stats_page.default_as_of(None)
        except ValueError:
            return page("stats.html", active="stats", as_of=raw, view=None,
                        error=f"日付 {raw!r} が不正です（YYYY-MM-DD）")
        result, error = await ask(as_of)
        if result and not raw:  # open on the latest fiscal year that has data
            latest = stats_page.default_as_of(result.get("latest_data_on"), as_of)
            if latest != as_of:
                as_of, (result, error) = latest, await ask(latest)
        return page("stats.html", active="stats", as_of=as_of.isoformat(),
                    view=report_view(result) if result else None, error=error)

    async def stats_file(request: Request) -> Response:
        fmt = request.path_params["fmt"]
        if fmt not in ("csv", "xlsx"):
            return Response("report.xlsx or report.csv\n", 404, media_type="text/plain")
        try:
            as_of = date.fromisoformat(request.query_params.get("as_of", ""))
        except ValueError:
            return Response("as_of=YYYY-MM-DD is required\n", 400, media_type="text/plain")
        result, error = await ask(as_of)
        if result is None:
            return Response(f"{error}\n", 503, media_type="text/plain; charset=utf-8")
        return stats_page.download(result, fmt)

    async def disclosures_page(request: Request) -> Response:
        q = request.query_params
        person, agency = q.get("person", ""), q.get("agency", "")
        ctx: dict[str, Any] = {"active": "disclosures", "person": person, "agency": agency,
                               "since": q.get("from", ""), "until": q.get("to", ""),
                               "columns": disclosures.COLUMNS, "rows": None, "error": None}
        if not (person or agency):
            return page("disclosures.html", **ctx)
        try:
            found = await disclosures.read(
                state.client(), state.topology, person_id=disclosures.id_filter(person, "person"),
                agency=disclosures.id_filter(agency, "agency"),
                since=disclosures.jst_day(q.get("from"), "from"),
                until=disclosures.jst_day(q.get("to"), "to"))
        except ValueError as exc:
            ctx["error"] = str(exc)
            return HTMLResponse(templates.get_template("disclosures.html").render(
                prefix=settings.prefix, **ctx), 400)
        return page("disclosures.html", **{**ctx, "rows": [disclosures.row(d) for d in found]})

    routes = [
        Route("/", index),
        Route("/status", status_page),
        Route("/fragment/status", status_fragment),
        Route("/api/status", status_json),
        Route("/dlq", dlq_page),
        Route("/fragment/dlq", dlq_fragment),
        Route("/api/dlq/{seq:int}/retry", dlq_retry, methods=["POST"]),
        Route("/stats", stats),
        Route("/stats/report.{fmt:str}", stats_file),
        Route("/disclosures", disclosures_page),
        console_live.route(state),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(TokenMiddleware, token=config.token)] if config.token else []
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.console = state
    return app


def serve(settings: Settings, config: ConsoleConfig) -> None:
    import uvicorn

    uvicorn.run(create_app(settings, config), host=config.host, port=config.port,
                log_level="warning")
