"""A cache ``inputs:`` glob names files as the task's command does: relative to the folder the command runs in
(the folder dagctl runs in, or the task's ``cwd:``). It was relative to the DAG file's folder, so a DAG kept in
``dags/`` and run from the project root hashed ``dags/data/*.csv``, matched nothing, and served a stale result
after its real input changed, without a word. A glob that matches no file is now said: a warning in the run,
in ``--dry-run`` and in ``validate``, naming the folder it was resolved against.

A glob that matches nothing turns the cache off for the unit in that run: an entry keyed on "no files" was
stored and served night after night while the files meant changed (a schedule started from ``/``). A Python task
in a thread reads its globs from the DAG's folder, where its module and ``.env`` files are, not from wherever
dagctl was started; and the folder is in the key, so runs from two folders never share an entry."""

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
    assert warning.startswith(f"task count: cache inputs 'dags/data/*.csv' (relative to {proj.folder}) matches no file")
    assert "so the cache is off for this task in this run (not read, not stored)" in warning


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
        f"dags/z.yaml:5:22: warning: task 'count' cache inputs 'dags/data/*.csv' match no file in {project}, "
    )
    doc = json.loads(cli("validate", "dags/z.yaml", "--json").out)
    assert [(w["line"], w["column"]) for w in doc["warnings"]] == [(5, 22)]
    dry = cli("run", "dags/z.yaml", "--dry-run", "--json")
    assert dry.code == 0, dry
    note = next(t["cache"] for t in json.loads(dry.out)["tasks"] if t["id"] == "count")
    assert note == f"cache: off in this run (inputs 'dags/data/*.csv' match no file in {project}; not read, not stored)"
    (project / "dags" / "z.yaml").write_text(COUNT.lstrip().replace("GLOB", "data/*.csv"))
    fine = cli("validate", "dags/z.yaml")
    assert fine.code == 0 and fine.err == ""


def test_a_glob_that_matches_nothing_is_never_stored_nor_served(proj) -> None:
    _layout(proj.folder, "dags/data/*.csv")  # what the command reads is data/in.csv: the glob keys nothing
    proj.run("dags/z.yaml")
    (proj.folder / "data" / "in.csv").write_text("a\nb\nc\n")
    second, sink = proj.run("dags/z.yaml")
    assert second.tasks["count"].reason != "cached"  # it was: lines=1, the first night's result
    assert second.tasks["show"].outputs == {"lines": "3"}
    assert [e.cache_key for e in sink.of("task_ok") if e.task_id == "count"] == [None]
    assert len(sink.of("run_warning")) == 1
    assert not list((proj.folder / "logs").glob("**/cache/tasks/*/*.json"))  # nothing stored (show is not cached)


PYTHON = """
name: py
tasks:
  - id: count
    python: MODULE:count
    cache: {inputs: ["helpers.py"]}
"""
TASKS = """
from pathlib import Path

def count():
    return {"n": len((Path(__file__).parent / "helpers.py").read_text().splitlines())}
"""


def _python_dag(project: Path, module: str) -> Path:
    (project / "dags").mkdir()
    (project / "dags" / f"{module}.py").write_text(TASKS)
    (project / "dags" / "helpers.py").write_text("A = 1\n")
    dag = project / "dags" / "py.yaml"
    dag.write_text(PYTHON.lstrip().replace("MODULE", module))
    return dag


def test_a_python_tasks_globs_are_relative_to_the_dags_folder_like_its_module(proj) -> None:
    _python_dag(proj.folder, "tasks_inputs_dagdir")
    first, sink = proj.run("dags/py.yaml")  # from the project root: helpers.py is next to the module, in dags/
    assert first.tasks["count"].outputs == {"n": 1} and not sink.of("run_warning")
    (proj.folder / "dags" / "helpers.py").write_text("A = 1\nB = 2\n")
    second, _ = proj.run("dags/py.yaml")
    assert second.tasks["count"].reason != "cached"
    assert second.tasks["count"].outputs == {"n": 2}


