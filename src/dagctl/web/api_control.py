"""Steering runs: cancel, retry, pause, resume, and decisions on approval gates.

Each does what its command does, through the same files in the run folder (``cancel.json``, ``pause.json``,
``approvals/<task>.jsonl``) or as a process of its own (``dagctl retry``, ``dagctl resume``), so a run started
anywhere can be steered from here and the other way round.
"""

from __future__ import annotations

import asyncio
import getpass
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from dagctl.errors import DagctlError, UsageError
from dagctl.host import hostname
from dagctl.run.resume import prepare_retry
from dagctl.store.approvals import PENDING, decide, gate_state, read_decisions, waiting_gate
from dagctl.store.events import format_ts
from dagctl.store.history import FINISHED
from dagctl.store.runsummary import RunSummary

from .context import WebContext
from .errors import Conflict, check_unicode, located
from .launch import Launch, launch_error
from .responses import JSON

RETRY_FIND_S = 10.0
"""How long ``POST /api/runs/{id}/retry`` looks for the id of the run it started before answering without it."""
RESUME_FIND_S = 10.0
"""How long ``POST /api/runs/{id}/resume`` waits for the run to go on (or for the process to refuse)."""
STOPPED = ("paused", "abandoned")
"""What a run must be to be resumed."""
RETRY_SCAN = 200
"""How many of the newest runs (newer than the parent) are looked at for the run a retry started."""


class Retry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_task: str | None = Field(None, description="Re-run this task and everything downstream (retry --from).")


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"]
    by: str = Field(min_length=1, max_length=128, description="Who decides (one of the gate's approvers, if any).")
    comment: str | None = Field(None, max_length=2000, description="Recorded with it; required to reject.")


def _who(request: Request) -> str:
    client = request.client.host if request.client else "?"
    return f"{getpass.getuser()}@{hostname()}, from {client}"


def router(ctx: WebContext) -> APIRouter:
    api = APIRouter(prefix="/api/runs", tags=["control"])

    def started(run_id: str) -> RunSummary:
        found = ctx.summary_or_launch(ctx.resolve(run_id))
        if isinstance(found, Launch):
            if found.done.is_set():  # its process ended before the run wrote an event: it never will
                message, hint = found.failure()
                raise Conflict(
                    f"run {found.run_id} never started: {message}",
                    hint=hint or f"see GET /api/runs/{found.run_id} for its error, fix it and start the run again",
                )
            raise Conflict(f"run {found.run_id} is still starting", hint="try again in a moment")
        return found

    @api.post("/{run_id}/cancel", status_code=202, summary="Cancel a run")
    def cancel(run_id: str, request: Request) -> JSON:
        """Ask a running run to stop, as ``dagctl cancel`` does: its tasks get SIGTERM, then SIGKILL after the
        grace period, and are recorded ``cancelled``. 409 when the run has already finished."""
        rid = started(run_id).run_id
        ctx.history.request_cancel(rid, f"cancelled from dagctl serve ({_who(request)})")
        ctx.index.forget(rid)
        return JSON({"run_id": rid, "status": "cancelling"}, status_code=202)

    @api.post("/{run_id}/pause", status_code=202, summary="Pause a run")
    def pause(run_id: str, request: Request) -> JSON:
        """Ask a running run to pause, as ``dagctl pause`` does: its running tasks finish, nothing new starts, and
        it is recorded ``paused`` (resume it later). 409 when it is not running."""
        rid = started(run_id).run_id
        ctx.history.request_pause(rid, f"paused from dagctl serve ({_who(request)})")
        ctx.index.forget(rid)
        return JSON({"run_id": rid, "status": "pausing"}, status_code=202)

    @api.post("/{run_id}/resume", status_code=202, summary="Resume a paused run")
    async def resume(run_id: str) -> JSON:
        """Go on with a paused (or abandoned) run in the same run id, as ``dagctl resume``, in a process of its
        own: what succeeded is kept, the rest runs. 409 for any other run, while a resume started here is under
        way, and when the process refuses (another process resumes it already): the answer waits until the run
        goes on (up to 10 s)."""
        summary = await asyncio.to_thread(started, run_id)
        if summary.status not in STOPPED:
            raise Conflict(
                f"run {summary.run_id} is {summary.status}: only a paused or abandoned run can be resumed",
                hint="retry it instead to run what failed as a new run",
            )
        launch = ctx.launcher.start_resume(summary.run_id)  # 409 while one started here has not ended
        await _await_resume(ctx, launch, summary.run_id)
        return JSON({"run_id": summary.run_id, "status": "resuming", "pid": launch.pid}, status_code=202)

    @api.post("/{run_id}/retry", status_code=202, summary="Retry a run")
    async def retry(run_id: str, body: Retry | None = None) -> JSON:
        """Re-run what failed (``dagctl retry``): a new run, linked to this one, reusing the outputs of the tasks
        that succeeded. 409 while the run is still going."""
        if body is not None:
            check_unicode(body.model_dump(), "body")
        summary = await asyncio.to_thread(started, run_id)
        rid = summary.run_id
        if summary.status not in FINISHED:
            raise Conflict(f"run {rid} is still {summary.status}", hint="wait for it, or cancel it first")
        from_task = body.from_task if body else None
        if from_task is not None:
            with located("body.from_task"):
                graph = await asyncio.to_thread(ctx.graph, rid)
                if from_task not in summary.tasks and (graph is None or from_task not in graph.order):
                    raise UsageError(
                        f"run {rid} has no task '{from_task}'", hint="see GET /api/runs/{id} for its tasks"
                    )
        await asyncio.to_thread(_check_retry, ctx, rid, from_task)
        launch = ctx.launcher.start_retry(rid, from_task)
        new_id = await _find_retry(ctx, launch)
        return JSON({"run_id": new_id, "parent_run_id": rid, "pid": launch.pid}, status_code=202)

    @api.post("/{run_id}/approvals/{task}", summary="Approve or reject a waiting gate")
    def approval(run_id: str, task: str, body: Decision) -> JSON:
        """Decide an approval gate that waits, as ``dagctl approve`` / ``dagctl reject`` do: any rejection
        rejects; ``policy: all`` waits for every approver. The name in ``by`` is trusted as the CLI's ``--as``
        is: whoever holds the token may decide as anyone the gate lists."""
        check_unicode(body.model_dump(), "body")
        summary = started(run_id)
        gate = _waiting_gate(summary, task)
        if body.decision == "reject" and not (body.comment or "").strip():
            raise UsageError("a rejection needs a reason", hint='send "comment": "why"')
        run_dir = ctx.history.run_dir(summary.run_id)
        approvers = [str(a) for a in _names(gate.get("approvers"))]
        policy = str(gate.get("policy") or "any")
        try:
            state, deciders = decide(
                run_dir,
                task,
                decision=body.decision,
                by=body.by,
                text=body.comment,
                approvers=approvers,
                policy=policy,
                ts=format_ts(ctx.clock.now()),
            )
        except UsageError as exc:
            if gate_state(read_decisions(run_dir, task), approvers, policy)[0] != PENDING:
                raise Conflict(exc.message, hint=exc.hint) from None  # decided already: the gate waits no more
            raise
        ctx.index.forget(summary.run_id)
        return JSON({"run_id": summary.run_id, "task": task, "decision": body.decision, "by": body.by,
                     "gate": state, "decided_by": deciders})  # fmt: skip

    return api


