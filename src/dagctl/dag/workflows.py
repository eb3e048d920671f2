"""Workflows: named Python functions a DAG runs with ``workflow_ref: NAME``.

A name resolves to a ``module:function`` and the folders to import it from, first match wins:

1. the DAG's own ``workflows:`` mapping — imported from the DAG file's folder;
2. the project config, ``dagctl.yaml`` in the DAG file's folder or the nearest parent folder that has one —
   its ``workflows:`` mapping, imported from the config file's folder;
3. installed entry points in the group ``dagctl.workflows`` (``name = "module:function"`` in a package's
   ``[project.entry-points."dagctl.workflows"]``) — imported from ``sys.path``.

``dagctl.yaml`` example (module paths are relative to the file's folder)::

    workflows:
      inbox_drive_sweep: workflows.weekly_ops:inbox_drive_sweep

Besides ``workflows:``, the file holds ``cache: {max_size: ...}`` (the task cache's size), ``metrics_textfile:``
(where the scheduler writes its metrics, docs/ci.md), ``retention:`` (what the scheduler's daily retention
pass keeps, :mod:`dagctl.schedule.retention`, docs/operating.md) and ``notify:`` (messages about the runs of
every DAG under it that has no ``notify:`` of its own, :func:`project_defaults`)::

    retention: {keep_days: 30, keep_last: 100, cache_max: 2GiB}
    notify: {events: [failure], urls: ["slack://T000/B000/XXXX"]}

Any other key is reported with its position. Nothing is cached here: the caller (one run's attempt factory)
keeps what it resolved.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dagctl.errors import Problem, SpecError, UsageError

from .names import CALLABLE_PATTERN, NAME_RE
from .plan import Plan
from .projectfile import PROJECT_CONFIG as PROJECT_CONFIG  # re-exported: readers of dagctl.yaml import it here
from .projectfile import find_project_config as find_project_config
from .yamlread import Document, parse_document, read_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "dagctl.workflows"
PROJECT_KEYS = ("workflows", "cache", "metrics_textfile", "retention", "notify")
RETENTION_KEYS = ("keep_days", "keep_last", "cache_max")
RETENTION_EXAMPLE = "write retention: {keep_days: 30, keep_last: 100, cache_max: 2GiB}"
MAX_KEEP_DAYS = 36_500
NOTIFY_KEYS = ("events", "urls", "title", "body", "log_lines")
NOTIFY_EVENTS = ("failure", "success", "retry", "approval")
NOTIFY_EXAMPLE = 'write notify: {events: [failure], urls: ["json://hooks.example.com/dagctl"]}'
NOTIFY_TEXT = 'write e.g. title: "[${params.env}] ${dag.name} ${run.status}"'

_CALLABLE_RE = re.compile(CALLABLE_PATTERN)


@dataclass(frozen=True)
class WorkflowTarget:
    """Where a workflow name leads."""

    name: str
    callable: str
    """``module:function``."""
    search_path: tuple[str, ...]
    """Folders to import ``callable`` from before ``sys.path``."""
    source: str
    """``dag``, the path of the ``dagctl.yaml``, or ``entry point <distribution>``."""


@dataclass(frozen=True)
class RetentionPolicy:
    """``retention:`` of a ``dagctl.yaml``: what the scheduler's daily retention pass keeps."""

    keep_days: int | None = None
    """Finished runs started more than this many days ago are removed (as ``dagctl prune --older-than``)."""
    keep_last: int | None = None
    """The newest runs of each DAG that are kept whatever their age (as ``dagctl prune --keep-last``)."""
    cache_max: int | None = None
    """The task cache is trimmed to this many bytes, least recently used entries first."""

    @property
    def prunes(self) -> bool:
        return self.keep_days is not None or self.keep_last is not None


@dataclass(frozen=True)
class ProjectConfig:
    """A parsed ``dagctl.yaml``."""

    path: Path
    workflows: dict[str, str]
    cache_max_size: int | None = None
    """``cache: {max_size: 2GiB}``: the task cache is trimmed to this, least recently used first."""
    metrics_textfile: Path | None = None
    """``metrics_textfile: PATH`` (relative to the file's folder): where the scheduler writes its Prometheus
    metrics after each run it finishes, for node_exporter's textfile collector (docs/ci.md)."""
    retention: RetentionPolicy | None = None
    """``retention: {keep_days, keep_last, cache_max}``: applied by the scheduler once a day."""
    notify: dict[str, Any] | None = None
    """``notify: {events, urls, title, body}``: as a DAG's ``notify:``, for the DAGs under the file that have none
    (``events: []``: none at all)."""


