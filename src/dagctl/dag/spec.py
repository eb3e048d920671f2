"""What the user wrote: pydantic models of a DAG file. Frozen, strict about keys and types, no IO.

Per-field and per-task rules live here. Rules that need the whole graph (duplicate ids, unknown
dependencies, cycles) live in :mod:`dagctl.dag.plan`, so the loader can report them next to type errors.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from .matrix import MAX_MATRIX_CELLS as MAX_MATRIX_CELLS  # re-exported: dag.checks reads it here
from .matrix import min_success_problem
from .names import CALLABLE_PATTERN, NAME_PATTERN
from .specfields import MAX_ARG_BYTES as MAX_ARG_BYTES  # the value types: re-exported, as before
from .specfields import (
    Backoff,
    Duration,
    Env,
    EnvName,
    Glob,
    Params,
    Retries,
    Timeout,
    Ttl,
    arg_size,
    duration_schema,
)
from .specfields import Name as Name
from .specschema import MATRIX_VALUES, also_text, exactly_one_of, handler_schema, notify_schema

TASK_KINDS = ("run", "python", "workflow_ref", "dag", "approval")
MATRIX_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class KeyProblem(ValueError):
    """A model's rule broken by one of its keys: the loader reports it at that key, not at the model.

    ``key`` is a key of the model, or a path below it (``("params", "n", "type")``); ``at_value``: report it at
    the value the key holds rather than at the key."""

    def __init__(self, message: str, key: str | tuple[str | int, ...], *, at_value: bool = False) -> None:
        super().__init__(message)
        self.key: tuple[str | int, ...] = (key,) if isinstance(key, str) else tuple(key)
        self.at_value = at_value


class TriggerRule(str, enum.Enum):
    """When a task runs, given how its upstream tasks ended."""

    ALL_SUCCESS = "all_success"
    ALL_DONE = "all_done"
    ALL_FAILED = "all_failed"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    NONE_FAILED = "none_failed"
    ALWAYS = "always"


class Isolation(str, enum.Enum):
    THREAD = "thread"
    PROCESS = "process"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    SHAPE: ClassVar[str] = "a mapping (key: value lines)"
    """What a user writes for this model, for the message when they wrote something else (``repeat: 5``)."""
    REFUSED: ClassVar[tuple[str, ...]] = ()
    """Fields of a base model that do not apply to this one: refused when written, and never suggested."""


class CacheSpec(_Model):
    """Skip a task whose inputs are the same as a run that already did it: reuse its outputs and log."""

    SHAPE = "true, false or a mapping such as {inputs: [data/*.csv], ttl: 7d}"

    inputs: list[Glob] = Field(
        default_factory=list, description="Globs of files (relative to the DAG file) whose contents are in the key."
    )
    key: str = Field(default="", description="Extra salt: change it to invalidate the task's entries.")
    ttl: Ttl | None = Field(default=None, description="How long an entry is good for (default: forever).")


def _cache_flag(value: Any) -> Any:
    if value is True:
        return {}
    if value is False:
        return None
    return value


CacheSetting = Annotated[
    CacheSpec | None,
    BeforeValidator(_cache_flag),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "boolean"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "inputs": {"type": "array", "items": {"type": "string", "pattern": "\\S"}},
                        "key": {"type": "string"},
                        "ttl": {"anyOf": [duration_schema(zero=False), {"type": "null"}]},
                    },
                },
                {"type": "null"},
            ],
            "description": "true, or {inputs: [globs], key: salt, ttl: 7d}: reuse the outputs of a run with the "
            "same inputs",
        }
    ),
]


class ApprovalSpec(_Model):
    """A gate: the run waits here until people approve (or reject) from any shell: `dagctl approve RUN TASK`."""

    SHAPE = 'a mapping such as {message: "Deploy?", approvers: [ana], timeout: 24h}'

    message: str = Field(default="", description="What is being approved; ${...} templates work.")
    approvers: list[Annotated[str, StringConstraints(min_length=1, max_length=128)]] = Field(
        default_factory=list, description="Who may decide (empty: anyone)."
    )
    policy: Literal["any", "all"] = Field(default="any", description="any: one approval; all: every approver's.")
    timeout: Timeout | None = Field(default=None, description="How long to wait (default: forever).")
    on_timeout: Literal["fail", "skip"] = "fail"

    @model_validator(mode="after")
    def _all_needs_names(self) -> ApprovalSpec:
        if self.policy == "all" and not self.approvers:
            raise ValueError("approval policy all needs approvers: [names] — or use policy: any")
        return self


class SecretSource(_Model):
    """Where a secret's value comes from: an environment variable of dagctl's, or a file (its content)."""

    model_config = ConfigDict(json_schema_extra=exactly_one_of("from_env", "from_file"))
    SHAPE = "a mapping such as {from_env: NAME} or {from_file: PATH}"

    from_env: Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)] | None = None
    from_file: str | None = Field(default=None, description="A path, relative to the DAG file.")

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretSource:
        if (self.from_env is None) == (self.from_file is None):
            raise ValueError("a secret needs exactly one of from_env: NAME or from_file: PATH")
        return self


Secrets = dict[EnvName, SecretSource]


class Precondition(_Model):
    """Checked before a task starts: unmet means the task is skipped, with the reason."""

    model_config = ConfigDict(json_schema_extra=exactly_one_of("run", "when"))
    SHAPE = "a command, or a mapping such as {run: COMMAND} or {when: CONDITION}"

    run: str | None = Field(default=None, description="A shell command; it must exit 0.")
    when: str | None = Field(default=None, description="A when:-style condition.")

    @model_validator(mode="after")
    def _exactly_one(self) -> Precondition:
        if (self.run is None) == (self.when is None):
            raise ValueError("a precondition is one of run: COMMAND or when: CONDITION")
        return self


def _precondition(value: Any) -> Any:
    return {"run": value} if isinstance(value, str) else value


class ContinueOn(_Model):
    """Failures that do not fail the run: the task is recorded as succeeded, with the reason."""

    SHAPE = "a mapping such as {exit_codes: [3]} or {failure: true}"

    exit_codes: list[Annotated[int, Strict(), Field(ge=0, le=255)]] = Field(default_factory=list)
    failure: Annotated[bool, Strict()] = Field(default=False, description="Any failure.")


def _failures_only() -> list[Literal["failure", "success", "retry", "approval"]]:
    return ["failure"]


class NotifySpec(_Model):
    """Messages about the run, through apprise (pip install 'dagctl[notify]'); ``events: []`` sends none."""

    SHAPE = 'a mapping such as {events: [failure], urls: ["slack://..."]}, or {events: []} for no messages'
    model_config = ConfigDict(json_schema_extra=notify_schema)

    events: list[Literal["failure", "success", "retry", "approval"]] = Field(
        default_factory=_failures_only,
        description="What to send a message about; [] sends none (a DAG's own notify: also replaces its project's).",
    )
    urls: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=list,
        min_length=1,
        description="Apprise URLs, each sent to and retried on its own (needed unless events: []).",
    )
    title: Annotated[str, Strict()] | None = Field(
        default=None, description="The message's title, a template: ${dag.name}, ${run.status}, ${params.NAME}, ..."
    )
    body: Annotated[str, Strict()] | None = Field(
        default=None, description="The message's text, a template; ${message.body} is dagctl's own text."
    )
    log_lines: int = Field(
        default=0,
        ge=0,
        le=50,  # notifytext.MAX_LOG_LINES (not imported here: reading a DAG does not need it)
        description="Last lines of each failed task's log in a failure message (at most 50); 0, the default, shows "
        "none: a log may hold values that are not declared secrets:, and the message leaves the machine.",
    )

    @field_validator("urls")
    @classmethod
    def _urls_look_like_urls(cls, value: list[str]) -> list[str]:
        from .notifyurls import EXAMPLE, url_problem

        for url in value:
            problem = url_problem(url)
            if problem:
                raise ValueError(f"{problem} — {EXAMPLE}")
        return value

    @field_validator("log_lines", mode="before")
    @classmethod
    def _a_number_of_lines(cls, value: object) -> object:
        from .notifytext import log_lines_problem

        problem = log_lines_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("title", "body")
    @classmethod
    def _known_fields(cls, value: str | None) -> str | None:
        from .notifytext import template_problem

        problem = template_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _urls_unless_off(self) -> NotifySpec:
        if self.events and not self.urls:
            from .notifyurls import EXAMPLE

            raise ValueError(f"needs urls, a list of apprise URLs — {EXAMPLE}; or write events: [] to send no messages")
        return self


class TaskDefaults(_Model):
    """Defaults applied to every task that does not set its own value."""

    SHAPE = "a mapping such as {retries: 1, timeout: 10m}"

    retries: Retries = 0
    retry_delay: Duration = 1.0
    backoff: Backoff = 2.0
    max_delay: Duration = 300.0
    timeout: Timeout | None = None
    cache: CacheSetting = None


class Options(_Model):
    """Run-wide options."""

    SHAPE = "a mapping such as {parallelism: 4, fail_fast: true}"

    parallelism: Annotated[int, Strict(), Field(ge=1, le=10_000)] | None = Field(
        default=None, description="Max tasks running at once (default: CPU count + 4, at most 32)."
    )
    timeout: Timeout | None = Field(default=None, description="Whole-run timeout.")
    fail_fast: Annotated[bool, Strict()] = False


Scalar = Annotated[str | int | float | bool, WithJsonSchema({"type": ["string", "number", "boolean"]})]
MatrixValues = Annotated[list[Any] | str, WithJsonSchema(MATRIX_VALUES)]


class AggregateStrategy(str, enum.Enum):
    COLLECT = "collect"
    BEST = "best"
    WORST = "worst"
    AVERAGE = "average"
    VOTE = "vote"
    PYTHON = "python"


class AggregateSpec(_Model):
    """How a matrix task's cells are gathered into its outputs (fan-in)."""

    SHAPE = "a mapping such as {strategy: best, metric: accuracy, order: max}"

    strategy: AggregateStrategy = AggregateStrategy.COLLECT
    metric: str | None = Field(default=None, description="best/worst: the output key compared across cells.")
    order: Literal["max", "min"] = Field(default="max", description="best/worst: which end wins.")
    metrics: list[str] = Field(default_factory=list, description="average: the output keys averaged.")
    key: str | None = Field(default=None, description="vote: the output key voted on.")
    python: Annotated[str, StringConstraints(pattern=CALLABLE_PATTERN)] | None = Field(
        default=None, description="python: module:function receiving the cells list, returning a dict."
    )

    @model_validator(mode="after")
    def _what_each_strategy_needs(self) -> AggregateSpec:
        s = self.strategy
        if s in (AggregateStrategy.BEST, AggregateStrategy.WORST) and not self.metric:
            raise ValueError(f"aggregate strategy {s.value} needs metric: (the output key to compare)")
        if s is AggregateStrategy.AVERAGE and not self.metrics:
            raise ValueError("aggregate strategy average needs metrics: [keys to average]")
        if s is AggregateStrategy.VOTE and not self.key:
            raise ValueError("aggregate strategy vote needs key: (the output key voted on)")
        if s is AggregateStrategy.PYTHON and not self.python:
            raise ValueError("aggregate strategy python needs python: module:function")
        return self


