"""Two DAG files with the same ``name:`` (a copy made to become a new version, not renamed yet): starting the DAG
by that name is refused, naming both files, instead of running one of them silently; ``/api/dags`` and the
dashboard's start form say so, and each file can still be started by its file."""

from __future__ import annotations

from pathlib import Path

from tests.web.conftest import QUICK, dag_text


def test_a_name_two_files_declare_is_refused_naming_both(live, web_project: Path) -> None:
    dags = web_project / "configs" / "dags"
    (dags / "a_quick_v2.yaml").write_text(dag_text(QUICK).replace('echo "hello', 'echo "NEW hello'))
    server = live()
    refused = server.client.post("/api/runs", json={"dag": "quick"})
    assert refused.status_code == 409, refused.text
    assert refused.json() == {
        "error": "DAG name 'quick' is ambiguous: 2 files declare it: a_quick_v2.yaml, quick.yaml",
        "location": "body.dag",
        "hint": 'name it by its file (e.g. {"dag": "a_quick_v2.yaml"}), or give each file a name of its own',
    }
    assert server.ctx.launcher.launches() == []
    listed = {d["file"]: d for d in server.client.get("/api/dags").json()}
    assert listed["quick.yaml"]["same_name_as"] == ["a_quick_v2.yaml"]
    assert listed["a_quick_v2.yaml"]["same_name_as"] == ["quick.yaml"]
    assert listed["slow.yaml"]["same_name_as"] == [] and listed["quick.yaml"]["valid"] is True
    by_file = server.client.post("/api/runs", json={"dag": "quick.yaml"})
    assert by_file.status_code == 202, by_file.text
    run = server.wait_for_run(by_file.json()["run_id"])
    assert run["dag_file"].endswith("configs/dags/quick.yaml")
    log = server.client.get(f"/api/runs/{run['run_id']}/logs/hello/text").text
    assert log == "hello world\n"  # the file asked for, not the copy
    form = server.client.get("/", headers={"Accept": "text/html"}).text
    assert '<option value="dag:quick.yaml"' in form and '<option value="dag:a_quick_v2.yaml"' in form
    assert '<option value="dag:quick"' not in form  # never offered by the name that cannot start it
    assert '<option value="dag:slow">' in form


def test_an_invalid_copy_with_the_same_name_makes_it_ambiguous_too(live, web_project: Path) -> None:
    (web_project / "configs" / "dags" / "copy.yaml").write_text("name: quick\ntasks: []\n")
    server = live()
    refused = server.client.post("/api/runs", json={"dag": "quick"})
    assert refused.status_code == 409 and "copy.yaml, quick.yaml" in refused.json()["error"]