def load_project_config(path: Path) -> ProjectConfig:
    """Parse and check a ``dagctl.yaml``; raise SpecError listing every problem with its position."""
    file = str(path)
    text = read_text(path)
    if not any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
        return ProjectConfig(Path(path), {})  # an empty config only marks the project root
    doc = parse_document(text, file)
    data = doc.data
    if data is None:
        return ProjectConfig(Path(path), {})
    if not isinstance(data, dict):
        raise SpecError(
            [
                doc.problem(
                    (),
                    f"{PROJECT_CONFIG} must be a mapping, got {_kind(data)}",
                    "write workflows: with name: module:function entries",
                )
            ]
        )
    problems: list[Problem] = []
    for key in data:
        if key not in PROJECT_KEYS:
            close = difflib.get_close_matches(str(key), PROJECT_KEYS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"{PROJECT_CONFIG} supports: {', '.join(PROJECT_KEYS)}"
            problems.append(doc.problem((key,), f"unknown key '{key}'", hint, key=True))
    workflows = data.get("workflows")
    found: dict[str, str] = {}
    if workflows is not None and not isinstance(workflows, dict):
        problems.append(
            doc.problem(
                ("workflows",),
                f"workflows: must be a mapping, got {_kind(workflows)}",
                "write one name: module:function per line under workflows:",
            )
        )
    elif workflows:
        for name, target in workflows.items():
            if not isinstance(name, str) or not NAME_RE.match(name):
                problems.append(
                    doc.problem(
                        ("workflows", name),
                        f"workflow name {name!r} is not a valid name",
                        "use 1-64 letters, digits, '_', '.' or '-'",
                        key=True,
                    )
                )
            elif not isinstance(target, str) or not _CALLABLE_RE.match(target):
                problems.append(
                    doc.problem(
                        ("workflows", name),
                        f"workflow '{name}': {target!r} is not module:function",
                        f"write it as package.module:function, importable from {Path(path).resolve().parent}",
                    )
                )
            else:
                found[name] = target
    max_size = None
    cache = data.get("cache")
    if cache is not None:
        from .durations import parse_size

        if not isinstance(cache, dict) or set(cache) - {"max_size"}:
            problems.append(doc.problem(("cache",), "cache: takes max_size only", "write cache: {max_size: 2GiB}"))
        elif "max_size" in cache:
            try:
                max_size = parse_size(cache["max_size"])
            except ValueError as exc:
                what, _, hint = str(exc).partition(" — ")
                problems.append(doc.problem(("cache", "max_size"), f"cache max_size: {what}", hint))
    textfile = data.get("metrics_textfile")
    metrics_textfile = None
    if textfile is not None:
        if not isinstance(textfile, str) or not textfile.strip():
            problems.append(
                doc.problem(
                    ("metrics_textfile",),
                    "metrics_textfile: must be a file path"
                    + (" (it is empty)" if isinstance(textfile, str) else f", got {_kind(textfile)}"),
                    "write e.g. metrics_textfile: /var/lib/node_exporter/textfile/dagctl.prom",
                )
            )
        else:
            metrics_textfile = Path(path).resolve().parent / textfile.strip()
    retention = _retention(doc, data["retention"], problems) if "retention" in data else None
    notify = _notify(doc, data["notify"], problems) if "notify" in data else None
    if problems:
        raise SpecError(problems)
    return ProjectConfig(Path(path), found, max_size, metrics_textfile, retention=retention, notify=notify)


def _notify(doc: Document, value: object, problems: list[Problem]) -> dict[str, Any] | None:
    """``notify:`` checked as a DAG's is (its ``events`` default to ``[failure]``; ``[]`` sends no messages, and
    needs no ``urls``); problems appended."""
    if not isinstance(value, dict):
        problems.append(doc.problem(("notify",), f"notify: must be a mapping, got {_kind(value)}", NOTIFY_EXAMPLE))
        return None
    before = len(problems)
    for key in value:
        if key not in NOTIFY_KEYS:
            close = difflib.get_close_matches(str(key), NOTIFY_KEYS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"notify: takes {', '.join(NOTIFY_KEYS)}"
            problems.append(doc.problem(("notify", key), f"unknown key 'notify.{key}'", hint, key=True))
    events = value.get("events", ["failure"])
    if not isinstance(events, list) or not all(e in NOTIFY_EVENTS for e in events):
        problems.append(
            doc.problem(
                ("notify", "events"),
                f"notify events: {events!r} is not a list of {', '.join(NOTIFY_EVENTS)}",
                "write e.g. events: [failure, approval]",
            )
        )
    urls = value.get("urls", [] if events == [] else None)
    if (
        not isinstance(urls, list)
        or not all(isinstance(u, str) and u.strip() for u in urls)
        or not (urls or events == [])
    ):
        where = ("notify", "urls") if "urls" in value else ("notify",)
        problems.append(
            doc.problem(
                where, "notify: needs urls, a list of apprise URLs", f"{NOTIFY_EXAMPLE}; or events: [] for no messages"
            )
        )
    else:
        from .notifyurls import EXAMPLE, url_problem

        for n, url in enumerate(urls):
            problem = url_problem(url)
            if problem:
                problems.append(doc.problem(("notify", "urls", n), problem, EXAMPLE))
    texts: dict[str, str] = {}  # only those written: a file without them reads as before
    for key in ("title", "body"):
        text = value.get(key)
        if text is None:
            continue
        if not isinstance(text, str):
            problems.append(doc.problem(("notify", key), f"notify {key}: must be text, got {_kind(text)}", NOTIFY_TEXT))
            continue
        from .notifytext import template_problem

        problem = template_problem(text)
        if problem:
            what, _, hint = problem.partition(" — ")
            problems.append(doc.problem(("notify", key), f"notify {key}: {what}", hint or NOTIFY_TEXT))
        texts[key] = text
    extra: dict[str, Any] = {}
    if "log_lines" in value:
        from .notifytext import log_lines_problem

        wrong = log_lines_problem(value["log_lines"])
        if wrong:
            what, _, hint = wrong.partition(" — ")
            problems.append(doc.problem(("notify", "log_lines"), f"notify log_lines: {what}", hint))
        else:
            extra["log_lines"] = value["log_lines"]
    if len(problems) > before:
        return None
    return {"events": list(dict.fromkeys(events)), "urls": list(urls), **texts, **extra}  # type: ignore[arg-type]


def project_defaults(plan: Plan) -> Plan:
    """``plan`` with what its project's ``dagctl.yaml`` adds (the file nearest to the DAG file, upwards):
    its ``notify:``, kept apart as ``project_notify`` and used only when the DAG has no ``notify:`` of its
    own, by runs that are not a sub-DAG's (:func:`dagctl.run.api.run_dag`). A broken file stops here, with
    its problems, rather than silence the messages people rely on."""
    source = plan.dag.source_path
    if plan.dag.notify is not None or not source:
        return plan
    found = find_project_config(Path(source))
    notify = load_project_config(found).notify if found is not None else None
    return plan if notify is None else plan.replace(dag=plan.dag.replace(project_notify=notify))


def _retention(doc: Document, value: object, problems: list[Problem]) -> RetentionPolicy | None:
    """``retention:`` checked; every problem is appended to ``problems`` at its position."""
    if not isinstance(value, dict) or not value:
        what = "is empty" if value is None or value == {} else f"must be a mapping, got {_kind(value)}"
        problems.append(doc.problem(("retention",), f"retention: {what}", RETENTION_EXAMPLE))
        return None
    found: dict[str, int] = {}
    for key, item in value.items():
        where = ("retention", key)
        if key not in RETENTION_KEYS:
            close = difflib.get_close_matches(str(key), RETENTION_KEYS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"retention: takes {', '.join(RETENTION_KEYS)}"
            problems.append(doc.problem(where, f"unknown key 'retention.{key}'", hint, key=True))
        elif key == "cache_max":
            from .durations import parse_size

            try:
                found[key] = parse_size(item)
            except ValueError as exc:
                what, _, hint = str(exc).partition(" — ")
                problems.append(doc.problem(where, f"retention cache_max: {what}", hint))
        else:
            low, high = (1, MAX_KEEP_DAYS) if key == "keep_days" else (0, 10**9)
            if isinstance(item, bool) or not isinstance(item, int) or not low <= item <= high:
                unit, example = ("days", 30) if key == "keep_days" else ("runs of each DAG", 100)
                problems.append(
                    doc.problem(
                        where,
                        f"retention {key}: {item!r} is not a whole number from {low} to {high:,}",
                        f"write the number of {unit}, e.g. {key}: {example}",
                    )
                )
            else:
                found[key] = item
    return RetentionPolicy(**found) if found else None


def _kind(value: object) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def entry_point_workflows() -> dict[str, list[WorkflowTarget]]:
    """Installed workflows by name (several when different packages register the same name)."""
    found: dict[str, list[WorkflowTarget]] = {}
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        dist_name = getattr(dist, "name", None) or (dist.metadata["Name"] if dist is not None else None)
        value = f"{ep.module}:{ep.attr}" if ep.attr else ep.value.strip()  # drops " [extras]"
        target = WorkflowTarget(ep.name, value, (), f"entry point {dist_name or 'unknown'}")
        same = found.setdefault(ep.name, [])
        if all(t.callable != target.callable for t in same):  # one package seen twice on sys.path
            same.append(target)
    return found


def resolve_workflow(name: str, *, dag_workflows: Mapping[str, str], dag_dir: Path) -> WorkflowTarget:
    """The target of ``workflow_ref: name`` (see the module docstring for the order); UsageError if unknown.

    Each layer is read only if the ones before it do not have the name, so a broken ``dagctl.yaml`` does not
    matter to a DAG that defines all its workflows itself.
    """
    dag_dir = Path(dag_dir).resolve()
    if name in dag_workflows:
        return WorkflowTarget(name, dag_workflows[name], (str(dag_dir),), "dag")
    config_path = find_project_config(dag_dir)
    config = load_project_config(config_path) if config_path is not None else None
    if config is not None and name in config.workflows:
        return _from_config(name, config)
    installed = entry_point_workflows()
    if name in installed:
        targets = installed[name]
        if len(targets) > 1:
            listed = ", ".join(f"{t.source.removeprefix('entry point ')} ({t.callable})" for t in targets)
            raise UsageError(
                f"workflow '{name}' is registered by several installed packages: {listed}",
                hint=f"pick one by adding {name}: module:function to workflows: in the DAG "
                f"or in {config_path or dag_dir / PROJECT_CONFIG}",
            )
        return targets[0]
    known = sorted({*dag_workflows, *(config.workflows if config else {}), *installed})
    close = difflib.get_close_matches(name, known, n=1)
    where = config_path if config_path is not None else f"a new {dag_dir / PROJECT_CONFIG}"
    raise UsageError(
        f"unknown workflow '{name}' — registered: {', '.join(known) or 'none'} "
        f"(add it to workflows: in the DAG or in {where})",
        hint=f"did you mean '{close[0]}'?" if close else None,
    )


def _from_config(name: str, config: ProjectConfig) -> WorkflowTarget:
    return WorkflowTarget(name, config.workflows[name], (str(config.path.resolve().parent),), str(config.path))


def list_workflows(*, dag_workflows: Mapping[str, str], dag_dir: Path) -> list[WorkflowTarget]:
    """Every workflow a DAG in ``dag_dir`` can reference, sorted by name; a shadowed one appears once, as
    the layer that wins. Installed names registered by several packages are all listed."""
    dag_dir = Path(dag_dir).resolve()
    chosen: dict[str, list[WorkflowTarget]] = {}
    for name, targets in entry_point_workflows().items():
        chosen[name] = targets
    config_path = find_project_config(dag_dir)
    if config_path is not None:
        config = load_project_config(config_path)
        for name in config.workflows:
            chosen[name] = [_from_config(name, config)]
    for name, target in dag_workflows.items():
        chosen[name] = [WorkflowTarget(name, target, (str(dag_dir),), "dag")]
    return [t for name in sorted(chosen) for t in chosen[name]]
