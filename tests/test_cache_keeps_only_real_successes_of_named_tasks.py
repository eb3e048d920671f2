"""What the task cache keeps, and under which key, as docs/running.md says.

A failure ``continue_on:`` lets pass is not a result for those inputs: it is not stored, and the next run runs the
task again (it used to be served "rows=0" from the cache for good, until --refresh or cache clear). The DAG's
name and the task's id are part of the key (a command may read them): two tasks doing the same thing each have an
entry, and the docs say so (they said the opposite)."""

from __future__ import annotations

from tests.conftest import ROOT

TOLERATED = """
    name: co
    tasks:
      - id: fetch
        run: 'if [ -f ready ]; then echo "rows=100" > $DAGCTL_OUTPUT; else echo "rows=0" > $DAGCTL_OUTPUT; exit 3; fi'
        continue_on: {exit_codes: [3]}
        cache: true
      - id: load
        depends_on: fetch
        run: echo "loaded=${outputs.fetch.rows}" > $DAGCTL_OUTPUT
"""


def test_a_failure_continue_on_lets_pass_is_not_served_from_the_cache(proj) -> None:
    first, _ = proj.run("co.yaml", TOLERATED)
    assert first.status == "success" and first.tasks["fetch"].reason.startswith("continue_on: exit code 3 allowed")
    assert proj.settings.task_cache_dir.exists() is False or not list(proj.settings.task_cache_dir.rglob("*.json"))
    (proj.folder / "ready").touch()
    second, _ = proj.run("co.yaml")
    assert second.tasks["fetch"].reason != "cached"
    assert second.tasks["load"].outputs == {"loaded": "100"}  # it loaded "0 rows" from the cached failure
    third, _ = proj.run("co.yaml")  # a real success is stored and served as before
    assert third.tasks["fetch"].reason == "cached" and third.tasks["load"].outputs == {"loaded": "100"}


def test_the_dag_name_and_the_task_id_are_in_the_key(proj) -> None:
    same = """
        name: same
        tasks:
          - {id: t1, cache: true, run: 'echo "me=$DAGCTL_TASK_ID" > $DAGCTL_OUTPUT'}
          - {id: t2, cache: true, run: 'echo "me=$DAGCTL_TASK_ID" > $DAGCTL_OUTPUT'}
    """
    first, _ = proj.run("same.yaml", same)
    assert first.tasks["t1"].cache_key != first.tasks["t2"].cache_key
    second, _ = proj.run("same.yaml")
    assert {t: second.tasks[t].outputs for t in ("t1", "t2")} == {"t1": {"me": "t1"}, "t2": {"me": "t2"}}
    renamed, _ = proj.run("other.yaml", same.replace("name: same", "name: other"))
    assert renamed.tasks["t1"].reason != "cached"  # another DAG's entry is not this one's


def test_the_docs_say_what_the_key_holds() -> None:
    """docs/running.md put "the DAG name, the task id" under "not in the key"; the module said two tasks doing the
    same thing share an entry."""
    from dagctl.run import cache

    text = (ROOT / "docs" / "running.md").read_text()
    table = text[text.index("| in the key | not in the key |") :].split("\n\n")[0]
    not_in_key = [row.split("|")[2] for row in table.splitlines()[2:]]
    assert not any("task id" in cell or "DAG name" in cell for cell in not_in_key)
    assert any(
        "`DAGCTL_DAG_NAME`" in row.split("|")[1] and "`DAGCTL_TASK_ID`" in row.split("|")[1]
        for row in table.splitlines()[2:]
    )
    assert "share an entry" not in (cache.__doc__ or "")
