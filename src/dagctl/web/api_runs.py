"""``/api/runs``: start, list, show and stream runs (steering them is :mod:`dagctl.web.api_control`)."""

from __future__ import annotations

import difflib
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import FileResponse, Response

from dagctl.dag.durations import parse_duration
from dagctl.dag.matrix import split_cell_id
from dagctl.dag.names import NAME_RE as TASK_ID_RE
from dagctl.dag.plancache import load_plan
from dagctl.errors import UsageError
from dagctl.report.graph import TaskGraph
from dagctl.report.notstarted import unstarted_tasks
from dagctl.report.runjson import show_dict
from dagctl.report.svg import timeline_svg
from dagctl.report.timeline import build_timeline
from dagctl.store import layout
from dagctl.store.history import FINISHED, RUN_ID_RE, since_from_window
from dagctl.store.runsummary import LIVE_STATUSES, RUN_STATUSES, RunSummary

from .context import WebContext
from .dags import check_params
from .errors import NotFound, at, check_unicode, located
from .launch import Launch
from .logstream import parse_log_id, pick_piece, pieces_of, task_log
from .middleware import ACCESS_KEY
from .responses import JSON, EventStream
from .runindex import check_status
from .runview import run_view
from .security import FULL
from .streams import check_readable, check_resume_offset, run_events

MAX_LIMIT = 1000


class StartRun(BaseModel):
    """Start a run of a DAG in the DAG folder, or of a template."""

    model_config = ConfigDict(extra="forbid")
    dag: str | None = Field(None, description="The DAG's name (its name:) or its file, relative to --dags.")
    template: str | None = Field(None, description="A template's name (GET /api/templates), instead of dag.")
    params: dict[str, Any] = Field(default_factory=dict, description="Param overrides, as -p key=value would give.")


LIST_QUERY = ("dag", "status", "tenant", "since", "before", "limit", "tasks")
"""What ``GET /api/runs`` takes: anything else (``offset``, a misspelt filter) is refused, not ignored."""


def check_query(request: Request, known: tuple[str, ...]) -> None:
    """422 for a query parameter the endpoint does not take: a filter that is silently ignored answers wrong."""
    for name in request.query_params:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}?" if close else f"it takes {', '.join(known)}"
            if name in ("offset", "page", "skip", "cursor", "after"):
                hint = "page with before=RUN_ID (the last run_id of the page before; the Link header has it)"
            raise at(f"query.{name}", UsageError(f"unknown query parameter '{name}'", hint=hint))


def since_of(text: str) -> float:
    """The seconds of ``since``: a duration with its unit. A bare number is refused: the dashboard and
    ``/api/stats`` read it as hours, ``dagctl runs --since`` as seconds, so either reading would surprise."""
    value = text.strip()
    if value.replace(".", "", 1).isdigit():
        raise UsageError(
            f"since: {value} has no unit",
            hint=f"give one, e.g. since={value}h or since={value}m (a bare number is hours on the dashboard and "
            "seconds for dagctl runs --since)",
        )
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"since: {exc}", hint="e.g. since=24h") from None


def _brief(data: dict[str, Any]) -> dict[str, Any]:
    data.pop("tasks", None)
    return data


