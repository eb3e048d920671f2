"""A cache ``inputs:`` glob names files as the task's command does: relative to the folder the command runs in
(the folder dagctl runs in, or the task's ``cwd:``). It was relative to the DAG file's folder, so a DAG kept in
``dags/`` and run from the project root hashed ``dags/data/*.csv``, matched nothing, and served a stale result
after its real input changed, without a word. A glob that matches no file is now said: a warning in the run,
in ``--dry-run`` and in ``validate``, naming the folder it was resolved against."""

from __future__ import annotations

import json
from pathlib import Path

COUNT = """
name: z
tasks:
  - id: count
    run: 'echo "lines=$(wc -l < data/in.csv)" > $DAGCTL_OUTPUT'
    cache: {inputs: ["GLOB"]}
  - id: show
    depends_on: count
    run: 'echo "lines=${outputs.count.lines}" > $DAGCTL_OUTPUT'
"""


def _layout(project: Path, glob: str) -> None:
    (project / "dags").mkdir()
    (project / "data").mkdir()
    (project / "data" / "in.csv").write_text("a\n")
    (project / "dags" / "z.yaml").write_text(COUNT.lstrip().replace("GLOB", glob))


def test_a_changed_input_is_seen_when_the_dag_lives_in_a_subfolder(proj) -> None:
    _layout(proj.folder, "data/*.csv")
    first, _ = proj.run("dags/z.yaml")
    assert first.tasks["show"].outputs == {"lines": "1"}
    (proj.folder / "data" / "in.csv").write_text("a\nb\nc\n")
    second, sink = proj.run("dags/z.yaml")
    assert second.tasks["count"].reason != "cached"  # it was served from the cache: lines=1
    assert second.tasks["show"].outputs == {"lines": "3"}
    assert not sink.of("run_warning")


def test_a_glob_relative_to_a_tasks_cwd(proj) -> None:
    (proj.folder / "work" / "data").mkdir(parents=True)
    (proj.folder / "work" / "data" / "in.csv").write_text("a\n")
    text = COUNT.replace("GLOB", "data/*.csv").replace("    cache:", "    cwd: work\n    cache:", 1)
    first, _ = proj.run("c.yaml", text)
    (proj.folder / "work" / "data" / "in.csv").write_text("a\nb\n")
    second, sink = proj.run("c.yaml")
    assert first.tasks["show"].outputs == {"lines": "1"} and second.tasks["show"].outputs == {"lines": "2"}
    assert not sink.of("run_warning")


def test_a_glob_that_matches_nothing_is_a_warning_of_the_run_naming_its_folder(proj) -> None:
    _layout(proj.folder, "dags/data/*.csv")
    result, sink = proj.run("dags/z.yaml")
    assert result.status == "success"
    [warning] = [e.message for e in sink.of("run_warning")]
    assert warning.startswith(f"task count: cache inputs 'dags/data/*.csv' (relative to {proj.folder}, where the task ")
    assert "matches no file" in warning


def test_a_matrix_task_warns_once(proj) -> None:
    text = """
        name: m
        tasks:
          - id: t
            matrix: {n: [1, 2, 3]}
            cache: {inputs: ["nothing/*.txt"]}
            run: 'true'
    """
    _, sink = proj.run("m.yaml", text)
    assert len(sink.of("run_warning")) == 1


def test_validate_and_the_dry_run_say_which_glob_matches_nothing(project: Path, cli) -> None:
    _layout(project, "dags/data/*.csv")
    checked = cli("validate", "dags/z.yaml")
    assert checked.code == 0  # valid: an upstream task may make the files
    assert checked.err.startswith(
        f"dags/z.yaml:5:22: warning: task 'count' cache inputs 'dags/data/*.csv' match no file in {project} "
    )
    doc = json.loads(cli("validate", "dags/z.yaml", "--json").out)
    assert [(w["line"], w["column"]) for w in doc["warnings"]] == [(5, 22)]
    dry = cli("run", "dags/z.yaml", "--dry-run", "--json")
    assert dry.code == 0, dry
    note = next(t["cache"] for t in json.loads(dry.out)["tasks"] if t["id"] == "count")
    assert note.startswith("cache: miss") and f"inputs 'dags/data/*.csv' matches no file in {project}" in note
    (project / "dags" / "z.yaml").write_text(COUNT.lstrip().replace("GLOB", "data/*.csv"))
    fine = cli("validate", "dags/z.yaml")
    assert fine.code == 0 and fine.err == ""