class RepeatSpec(_Model):
    """Run the task again until a condition holds: a loop."""

    SHAPE = 'a mapping such as {until: "outputs.fit.loss < 0.05", max_iterations: 5}'

    until: str = Field(description="when:-style condition over outputs.<task>, previous.<task>, iteration, params.")
    max_iterations: Annotated[int, Strict(), Field(ge=1, le=100_000)] = 10
    delay: Duration = 0.0
    on_max: Literal["fail", "succeed"] = Field(
        default="fail", description="What reaching max_iterations without `until` being true means."
    )


class InlineDag(_Model):
    """A sub-DAG written inside its parent: the same keys as a DAG file, all optional but tasks."""

    SHAPE = "a DAG file's path, or an inline DAG such as {tasks: [...]}"

    model_config = ConfigDict(extra="allow", frozen=True)

    tasks: list[dict[str, Any]] = Field(min_length=1)


class TaskSpec(_Model):
    """One node of the DAG: exactly one of ``run``, ``python``, ``workflow_ref``, ``dag`` or ``approval``."""

    model_config = ConfigDict(json_schema_extra=exactly_one_of(*TASK_KINDS))
    SHAPE = "a mapping such as {id: build, run: make}"

    id: Name
    description: str | None = None
    depends_on: Annotated[
        list[Name],
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "pattern": NAME_PATTERN},
                    {"type": "array", "items": {"type": "string", "pattern": NAME_PATTERN}},
                    {"type": "null"},
                ],
                "description": "Ids of tasks that must finish first (one id or a list).",
            }
        ),
    ] = Field(default_factory=list)
    run: Annotated[
        str | list[str] | None,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "pattern": "\\S"},
                    {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    {"type": "null"},
                ]
            }
        ),
    ] = Field(default=None, description="Shell command string, or argv list.")
    python: Annotated[str, StringConstraints(pattern=CALLABLE_PATTERN)] | None = Field(
        default=None, description="module:function, resolved next to the DAG file first."
    )
    workflow_ref: Name | None = Field(default=None, description="Name of a registered workflow.")
    dag: str | InlineDag | None = Field(
        default=None, description="A sub-DAG: a DAG file (relative to this file) or an inline {tasks: [...]}."
    )
    params: Params = Field(default_factory=dict)
    env: Env = Field(default_factory=dict)
    cwd: str | None = None
    retries: Retries | None = None
    retry_delay: Duration | None = None
    backoff: Backoff | None = None
    max_delay: Duration | None = None
    timeout: Timeout | None = None
    when: str | None = Field(default=None, description="Condition over params and upstream outputs.")
    trigger_rule: TriggerRule = TriggerRule.ALL_SUCCESS
    isolation: Isolation = Isolation.THREAD
    queue: Name | None = Field(default=None, description="Worker queue for distributed executors.")
    tags: list[str] = Field(default_factory=list)
    matrix: Annotated[
        dict[Annotated[str, StringConstraints(pattern=MATRIX_KEY_PATTERN)], MatrixValues] | None,
        WithJsonSchema(
            {
                "anyOf": [
                    {
                        "type": "object",
                        "minProperties": 1,
                        "propertyNames": {"pattern": MATRIX_KEY_PATTERN},
                        "additionalProperties": MATRIX_VALUES,
                    },
                    {"type": "null"},
                ]
            }
        ),
    ] = Field(default=None, description="Fan out: one cell per combination of these values (cartesian product).")
    max_parallel: Annotated[int, Strict(), Field(ge=1, le=10_000)] | None = Field(
        default=None, description="At most this many of this matrix task's cells run at once."
    )
    min_success: Annotated[int, Strict(), Field(ge=0)] | None = Field(
        default=None, description="The matrix task succeeds when at least this many cells do (default: all)."
    )
    aggregate: AggregateSpec | None = None
    repeat: RepeatSpec | None = None
    cache: CacheSetting = None
    approval: ApprovalSpec | None = Field(default=None, description="A gate: wait for people's approval.")
    secrets: Secrets = Field(default_factory=dict, description="Env vars whose values are secrets (masked).")
    precondition: Annotated[Precondition | None, BeforeValidator(_precondition)] = Field(
        default=None,
        description="A command (string or run:) or when: checked first; unmet: skipped.",
        json_schema_extra=also_text,
    )
    continue_on: ContinueOn | None = None
    retry_on_exit_codes: list[Annotated[int, Strict(), Field(ge=0, le=255)]] | None = Field(
        default=None, description="Retry only when the task exits with one of these codes."
    )

    @field_validator("depends_on", mode="before")
    @classmethod
    def _one_dependency_as_list(cls, value: Any) -> Any:
        if value is None:
            return []
        return [value] if isinstance(value, str) else value

    @field_validator("run")
    @classmethod
    def _run_not_empty(cls, value: str | list[str] | None) -> str | list[str] | None:
        if value is not None and (not value or (isinstance(value, str) and not value.strip())):
            raise ValueError("run is empty — give a shell command or an argv list")
        for text in [value] if isinstance(value, str) else value or []:
            arg_size("the command" if isinstance(value, str) else "an argument", text)
        return value

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> TaskSpec:
        given = [k for k in TASK_KINDS if getattr(self, k) is not None]
        if not given:
            raise ValueError(
                f"task '{self.id}' has nothing to do — add one of run:, python:, workflow_ref:, dag: or approval:"
            )
        if len(given) > 1:
            raise ValueError(
                f"task '{self.id}' sets {' and '.join(given)} — keep exactly one of run:, python:, workflow_ref:, "
                "dag:, approval:"
            )
        if self.approval is not None and (self.cache is not None or self.repeat is not None):
            raise ValueError(f"task '{self.id}' is an approval gate: cache: and repeat: do not apply to it")
        if self.approval is not None:
            self._no_attempt_settings()
        if self.dag is not None and "cache" in self.model_fields_set and self.cache is not None:
            # the plan never cached a dag: task (its child's tasks are what runs): refused rather than ignored
            raise KeyProblem(
                f"task '{self.id}': cache: does not apply to a dag: task — cache the child's tasks instead", "cache"
            )
        if self.matrix is None:
            for key in ("max_parallel", "min_success", "aggregate"):
                if getattr(self, key) is not None:
                    raise ValueError(f"task '{self.id}' sets {key}: without matrix: — it applies to matrix cells")
        elif self.repeat is not None:
            raise ValueError(f"task '{self.id}' sets both matrix: and repeat: — loop inside the cells' own task")
        if isinstance(self.matrix, dict) and not self.matrix:
            raise ValueError(f"task '{self.id}' has an empty matrix: — give at least one key with values")
        if self.matrix and all(isinstance(v, list) and v for v in self.matrix.values()):
            cells = 1  # every list literal: the cells are known now (params and outputs: when the run knows them)
            for values in self.matrix.values():
                cells *= len(values)
            problem = min_success_problem(self.id, self.min_success, cells)
            if problem is not None:
                raise KeyProblem(problem, "min_success")
        return self

    def _no_attempt_settings(self) -> None:
        """A gate is one decision, not an attempt: it is never retried, and it waits as long as
        ``approval: {timeout}`` says. Per-attempt settings written on it were ignored; they are refused."""
        for key in ("timeout", "retries", "retry_delay", "backoff", "max_delay", "retry_on_exit_codes"):
            if getattr(self, key) is None:
                continue
            if key == "timeout":
                hint = "limit the wait with approval: {timeout: ...} (and on_timeout: fail or skip)"
            else:
                hint = "a gate is decided once, never retried; limit the wait with approval: {timeout: ...}"
            raise KeyProblem(f"task '{self.id}' is an approval gate: {key}: does not apply to it — {hint}", key)

    @property
    def kind(self) -> Literal["run", "python", "workflow_ref", "dag", "approval"]:
        for k in TASK_KINDS:
            if getattr(self, k) is not None:
                return k  # type: ignore[return-value]
        raise AssertionError("validated task without a kind")

    @property
    def target(self) -> str:
        if self.run is not None:
            return self.run if isinstance(self.run, str) else " ".join(self.run)
        if self.dag is not None:
            return self.dag if isinstance(self.dag, str) else f"inline ({len(self.dag.tasks)} tasks)"
        if self.approval is not None:
            who = ", ".join(self.approval.approvers) or "anyone"
            return f"approval by {who} ({self.approval.policy})"
        return str(self.python if self.python is not None else self.workflow_ref)


