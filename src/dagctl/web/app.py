"""The app factory: :func:`create_app` wires the files, the launcher, the limits and the routes into one FastAPI
app. There is no module-level app; tests make as many as they like, each with its own settings and clock."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from dagctl.clock import SystemClock
from dagctl.errors import DagctlError
from dagctl.protocols import Clock
from dagctl.settings import VERSION
from dagctl.store.history import History

from . import api_control, api_dags, api_panel, api_runs, pages
from .config import ServeSettings
from .context import WebContext
from .dags import DagCatalog
from .errors import error_body, status_of
from .launch import Launcher
from .metrics import Metrics
from .middleware import Guard
from .panel import Schedules
from .responses import JSON
from .runindex import RunIndex
from .sse import StreamSlots
from .templates import TemplateStore
from .watch import FileWatcher

log = logging.getLogger(__name__)

DESCRIPTION = """The HTTP API of a dagctl project: start runs, follow them live (Server-Sent Events), cancel and
retry them, list DAGs, validate YAML, keep templates, and read schedules, KPIs and Prometheus metrics. JSON in and
out; errors are `{"error", "location", "hint"}` with a 4xx code. See docs/serve.md."""


def create_app(
    config: ServeSettings,
    *,
    clock: Clock | None = None,
    launcher: Launcher | None = None,
    cwd: Path | None = None,
) -> FastAPI:
    """A new app serving the files ``config`` names. ``launcher`` starts runs (default: ``python -m dagctl``
    processes in ``cwd``); ``clock`` is the only source of time."""
    config.check()
    clock = clock or SystemClock()
    settings = config.settings
    history = History(settings, clock)
    index = RunIndex(history, clock=clock)
    schedules = Schedules(config.schedules_dir, settings.state_path, default_timezone=settings.sched_timezone)
    holder: list[WebContext] = []
    metrics = Metrics(
        settings.events_path, settings.state_path, index, schedules, extra=lambda: holder[0].server_gauges()
    )
    ctx = WebContext(
        config=config,
        clock=clock,
        history=history,
        index=index,
        dags=DagCatalog(config.dags_dir, settings.plan_cache_dir),
        templates=TemplateStore(config.templates_dir),
        schedules=schedules,
        launcher=launcher or Launcher(config.python, cwd=cwd, clock=clock),
        slots=StreamSlots(config.max_streams),
        watcher=FileWatcher(config.poll_s),
        metrics=metrics,
    )
    holder.append(ctx)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        import asyncio

        ctx.loop = asyncio.get_running_loop()
        try:
            yield
        finally:
            ctx.stop()
            await ctx.watcher.close()
            schedules.close()

    app = FastAPI(
        title="dagctl",
        version=VERSION,
        description=DESCRIPTION,
        docs_url=None,  # FastAPI's Swagger page loads scripts from a CDN; /docs is our own page
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx

    async def on_dagctl_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DagctlError)
        status = status_of(exc)
        wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if wants_page and not request.url.path.startswith(("/api/", "/metrics")):
            return pages.error_page(ctx, exc, status)
        headers = {"Retry-After": "5"} if status == 503 else None
        return JSON(error_body(exc, request.url.path), status_code=status, headers=headers)

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        body: dict[str, object] = {
            "error": f"{where or 'request'}: {first.get('msg')}",
            "location": where or request.url.path,
        }
        body["problems"] = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")} for e in exc.errors()
        ]
        return JSON(body, status_code=422)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: "no such page or endpoint", 405: f"{request.method} is not allowed here"}.get(
            exc.status_code, str(exc.detail)
        )
        return JSON({"error": message, "location": request.url.path}, status_code=exc.status_code)

    app.add_exception_handler(DagctlError, on_dagctl_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(HTTPException, on_http)
    app.include_router(api_runs.router(ctx))
    app.include_router(api_control.router(ctx))
    app.include_router(api_dags.router(ctx))
    app.include_router(api_panel.router(ctx))
    app.include_router(pages.router(ctx))
    app.add_middleware(Guard, config=lambda: ctx.config)
    return app


def context_of(app: FastAPI) -> WebContext:
    ctx = app.state.ctx
    assert isinstance(ctx, WebContext)
    return ctx