def _names(value: object) -> list[object]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _waiting_gate(summary: RunSummary, task: str) -> dict[str, object]:
    """The gate ``task`` of a run that waits for a decision (UsageError or Conflict otherwise)."""
    if summary.status in FINISHED and summary.status != "paused":
        raise Conflict(f"run {summary.run_id} is {summary.status}: it waits for nobody")
    return waiting_gate(summary, task, not_waiting=Conflict)


def _check_retry(ctx: WebContext, run_id: str, from_task: str | None) -> None:
    """Refuse, before starting anything, what ``dagctl retry`` would refuse, with its words: nothing failed (409),
    no DAG snapshot, a task of the run still running."""
    try:
        prepare_retry(ctx.history, run_id, from_task=from_task, clock=ctx.clock)
    except UsageError as exc:
        if from_task is None:  # every task succeeded: the run's state, not the request, is in the way
            raise Conflict(exc.message, hint=exc.hint) from None
        raise


def is_launched_by(summary: RunSummary, launch: Launch, host: str) -> bool:
    """Whether ``summary`` is the run ``launch``'s process started: a retry of its parent, recorded by its pid on
    this host (the run's ``dag_start`` records the pid of the process that runs it)."""
    return (
        summary.pid == launch.pid
        and summary.host == host
        and summary.parent_run_id == launch.parent_run_id
        and summary.trigger == "retry"
    )


async def _find_retry(ctx: WebContext, launch: Launch) -> str | None:
    """The id of the run a ``dagctl retry`` started (:func:`is_launched_by`), None when it has not written its
    first event within :data:`RETRY_FIND_S`; the CLI's error when its process ended without starting a run."""
    host = hostname()
    began = ctx.clock.monotonic()
    seen: set[str] = set()
    while ctx.clock.monotonic() - began < RETRY_FIND_S and not ctx.stopping.is_set():
        ended = launch.done.is_set()  # read before the scan: a run written before the process ended is found
        run_id = await asyncio.to_thread(_scan, ctx, launch, host, seen)
        if run_id is not None:
            launch.run_id = run_id
            return run_id
        if ended:
            if launch.exit_code in (0, 1):
                return None  # it ran, but not as a run found here
            raise launch_error(launch, Conflict)
        await asyncio.sleep(0.1)
    return None


async def _await_resume(ctx: WebContext, launch: Launch, run_id: str) -> None:
    """Return once the run ``launch`` resumes goes on (it is no longer paused or abandoned: its process took the
    run's lock), once that process ended having run it, or after :data:`RESUME_FIND_S`; the CLI's error when it
    ended without going on with the run (409 when it refused: another process resumes it already)."""
    began = ctx.clock.monotonic()
    while ctx.clock.monotonic() - began < RESUME_FIND_S and not ctx.stopping.is_set():
        ended = launch.done.is_set()  # read before the status: a run that went on before the process ended is seen
        status = await asyncio.to_thread(_status_of, ctx, run_id)
        if status not in STOPPED:
            return
        if ended:
            if launch.ran_its_run():
                return  # it ran, and stopped again (paused once more)
            raise launch_error(launch, Conflict)
        await asyncio.sleep(0.1)


def _status_of(ctx: WebContext, run_id: str) -> str | None:
    try:
        return ctx.index.summary(run_id).status
    except DagctlError:
        return None  # cannot be read now: the answer says no more than before


def _scan(ctx: WebContext, launch: Launch, host: str, seen: set[str]) -> str | None:
    """One look at the runs newer than the launch's parent for the one it started; ``seen`` (runs read and not
    it) grows."""
    parent = launch.parent_run_id
    for run_id in ctx.index.ids()[:RETRY_SCAN]:
        if parent is not None and run_id <= parent:
            break  # newest first: the rest are older than the parent
        if run_id in seen:
            continue
        try:
            summary = ctx.index.summary(run_id)
        except DagctlError:
            continue  # no events yet: looked at again next time
        seen.add(run_id)
        if is_launched_by(summary, launch, host):
            return run_id
    return None