class HandlerSpec(TaskSpec):
    """What runs once the DAG's tasks have ended (``handlers: {failure: ...}``): a task with no place in the graph,
    run once. The plan names it ``handler:KIND``."""

    model_config = ConfigDict(json_schema_extra=handler_schema)
    SHAPE = "a mapping such as {run: ./notify.sh}"
    REFUSED = (
        "id",
        "depends_on",
        "dag",
        "approval",
        "matrix",
        "max_parallel",
        "min_success",
        "aggregate",
        "repeat",
        # a handler runs when the run ends, whatever: these were accepted and then ignored
        "when",
        "trigger_rule",
        "precondition",
        "continue_on",
        "cache",
    )

    id: Name = "handler"

    @field_validator(*REFUSED, mode="before")
    @classmethod
    def _refused(cls, value: Any, info: ValidationInfo) -> Any:
        raise KeyProblem(
            f"{info.field_name}: does not apply to a handler — a handler runs once, after the DAG's tasks have "
            "ended; remove it",
            (),
        )

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> HandlerSpec:
        given = [k for k in ("run", "python", "workflow_ref") if getattr(self, k) is not None]
        if not given:
            raise ValueError("has nothing to do — add one of run:, python: or workflow_ref:")
        if len(given) > 1:
            raise ValueError(f"sets {' and '.join(given)} — keep exactly one of run:, python:, workflow_ref:")
        return self