def router(ctx: WebContext) -> APIRouter:
    api = APIRouter(prefix="/api", tags=["runs"])

    resolve, summary_or_launch = ctx.resolve, ctx.summary_or_launch

    @api.post("/runs", status_code=202, summary="Start a run")
    def start_run(body: StartRun) -> JSON:
        """Start a run of a DAG (or a template) with params, as a ``dagctl run`` process of its own. Answers at
        once with the run's id; unknown DAGs and bad params are refused (422) with the CLI's messages."""
        check_unicode(body.model_dump(), "body")
        if (body.dag is None) == (body.template is None):
            raise UsageError("give either dag or template", hint='e.g. {"dag": "diamond_pipeline", "params": {}}')
        if body.template is not None:
            with located("body.template"):
                path = ctx.templates.path(body.template)
                if not path.is_file():
                    raise NotFound(f"no template '{body.template}'", hint="see GET /api/templates")
        else:
            assert body.dag is not None
            with located("body.dag"):
                path = ctx.dags.resolve(body.dag)
        plan, remember = load_plan(path, cache_dir=ctx.config.settings.plan_cache_dir)
        remember()
        with located("body.params"):
            params = check_params(plan.dag.params, body.params, plan.dag.param_types)
        run_id = ctx.launcher.new_run_id()
        launch = ctx.launcher.start_run(path, params, run_id)
        return JSON(
            {"run_id": run_id, "dag": plan.dag.name, "pid": launch.pid, "url": f"/runs/{run_id}"}, status_code=202
        )

    @api.get("/runs", summary="List runs")
    def list_runs(
        request: Request,
        dag: str | None = Query(None, description="Only runs of this DAG (its name, or its file in --dags)."),
        status: str | None = Query(None, description="One of " + ", ".join(RUN_STATUSES) + "."),
        tenant: str | None = Query(None, description="Only runs of this tenant."),
        since: str | None = Query(
            None, description="Only runs started in this window: a duration with its unit, e.g. 24h, 90m, 7d."
        ),
        before: str | None = Query(
            None,
            description="Only runs older than this run id: the next page after a page that ended with it (the Link "
            "header names it).",
        ),
        limit: int = Query(20, ge=1, le=MAX_LIMIT, description="How many runs, newest first."),
        tasks: bool = Query(True, description="false leaves out each run's tasks (smaller answers)."),
    ) -> JSON:
        """Runs newest first, with ``dagctl runs``' filters; each as ``dagctl show --json`` gives it. A full page
        has a ``Link: <...before=LAST_ID...>; rel="next"`` header: the next, older page."""
        check_query(request, LIST_QUERY)
        with located("query.status"):
            check_status(status)
        if dag is not None:
            with located("query.dag"):
                dag = ctx.dags.name_of(dag)
        if before is not None and not RUN_ID_RE.fullmatch(before):
            hint = "give the run_id of the last run of the page before (e.g. 20261207-200001.000-a1b2c3)"
            raise at("query.before", UsageError(f"before: {before!r} is not a run id", hint=hint))
        cutoff: datetime | None = None
        if since:
            with located("query.since"):
                seconds = since_of(since)
            cutoff = since_from_window(ctx.clock.now(), seconds)
        found = ctx.index.summaries(dag=dag, status=status, tenant=tenant, since=cutoff, limit=limit, before=before)
        rows = [ctx.index.as_dict(s) if tasks else _brief(ctx.index.as_dict(s)) for s in found]
        headers = None
        if len(rows) == limit:  # there may be more: the next page starts after the last run of this one
            after = urlencode(
                [
                    *((k, v) for k, v in request.query_params.multi_items() if k != "before"),
                    ("before", rows[-1]["run_id"]),
                ]
            )
            headers = {"Link": f'<{request.url.path}?{after}>; rel="next"'}
        return JSON(rows, headers=headers)

    @api.get("/runs/{run_id}", summary="Show a run")
    def show_run(
        run_id: str,
        tasks: bool = Query(True, description="false leaves out the run's tasks and unstarted_tasks (a cheap poll)."),
    ) -> JSON:
        """One run as ``dagctl show --json`` gives it, ``unstarted_tasks`` included (``latest`` and unique prefixes
        work). A run this server has just started is ``starting`` until it writes its first event (``not_started``
        with the error if its process ended first). A paused or abandoned run whose ``dagctl resume`` started
        here ended without going on has ``resume_error``."""
        rid = resolve(run_id)
        found = summary_or_launch(rid)
        if isinstance(found, Launch):
            return JSON(found.as_run() if tasks else _brief(found.as_run()))
        if not tasks:
            return JSON(ctx.with_resume_error(_brief(ctx.index.as_dict(found))))
        data = show_dict(ctx.index.as_dict(found), unstarted_tasks(found, lambda: _order(ctx.graph(rid))))
        return JSON(ctx.with_resume_error(data))

    @api.get("/runs/{run_id}/view", summary="What the run page draws")
    def view_run(run_id: str) -> JSON:
        """The run, its DAG laid out for drawing and its timeline of attempts (docs/serve.md has the shape)."""
        rid = resolve(run_id)
        found = summary_or_launch(rid)
        if isinstance(found, Launch):
            return JSON({"run": found.as_run(), "graph": None, "timeline": None})
        events = ctx.history.events_of(rid)
        view = run_view(found, events, ctx.graph(rid), now=ctx.clock.now())
        ctx.with_resume_error(view["run"])
        return JSON(view)

    @api.get("/runs/{run_id}/timeline.svg", summary="The run's timeline as an SVG picture")
    def timeline(run_id: str) -> Response:
        rid = resolve(run_id)
        summary = ctx.index.summary(rid)
        now = ctx.clock.now() if summary.status in LIVE_STATUSES else None
        picture = timeline_svg(build_timeline(ctx.history.events_of(rid), graph=ctx.graph(rid), now=now))
        return Response(picture, media_type="image/svg+xml")

    @api.get("/runs/{run_id}/events", summary="Stream a run's events (SSE)", response_class=Response)
    def events(
        request: Request,
        run_id: str,
        last_event_id: str | None = Header(None, description="Resume after this event (its id)."),
    ) -> Response:
        """Server-Sent Events: every event of the run as it is appended (``id:`` is the byte offset of its line
        in the run's events file), then a ``complete`` event. ``Last-Event-ID`` resumes without loss or
        duplicates. Works for finished runs too."""
        rid = resolve(run_id)
        path = layout.events_file(ctx.history.run_dir(rid))
        check_readable(path)  # 503 with the error, not a 200 cut after its first bytes
        start = check_resume_offset(path, last_event_id) if last_event_id else None
        return _stream(ctx, run_events(ctx, rid, start, access_of_request(request)))

    @api.get("/runs/{run_id}/logs/{task}", summary="Stream a task's log (SSE)", response_class=Response)
    def logs(
        request: Request,
        run_id: str,
        task: str,
        attempt: int | None = Query(None, ge=1, description="This attempt only (default: every attempt in turn)."),
        iteration: int | None = Query(None, ge=1, description="A loop (repeat:): this iteration only."),
        last_event_id: str | None = Header(None, description="Resume after this line (its id)."),
    ) -> Response:
        """Server-Sent Events: the log lines of a task (or a matrix cell, ``TASK:N``) as they are written,
        ``{"attempt", "line"}`` (a loop's with ``"iteration"``) with ``id: ATTEMPT:OFFSET`` (``ITERATION.ATTEMPT:
        OFFSET``); an ``attempt`` event when an attempt starts, ``complete`` when nothing more can come."""
        rid, found = _log_unit(ctx, run_id, task)
        if isinstance(found, RunSummary) and found.status in FINISHED:
            _check_ran(found, task, attempt, iteration)
        resume = parse_log_id(last_event_id) if last_event_id else None
        if resume is not None and isinstance(found, RunSummary) and found.status in FINISHED:
            _check_resumed_piece(ctx, found, task, resume, last_event_id or "")
        access = access_of_request(request)
        return _stream(
            ctx, task_log(ctx, rid, task, attempt=attempt, iteration=iteration, resume=resume, access=access)
        )

    @api.get("/runs/{run_id}/logs/{task}/text", summary="A task's log as plain text", response_class=Response)
    def log_text(
        run_id: str,
        task: str,
        attempt: int | None = Query(None, ge=1, description="Which attempt (default: the last)."),
        iteration: int | None = Query(None, ge=1, description="A loop (repeat:): which iteration (default: the last)."),
    ) -> Response:
        """One attempt's log file as it is now (``text/plain``): the one ``dagctl logs RUN TASK`` prints by
        default (the last attempt, of a loop's last iteration), or the one ``attempt`` and ``iteration`` name."""
        rid, found = _log_unit(ctx, run_id, task)
        if isinstance(found, Launch):
            raise NotFound(f"run {rid} is still starting: task {task} has no log yet", hint="try again in a moment")
        _check_ran(found, task, attempt, iteration)
        piece = pick_piece(pieces_of(ctx.history.events_of(rid), task), iteration=iteration, attempt=attempt)
        path = ctx.history.run_dir(rid) / piece.name if piece is not None else None
        if path is None or not path.is_file():
            which = f" attempt {attempt}" if attempt else ""
            which = f" iteration {iteration}{which}" if iteration else which
            raise NotFound(
                f"no log for task '{task}'{which} in run {rid}",
                hint=f"dagctl logs {rid} {task} says why" if piece is None else "it may not have written one yet",
            )
        return FileResponse(path, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-store"})

    return api


def _log_unit(ctx: WebContext, run_id: str, unit: str) -> tuple[str, RunSummary | Launch]:
    """The run and what it is now, for a request about the log of ``unit`` (a task, or a matrix cell ``TASK:N``);
    404 for a unit the run's DAG does not have (while the run is starting too: the DAG file it was started with
    says) or, once the run has ended, a cell it never ran."""
    task, cell = split_cell_id(unit)
    if not TASK_ID_RE.match(task) or task in (".", ".."):  # a task id is a file name part: never a path
        raise NotFound(
            f"'{unit}' is not a task id",
            hint="task ids are 1-64 letters, digits, '_', '.' or '-'; a matrix cell's is TASK:N (train:3)",
        )
    rid = ctx.resolve(run_id)
    found = ctx.summary_or_launch(rid)
    graph = ctx.graph(rid)  # the DAG as run: every task, started or not
    if graph is None and isinstance(found, Launch) and found.dag_file is not None:
        graph = ctx.graph_of_file(found.dag_file)  # starting: the DAG file it was started with
    if graph is None and not isinstance(found, RunSummary):
        return rid, found  # merely starting: its tasks are not known yet
    ran = isinstance(found, RunSummary) and unit in found.tasks
    live = not (isinstance(found, RunSummary) and found.status in FINISHED)
    planned = graph is not None and task in graph.order and (cell is None or live)
    if not (ran or planned):
        raise NotFound(f"run {rid} has no task '{unit}'", hint="see GET /api/runs/{id} for its tasks")
    return rid, found


def _check_ran(summary: RunSummary, unit: str, attempt: int | None, iteration: int | None) -> None:
    """404 for an attempt or iteration a run that has ended never made (no attempt will come any more)."""
    if summary.status not in FINISHED:
        return
    t = summary.tasks.get(unit)
    if iteration is not None:
        reached = t.iteration if t is not None else None
        if reached is None:
            why = "it is no loop (repeat:)" if t is not None and t.attempts else "it never ran"
            raise NotFound(f"task {unit} ran no iterations in run {summary.run_id}", hint=why)
        if iteration > reached:
            raise NotFound(f"task {unit} ran no iteration {iteration}", hint=f"it ran iterations 1-{reached}")
        return
    ran = t.attempts if t is not None else 0
    if attempt is not None and attempt > ran and (t is None or t.iteration is None):
        raise NotFound(
            f"task {unit} has no attempt {attempt}",
            hint=f"it ran {ran} time{'' if ran == 1 else 's'} in run {summary.run_id}" if ran else "it never ran",
        )


def _check_resumed_piece(
    ctx: WebContext, summary: RunSummary, unit: str, resume: tuple[int | None, int, int], given: str
) -> None:
    """422 for a log stream's ``Last-Event-ID`` naming an attempt (or iteration) a run that has ended never made:
    no line can ever follow it, and a stream that completed empty would say the log is empty."""
    key = resume[:2]
    if any(piece.key == key for piece in pieces_of(ctx.history.events_of(summary.run_id), unit)):
        return
    iteration, attempt = key
    what = f"attempt {attempt}" if iteration is None else f"attempt {attempt} of iteration {iteration}"
    raise UsageError(
        f"Last-Event-ID {given!r} is not a position in the log of {unit}: run {summary.run_id} made no {what} of it",
        hint="reconnect without it to get the log from the start",
    )


def _order(graph: TaskGraph | None) -> tuple[str, ...]:
    """The task ids of a run's DAG snapshot in the DAG's order (none when the snapshot is gone)."""
    return graph.order if graph is not None else ()


def access_of_request(request: Request) -> str:
    """The token a request was let in with (:data:`~dagctl.web.middleware.ACCESS_KEY`)."""
    return str(request.scope.get(ACCESS_KEY, FULL))


def _stream(ctx: WebContext, stream: Any) -> EventStream:
    ctx.slots.take()  # 503 when every slot is taken; given back when the stream ends, however it ends
    return EventStream(stream, ctx.slots.give_back)
