"""The derived order of a DAG: graph checks, topological order, levels and priorities. Pure.

Everything here is O(tasks + edges). ``graph_issues`` works on loose ``(id, depends_on)`` pairs so the
loader can report graph problems next to type errors in the same file.

A :class:`Plan` is the executable form of a validated DAG: plain data (no pydantic), with every task's
effective settings resolved (defaults applied). The runner, the attempt factory and the plan views read
only the plan, so a plan can be stored as JSON and run again without re-validating the file
(:mod:`dagctl.dag.plancache`).
"""

from __future__ import annotations

from dagctl.errors import Problem, SpecError
from dagctl.records import Record, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from .spec import DagSpec, TaskDefaults, TaskSpec

    PathT = tuple[Any, ...]


class GraphIssue(Record):
    path: PathT
    message: str
    hint: str


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else "check the spelling or add that task"


def graph_issues(nodes: Sequence[tuple[Any, Sequence[Any]]]) -> list[GraphIssue]:
    """Problems of the dependency graph. ``nodes[i]`` is ``(id, depends_on)`` of ``tasks[i]``.

    Entries whose id or dependencies are not strings are skipped (the type check reports those).
    """
    issues: list[GraphIssue] = []
    index: dict[str, int] = {}
    for i, (tid, _) in enumerate(nodes):
        if not isinstance(tid, str):
            continue
        if tid in index:
            issues.append(
                GraphIssue(
                    ("tasks", i, "id"),
                    f"duplicate task id '{tid}' (also task #{index[tid] + 1})",
                    "give every task a unique id",
                )
            )
        else:
            index[tid] = i
    known = list(index)
    deps: dict[str, list[str]] = {tid: [] for tid in index}
    for i, (tid, raw_deps) in enumerate(nodes):
        if not isinstance(tid, str) or index.get(tid) != i:
            continue
        if isinstance(raw_deps, str):
            raw_deps = [raw_deps]
        if not isinstance(raw_deps, (list, tuple)):
            continue
        for j, dep in enumerate(raw_deps):
            if not isinstance(dep, str):
                continue
            where = ("tasks", i, "depends_on", j) if not isinstance(nodes[i][1], str) else ("tasks", i, "depends_on")
            if dep == tid:
                issues.append(
                    GraphIssue(where, f"task '{tid}' depends on itself", f"remove '{tid}' from its depends_on")
                )
            elif dep not in index:
                issues.append(
                    GraphIssue(where, f"task '{tid}' depends on unknown task '{dep}'", _did_you_mean(dep, known))
                )
            elif dep not in deps[tid]:
                deps[tid].append(dep)
    for cycle in find_cycles(deps):
        first = cycle[0]
        closing = cycle[-2]  # the task whose depends_on closes the loop back to `first`... see below
        i = index[first]
        raw = nodes[i][1]
        at = list(raw).index(closing) if isinstance(raw, (list, tuple)) and closing in raw else None
        path = ("tasks", i, "depends_on", at) if at is not None else ("tasks", i, "depends_on")
        issues.append(
            GraphIssue(
                path,
                "dependency cycle: " + " -> ".join(cycle),
                "remove one of these depends_on entries to break the cycle",
            )
        )
    return issues