class DagSpec(_Model):
    """A whole DAG file."""

    model_config = ConfigDict(json_schema_extra={"patternProperties": {"^x-": {}}})  # x-...: ignored (YAML anchors)

    SHAPE = "a mapping such as {name: nightly, tasks: [...]}"

    name: Name
    description: str | None = None
    tenant_id: Annotated[str, Strict(), StringConstraints(min_length=1, max_length=128)] = "default"
    params: Params = Field(default_factory=dict)
    env: Env = Field(default_factory=dict)
    defaults: TaskDefaults = Field(default_factory=TaskDefaults)
    options: Options = Field(default_factory=Options)
    workflows: dict[Name, Annotated[str, StringConstraints(pattern=CALLABLE_PATTERN)]] = Field(
        default_factory=dict, description="Workflow registry for this DAG: name -> module:function."
    )
    tasks: list[TaskSpec] = Field(min_length=1)
    outputs: dict[Annotated[str, StringConstraints(pattern=MATRIX_KEY_PATTERN)], Any] = Field(
        default_factory=dict,
        description="What this DAG returns when it runs as a sub-DAG: name -> ${outputs.TASK.KEY} (or any value).",
    )
    secrets: Secrets = Field(default_factory=dict, description="Env vars of every task whose values are secret.")
    env_file: str | list[str] | None = Field(
        default=None, description=".env file(s), relative to the DAG file, read before env:."
    )
    handlers: dict[Literal["success", "failure", "cancel", "exit"], HandlerSpec] = Field(
        default_factory=dict,
        description="Tasks run after the DAG ends: success, failure, cancel, exit (always). Each is a task "
        "without id/depends_on; it gets DAGCTL_RUN_STATUS, DAGCTL_FAILED_TASKS and DAGCTL_RUN_ID.",
    )
    notify: NotifySpec | None = None

    _source: str | None = PrivateAttr(default=None)
    _snapshot: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _typed_params(self) -> DagSpec:
        from .params import declaration_problem, is_declaration

        for name, value in self.params.items():
            if is_declaration(value):
                problem = declaration_problem(name, value)
                if problem is not None:
                    key, message = problem
                    raise KeyProblem(message, ("params", name, *key), at_value=True)
        return self

    @model_validator(mode="after")
    def _notify_params(self) -> DagSpec:
        """A ``${params.NAME}`` in ``notify.title`` / ``notify.body`` names a param of this DAG."""
        if self.notify is not None and (self.notify.title or self.notify.body):
            from .notifytext import template_problem

            for key in ("title", "body"):
                text = getattr(self.notify, key)
                problem = template_problem(text, self.params) if text else None
                if problem:
                    raise KeyProblem(f"{key}: {problem}", ("notify", key), at_value=True)
        return self

    @property
    def source_path(self) -> str | None:
        """The file this spec was loaded from, if any."""
        return self._source

    @property
    def snapshot_path(self) -> str | None:
        """The file this spec's text was read from when that is not :attr:`source_path` (an earlier run's
        snapshot, which a retry runs); None otherwise."""
        return self._snapshot

    def task(self, task_id: str) -> TaskSpec:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)
