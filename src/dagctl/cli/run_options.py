"""The options of ``dagctl run``, declared once.

Both parsers of ``dagctl run`` are derived from :data:`RUN_OPTIONS`: the typer command
(:mod:`dagctl.cli.run_cmd`, with help, completion and error messages) and the typer-free parser of the
everyday command lines (:func:`dagctl.cli.run_main.parse_run_args`). Adding an option here adds it to both;
:func:`dagctl.cli.run_main.run_command` takes each one as a keyword argument of the same name.

Plain data and no imports: ``dagctl run`` reads this module on every start.
"""

from __future__ import annotations

from dagctl.records import Record


class RunOption(Record):
    """One command-line option of ``dagctl run`` (or its one argument)."""

    name: str
    """The keyword argument of ``run_command``."""
    flags: tuple[str, ...]
    """Long form first. For the DAG argument: the option that may give it instead (``--dag FILE``)."""
    kind: str
    """``argument`` (the DAG file), ``flag`` (no value), ``value`` (the last one wins) or ``repeated``."""
    help: str
    type: str = "str"
    """``str``, ``path`` or ``int`` (a value at least :attr:`minimum`)."""
    minimum: int | None = None
    hidden: tuple[str, ...] = ()
    """Spellings that still work but are not shown: a short flag that means something else in other
    commands (one meaning per short flag across dagctl: docs/running.md)."""
    metavar: str | None = None
    """The value's name in help (default: :data:`dagctl.cli.conventions.VALUE_NAMES`)."""


RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption(
        "dag",
        ("--dag",),
        "argument",
        "The DAG file to run (or --dag FILE, as the design notes write it).",
        type="path",
        metavar="DAG",
    ),
    RunOption("dry_run", ("--dry-run",), "flag", "Print the execution plan; run nothing.", hidden=("-n",)),
    RunOption("param", ("--param", "-p"), "repeated", "Override a DAG param: -p key=value (repeatable)."),
    RunOption("params_file", ("--params-file",), "value", "YAML/JSON mapping of param overrides.", type="path"),
    RunOption("parallelism", ("--parallelism", "-j"), "value", "Max tasks at once.", type="int", minimum=1),
    RunOption("timeout", ("--timeout",), "value", "Whole-run timeout, e.g. 30m."),
    RunOption("fail_fast", ("--fail-fast",), "flag", "Stop everything at the first failed task."),
    RunOption(
        "only",
        ("--only",),
        "value",
        "Run just these tasks (comma-separated); their upstream outputs come from the latest run that has them.",
    ),
    RunOption(
        "from_task",
        ("--from",),
        "value",
        "Run this task and everything downstream; upstream outputs come from the latest run that has them.",
    ),
    RunOption("quiet", ("--quiet", "-q"), "flag", "Print nothing but errors."),
    RunOption("as_json", ("--json",), "flag", "Print the plan (with --dry-run) or the final summary as JSON."),
    RunOption(
        "executor",
        ("--executor", "-x"),
        "value",
        "Where tasks run: threads (this machine, the default) or celery (dagctl worker processes); "
        "env DAGCTL_EXECUTOR.",
    ),
    RunOption("broker", ("--broker",), "value", "Redis URL for --executor celery (default: REDIS_URL)."),
    RunOption("env_file", ("--env-file",), "repeated", "A .env file whose variables every task gets (repeatable)."),
    RunOption("no_cache", ("--no-cache",), "flag", "Neither read nor write the task cache in this run."),
    RunOption("refresh", ("--refresh",), "flag", "Run cached tasks again and store their new results."),
    RunOption(
        "junit",
        ("--junit",),
        "value",
        "After the run, write it as a JUnit XML report to this file: a test case per task (docs/ci.md).",
        type="path",
    ),
    RunOption(
        "metrics_textfile",
        ("--metrics-textfile",),
        "value",
        "After the run, write its Prometheus metrics to this file (atomically), for node_exporter's textfile "
        "collector (docs/ci.md).",
        type="path",
    ),
    RunOption(
        "run_id",
        ("--run-id",),
        "value",
        "Use this new run id (YYYYMMDD-HHMMSS.mmm-xxxxxx), chosen ahead by the caller, as dagctl serve does.",
    ),
)

AGAIN_EXECUTOR_HELP = "Where tasks run: threads or celery (default: where the run ran them, else DAGCTL_EXECUTOR)."
AGAIN_BROKER_HELP = "Redis URL for celery (default: REDIS_URL)."
"""The help of ``--executor`` and ``--broker`` of ``dagctl retry`` and ``dagctl resume``
(:func:`dagctl.cli.run_main.again_on`)."""

RUN_HELP = """Run a DAG on this machine: parallel where the graph allows, with retries and timeouts.

Events go to ORCH_EVENTS_PATH (default logs/orchestrator_events.jsonl); task logs, outputs and a
snapshot of the DAG to logs/runs/<run_id>/. Exit 0 ok, 1 a task failed, 2 bad input, 3 environment
problem, 130/143 interrupted.

\b
Examples:
  dagctl run configs/dags/diamond_pipeline.yaml
  dagctl run configs/dags/diamond_pipeline.yaml -p rows=1000 --parallelism 2
  dagctl run --dag configs/dags/weekly_ops_chain.yaml --dry-run
  dagctl run configs/dags/diamond_pipeline.yaml --junit reports/dagctl.xml
"""


def defaults() -> dict[str, object]:
    """Every keyword of ``run_command`` with its value when the option is not given."""
    return {o.name: ([] if o.kind == "repeated" else False if o.kind == "flag" else None) for o in RUN_OPTIONS}
