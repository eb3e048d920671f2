"""What the user wrote: pydantic models of a DAG file. Frozen, strict about keys and types, no IO.

Per-field and per-task rules live here. Rules that need the whole graph (duplicate ids, unknown
dependencies, cycles) live in :mod:`dagctl.dag.plan`, so the loader can report them next to type errors.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from .durations import parse_duration

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
NAME_RE = re.compile(NAME_PATTERN)
CALLABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
TASK_KINDS = ("run", "python", "workflow_ref")

Name = Annotated[str, Strict(), StringConstraints(pattern=NAME_PATTERN)]
Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?)((ms|s|m|h|d|w)(\d+(\.\d+)?(ms|s|m|h|d|w))*)?\s*$"},
            ],
            "description": 'Seconds, or a duration such as "30s", "10m", "1h30m".',
        }
    ),
]
Retries = Annotated[int, Strict(), Field(ge=0, le=100)]
Backoff = Annotated[float, Strict(), Field(ge=1.0, le=100.0)]


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise ValueError("environment values must be strings or numbers — quote the value")


EnvValue = Annotated[str, BeforeValidator(_env_value), WithJsonSchema({"type": ["string", "number", "boolean"]})]


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


class TaskDefaults(_Model):
    """Defaults applied to every task that does not set its own value."""

    retries: Retries = 0
    retry_delay: Duration = 1.0
    backoff: Backoff = 2.0
    max_delay: Duration = 300.0
    timeout: Duration | None = None


class Options(_Model):
    """Run-wide options."""

    parallelism: Annotated[int, Strict(), Field(ge=1, le=10_000)] | None = Field(
        default=None, description="Max tasks running at once (default: CPU count + 4, at most 32)."
    )
    timeout: Duration | None = Field(default=None, description="Whole-run timeout.")
    fail_fast: Annotated[bool, Strict()] = False


class TaskSpec(_Model):
    """One node of the DAG: exactly one of ``run``, ``python`` or ``workflow_ref``."""

    id: Name
    description: str | None = None
    depends_on: Annotated[
        list[Name],
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "pattern": NAME_PATTERN},
                    {"type": "array", "items": {"type": "string", "pattern": NAME_PATTERN}},
                ],
                "description": "Ids of tasks that must finish first (one id or a list).",
            }
        ),
    ] = Field(default_factory=list)
    run: str | list[str] | None = Field(default=None, description="Shell command string, or argv list.")
    python: Annotated[str, StringConstraints(pattern=CALLABLE_PATTERN)] | None = Field(
        default=None, description="module:function, resolved next to the DAG file first."
    )
    workflow_ref: Name | None = Field(default=None, description="Name of a registered workflow.")
    params: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, EnvValue] = Field(default_factory=dict)
    cwd: str | None = None
    retries: Retries | None = None
    retry_delay: Duration | None = None
    backoff: Backoff | None = None
    max_delay: Duration | None = None
    timeout: Duration | None = None
    when: str | None = Field(default=None, description="Condition over params and upstream outputs.")
    trigger_rule: TriggerRule = TriggerRule.ALL_SUCCESS
    isolation: Isolation = Isolation.THREAD
    queue: Name | None = Field(default=None, description="Worker queue for distributed executors.")
    tags: list[str] = Field(default_factory=list)

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
        return value

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> TaskSpec:
        given = [k for k in TASK_KINDS if getattr(self, k) is not None]
        if not given:
            raise ValueError(f"task '{self.id}' has nothing to do — add one of run:, python: or workflow_ref:")
        if len(given) > 1:
            raise ValueError(
                f"task '{self.id}' sets {' and '.join(given)} — keep exactly one of run:, python:, workflow_ref:"
            )
        return self

    @property
    def kind(self) -> Literal["run", "python", "workflow_ref"]:
        for k in TASK_KINDS:
            if getattr(self, k) is not None:
                return k  # type: ignore[return-value]
        raise AssertionError("validated task without a kind")

    @property
    def target(self) -> str:
        if self.run is not None:
            return self.run if isinstance(self.run, str) else " ".join(self.run)
        return str(self.python if self.python is not None else self.workflow_ref)


class DagSpec(_Model):
    """A whole DAG file."""

    name: Name
    description: str | None = None
    tenant_id: Annotated[str, Strict(), StringConstraints(min_length=1, max_length=128)] = "default"
    params: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, EnvValue] = Field(default_factory=dict)
    defaults: TaskDefaults = Field(default_factory=TaskDefaults)
    options: Options = Field(default_factory=Options)
    workflows: dict[Name, Annotated[str, StringConstraints(pattern=CALLABLE_PATTERN)]] = Field(
        default_factory=dict, description="Workflow registry for this DAG: name -> module:function."
    )
    tasks: list[TaskSpec] = Field(min_length=1)

    _source: str | None = PrivateAttr(default=None)

    @property
    def source_path(self) -> str | None:
        """The file this spec was loaded from, if any."""
        return self._source

    def task(self, task_id: str) -> TaskSpec:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)


def dag_json_schema() -> dict[str, Any]:
    """JSON Schema of the DAG file, for editors (yaml-language-server) and external validation."""
    schema = DagSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "dagctl DAG file"
    return schema