def find_cycles(deps: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per group of tangled tasks, in run order (``a -> b -> a``: b needs a, a needs b)."""
    indegree = {t: len(d) for t, d in deps.items()}
    downstream: dict[str, list[str]] = {t: [] for t in deps}
    for t, ds in deps.items():
        for d in ds:
            downstream[d].append(t)
    ready = [t for t, n in indegree.items() if n == 0]
    while ready:
        t = ready.pop()
        for child in downstream[t]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    remaining = {t for t, n in indegree.items() if n > 0}
    cycles: list[list[str]] = []
    seen: set[str] = set()
    order = {t: n for n, t in enumerate(deps)}
    for start in deps:  # file order, for stable messages
        if start not in remaining or start in seen:
            continue
        walk: list[str] = []
        position: dict[str, int] = {}
        node = start
        while node not in position and node not in seen:
            position[node] = len(walk)
            walk.append(node)
            node = next(d for d in deps[node] if d in remaining)
        seen.update(walk)
        if node in position:  # a new cycle, following "depends on" edges
            loop = walk[position[node] :]
            loop.reverse()  # now in run order
            first = min(range(len(loop)), key=lambda k: order[loop[k]])
            loop = loop[first:] + loop[:first]  # start at the task that comes first in the file
            cycles.append([*loop, loop[0]])
    return cycles


class DagInfo(Record):
    """What a run needs of the DAG as a whole."""

    name: str
    tenant_id: str = "default"
    source_path: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    workflows: dict[str, str] = field(default_factory=dict)
    parallelism: int | None = None
    timeout: float | None = None
    fail_fast: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)
    """What the DAG returns when it runs as a sub-DAG: name -> template (``${outputs.TASK.KEY}``) or value."""
    param_types: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Typed declarations of params (``{type: int, min: 1}`` ...): :func:`dagctl.dag.params.merge_params`."""
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    env_files: list[str] = field(default_factory=list)
    notify: dict[str, Any] | None = None
    project_notify: dict[str, Any] | None = None
    """``notify:`` of the project's dagctl.yaml, for a DAG without its own: set when the file is validated
    (:func:`dagctl.dag.workflows.project_defaults`), used by runs that are not a sub-DAG's."""
    snapshot_path: str | None = None
    """The file holding the text this DAG was read from, when it is not ``source_path``: a retry runs an earlier
    run's snapshot, while ``python:`` and ``dag:`` paths still resolve beside the original file."""
    description: str | None = None
    """The DAG's ``description:`` (for people and for exports: an Argo workflow's description annotation)."""


class PlannedTask(Record):
    """One task as it runs: the file's settings with the DAG's defaults applied, and its place in the graph.

    ``priority`` is the length of the longest path from this task to a sink (counted in tasks): bigger runs
    first. The positional order of the fields is the order of the values of a cached task
    (:mod:`dagctl.dag.plancache`).
    """

    id: str
    order: int
    level: int
    kind: str
    target: str
    depends_on: tuple[str, ...]
    downstream: tuple[str, ...]
    priority: int
    retries: int
    retry_delay: float
    backoff: float
    max_delay: float
    timeout: float | None
    run: str | list[str] | None = None
    python: str | None = None
    workflow_ref: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    when: str | None = None
    trigger_rule: str = "all_success"
    isolation: str = "thread"
    queue: str | None = None
    matrix: dict[str, Any] | None = None
    """Key -> list of values, or a ``${...}`` string resolved when the run reaches the task."""
    max_parallel: int | None = None
    min_success: int | None = None
    aggregate: dict[str, Any] | None = None
    repeat: dict[str, Any] | None = None
    """``until``, ``max_iterations``, ``delay`` (seconds), ``on_max``."""
    subdag: str | dict[str, Any] | None = None
    """A ``dag:`` task's child: a path relative to the DAG file, or an inline DAG as a mapping."""
    cache: dict[str, Any] | None = None
    """``inputs`` (globs), ``key`` (salt), ``ttl`` (seconds or None); None: not cached."""
    approval: dict[str, Any] | None = None
    """An approval gate's ``message``, ``approvers``, ``policy``, ``timeout``, ``on_timeout``."""
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    """Env var -> ``{from_env: NAME}`` or ``{from_file: PATH}``: values read when the run starts, masked."""
    precondition: dict[str, str] | None = None
    """``{run: COMMAND}`` or ``{when: CONDITION}``, checked before the task; unmet: skipped."""
    continue_on: dict[str, Any] | None = None
    """``exit_codes`` and/or ``failure``: failures recorded as success (with the reason)."""
    retry_on_exit_codes: list[int] | None = None
    description: str | None = None
    """The task's ``description:`` (for people and for exports)."""


class Plan(Record):
    dag: DagInfo
    tasks: dict[str, PlannedTask]
    """In execution order: by level, then by position in the file."""
    levels: tuple[tuple[str, ...], ...]
    handlers: dict[str, PlannedTask] = field(default_factory=dict)
    """``handlers:`` of the DAG by kind (success, failure, cancel, exit): tasks run after the DAG ends."""

    def with_tenant(self, tenant_id: str) -> Plan:
        return self.replace(dag=self.dag.replace(tenant_id=tenant_id))

    @property
    def order(self) -> list[str]:
        return list(self.tasks)

    def subgraph_downstream(self, roots: Sequence[str]) -> list[str]:
        """``roots`` and everything downstream of them, in plan order."""
        chosen: set[str] = set()
        stack = list(roots)
        while stack:
            t = stack.pop()
            if t not in chosen:
                chosen.add(t)
                stack.extend(self.tasks[t].downstream)
        return [t for t in self.tasks if t in chosen]


def build_plan(spec: DagSpec) -> Plan:
    """Check the graph and derive order, levels and priorities. Raises SpecError naming every problem."""
    from .params import split_params

    issues = graph_issues([(t.id, t.depends_on) for t in spec.tasks])
    if issues:
        file = spec.source_path or f"<dag {spec.name}>"
        raise SpecError([Problem(file, 0, 0, f"{i.message}", i.hint) for i in issues])
    by_id = {t.id: t for t in spec.tasks}
    position = {t.id: i for i, t in enumerate(spec.tasks)}
    downstream: dict[str, list[str]] = {t.id: [] for t in spec.tasks}
    indegree: dict[str, int] = {}
    for t in spec.tasks:
        unique = list(dict.fromkeys(t.depends_on))
        indegree[t.id] = len(unique)
        for d in unique:
            downstream[d].append(t.id)
    # Kahn by levels: level = longest distance from a root.
    level: dict[str, int] = {}
    frontier = [t.id for t in spec.tasks if indegree[t.id] == 0]
    topo: list[str] = []
    depth = 0
    while frontier:
        nxt: list[str] = []
        for tid in frontier:
            level[tid] = depth
            topo.append(tid)
            for child in downstream[tid]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    nxt.append(child)
        frontier = sorted(nxt, key=position.__getitem__)
        depth += 1
    priority: dict[str, int] = {}
    for tid in reversed(topo):
        priority[tid] = 1 + max((priority[c] for c in downstream[tid]), default=0)
    defaults = spec.defaults
    tasks: dict[str, PlannedTask] = {}
    for n, tid in enumerate(topo):
        t = by_id[tid]
        tasks[tid] = _planned(
            t,
            defaults,
            order=n + 1,
            level=level[tid],
            depends_on=tuple(dict.fromkeys(t.depends_on)),
            downstream=tuple(downstream[tid]),
            priority=priority[tid],
        )
    levels: list[list[str]] = [[] for _ in range(depth)]
    for tid in topo:
        levels[level[tid]].append(tid)
    o = spec.options
    dag = DagInfo(
        name=spec.name,
        tenant_id=spec.tenant_id,
        source_path=spec.source_path,
        params=split_params(spec.params)[0],
        env=spec.env,
        workflows=spec.workflows,
        parallelism=o.parallelism,
        timeout=o.timeout,
        fail_fast=o.fail_fast,
        outputs=dict(spec.outputs),
        param_types=split_params(spec.params)[1],
        secrets={k: v.model_dump(exclude_none=True) for k, v in spec.secrets.items()},
        env_files=[spec.env_file] if isinstance(spec.env_file, str) else list(spec.env_file or []),
        notify=spec.notify.model_dump() if spec.notify is not None else None,
        snapshot_path=spec.snapshot_path,
        description=spec.description,
    )
    handlers: dict[str, PlannedTask] = {}
    for n, (kind, handler) in enumerate(spec.handlers.items()):
        handlers[kind] = _planned(
            handler, defaults, order=len(tasks) + n + 1, level=depth, depends_on=(), downstream=(), priority=0
        ).replace(id=f"handler:{kind}")
    return Plan(dag=dag, tasks=tasks, levels=tuple(tuple(lv) for lv in levels), handlers=handlers)


def _planned(
    t: TaskSpec,
    defaults: TaskDefaults,
    *,
    order: int,
    level: int,
    depends_on: tuple[str, ...],
    downstream: tuple[str, ...],
    priority: int,
) -> PlannedTask:
    return PlannedTask(
        id=t.id,
        order=order,
        level=level,
        kind=t.kind,
        target=t.target,
        depends_on=depends_on,
        downstream=downstream,
        priority=priority,
        retries=t.retries if t.retries is not None else defaults.retries,
        retry_delay=t.retry_delay if t.retry_delay is not None else defaults.retry_delay,
        backoff=t.backoff if t.backoff is not None else defaults.backoff,
        max_delay=t.max_delay if t.max_delay is not None else defaults.max_delay,
        timeout=t.timeout if t.timeout is not None else defaults.timeout,
        run=t.run,
        python=t.python,
        workflow_ref=t.workflow_ref,
        params=t.params,
        env=t.env,
        cwd=t.cwd,
        when=t.when,
        trigger_rule=t.trigger_rule.value,
        isolation=t.isolation.value,
        queue=t.queue,
        matrix=dict(t.matrix) if t.matrix is not None else None,
        max_parallel=t.max_parallel,
        min_success=t.min_success,
        aggregate=t.aggregate.model_dump(mode="json") if t.aggregate is not None else None,
        repeat=t.repeat.model_dump(mode="json") if t.repeat is not None else None,
        subdag=t.dag if isinstance(t.dag, str) or t.dag is None else t.dag.model_dump(mode="json"),
        cache=_cache(t.cache if "cache" in t.model_fields_set else defaults.cache)
        if t.kind in ("run", "python", "workflow_ref")
        else None,
        approval=t.approval.model_dump(mode="json") if t.approval is not None else None,
        secrets={k: v.model_dump(exclude_none=True) for k, v in t.secrets.items()},
        precondition=t.precondition.model_dump(exclude_none=True) if t.precondition is not None else None,
        continue_on=t.continue_on.model_dump() if t.continue_on is not None else None,
        retry_on_exit_codes=list(t.retry_on_exit_codes) if t.retry_on_exit_codes is not None else None,
        description=t.description,
    )


def ancestors(plan_deps: Mapping[str, Sequence[str]], task_id: str) -> set[str]:
    """All tasks ``task_id`` transitively depends on."""
    found: set[str] = set()
    stack = list(plan_deps.get(task_id, ()))
    while stack:
        t = stack.pop()
        if t not in found:
            found.add(t)
            stack.extend(plan_deps.get(t, ()))
    return found


def _cache(spec: Any) -> dict[str, Any] | None:
    return None if spec is None else {"inputs": list(spec.inputs), "key": spec.key, "ttl": spec.ttl}
