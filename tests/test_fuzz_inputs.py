"""Property-based fuzzing of what users write: the DAG loader, ``${...}`` templates and ``when:`` conditions.

Whatever the input, each ends in success or in a DagctlError that says where (FILE:LINE:COL, or the column
in the expression) on one line — never in another exception. Bounded and derandomised: the same examples on
every run, a few seconds in all.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dagctl.dag.conditions import compile_condition, condition_problems
from dagctl.dag.loader import load_dag_text
from dagctl.dag.templating import (
    TemplateContext,
    find_references,
    reference_problems,
    render,
    render_argv,
    render_value,
)
from dagctl.errors import SpecError, TemplateError
from dagctl.schedule.files import parse_schedule_text, schedules_from_document

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def one_line(error: BaseException) -> None:
    assert "\n" not in str(error), str(error)


# ---------------------------------------------------------------------------------------------- the loader

YAML_PIECES = [
    "name: n\n", "tasks:\n", "  - id: a\n", "  - id: b\n", "    run: ", "    depends_on: ", "    when: ",
    "    timeout: ", "    retries: ", "    env: ", "    params: ", "params:\n", "env:\n", "defaults:\n",
    "options:\n", "  x: ", "x-a: &a ", "*a", "<<: *a\n", "&b [", "*b", "]", "{", "}", ",", ": ", "- ", "\n", "  ",
    " ", "'", '"', "\\0", "\\x00", "\\u0000", "\\t", "\t", "|\n", ">-\n", "---\n", "...\n", "%YAML 1.1\n", "? ",
    "!!str ", "!!python/object:os.system ", "!!binary ", "!!set ", "!x ", ".nan", ".inf", "-.inf", "1e999",
    "1.0e+999", "0x1f", "0o17", "1_000", "12:30", "2024-01-01", "~", "null", "yes", "no", "0", "-1",
    "99999999999999999999d", "1" * 30, "1" * 5000, "0s", "5x", ".", "..", "é", "\u2028", "\ufeff", "\r\n", "\x85",
    "\x07", "#", "${params.x}", "${outputs.a.k}", "${", "}", "`", "<<EOF", "$(", "A=B", "=",
]  # fmt: skip

NAMES = st.sampled_from(["a", "b", "x", ".", "..", "a.b", "é", "", "A=B", "X", "a\nb", "a\x00", "-", "1"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**4000, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ["${params.x}", "${outputs.a.k}", "cat <<E\n${params.x}\nE", "`${env.X}`", "30s", "1h", "0", "366d"]
    ),
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3), max_leaves=8
)
TASK_KEYS = ["id", "run", "python", "depends_on", "params", "env", "cwd", "timeout", "retries", "retry_delay",
             "backoff", "max_delay", "when", "trigger_rule", "isolation", "queue", "tags", "description"]  # fmt: skip
TASKS = st.lists(st.dictionaries(st.sampled_from(TASK_KEYS) | NAMES, VALUES, max_size=6), min_size=0, max_size=3)
TOP = st.fixed_dictionaries(
    {"name": st.sampled_from(["n", "..", "a b"]) | VALUES, "tasks": TASKS},
    optional={"params": VALUES, "env": VALUES, "defaults": VALUES, "options": VALUES, "workflows": VALUES},
)


def check_loader(text: str) -> None:
    try:
        spec = load_dag_text(text, "f.yaml")
    except SpecError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.file == "f.yaml"
            assert problem.line >= 1 and problem.column >= 1, problem
            one_line(problem)  # type: ignore[arg-type]
        return
    # what loads is safe to run: strict JSON params, usable env names and file-name-safe ids
    json.dumps(spec.params, allow_nan=False)
    for task in spec.tasks:
        assert task.id not in (".", "..")
        json.dumps(task.params, allow_nan=False)
        for env in (spec.env, task.env):
            assert all(name and "=" not in name and "\x00" not in name for name in env)
            assert all("\x00" not in value for value in env.values())
        for timeout in (task.timeout, spec.defaults.timeout, spec.options.timeout):
            assert timeout is None or 0 < timeout <= 365 * 86400


@FUZZ
@given(st.text(max_size=300))
def test_any_text_loads_or_is_a_positioned_problem(text: str) -> None:
    check_loader(text)


@FUZZ
@given(st.lists(st.sampled_from(YAML_PIECES), max_size=40))
def test_any_yaml_token_soup_loads_or_is_a_positioned_problem(pieces: list[str]) -> None:
    check_loader("".join(pieces))


@settings(FUZZ, max_examples=120)
@given(TOP)
def test_any_dag_shaped_mapping_loads_or_is_a_positioned_problem(data: dict[str, Any]) -> None:
    check_loader(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


SCHEDULE_PIECES = [
    "- id: a\n", "- id: ", "  cron: ", '"* * * * *"', "'0 0 * * *'", "@daily", "  dag: x.yaml\n", "  jitter: ",
    "  catchup: ", "  timezone: ", "  overlap: ", "  params: ", "  enabled: ", "Europe/London", "Nope/Zone", "skip",
    "bogus", "99999999999d", "-1", ".nan", ".inf", "0", "30s", "yes", "{f: 1}", '"a\\nb"', '"\\0"', "\n", " ", ": ",
    "*", "&a ", "*a", "..", ".", "é",
]  # fmt: skip


@FUZZ
@given(st.lists(st.sampled_from(SCHEDULE_PIECES), max_size=30))
def test_any_schedule_file_loads_or_is_a_positioned_problem(pieces: list[str]) -> None:
    try:
        schedules_from_document(parse_schedule_text("".join(pieces), "s.yaml"), check_dags=False)
    except SpecError as exc:
        for problem in exc.problems:
            assert problem.line >= 1 and problem.column >= 1, problem
            one_line(problem)  # type: ignore[arg-type]


@settings(FUZZ, max_examples=30)
@given(st.integers(min_value=0, max_value=4))
def test_alias_bombs_are_refused_quickly(extra: int) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9 + extra):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    check_loader("name: n\n" + "\n".join(lines) + "\ntasks:\n  - {id: a, run: x}\n")


# ---------------------------------------------------------------------------------------------- templates

TEMPLATE_PIECES = [
    "$", "{", "}", "${", "$${", "params", "env", "outputs", "run_id", "logical_date", "attempt", "dag", "task", "name",
    "id", ".", ":-", ":", "x", "a", "k", "HOME", "-", "_", "0", "1", "'", '"', "`", "\\", "<<", "<", ">", "(", ")",
    "$(", "$((", "$'", "=", "=(", "#", " ", "\n", "\t", "case ", ";", "|", "&", "é", "\x00", "${params.x}",
    "${env.HOME}", "${outputs.a.k}", "${params.l.1}", "${x.y}", "${env.NOPE:-d}",
]  # fmt: skip
CTX = TemplateContext(
    params={"x": 'it\'s $(x) `y` "z"\n#', "l": [1, 2], "n": None, "d": {"k": 1.5}},
    env={"HOME": "/home/me", "X": "a b"},
    outputs={"a": {"k": "o'\"`$", "b.c": 1}, "a.b": {"c": 2}},
    run_id="r1",
    extra={"logical_date": "2024-01-01", "dag.name": "d", "task.id": "t", "attempt": 1},
)
TEMPLATES = st.lists(st.sampled_from(TEMPLATE_PIECES), max_size=30).map("".join) | st.text(max_size=60)


def template_error_only(action: Any) -> None:
    try:
        action()
    except TemplateError as exc:
        one_line(exc)


@FUZZ
@given(TEMPLATES)
def test_templates_render_or_raise_a_template_error(text: str) -> None:
    template_error_only(lambda: find_references(text))
    template_error_only(lambda: render(text, CTX))
    template_error_only(lambda: render(text, CTX, shell_quote=True))
    template_error_only(lambda: render_argv([text, "x"], CTX))
    template_error_only(lambda: render_value({"v": [text]}, CTX))
    problems = reference_problems(text, params=["x", "l", "n", "d"], upstream=["a"], task_ids=["a", "a.b"], shell=True)
    assert all("\n" not in p for p in problems)


@FUZZ
@given(TEMPLATES, st.text(max_size=20))
def test_a_command_validate_accepts_never_fails_to_shell_quote(text: str, value: str) -> None:
    """The ``validate accepts what run rejects`` class for templates: quoting depends on the text alone."""
    if reference_problems(text, params=["x"], upstream=["a"], task_ids=["a"], shell=True):
        return
    ctx = TemplateContext(params={"x": value}, env={}, outputs={"a": {"k": value}}, run_id=value)
    try:
        render(text, ctx, shell_quote=True)
    except TemplateError as exc:
        assert "cannot shell-quote" not in str(exc), (text, str(exc))


# ---------------------------------------------------------------------------------------------- when:

CONDITION_PIECES = [
    "params", "outputs", "env", "run_id", "logical_date", ".", "x", "a", "k", "[", "]", "(", ")", "{", "}", "'", '"',
    "0", "1", "-1", "1.5", "-", "+", "*", "/", "%", "**", "~", "not ", " and ", " or ", "==", "!=", "<", ">", "<=",
    " in ", " not in ", " is ", " is not ", "None", "null", "true", "false", " ", "\n", ",", ":", "1e999", "1j", "b'x'",
    "...", "lambda", " if ", " else ", "_x", "é", "\x00", "\\", "f'", "0x1", "9" * 30, "abs(", "min(", "max(", "len(",
    "__class__", "=", ":=", "params.x", 'outputs["a"]["k"]', "params.l[0]", "[-1]",
]  # fmt: skip
CONDITIONS = st.lists(st.sampled_from(CONDITION_PIECES), max_size=25).map("".join) | st.text(max_size=60)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.just("9" * 5000),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["x", "a", "k", "l"]), inner, max_size=3)
    ),
    max_leaves=12,
)
SCOPES = st.fixed_dictionaries(
    {},
    optional={
        "params": st.dictionaries(st.sampled_from(["x", "l", "a"]), JSON, max_size=3),
        "outputs": st.dictionaries(st.sampled_from(["a", "b"]), JSON, max_size=2),
        "env": st.dictionaries(st.sampled_from(["x", "HOME"]), st.text(max_size=5), max_size=2),
        "run_id": st.text(max_size=5),
        "logical_date": st.text(max_size=5) | st.none(),
    },
)


def when_error_only(action: Any) -> Any:
    try:
        return action()
    except TemplateError as exc:
        assert str(exc).startswith("when: "), str(exc)
        one_line(exc)
        return None


@settings(FUZZ, max_examples=200)
@given(CONDITIONS, SCOPES)
def test_conditions_compile_evaluate_or_raise_a_template_error(text: str, scope: dict[str, Any]) -> None:
    condition = when_error_only(lambda: compile_condition(text))
    problems = condition_problems(text, params=["x", "l"], upstream=["a"])
    assert all("\n" not in p for p in problems)
    if condition is not None:
        when_error_only(lambda: condition.evaluate(scope))


@settings(FUZZ, max_examples=100)
@given(st.integers(min_value=1, max_value=5000))
def test_deep_or_long_conditions_are_refused_cleanly(depth: int) -> None:
    for text in (
        "(" * depth + "1" + ")" * depth,
        "not " * depth + "true",
        "-" * depth + "1",
        "params.x" + ".a" * depth,
    ):
        when_error_only(lambda text=text: compile_condition(text))
