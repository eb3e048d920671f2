"""``/api/schedules``, ``/api/stats``, ``/metrics`` and ``/healthz``."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.responses import Response

from dagctl.settings import VERSION

from .context import WebContext
from .errors import located
from .metrics import CONTENT_TYPE
from .panel import RECENT_RUNS, stats, window_seconds
from .responses import JSON


def router(ctx: WebContext) -> APIRouter:
    api = APIRouter()

    @api.get("/api/schedules", tags=["panel"], summary="List schedules")
    def schedules() -> JSON:
        """Every schedule of the schedules folder (``--schedules``) with its next fire time, last run and
        counts, as ``dagctl schedule list --json``; files that do not load are listed under ``problems``."""
        return JSON(ctx.schedules.listing(ctx.clock.now()))

    @api.get("/api/stats", tags=["panel"], summary="KPIs over a window")
    def panel(
        window: str | None = Query(None, description="e.g. 24h, 90m, 7d (default: ORCH_PANEL_WINDOW_H hours)."),
        dag: str | None = Query(None, description="Only runs of this DAG."),
        tenant: str | None = Query(None, description="Only runs of this tenant."),
        limit: int = Query(RECENT_RUNS, ge=1, le=500, description="How many recent runs."),
    ) -> JSON:
        """Task KPIs, recent runs, schedules and per-tenant load over a window, as ``dagctl stats --json``."""
        with located("query.window"):
            if window is None:
                _, seconds = window_seconds(ctx.config.panel_window, "ORCH_PANEL_WINDOW_H")
            else:
                _, seconds = window_seconds(window, "window")
        now = ctx.clock.now()
        return JSON(stats(ctx.config.settings, now=now, seconds=seconds, dag=dag, tenant=tenant, limit=limit))

    @api.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response)
    def metrics() -> Response:
        """Prometheus text exposition: runs and tasks by status, task durations, retries, scheduler lag and
        queue depth, and the server's own streams (docs/serve.md lists every series)."""
        return Response(ctx.metrics.exposition(), media_type=CONTENT_TYPE)

    @api.get("/healthz", tags=["ops"], summary="Health check")
    def healthz() -> JSON:
        """200 while the server runs (no token needed; says nothing about runs); 503 once it is stopping."""
        stopping = ctx.stopping.is_set()
        return JSON({"ok": not stopping, "version": VERSION}, status_code=503 if stopping else 200)

    return api
