"""``dagctl run``, without typer: the command's work, and a parser for its everyday command lines.

``dagctl run`` is what cron, CI and the scheduler start again and again, often for DAGs that take less
time than the program's start-up. Importing typer (and the parts of the standard library it needs) costs
~20 ms of that start-up on the 2-core reference machine. So :func:`dagctl.cli.main` tries
:func:`parse_run_args` first: it understands the plain forms (``dagctl run FILE -q -j 2 -p k=v ...``) and
returns None for anything else (``--help``, ``--opt=value``, bundled flags, a bad number, a missing file
argument), which then goes through typer as before, with typer's help and error messages. Both ways end in
:func:`run_command` with the same arguments; a test checks the two parsers agree on every form.
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path

from .render import echo, echo_json, printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any

    from dagctl.run.state import RunControl, RunResult

    from .plain import LineWriter

ENABLED = True
"""The typer-free path for plain ``dagctl run`` command lines (~20 ms off every start); False sends every
command line through typer."""


def parse_run_args(args: Sequence[str]) -> dict[str, Any] | None:
    """The keyword arguments of :func:`run_command` for ``args`` (``["run", ...]``), or None when the
    command line is anything but plain (typer then parses it, with its help and error messages).

    Derived from :data:`dagctl.cli.run_options.RUN_OPTIONS`, as the typer command is."""
    if not ENABLED or not args or args[0] != "run":
        return None
    from .run_options import RUN_OPTIONS, defaults

    by_flag = {flag: option for option in RUN_OPTIONS for flag in (*option.flags, *option.hidden)}
    found: dict[str, Any] = defaults()
    rest = iter(args[1:])
    for token in rest:
        if not token:
            return None
        if not token.startswith("-"):
            if found["dag"] is not None:
                return None  # typer: "Got unexpected extra argument" (or the DAG given twice)
            found["dag"] = Path(token)
            continue
        option = by_flag.get(token)
        if option is None:
            return None
        if option.kind == "flag":
            found[option.name] = True
            continue
        value = next(rest, None)
        if not value or value.startswith("-"):
            return None
        if option.kind == "argument":  # --dag FILE
            if found["dag"] is not None:
                return None
            found["dag"] = Path(value)
        elif option.kind == "repeated":
            found[option.name].append(value)
        elif option.type == "int":
            if not (value.isascii() and value.isdigit()) or int(value) < (option.minimum or 0):
                return None
            found[option.name] = int(value)
        else:
            found[option.name] = Path(value) if option.type == "path" else value
    return found if found["dag"] is not None else None


def run_command(
    dag: Path,
    *,
    dry_run: bool = False,
    param: Sequence[str] = (),
    params_file: Path | None = None,
    parallelism: int | None = None,
    timeout: str | None = None,
    fail_fast: bool = False,
    only: str | None = None,
    from_task: str | None = None,
    quiet: bool = False,
    as_json: bool = False,
    executor: str | None = None,
    broker: str | None = None,
    run_id: str | None = None,
    no_cache: bool = False,
    refresh: bool = False,
    env_file: Sequence[str] = (),
    junit: Path | None = None,
    metrics_textfile: Path | None = None,
) -> int:
    """``dagctl run``: run (or, with ``dry_run``, plan) the DAG file ``dag``; return the exit code."""
    from dagctl.dag.params import merge_params, parse_assignments
    from dagctl.dag.plancache import load_plan
    from dagctl.errors import UsageError
    from dagctl.settings import Settings

    from .dagref import find_dag

    settings = Settings.from_env()
    if run_id is not None:
        _check_run_id(run_id, settings.runs_dir)
    if only is not None and not [t for t in only.split(",") if t.strip()]:
        raise UsageError("--only names no task", hint="give task ids, e.g. --only extract,report")
    if only is not None and from_task is not None:
        raise UsageError("--only and --from cannot be combined", hint="use one: --only T1,T2 or --from T")
    if no_cache and refresh:
        raise UsageError("--no-cache and --refresh cannot be combined", hint="--refresh runs and stores; pick one")
    plan, remember_plan = load_plan(find_dag(str(dag)), cache_dir=settings.plan_cache_dir)
    overrides: dict[str, Any] = {}
    if params_file is not None:
        overrides.update(_read_params_file(params_file))
    overrides.update(parse_assignments(list(param)))
    # fail on unknown keys, bad values and missing required params before anything runs
    merged = merge_params(plan.dag.params, overrides, types=plan.dag.param_types)
    run_timeout = _run_timeout(timeout)  # every option checked before a dry run too: it answers as the run would
    _check_executor(executor or settings.executor, broker, settings.redis_url)
    check_ci_outputs(junit, metrics_textfile)
    selected = reused = None
    if only or from_task:  # what the run would run and reuse (errors: exit 2, before anything runs)
        from dagctl.run.resume import prepare_partial
        from dagctl.store.history import History

        names = [t.strip() for t in (only or "").split(",") if t.strip()]
        selected, reused = prepare_partial(History(settings), plan, only=names, from_task=from_task)
    if dry_run:
        from dagctl.run.environment import run_environment

        from . import plan_cmds

        environment = run_environment(plan, env_file)  # a missing env file or secret: exit 2, as the run would
        notes = None
        if any(t.cache is not None for t in plan.tasks.values()) and not no_cache:
            from dagctl.clock import SystemClock
            from dagctl.run.cache import predict

            notes = predict(
                plan,
                merged,
                settings.task_cache_dir,
                SystemClock().now().timestamp(),
                selected=selected,
                reused=reused,
                environment=environment,
                refresh=refresh,
            )
        plan_cmds.print_plan(plan, as_json=as_json, params=merged, notes=notes, selected=selected, reused=reused)
        return 0
    # exit 3 now rather than when the first event is written (or, for the task cache, each task warns)
    cached = not no_cache and any(t.cache is not None for t in plan.tasks.values())
    settings.check_writable("logs", "events", *(("cache",) if cached else ()))
    partial: dict[str, Any] = {"cache": "off" if no_cache else "refresh" if refresh else "use"}
    if env_file:
        partial["env_files"] = [str(Path(f).resolve()) for f in env_file]
    if only or from_task:
        partial.update(select=selected, reuse_outputs=reused)
    _, code = execute_and_report(
        plan,
        overrides,
        quiet=quiet,
        as_json=as_json,
        settings=settings,
        junit=junit,
        metrics_textfile=metrics_textfile,
        first=remember_plan,  # a run happened: the next one of this unchanged file skips validation
        parallelism=parallelism,
        timeout=run_timeout,
        fail_fast=fail_fast or None,
        executor=executor,
        broker=broker,
        run_id=run_id,
        **partial,
    )
    return code


def execute_and_report(
    dag: Any,
    params: dict[str, Any],
    *,
    quiet: bool,
    as_json: bool,
    settings: Any,
    junit: Path | None = None,
    metrics_textfile: Path | None = None,
    first: Callable[[], None] | None = None,
    announce: str | None = None,
    **options: Any,
) -> tuple[RunResult, int]:
    """:func:`execute` a run (``run``, ``retry``, ``resume``), then print what it ends with (:func:`report`) and
    write its CI outputs (:func:`ci_outputs_after`); the result and the command's exit code.

    One writer takes every line for stderr, from the first plain line to the last CI annotation, and what other
    code writes to stderr meanwhile: a reader of stderr that is not reading never holds the run, and holds its
    end for a few seconds at most, once (a signal ends that wait). ``first`` is called when the run has ended,
    before anything is printed; ``announce``, a line said before the run starts (what ``retry`` does)."""
    from .plain import LineWriter

    err = LineWriter(sys.stderr)
    if announce is not None:
        err.say(announce)
    codes: list[int] = []

    def end(result: RunResult) -> None:
        if first is not None:
            first()
        report(result, quiet=quiet, as_json=as_json, err=err)
        codes.append(ci_outputs_after(result, settings, junit=junit, metrics_textfile=metrics_textfile))
        err.close()  # a few seconds at most for a reader of stderr that is not reading (a signal ends the wait)

    try:
        result = execute(dag, params, quiet=quiet or as_json, err=err, then=end, **options)
    finally:
        err.close()  # (closed by end(), unless the run raised)
    return result, codes[0]


def check_ci_outputs(junit: Path | None, metrics_textfile: Path | None) -> None:
    """``--junit`` / ``--metrics-textfile`` of run, retry and resume: a file that cannot be written is a usage
    error before the run, not a surprise after it."""
    if junit is not None or metrics_textfile is not None:
        from .ci_outputs import check_output

        for path, option in ((junit, "--junit"), (metrics_textfile, "--metrics-textfile")):
            if path is not None:
                check_output(path, option)


def ci_outputs_after(
    result: RunResult, settings: Any, *, junit: Path | None = None, metrics_textfile: Path | None = None
) -> int:
    """Write the CI outputs of a finished run (JUnit, metrics textfile, GitHub annotations and step summary
    under ``GITHUB_ACTIONS=true``); the command's exit code: the run's, or 3 when a successful run's outputs
    could not be written."""
    if junit is not None or metrics_textfile is not None or os.environ.get("GITHUB_ACTIONS") == "true":
        from dagctl.errors import EXIT_ENVIRONMENT
        from dagctl.store.history import History

        from .ci_outputs import after_run

        written = after_run(History(settings), result.run_id, junit=junit, metrics_textfile=metrics_textfile)
        if not written and result.exit_code == 0:
            return EXIT_ENVIRONMENT
    return result.exit_code


def _check_run_id(run_id: str, runs_dir: Path) -> None:
    """A ``--run-id`` must look like the ids dagctl makes (they sort by start time) and name no run yet."""
    import re

    from dagctl.errors import UsageError

    if not re.fullmatch(r"\d{8}-\d{6}\.\d{3}-[0-9a-f]{6}", run_id):
        raise UsageError(
            f"--run-id {run_id!r} is not a run id", hint="write it as YYYYMMDD-HHMMSS.mmm-xxxxxx (6 lowercase hex)"
        )
    if (runs_dir / run_id).exists():
        raise UsageError(f"--run-id {run_id}: that run already exists", hint="choose a new id, or leave --run-id out")


def on_workers(executor: str) -> str:
    """`` on celery workers`` for the line retry and resume begin with; nothing for local threads."""
    return "" if executor == "threads" else f" on {executor} workers"


def again_on(recorded: str | None, executor: str | None, broker: str | None, settings: Any) -> str:
    """Where ``dagctl retry`` / ``resume`` run a run's tasks: ``--executor``, else where the run ran them (its
    ``dag_start``: a run of Celery workers goes on there), else ``DAGCTL_EXECUTOR``; checked as ``run`` checks."""
    from dagctl.run.executors.factory import EXECUTORS

    chosen = executor or (recorded if recorded in EXECUTORS else None) or settings.executor
    _check_executor(chosen, broker, settings.redis_url)
    return str(chosen).strip().lower()


def _check_executor(name: str, broker: str | None, default_broker: str) -> None:
    """Bad --executor / --broker values are input errors, found before anything is written."""
    from dagctl.errors import UsageError
    from dagctl.run.executors.factory import EXECUTORS, check_broker_use

    chosen = name.strip().lower()
    if chosen not in EXECUTORS:
        raise UsageError(f"unknown executor '{name}'", hint="use --executor threads or --executor celery")
    check_broker_use(chosen, broker)
    if chosen == "celery":
        from dagctl.run.executors.celery_config import check_broker_url

        check_broker_url(broker or default_broker)


@contextmanager
def interrupts(
    control: RunControl, say: Callable[[str], None], after_the_run: Callable[[], None] | None = None
) -> Iterator[Callable[[], None]]:
    """First SIGINT/SIGTERM: stop gracefully (terminate tasks, grace, kill). Second: kill at once (said once; later
    ones have nothing more to do). Once the tasks are over and the run waits to send its notifications, a signal
    ends that wait instead (the notifier says what was not sent; nothing is said of tasks, none is running).

    Each signal cancels first, then hands its line to ``say``, which must not wait for the reader of stderr
    (:meth:`~dagctl.cli.plain.LineWriter.say`): a reader that stopped reading delays neither this stop nor the next.
    Yields what to call when the run is over: from then on a signal calls ``after_the_run`` (the command waits
    for the reader of stderr: it stops waiting) and nothing else.
    """
    from .signals import handle_signals

    over = False
    killing = False

    def run_over() -> None:
        nonlocal over
        over = True

    def on_stop(signum: int, again: bool) -> None:
        nonlocal killing
        if over:
            if after_the_run is not None:
                after_the_run()
            return
        from dagctl.run.notify import skipper

        skip = skipper(control)
        if skip is not None:  # the tasks are over: only the wait for the run's notifications is left
            skip()
        elif again:
            control.cancel(now=True)
            if not killing:
                killing = True
                say("dagctl: second interrupt: killing running tasks now")
        else:
            name = signal.Signals(signum).name
            control.cancel(f"interrupted by {name}", signal=signum)
            say(f"dagctl: {name}: stopping; running tasks get SIGTERM then SIGKILL (interrupt again to kill now)")

    with handle_signals(on_stop):
        yield run_over


def _finish_lines(writer: LineWriter, *, close: bool = True) -> None:
    """Wait until the reader of stderr has taken what ``writer`` was handed, then close it (or, with ``close=False``,
    leave it open): :data:`~dagctl.cli.plain.END_WAIT_S` seconds at most for a reader that is not reading, a wait that
    a SIGINT, SIGTERM or SIGHUP ends at once (the run is over: its exit code stays the command's). Handlers are put
    in place only when there is something to wait for (and only the main thread can)."""
    import threading

    wait = writer.close if close else writer.drain
    if writer.idle() or threading.current_thread() is not threading.main_thread():
        wait()
        return
    from .signals import handle_signals

    with handle_signals(lambda _signum, _again: writer.give_up()):
        wait()


def _above_the_view(line: str) -> None:
    """A line for stderr while the live view is on: its stand-in for stderr puts it above the frame, at once."""
    with suppress(OSError, ValueError):
        sys.stderr.write(line + "\n")


def report(result: RunResult, *, quiet: bool, as_json: bool, err: LineWriter | None = None) -> None:
    """What a finished run prints (``run``, ``retry``, ``resume``): the summary on stdout, as text or JSON;
    with ``-q`` or ``--json``, why it did not succeed on stderr (:func:`outcome_lines`), and nothing more.

    The stderr lines go through ``err`` (else a writer of its own, closed before returning): a stream that fails
    costs only its own lines, and a reader of stderr that is not reading delays the end by seconds at most."""
    from .plain import LineWriter

    writer = err if err is not None else LineWriter(sys.stderr)
    try:
        if as_json:
            _to_stdout(echo_json, result.summary())
        elif not quiet:
            print_summary(result, err=writer)
        if quiet or as_json:
            for line in outcome_lines(result):
                writer.say(line)
    finally:
        if err is None:
            _finish_lines(writer)


def _to_stdout(write: Callable[[Any], None], what: Any) -> None:
    try:
        write(what)
        sys.stdout.flush()
    except OSError:  # stdout closed or full (a pager that quit, >/dev/full): the outcome is the run's
        pass


FAILED_SHOWN = 20
"""Failed tasks the end of a run names one per line (the summary, ``-q``); the rest are counted in one line."""


def outcome_lines(result: RunResult) -> list[str]:
    """One line per failed task (its error and log; the first :data:`FAILED_SHOWN`), then the run's own: nothing
    for a success."""
    if result.status == "success":
        return []
    failed = [t for t in result.tasks.values() if t.status == "failed"]
    lines = [
        f"dagctl: task {t.id} failed: {t.error or 'failed'}" + (f" (log: {t.log_path})" if t.log_path else "")
        for t in failed[:FAILED_SHOWN]
    ]
    if len(failed) > FAILED_SHOWN:
        lines.append(f"dagctl: ... and {len(failed) - FAILED_SHOWN} more failed tasks: dagctl show {result.run_id}")
    if result.status == "paused":
        lines.append(f"dagctl: run {result.run_id} paused; resume it with: dagctl resume {result.run_id}")
    else:
        reason = f": {result.error}" if result.error else ""
        lines.append(f"dagctl: run {result.run_id} of {result.dag_name} {result.status}{reason}")
    return [printable(line) for line in lines]  # an error may hold escape sequences: none reaches a terminal


def print_summary(result: RunResult, *, err: LineWriter | None = None) -> None:
    """The source note's closing block on stdout, plus what a person needs next; before it, on stderr (through
    ``err``, else a writer of its own), the last lines of the first failed tasks' logs. Each stream that fails
    costs only its own lines."""
    from .plain import LineWriter
    from .view import log_tail

    writer = err if err is not None else LineWriter(sys.stderr)

    title = {
        "success": "DAG EXECUTION COMPLETE",
        "failed": "DAG EXECUTION FAILED",
        "cancelled": "DAG EXECUTION CANCELLED",
        "paused": "DAG EXECUTION PAUSED",
    }.get(result.status, f"DAG EXECUTION {result.status.upper()}")
    failed = [t for t in result.tasks.values() if t.status == "failed"]
    for t in failed[:3]:
        tail = log_tail(t.log_path)
        if tail:
            writer.say(f"--- last lines of {t.id} ({t.log_path}) ---")
            for line in tail:  # what the task wrote, without the escape sequences that would act on the terminal
                writer.say(f"  {printable(line)}")
    if err is None:
        _finish_lines(writer)
    else:
        writer.drain()  # stderr's lines before stdout's summary (`2>&1`), unless its reader is not reading
    lines = [
        title,
        f"DAG: {result.dag_name}",
        f"Run: {result.run_id}",
        f"Tasks Succeeded: {result.count('success')}",
        f"Tasks Failed: {result.count('failed')}",
        f"Tasks Skipped: {result.count('skipped')}",
    ]
    if result.count("cancelled"):
        lines.append(f"Tasks Cancelled: {result.count('cancelled')}")
    whole = _since_start(result)
    if whole is None:
        lines.append(f"Duration: {result.duration_s:.2f}s")
    else:  # a resumed run: what `runs` and `show` say it took, then this part
        lines.append(f"Duration: {whole:.2f}s, pauses included ({result.duration_s:.2f}s since resumed)")
    if result.error:
        lines.append(f"Reason: {result.error}")
    for t in failed[:FAILED_SHOWN]:
        lines.append(f"Failed: {t.id}: {t.error}" + (f" (log: {t.log_path})" if t.log_path else ""))
    for handler, why in result.failed_handlers.items():  # the run's outcome stands; the handler's failure is said
        lines.append(f"Handler failed: {handler}: {why} (dagctl logs {result.run_id} {handler})")
    if len(failed) > FAILED_SHOWN:
        lines.append(f"... and {len(failed) - FAILED_SHOWN} more failed tasks: dagctl show {result.run_id}")
    if result.status == "paused":
        lines.append(f"Resume with: dagctl resume {result.run_id}")
    lines.append(f"Logs: {result.run_dir}")
    _to_stdout(echo, "\n".join(map(printable, lines)))  # errors may hold escape sequences and control characters


def _since_start(result: RunResult) -> float | None:
    """A resumed run's whole time, from its first start to its end, pauses included (as ``runs`` and ``show``
    have it), read from its events file; None for a run that was not resumed. Only a resumed run
    (``result.resumed``, whatever it kept: tasks, matrix cells, or nothing) has its events file read."""
    if not result.resumed:
        return None
    from dagctl.errors import DagctlError
    from dagctl.store.events import parse_ts
    from dagctl.store.jsonl import iter_records
    from dagctl.store.layout import events_file

    first: dict[str, Any] | None = None
    last: dict[str, Any] = {}
    resumed = False
    try:
        for record in iter_records(events_file(result.run_dir)):
            first = first or record
            resumed = resumed or record.get("event") == "dag_resume"
            last = record
        if not resumed or first is None or first.get("event") != "dag_start" or last.get("event") != "dag_done":
            return None
        return (parse_ts(last["ts"]) - parse_ts(first["ts"])).total_seconds()
    except (OSError, ValueError, KeyError, TypeError, DagctlError):  # the summary goes on without it
        return None


def execute(
    dag: Any,
    params: dict[str, Any],
    *,
    quiet: bool,
    executor: str | None = None,
    broker: str | None = None,
    err: LineWriter | None = None,
    then: Callable[[RunResult], None] | None = None,
    **options: Any,
) -> RunResult:
    """Run ``dag`` (a Plan or a DagSpec) with the right view: live view on a TTY, plain lines otherwise.

    ``executor`` (else ``DAGCTL_EXECUTOR``): ``threads`` (default) or ``celery`` (``broker`` else ``REDIS_URL``).
    A ``clock`` in ``options`` times the run and the live view alike. Plain lines and the signals' lines go
    through ``err`` (the caller's to close), else through a writer of its own, closed when the run ends. ``then``
    is called with the result while the run's signal handling still holds: what the command prints at the end and
    its wait for the reader of stderr, which a signal then ends at once (the exit code stays the run's).
    """
    from dagctl.dag.plan import Plan
    from dagctl.run import childsignal
    from dagctl.run.api import plan_of, run_dag
    from dagctl.run.state import RunControl

    from .plain import LineWriter, PlainView, stderr_through
    from .view import live_view, use_live_view

    plan = dag if isinstance(dag, Plan) else plan_of(dag)
    control = RunControl()
    sinks: list[Any] = []
    live = None
    writer = err if err is not None else LineWriter(sys.stderr)
    say = writer.say
    if not quiet:
        if use_live_view(sys.stderr):
            from dagctl.clock import SystemClock
            from dagctl.settings import Settings

            settings = options.get("settings") or Settings.from_env()
            clock = options.get("clock") or SystemClock()
            live = live_view(plan, parallelism=options.get("parallelism"), clock=clock, settings=settings)
            sinks.append(live)
            say = _above_the_view
        elif os.environ.get("GITHUB_ACTIONS") == "true":  # plain lines, each task's log folded (docs/ci.md)
            from dagctl.settings import Settings

            from .github_view import GithubView

            settings = options.get("settings") or Settings.from_env()
            sinks.append(GithubView(runs_dir=settings.runs_dir, writer=writer))
        else:
            sinks.append(PlainView(writer=writer))
    chosen = make_executor(executor, broker)  # before the run: a dead broker is exit 3 within seconds
    try:
        # this thread only waits, and the threads started here (signals, live view) inherit the block; the live
        # view takes what others write to stderr above its frame, else the writer's thread writes it
        others = nullcontext() if live is not None else stderr_through(writer)
        with childsignal.blocked(), interrupts(control, say, writer.give_up) as run_over, others:
            if live is not None:
                live.start()
            try:
                result = run_dag(plan, params=params, sinks=sinks, control=control, executor=chosen, **options)
            finally:
                if live is not None:
                    live.stop()
                if chosen is not None:
                    chosen.shutdown(wait=False)
            run_over()
            if then is not None:
                then(result)
            if err is None:
                writer.close()
            return result
    finally:
        if err is None:
            writer.close()  # (closed above, unless the run raised)


def _run_timeout(text: str | None) -> float | None:
    """``--timeout``'s seconds: a duration above zero (as ``timeout:`` in a DAG file); None without one."""
    if text is None:
        return None
    from dagctl.dag.durations import parse_duration
    from dagctl.errors import UsageError

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--timeout: {exc}") from None
    if seconds <= 0:
        raise UsageError(
            f"--timeout {text} is no time at all", hint="give a duration such as 30m; leave it out for no limit"
        )
    return seconds


def make_executor(name: str | None, broker: str | None) -> Any:
    """The executor for ``--executor`` / ``DAGCTL_EXECUTOR``; None means run_dag's default thread pool."""
    from dagctl.run.executors.factory import make_executor as build

    return build(name, broker)


def _read_params_file(path: Path) -> dict[str, Any]:
    """``--params-file``: a mapping of name: value, whose values are then checked against the DAG's params as
    ``-p`` values are. A plain value YAML 1.1 reads otherwise than it looks (``no`` the boolean false, ``0755``
    the integer 493) is refused here, at its line and column: it is quoted for text, written plainly otherwise."""
    from dagctl.dag.yamlread import read_document, yaml11_surprises
    from dagctl.errors import SpecError

    doc = read_document(path, empty_hint="write the params, one 'name: value' per line")
    if not isinstance(doc.data, dict):
        raise SpecError(
            [doc.problem((), "params file must be a mapping of name: value", "write one 'name: value' per line")]
        )
    problems = yaml11_surprises(doc)
    if problems:
        raise SpecError(problems)
    return dict(doc.data)