def test_runs_from_two_folders_do_not_share_an_entry(proj, monkeypatch) -> None:
    for folder in ("a", "b"):  # the same relative files, with the same bytes, in two folders
        (proj.folder / folder / "data").mkdir(parents=True)
        (proj.folder / folder / "data" / "in.csv").write_text("a\n")
    dag = proj.write("z.yaml", COUNT.replace("GLOB", "data/*.csv"))
    monkeypatch.chdir(proj.folder / "a")
    _, first = proj.run("z.yaml")
    again, _ = proj.run("z.yaml")
    assert again.tasks["count"].reason == "cached"  # the cache works from one folder
    monkeypatch.chdir(proj.folder / "b")
    (proj.folder / "b" / "data" / "in.csv").write_text("a\n")
    other, sink = proj.run(str(dag))
    assert other.tasks["count"].reason != "cached"  # b's files are not a's, even when they have the same bytes
    [key_a] = [e.cache_key for e in first.of("task_ok") if e.task_id == "count"]
    [key_b] = [e.cache_key for e in sink.of("task_ok") if e.task_id == "count"]
    assert None not in (key_a, key_b) and key_b != key_a


def test_the_dry_run_and_exec_task_key_a_python_task_as_the_run_does(proj, cli, monkeypatch) -> None:
    from dagctl import build_plan, load_dag
    from dagctl.run.single import task_cache_key

    dag = _python_dag(proj.folder, "tasks_inputs_keys")
    (proj.folder / "elsewhere").mkdir()
    monkeypatch.chdir(proj.folder / "elsewhere")  # not where the DAG is: the globs are still read from dags/
    result, sink = proj.run(str(dag))
    [run_key] = [e.cache_key for e in sink.of("task_ok")]
    assert run_key is not None and not sink.of("run_warning")
    step = task_cache_key(build_plan(load_dag(dag)), "count", runs_dir=proj.folder / "wf", run_id="wf-1")
    assert step.files["cache-key"] == run_key
    dry = cli("run", str(dag), "--dry-run", "--json")
    note = next(t["cache"] for t in json.loads(dry.out)["tasks"] if t["id"] == "count")
    assert note == f"cache: hit (key {run_key[:12]}, from run {result.run_id})"


def test_exec_tasks_key_of_a_unit_whose_glob_matches_nothing_is_never_the_same(proj) -> None:
    from dagctl import build_plan, load_dag
    from dagctl.run.single import task_cache_key

    _layout(proj.folder, "dags/data/*.csv")
    plan = build_plan(load_dag(proj.folder / "dags" / "z.yaml"))
    keys = {task_cache_key(plan, "count", runs_dir=proj.folder / "wf", run_id="wf").files["cache-key"] for _ in "ab"}
    assert len(keys) == 2 and all(k.startswith("uncached-") for k in keys)  # Argo's memoize never hits it


def test_validate_reads_a_python_tasks_globs_from_the_dags_folder(project: Path, cli) -> None:
    """validate said nothing of a thread Python task's glob that matches nothing (it did not know its folder)."""
    (project / "dags").mkdir()
    (project / "dags" / "steps_v.py").write_text("def go():\n    return {}\n")
    dag = "name: v\ntasks:\n  - id: p\n    python: steps_v:go\n    cache: {inputs: ['helpers/*.py']}\n"
    (project / "dags" / "v.yaml").write_text(dag)
    checked = cli("validate", "dags/v.yaml")
    assert checked.code == 0
    where = (project / "dags").resolve()
    assert f"task 'p' cache inputs 'helpers/*.py' match no file in {where}, so the cache is off for it" in checked.err
    (project / "dags" / "helpers").mkdir()
    (project / "dags" / "helpers" / "h.py").write_text("")
    assert cli("validate", "dags/v.yaml").err == ""
