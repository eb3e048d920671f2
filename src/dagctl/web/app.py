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
from starlette.routing import Match

from dagctl.clock import SystemClock
from dagctl.errors import DagctlError
from dagctl.protocols import Clock
from dagctl.settings import VERSION
from dagctl.store.history import History

from . import api_control, api_dags, api_panel, api_runs, pages
from .config import ServeSettings
from .context import WebContext
from .dags import DagCatalog
from .errors import NotFound, error_body, invalid_request, status_of
from .launch import Launcher
from .metrics import Metrics
from .middleware import HEAD_KEY, Guard, is_stream_path
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
        if wants_page(request):
            return pages.error_page(ctx, exc, status)
        headers = {"Retry-After": "5"} if status == 503 else None
        return JSON(error_body(exc, request.url.path), status_code=status, headers=headers)

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        body = invalid_request(list(exc.errors()), request.headers.get("content-type", ""), request.url.path)
        return JSON(body, status_code=422)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        path = request.url.path
        headers = dict(exc.headers or {})
        if exc.status_code == 404:
            missing = NotFound("no such page or endpoint", hint="the dashboard starts at /, the API is at /docs")
            if wants_page(request):
                return pages.error_page(ctx, missing, 404)
            return JSON({"error": missing.message, "location": path}, status_code=404)
        if exc.status_code == 405:
            allowed = allow_header(_methods_at(request) or headers.get("Allow", ""), stream=is_stream_path(path))
            headers["Allow"] = allowed
            error = f"{'HEAD' if request.scope.get(HEAD_KEY) else request.method} is not allowed here"
            return JSON({"error": error, "location": path, "hint": f"use {allowed}"}, status_code=405, headers=headers)
        return JSON({"error": str(exc.detail), "location": path}, status_code=exc.status_code, headers=headers)

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


def wants_page(request: Request) -> bool:
    """A browser loading a page (not the API, not metrics): errors are answered as a page."""
    accept = request.headers.get("accept", "")
    return (
        request.method in ("GET", "HEAD")
        and "text/html" in accept
        and not request.url.path.startswith(("/api/", "/metrics", "/openapi.json"))
    )


def _methods_at(request: Request) -> str:
    """Every method some route answers at the request's path (Starlette's 405 names one route's only)."""
    methods: list[str] = []
    routes = list(request.app.router.routes)
    while routes:
        route = routes.pop(0)
        nested = getattr(route, "original_router", None)  # an included router, in newer FastAPI versions
        if nested is not None:
            routes[:0] = list(nested.routes)
            continue
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods += sorted(getattr(route, "methods", None) or ())
    return ", ".join(dict.fromkeys(methods))


def allow_header(allowed: str, *, stream: bool) -> str:
    """The ``Allow`` of a 405 (pure): the route's methods, with HEAD wherever GET is, but on a stream."""
    methods = [m.strip().upper() for m in allowed.split(",") if m.strip()]
    if "GET" in methods and "HEAD" not in methods and not stream:
        methods.append("HEAD")
    return ", ".join(methods)


def context_of(app: FastAPI) -> WebContext:
    ctx = app.state.ctx
    assert isinstance(ctx, WebContext)
    return ctx
