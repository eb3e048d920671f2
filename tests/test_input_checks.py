"""Hardening: what `dagctl validate` passes, `dagctl run` accepts; dagctl only ever writes strict JSON; and
command-line values are checked before anything runs. Each test pins one class of hostile input."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dagctl.dag.conditions import compile_condition
from dagctl.dag.durations import MAX_DURATION_S, format_duration, parse_duration
from dagctl.dag.loader import load_dag_text
from dagctl.dag.params import merge_params
from dagctl.dag.templating import TemplateContext, reference_problems, render
from dagctl.errors import SpecError, TaskError, TemplateError, UsageError
from dagctl.run.actions.outputs import encode_outputs, read_output_file
from dagctl.schedule.files import parse_schedule_text, schedules_from_document
from dagctl.store.jsonl import encode_record
from dagctl.store.reports import fold_run, stats_report
from dagctl.store.runsummary import RUN_STATUSES

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=timezone.utc)


def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as exc:
        load_dag_text(text, "dag.yaml")
    lines = [str(p) for p in exc.value.problems]
    assert all("\n" not in line for line in lines), lines  # one line each, whatever the input quoted
    return lines


def only_problem(text: str) -> str:
    lines = problems_of(text)
    assert len(lines) == 1, lines
    return lines[0]


def dag(task: str = "run: echo hi", top: str = "") -> str:
    return f"name: d\n{top}tasks:\n  - id: a\n    {task}\n"


# ---------------------------------------------------------------------------------------------- NUL


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (dag('run: "echo \\0"'), "4:10"),
        (dag('run: [echo, "a\\0"]'), "4:17"),
        (dag(top='params: {x: "a\\0b"}\n'), "2:13"),
        (dag(top='env: {X: "a\\0"}\n'), "2:10"),
        (dag('env: {"X\\0Y": "1"}\n    run: x'), "4:11"),
        ('name: d\ntasks:\n  - id: "a\\0"\n    run: x\n', "3:9"),
        (dag('cwd: "/tmp\\0"\n    run: x'), "4:10"),
    ],
)
def test_a_nul_character_anywhere_is_a_positioned_problem(text, where):
    problem = only_problem(text)
    assert problem.startswith(f"dag.yaml:{where}: "), problem
    assert "NUL" in problem


# ---------------------------------------------------------------------------------------------- env names


@pytest.mark.parametrize(
    ("text", "where", "why"),
    [
        (dag(top='env: {"A=B": x}\n'), "2:7", "it holds ="),
        (dag(top='env: {"": x}\n'), "2:7", "empty"),
        (dag('env: {"X=": "1"}\n    run: x'), "4:11", "it holds ="),
    ],
)
def test_env_names_with_equals_or_empty_are_refused(text, where, why):
    problem = only_problem(text)
    assert problem.startswith(f"dag.yaml:{where}: "), problem
    assert f"is not an environment variable name ({why})" in problem
    assert " — use letters, digits and '_'" in problem


# ---------------------------------------------------------------------------------------------- shell-quoting


@pytest.mark.parametrize(
    ("run", "cause"),
    [
        ('"cat <<EOF\\n${params.x}\\nEOF\\n"', "a here-document (<<)"),
        ('"echo `echo ${params.x}`"', "a backtick"),
        ("'echo $((1 + ${params.x}))'", "$(( ))"),
    ],
)
def test_references_the_shell_cannot_take_are_refused_by_validate_not_at_run_time(run, cause):
    problem = only_problem(dag(f"run: {run}", top="params: {x: 1}\n"))
    assert problem.startswith("dag.yaml:5:10: task 'a' run: cannot shell-quote ${params.x} at column ")
    assert f"it comes after {cause}" in problem
    assert problem.endswith('pass the value through env: and use "$NAME"')


def test_the_same_text_as_an_argv_list_or_after_the_here_document_is_fine():
    load_dag_text(dag("run: [sh, -c, 'cat <<EOF\n${params.x}\nEOF']", top="params: {x: 1}\n"))
    load_dag_text(dag('run: "echo ${params.x}; echo `date`"', top="params: {x: 1}\n"))


def test_text_validate_accepts_renders_with_any_value():
    ctx = TemplateContext(params={"x": "$(rm -rf /) `x` 'q' \"d\" \n#"}, env={}, outputs={})
    for text in ["echo ${params.x}", "echo '${params.x}' \"${params.x}\" # ${params.x}", "f() { echo ${params.x}; }"]:
        assert reference_problems(text, params=["x"], upstream=(), task_ids=(), shell=True) == []
        render(text, ctx, shell_quote=True)


# ---------------------------------------------------------------------------------------------- ids


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_and_dot_dot_are_not_ids_or_names(name):
    problem = only_problem(f'name: d\ntasks:\n  - id: "{name}"\n    run: x\n')
    assert problem.startswith(f"dag.yaml:3:9: task '{name}' id: '{name}' is not a valid name — ")
    problem = only_problem(f'name: "{name}"\ntasks:\n  - id: a\n    run: x\n')
    assert problem.startswith(f"dag.yaml:1:7: name: '{name}' is not a valid name — ")
    doc = parse_schedule_text(f'- id: "{name}"\n  cron: "* * * * *"\n  dag: x.yaml\n', "s.yaml")
    with pytest.raises(SpecError, match=f"s.yaml:1:7: schedule '{name}': id: '{name}' is not a valid name"):
        schedules_from_document(doc, check_dags=False)


def test_an_id_with_a_line_break_is_reported_on_one_line():
    problem = only_problem('name: d\ntasks:\n  - id: "a\\nb"\n    run: x\n')
    assert problem.startswith("dag.yaml:3:9: task 'a\\nb' id: ")


# ---------------------------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("99999999999999999d", "is longer than 365 days"),
        ("366d", "is longer than 365 days"),
        (10**400, "is longer than 365 days"),
        (1e308, "is longer than 365 days"),
        (math.inf, "is longer than 365 days"),
        (math.nan, "is not a number"),
        (-1, "is negative"),
        (-math.inf, "is negative"),
        ("1" * 400 + "s", "is longer than 365 days"),
        ("inf", "is not a duration"),
        ("nan", "is not a duration"),
    ],
)
def test_durations_are_finite_and_at_most_365_days(value, what):
    with pytest.raises(ValueError, match=what):
        parse_duration(value)


def test_the_longest_duration_is_365_days():
    assert parse_duration("365d") == parse_duration(365 * 86400) == MAX_DURATION_S
    assert parse_duration("52w") == 52 * 7 * 86400


@pytest.mark.parametrize(
    ("task", "where", "what"),
    [
        ("retry_delay: 99999999999999999d", "5:18", "task 'a' retry_delay: duration '99999999999999999d' is longer"),
        ("timeout: .nan", "5:14", ".nan is not a number, which is not JSON"),
        ("timeout: .inf", "5:14", ".inf is infinite, which is not JSON"),
        ("timeout: -5", "5:14", "task 'a' timeout: duration -5 is negative"),
        ("max_delay: 1" + "0" * 400, "5:16", "task 'a' max_delay: duration 1000"),
    ],
)
def test_absurd_durations_in_a_dag_are_positioned_problems(task, where, what):
    problem = only_problem(f"name: d\ntasks:\n  - id: a\n    run: x\n    {task}\n")
    assert problem.startswith(f"dag.yaml:{where}: {what}"), problem


@pytest.mark.parametrize("where", ["defaults", "options", "task", "approval"])
def test_timeout_zero_is_refused_with_a_hint(where):
    if where in ("task", "approval"):  # a gate's timeout: 0 used to mean "wait forever"
        text = dag("run: x\n    timeout: 0" if where == "task" else "approval: {timeout: 0}")
    else:
        text = dag(top=f"{where}: {{timeout: 0s}}\n")
    problem = only_problem(text)
    assert "timeout: 0 would stop it at once — leave timeout: out for no time limit" in problem


@pytest.mark.parametrize(
    ("entry", "what"),
    [
        ("jitter: 99999999999d", "schedule 'x': jitter: duration '99999999999d' is longer than 365 days"),
        ("jitter: -1", "schedule 'x': jitter: duration -1 is negative"),
        ("catchup: 400d", "schedule 'x': catchup: duration '400d' is longer than 365 days"),
        ("jitter: .inf", ".inf is infinite"),
    ],
)
def test_absurd_durations_in_a_schedule_are_positioned_problems(entry, what):
    text = f'- id: x\n  cron: "* * * * *"\n  dag: x.yaml\n  {entry}\n'
    with pytest.raises(SpecError) as exc:
        schedules_from_document(parse_schedule_text(text, "s.yaml"), check_dags=False)
    assert str(exc.value).startswith(f"s.yaml:4:{len(entry.split(':')[0]) + 5}: {what}"), str(exc.value)


def test_format_duration_never_raises():
    assert format_duration(math.inf) == format_duration(math.nan) == "?"
    assert format_duration(-90) == "-1m30s"


# ---------------------------------------------------------------------------------------------- other hostile YAML


def test_an_integer_too_long_to_print_is_a_problem_not_a_crash():
    problem = only_problem(dag(top="params: {x: 1" + "0" * 5000 + "}\n"))
    assert problem.startswith("dag.yaml:2:13: number 1000") and "has too many digits" in problem


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "name: d\nnull: b\ntasks:\n  - {id: a, run: x}\n",
            'dag.yaml:2:1: key null in the top level is not text — quote it: "null"',
        ),
        (dag("run: x\n    params: {1: 2}"), "dag.yaml:5:14: key 1 in task 'a' params is not text — quote it: \"1\""),
        (dag("run: x\n    ~: 1"), "dag.yaml:5:5: key null in task 'a' is not text — quote it: \"null\""),
    ],
)
def test_a_key_that_is_not_text_is_reported_at_the_key(text, problem):
    assert only_problem(text) == problem


def test_a_control_character_is_reported_at_its_line_and_column():
    problem = only_problem("name: d\ntasks:\n  - id: a\n    run: echo \x07\n")
    assert problem == (
        "dag.yaml:4:15: invalid YAML: control character \\x07 (U+0007) is not allowed"
        " — remove it; YAML files hold printable text only"
    )


def test_a_command_longer_than_the_system_passes_is_refused():
    problem = only_problem(dag('run: "echo ' + "x" * 200_000 + '"'))
    assert problem.startswith("dag.yaml:4:10: task 'a' run: the command is 200,005 bytes, over the 131,072")
    problem = only_problem(dag('env: {BIG: "' + "x" * 200_000 + '"}\n    run: x'))
    assert "task 'a' env.BIG: environment value is 200,000 bytes" in problem


def test_condition_warnings_do_not_reach_the_terminal(recwarn):
    with pytest.raises(TemplateError):
        compile_condition("1if params.x else 2")
    assert not [w for w in recwarn if issubclass(w.category, SyntaxWarning)]


def test_a_condition_compares_a_number_too_long_for_int_without_crashing():
    condition = compile_condition("outputs.a.n > 1")
    assert condition.evaluate({"outputs": {"a": {"n": "9" * 5000}}}) is True


# ---------------------------------------------------------------------------------------------- strict JSON in


@pytest.mark.parametrize(
    ("override", "shown"),
    [
        ({"f": "nan"}, "param 'f' is NaN"),
        ({"f": "inf"}, "param 'f' is infinite"),
        ({"f": "-1e999"}, "param 'f' is infinite"),
        ({"l": "[1, Infinity]"}, "param 'l[1]' is infinite"),
        ({"m": '{"a": {"b": NaN}}'}, "param 'm.a.b' is NaN"),
        ({"s": "a\x00b"}, "param 's' is a string with a NUL character"),
        ({"f": math.nan}, "param 'f' is NaN"),  # a params file or the Python API
    ],
)
def test_non_finite_params_are_refused_where_they_come_in(override, shown):
    defaults = {"f": 1.5, "l": [1], "m": {"a": {}}, "s": "x"}
    with pytest.raises(UsageError) as exc:
        merge_params(defaults, override)
    assert str(exc.value).startswith(f"{shown}, which dagctl cannot store as JSON or pass to a task — ")


def test_a_deeply_nested_json_param_is_a_usage_error():
    with pytest.raises(UsageError, match="param 'l' must be a JSON list"):
        merge_params({"l": []}, {"l": "[" * 100_000 + "]" * 100_000})


def test_non_finite_param_defaults_are_positioned_problems():
    problem = only_problem(dag(top="params: {x: .nan}\n"))
    assert problem.startswith("dag.yaml:2:13: .nan is not a number, which is not JSON — ")


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        ('{"x": 1e999}', "output 'x' is infinite"),
        ('{"x": [1, {"y": -1e999}]}', "output 'x[1].y' is infinite"),
        ('{"x": "a\\u0000b"}', "output 'x' is a string with a NUL character"),
        ("x=a\x00b\n", "output 'x' is a string with a NUL character"),
        ('{"x": NaN}', "output file is not valid JSON: NaN is not JSON"),
        ('{"x": ' * 50_000 + "1" + "}" * 50_000, "output file nests JSON too deeply"),
    ],
)
def test_shell_task_outputs_must_be_strict_json(tmp_path: Path, content, shown):
    path = tmp_path / "out"
    path.write_text(content)
    with pytest.raises(TaskError) as exc:
        read_output_file(path)
    assert str(exc.value).startswith(shown)


def test_python_task_outputs_must_be_strict_json():
    with pytest.raises(TaskError, match=r"output 'm\.score\[0\]' is NaN"):
        encode_outputs({"m": {"score": [math.nan]}})
    with pytest.raises(TaskError, match="output 'x' is infinite"):
        encode_outputs({"x": -math.inf})


# ---------------------------------------------------------------------------------------------- strict JSON out


def test_the_event_log_never_holds_nan():
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode_record({"event": "x", "value": math.nan})
    assert encode_record({"big": 1e308}) == b'{"big":1e+308}\n'


def ev(kind: str, second: int, **fields: object) -> dict[str, object]:
    return {"ts": f"2026-01-02T11:{second // 60:02d}:{second % 60:02d}.000Z", "event": kind, "run_id": "r1", **fields}


def test_reports_stay_strict_json_whatever_the_records_say():
    events = [
        ev("dag_start", 0, dag_name="d", tenant_id="t", params={"f": math.nan, "g": [math.inf], "ok": 1}),
        ev("task_start", 1, task_id="a"),
        ev("task_ok", 2, task_id="a", duration_s=1e308),
        ev("task_start", 3, task_id="b"),
        ev("task_ok", 4, task_id="b", duration_s=1e308),
        ev("task_fail", 5, task_id="c", duration_s=-5),
        ev("task_ok", 6, task_id="e", duration_s="inf"),
        ev("task_ok", 7, task_id="e", duration_s=2.0),
        ev("dag_done", 8, status="success", duration_s=math.nan),
    ]
    report = stats_report(events, [], now=NOW, window_hours=24)
    json.dumps(report, allow_nan=False)  # strict JSON: raises on NaN or infinity
    assert report["tasks"]["overall"]["avg_duration_s"] == 2.0  # only the believable duration counts
    run = fold_run(events)
    assert run.params == {"f": None, "g": [None], "ok": 1}
    assert run.tasks["c"].duration_s is None and run.duration_s == 8.0


# ---------------------------------------------------------------------------------------------- the command line


def test_runs_status_must_be_a_run_status(cli):
    result = cli("runs", "--status", "bogus")
    assert result.code == 2
    assert (
        result.err == f"dagctl: error: --status 'bogus' is not a run status — use one of: {', '.join(RUN_STATUSES)}\n"
    )
    assert "success, failed, cancelled, abandoned, running" in result.err
    result = cli("runs", "--status", "faild")
    assert result.code == 2 and "did you mean failed?" in result.err


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (("runs", "--since", "99999999999999999999d"), "--since: duration '99999999999999999999d' is longer than 365"),
        (("stats", "--window", "99999999999d"), "--window: duration '99999999999d' is longer than 365 days"),
        (("prune", "--older-than", "99999999999999d", "-n"), "--older-than: duration '99999999999999d' is longer"),
        (("cancel", "latest", "--wait", "nan"), "--wait: 'nan' is not a duration"),
        (("cancel", "latest", "--wait", "-1"), "--wait: '-1' is not a duration"),
        (("pause", "latest", "--wait", "soon"), "--wait: 'soon' is not a duration"),
    ],
)
def test_bad_durations_on_the_command_line_exit_2_with_one_line(cli, args, what):
    result = cli(*args)
    assert result.code == 2, result
    assert result.err.startswith(f"dagctl: error: {what}"), result
    assert result.err.count("\n") == 1


def test_a_file_given_twice_is_validated_once(cli, write):
    path = write("dags/a.yaml", "name: a\ntasks:\n  - {id: t, run: x}\n")
    result = cli("validate", str(path), str(path), str(path.parent / "." / "a.yaml"), str(path.parent))
    assert result.code == 0, result
    assert result.err == ""


def test_run_refuses_a_nan_param_before_running_anything(cli, write, tmp_path):
    path = write("dags/p.yaml", "name: p\nparams: {f: 1.5}\ntasks:\n  - {id: t, run: 'echo ${params.f}'}\n")
    result = cli("run", str(path), "-p", "f=nan")
    assert result.code == 2, result
    assert result.err.startswith("dagctl: error: param 'f' is NaN")
    assert not (tmp_path / "logs" / "runs").exists() or not any((tmp_path / "logs" / "runs").iterdir())


# ---------------------------------------------------------------------------------------------- cache settings


@pytest.mark.parametrize(
    ("cache", "where", "what"),
    [
        ('{inputs: [""]}', "5:22", "task 'a' cache.inputs[0]: an empty glob — give a pattern of files such as"),
        ("{inputs: [data/*.csv, '  ']}", "5:34", "task 'a' cache.inputs[1]: an empty glob"),
        ("{inputs: ['.']}", "5:22", "task 'a' cache.inputs[0]: '.' names a folder, not files"),
        ("{inputs: ['/']}", "5:22", "task 'a' cache.inputs[0]: '/' names a folder, not files"),
        ("{inputs: ['a/**b']}", "5:22", "task 'a' cache.inputs[0]: 'a/**b': ** must be a whole part of the path"),
        (
            "{ttl: 0}",
            "5:18",
            "task 'a' cache.ttl: 0 would let no entry be used (each expires at once) — leave ttl: out to keep "
            "entries for ever, or give a duration such as 7d",
        ),
        ("{ttl: 0s}", "5:18", "task 'a' cache.ttl: 0 would let no entry be used"),
    ],
)
def test_cache_settings_that_would_turn_the_cache_off_are_refused_where_written(cache, where, what):
    # an empty glob used to turn the task's cache off at run time without a word ('.' crashed the run), and
    # ttl: 0 was accepted, as timeout: 0 no longer is
    problem = only_problem(f"name: d\ntasks:\n  - id: a\n    run: x\n    cache: {cache}\n")
    assert problem.startswith(f"dag.yaml:{where}: {what}"), problem


def test_the_dag_default_cache_is_checked_the_same_way():
    problem = only_problem(dag(top="defaults: {cache: {ttl: 0, inputs: [data/*.csv]}}\n"))
    assert problem.startswith("dag.yaml:2:25: defaults.cache.ttl: 0 would let no entry be used"), problem
    load_dag_text(dag("run: x\n    cache: {inputs: ['data/**/*.csv', /etc/app/*.conf], ttl: 1s}"))


# ---------------------------------------------------------------------------------------------- approval gates


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("timeout: 10m", "limit the wait with approval: {timeout: ...} (and on_timeout: fail or skip)"),
        ("retries: 2", "a gate is decided once, never retried; limit the wait with approval: {timeout: ...}"),
        ("retry_delay: 5s", "a gate is decided once, never retried; limit the wait with approval: {timeout: ...}"),
    ],
)
def test_per_attempt_settings_on_an_approval_gate_are_refused(key, hint):
    # they were silently ignored: a gate waits as long as approval: {timeout} says and is never retried
    name = key.partition(":")[0]
    problem = only_problem(dag(f"approval: {{message: go?}}\n    {key}"))
    assert problem == f"dag.yaml:5:5: task 'a' is an approval gate: {name}: does not apply to it — {hint}", problem
    # the DAG's defaults still load: they apply to the tasks they can apply to
    load_dag_text(dag("approval: {message: go?, timeout: 1h}", top="defaults: {retries: 2, timeout: 5m}\n"))


# ---------------------------------------------------------------------------------------------- wording


def _spec_model_names() -> set[str]:
    from pydantic import BaseModel

    import dagctl.dag.spec as spec

    return {n for n, v in vars(spec).items() if isinstance(v, type) and issubclass(v, BaseModel)} - {"BaseModel"}


@pytest.mark.parametrize(
    ("text", "what"),
    [
        (dag("run: x\n    repeat: 5"), "task 'a' repeat: must be a mapping such as {until: \"outputs.fit"),
        (dag("run: x\n    cache: 5"), "task 'a' cache: must be true, false or a mapping such as {inputs:"),
        (dag("approval: [ana]"), "task 'a' approval: must be a mapping such as {message:"),
        (dag("run: x\n    precondition: [a]"), "task 'a' precondition: must be a command, or a mapping such as"),
        (dag("run: x\n    continue_on: 3"), "task 'a' continue_on: must be a mapping such as {exit_codes: [3]}"),
        (dag("run: x\n    matrix: {n: [1]}\n    aggregate: best"), "task 'a' aggregate: must be a mapping such as"),
        (dag("dag: [a.yaml]"), "task 'a' dag: must be a DAG file's path, or an inline DAG such as {tasks: [...]}"),
        (dag(top="defaults: 5\n"), "defaults: must be a mapping such as {retries: 1, timeout: 10m}, got 5"),
        (dag(top="options: [1]\n"), "options: must be a mapping such as {parallelism: 4"),
        (dag(top="notify: slack\n"), "notify: must be a mapping such as {events: [failure]"),
        (dag(top="secrets: {A: x}\n"), "secrets.A: must be a mapping such as {from_env: NAME} or {from_file: PATH}"),
        ("name: d\ntasks:\n  - 7\n", "task #1: must be a mapping such as {id: build, run: make}, got 7"),
        (dag("dag: {tasks: [{id: b, run: x, repeat: 3}]}"), "task 'a': inline sub-DAG: task 'b' repeat: must be a"),
    ],
)
def test_a_value_of_the_wrong_shape_is_told_what_to_write_not_a_class_name(text, what):
    problem = only_problem(text)
    assert what in problem, problem
    assert not any(name in problem for name in _spec_model_names()), problem
    assert "valid dictionary" not in problem and "instance of" not in problem, problem


def test_a_union_written_as_a_mapping_reports_only_what_is_wrong_inside_it():
    # dag: {...} used to get "input should be a valid string" too, from the file-path half of the union
    problem = only_problem(dag("dag: {tasks: [5]}"))
    assert problem.startswith("dag.yaml:4:19: task 'a' dag.tasks[0]: expected a mapping"), problem
    problem = only_problem(dag("dag: 5"))  # a scalar: quoting it is the likely fix
    assert problem == "dag.yaml:4:10: task 'a' dag: YAML reads unquoted 5 as the integer 5, not text — quote it: \"5\""


@pytest.mark.parametrize(
    ("task", "problem"),
    [
        (
            'run: x\n    repeat: {until: ""}',
            "dag.yaml:5:21: task 'a' repeat: until: empty condition — write one, such as params.env == \"prod\", "
            "or remove repeat:",
        ),
        (
            'run: x\n    repeat: {until: "x\\u0001"}',
            "dag.yaml:5:21: task 'a' repeat: until: control character '\\x01' at column 2 — remove it; conditions "
            "are one line of text",
        ),
        (
            'run: x\n    precondition: {when: ""}',
            "dag.yaml:5:26: task 'a' precondition: when: empty condition — write one, such as params.env == "
            '"prod", or remove precondition:',
        ),
        (  # an empty when: is a mistake, not "always": it used to pass and run the task
            'run: x\n    when: ""',
            "dag.yaml:5:11: task 'a' when: empty condition — write one, such as params.env == \"prod\", "
            "or remove when:",
        ),
        (
            "run: x\n    repeat: {until: 'iteration > '}",
            "dag.yaml:5:21: task 'a' repeat: until: unexpected end of expression at column 12 — check quotes and "
            'brackets; compare with ==, combine with and/or/not; text needs "quotes"',
        ),
    ],
)
def test_a_condition_problem_names_its_key_once(task, problem):
    # "repeat: until: when: empty condition": the parser's own "when:" was left in
    assert only_problem(dag(task)) == problem


@pytest.mark.parametrize(("command", "example"), [("cache", "7d"), ("prune", "30d")])
def test_a_bad_older_than_gets_one_hint(cli, command, example):
    args = ("cache", "clear", "--older-than", "bogus") if command == "cache" else ("prune", "--older-than", "bogus")
    result = cli(*args)
    assert result.code == 2, result
    assert result.err == (
        "dagctl: error: --older-than: 'bogus' is not a duration — write seconds (30) or a duration like \"30s\", "
        f'"10m", "1h30m", "500ms", "2d" (at most 365d); e.g. --older-than {example}\n'
    )
