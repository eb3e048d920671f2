"""``POST /api/templates`` with ``"overwrite": false`` creates the template or answers 409, whatever runs at the
same time: of requests at once for one name, exactly one is told 201 and its template is the one kept."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dagctl.web.errors import Conflict
from dagctl.web.templates import TemplateStore
from tests.web.conftest import QUICK, dag_text

WRITERS = 8


def test_creates_at_once_without_overwrite_make_one_template(live, web_project: Path) -> None:
    server = live()
    folder = web_project / "configs" / "templates"
    for trial in range(6):
        barrier = threading.Barrier(WRITERS)

        def create(n: int, trial: int = trial, barrier: threading.Barrier = barrier) -> tuple[int, int]:
            text = dag_text(QUICK).replace("name: quick", f"name: writer{n}")
            barrier.wait(10)
            answer = server.client.post("/api/templates", json={"name": "once", "yaml": text, "overwrite": False})
            return n, answer.status_code

        with ThreadPoolExecutor(WRITERS) as pool:
            answers = list(pool.map(create, range(WRITERS)))
        created = [n for n, code in answers if code == 201]
        assert len(created) == 1, f"trial {trial}: {answers}"
        assert sorted(code for _, code in answers) == [201] + [409] * (WRITERS - 1)
        kept = (folder / "once.yaml").read_text()
        assert f"name: writer{created[0]}" in kept  # the one told 201 is the one kept
        assert sorted(p.name for p in folder.iterdir()) == ["once.yaml"]  # no temporary file left behind
        assert server.client.delete("/api/templates/once").status_code == 204


def test_a_name_taken_after_the_check_is_not_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The template appears between the look for it and the write (another server, another request): still 409,
    and the file that was there stays."""
    store = TemplateStore(tmp_path)
    store.save("t", dag_text(QUICK))
    first = (tmp_path / "t.yaml").read_text()
    monkeypatch.setattr(Path, "exists", lambda self: False)  # the check sees nothing: the write must still refuse
    with pytest.raises(Conflict, match="template 't' already exists"):
        store.save("t", dag_text(QUICK).replace("name: quick", "name: other"))
    monkeypatch.undo()
    assert (tmp_path / "t.yaml").read_text() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.yaml"]
    store.save("t", dag_text(QUICK).replace("name: quick", "name: other"), overwrite=True)
    assert "name: other" in (tmp_path / "t.yaml").read_text()
