"""Every bad input a user can write gets one precise line: FILE:LINE:COL: what — how to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagctl import load_dag
from dagctl.dag.yamlread import MAX_BYTES
from dagctl.errors import SpecError

GOOD = """
name: demo
tasks:
  - id: a
    run: echo a
"""


def problems_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_dag(path)
    return [str(p) for p in info.value.problems]


def only_problem(path: Path) -> str:
    found = problems_of(path)
    assert len(found) == 1, found
    return found[0]


def test_valid_file_loads_with_defaults(write):
    spec = load_dag(write("ok.yaml", GOOD))
    assert spec.name == "demo"
    assert spec.tenant_id == "default"
    assert spec.tasks[0].kind == "run"
    assert spec.source_path.endswith("ok.yaml")


@pytest.mark.parametrize(
    ("text", "where", "what", "hint"),
    [
        (
            "name: d\ntasks:\n  - id: a\n    run: x\n    depnds_on: [b]\n",
            "5:5",
            "unknown key 'depnds_on'",
            "did you mean 'depends_on'?",
        ),
        (
            "name: d\ntasks:\n  - id: a\n    run: x\n    retries: yes\n",
            "5:14",
            "task 'a' retries: expected a whole number, got yes (YAML reads it as the boolean true)",
            "retries: 2",
        ),
        (
            "name: d\ntasks:\n  - id: no\n    run: x\n",
            "3:9",
            "YAML reads unquoted no as the boolean false",
            'quote it: "no"',
        ),
        (
            "name: d\ntasks:\n  - id: 0755\n    run: x\n",
            "3:9",
            "YAML reads unquoted 0755 as the integer 493",
            'quote it: "0755"',
        ),
        (
            "name: d\ntasks:\n  - id: a\n    run: x\n  - id: a\n    run: y\n",
            "5:9",
            "duplicate task id 'a'",
            "unique id",
        ),
        (
            "name: d\ntasks:\n  - id: a\n    run: x\n    depends_on: [bulid]\n  - id: build\n    run: y\n",
            "5:18",
            "task 'a' depends on unknown task 'bulid'",
            "did you mean 'build'?",
        ),
        (
            "name: d\ntasks:\n  - id: a\n    run: x\n    depends_on: a\n",
            "5:17",
            "task 'a' depends on itself",
            "remove 'a'",
        ),
        (
            "name: d\ntasks:\n  - id: a\n    depends_on: []\n",
            "3:5",
            "task 'a' has nothing to do",
            "add one of run:, python:, workflow_ref:, dag: or approval:",
        ),
        (
            "name: d\ntasks:\n  - id: a\n    run: x\n    python: m:f\n",
            "3:5",
            "task 'a' sets run and python",
            "keep exactly one",
        ),
        ("name: d\ntasks:\n  - id: a\n    run: ''\n", "4:10", "run is empty", "give a shell command"),
        (
            "name: d\ntasks:\n  - id: a\n    python: not-a-callable\n",
            "4:13",
            "is not module:function",
            "package.module:function",
        ),
        ("name: d\ntasks:\n  - id: a\n    run: x\n    timeout: 5x\n", "5:14", "'5x' is not a duration", '"1h30m"'),
        ("name: bad name!\ntasks:\n  - id: a\n    run: x\n", "1:7", "'bad name!' is not a valid name", "1-64 letters"),
        ("tasks:\n  - id: a\n    run: x\n", "1:1", "missing required key 'name'", "add name:"),
        ("name: d\ntasks: []\n", "2:8", "tasks: is empty", "add a task: - {id: hello, run: echo hello}"),
        ("name: d\ntasks:\n  - id: a\n    run: 5\n", "4:10", "YAML reads unquoted 5 as the integer 5", 'quote it: "5"'),
        (
            "name: d\ntasks:\n  - id: a\n    run: {a: 1}\n",
            "4:10",
            "expected a command string or a list of arguments",
            "run: [make, build]",
        ),
        ("name: d\nparams: [1]\ntasks:\n  - id: a\n    run: x\n", "2:9", "params: expected a mapping", "key: value"),
    ],
)
def test_spec_problem_is_reported_at_its_position(write, text, where, what, hint):
    path = write("dag.yaml", text)
    problem = only_problem(path)
    assert problem.startswith(f"{path}:{where}: "), problem
    assert what in problem
    assert hint in problem.split(" — ", 1)[1]


def test_cycle_is_named_as_a_path(write):
    path = write(
        "c.yaml",
        """
        name: d
        tasks:
          - {id: a, run: x, depends_on: [c]}
          - {id: b, run: x, depends_on: [a]}
          - {id: c, run: x, depends_on: [b]}
          - {id: z, run: x, depends_on: [c]}
        """,
    )
    problem = only_problem(path)
    assert "dependency cycle: a -> b -> c -> a" in problem
    assert problem.startswith(f"{path}:3:")


def test_all_problems_of_a_file_are_reported_in_order(write):
    path = write(
        "many.yaml",
        """
        name: d
        tasks:
          - id: a
            run: x
            depnds_on: [b]
          - id: b
            run: y
            retries: many
          - id: c
            run: z
            depends_on: [nope]
        """,
    )
    found = problems_of(path)
    assert len(found) == 3, found
    lines = [int(p.split(":")[1]) for p in found]
    assert lines == sorted(lines) == [5, 8, 11]


@pytest.mark.parametrize(
    ("content", "where", "what"),
    [
        (b"", "1:1", "file is empty"),
        (b"# only a comment\n", "1:1", "file is empty"),
        (b"- a\n- b\n", "1:1", "top level is a list, not a mapping"),
        (b"just text\n", "1:1", "top level is a single value"),
        (b"name: x\nname: y\ntasks: []\n", "2:1", "duplicate key 'name' (first defined on line 1)"),
        (b"name: x\n\ttasks: []\n", "2:1", "tab character used for indentation"),
        (b"name: x\ntasks:\n  - id: a\n    run: x\n---\nname: y\n", "5:1", "more than one YAML document"),
        (
            b"name: x\ntasks:\n  - id: a\n    run: !!python/object/apply:os.system [ls]\n",
            "4:10",
            "unsupported YAML tag !!python/object/apply:os.system",
        ),
        (b"name: x\ntasks:\n  - id: a\n    run: !custom x\n", "4:10", "unsupported YAML tag !custom"),
        (b"name: caf\xe9\n", "1:10", "file is not valid UTF-8 (byte 0xe9)"),
        (b"name: [unclosed\n", "2:1", "invalid YAML"),
        (b"name: x\ncron: */5 * * * *\n", "2:8", "invalid YAML"),
    ],
)
def test_file_level_problems(write, content, where, what):
    path = write("f.yaml", content)
    problem = only_problem(path)
    assert problem.startswith(f"{path}:{where}: "), problem
    assert what in problem
    assert " — " in problem  # always says how to fix


def test_unquoted_star_explains_quoting(write):
    problem = only_problem(write("s.yaml", b"cron: */5 * * * *\n"))
    assert 'quote it, e.g. cron: "*/5 * * * *"' in problem


def test_alias_bomb_is_capped(write):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = name
    problem = only_problem(write("bomb.yaml", "\n".join(lines) + "\n"))
    assert "document expands to more than" in problem


def test_deep_nesting_is_capped(write):
    problem = only_problem(write("deep.yaml", "a: " + "[" * 100 + "]" * 100 + "\n"))
    assert "nests deeper than" in problem


def test_oversized_file_is_refused_before_parsing(write):
    path = write("big.yaml", b"#" * (MAX_BYTES + 1))
    problem = only_problem(path)
    assert "over the 5 MiB limit" in problem


def test_missing_file(tmp_path):
    problem = only_problem(tmp_path / "nope.yaml")
    assert "file not found" in problem


def test_merge_keys_and_anchors_work(write):
    spec = load_dag(
        write(
            "m.yaml",
            """
        name: d
        x-common: &common
          retries: 2
          timeout: 10s
        tasks:
          - id: a
            run: echo
            <<: *common
          - id: b
            run: echo
            <<: *common
            retries: 5
        """,
        )
    )
    assert [(t.retries, t.timeout) for t in spec.tasks] == [(2, 10.0), (5, 10.0)]
    spec = load_dag(
        write(
            "m2.yaml",
            """
        name: d
        defaults: &d
          retries: 2
        tasks:
          - id: a
            run: echo
            <<: *d
        """,
        )
    )
    assert spec.tasks[0].retries == 2


def test_durations_and_single_dependency_string(write):
    spec = load_dag(
        write(
            "d.yaml",
            """
        name: d
        defaults: {timeout: 1h30m, retry_delay: 500ms}
        tasks:
          - {id: a, run: x, timeout: 30}
          - {id: b, run: x, depends_on: a, timeout: "10m"}
        """,
        )
    )
    assert spec.defaults.timeout == 5400.0
    assert spec.defaults.retry_delay == 0.5
    assert spec.tasks[0].timeout == 30.0
    assert spec.tasks[1].depends_on == ["a"]
    assert spec.tasks[1].timeout == 600.0


def test_dates_stay_text_and_env_numbers_become_strings(write):
    spec = load_dag(
        write(
            "d.yaml",
            """
        name: d
        params: {start: 2025-10-01}
        env: {PORT: 8080, DEBUG: true}
        tasks:
          - {id: a, run: x}
        """,
        )
    )
    assert spec.params["start"] == "2025-10-01"
    assert spec.env == {"PORT": "8080", "DEBUG": "true"}


def test_seed_weekly_ops_chain_loads_unchanged(write):
    seed = """
        name: weekly_ops_chain
        tenant_id: local-dev

        tasks:
          - id: sweep
            workflow_ref: inbox_drive_sweep
            params:
              inbox_items: "Email list..."
            retries: 1
            depends_on: []

          - id: report
            workflow_ref: weekly_report_pack
            params:
              start_date: "2025-10-01"
              end_date: "2025-10-07"
            retries: 1
            depends_on:
              - sweep  # Waits for sweep to complete

          - id: brief
            workflow_ref: meeting_transcript_brief
            params:
              meeting_title: "Sprint Review"
            retries: 1
            depends_on:
              - report
        """
    write(
        "dagctl.yaml",
        "workflows:\n  inbox_drive_sweep: ops:sweep\n  weekly_report_pack: ops:report\n"
        "  meeting_transcript_brief: ops:brief\n",
    )
    spec = load_dag(write("dags/weekly.yaml", seed))
    assert [t.id for t in spec.tasks] == ["sweep", "report", "brief"]
    assert spec.tenant_id == "local-dev"
    assert spec.tasks[1].params["start_date"] == "2025-10-01"


def test_recursive_alias_is_refused(write):
    problem = only_problem(write("rec.yaml", "a: &a [1, *a]\n"))
    assert "an alias refers to the value that contains it" in problem
