"""`dagctl run --dry-run` says which cached tasks would be served from the cache; the run that follows does what
it said: the same outputs reused by `--from` / `--only`, the same `.env` files, the same matrix cells and loop
iterations, and `--refresh` reads nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

# `up` gives a new output each time it really runs; `down` is cached on it
CHAIN = """\
name: chain
tasks:
  - id: up
    cache: true
    run: echo ran >> up.log; echo "x=$(wc -l < up.log)" > "$DAGCTL_OUTPUT"
  - id: down
    depends_on: up
    cache: true
    run: echo got ${outputs.up.x}
"""


def _predicted(cli: Any, *args: str) -> dict[str, str | None]:
    """What the dry run says of each listed task's cache."""
    dry = cli("run", *args, "--dry-run", "--json")
    assert dry.code == 0, dry
    return {t["id"]: t.get("cache") for t in json.loads(dry.out)["tasks"]}


def _served(cli: Any, *args: str) -> dict[str, bool]:
    """Which units (tasks, matrix cells) the real run finished, and whether from the cache, from its events."""
    run = cli("run", *args, "--json")
    assert run.code == 0, run
    run_id = json.loads(run.out)["run_id"]
    events = [json.loads(line) for line in Path(os.environ["ORCH_EVENTS_PATH"]).read_text().splitlines()]
    return {
        e.get("cell") or e["task_id"]: bool(e.get("cached"))
        for e in events
        if e["run_id"] == run_id and e["event"] == "task_ok" and "cells" not in str(e.get("reason"))
    }


def _hit(note: str | None) -> bool:
    assert note is not None and note.startswith(("cache: hit", "cache: miss")), note
    return note.startswith("cache: hit")


@pytest.mark.parametrize("select", [("--from", "down"), ("--only", "down")])
def test_a_partial_dry_run_predicts_the_cache_from_the_outputs_the_run_reuses(project: Path, cli, select) -> None:
    (project / "chain.yaml").write_text(CHAIN)
    assert cli("run", "chain.yaml", "-q").code == 0  # up x=1 and down(x=1) cached
    assert cli("run", "chain.yaml", "-q", "--no-cache").code == 0  # up x=2: the newest success, not cached
    # --from/--only reuse x=2, for which down has no entry (the cache of up still says x=1)
    assert not _hit(_predicted(cli, "chain.yaml", *select)["down"])
    assert _served(cli, "chain.yaml", *select)["down"] is False
    # that run stored down(x=2): now both say hit
    assert _hit(_predicted(cli, "chain.yaml", *select)["down"])
    assert _served(cli, "chain.yaml", *select)["down"] is True


def test_a_partial_dry_run_knows_the_key_of_a_task_after_an_uncached_upstream(project: Path, cli) -> None:
    (project / "chain.yaml").write_text(CHAIN.replace("    cache: true\n    run: echo ran", "    run: echo ran"))
    assert cli("run", "chain.yaml", "-q").code == 0
    assert _hit(_predicted(cli, "chain.yaml", "--from", "down")["down"])
    assert _served(cli, "chain.yaml", "--from", "down")["down"] is True
    # a whole run runs `up` again: what down gets is not known before
    assert _predicted(cli, "chain.yaml")["down"] == "cache: decided when its upstream tasks are done"


def test_a_dry_run_keys_tasks_with_env_files_matrix_cells_and_loops_as_the_run_does(project: Path, cli) -> None:
    (project / ".env").write_text("GREETING=hello\n")
    (project / "more.yaml").write_text(
        """\
name: more
env_file: [.env]
tasks:
  - {id: env, cache: true, run: echo $GREETING}
  - {id: cells, cache: true, matrix: {n: [1, 2, 3]}, run: 'echo ${matrix.n}'}
  - id: loop
    cache: true
    repeat: {until: "iteration >= 1"}
    run: echo $DAGCTL_ITERATION
"""
    )
    assert cli("run", "more.yaml", "-q").code == 0
    notes = _predicted(cli, "more.yaml")
    assert _hit(notes["env"]) and _hit(notes["loop"]), notes
    assert notes["cells"] == "cache: 3 of 3 cells would hit"
    assert _served(cli, "more.yaml") == {"env": True, "cells:0": True, "cells:1": True, "cells:2": True, "loop": True}
    (project / "other.env").write_text("GREETING=bye\n")  # --env-file wins over env_file: a new key
    assert not _hit(_predicted(cli, "more.yaml", "--env-file", "other.env")["env"])
    assert _served(cli, "more.yaml", "--env-file", "other.env")["env"] is False


def test_a_dry_run_refuses_a_missing_env_file_as_the_run_does(project: Path, cli) -> None:
    (project / "d.yaml").write_text("name: d\nenv_file: [missing.env]\ntasks:\n  - {id: t, run: 'true'}\n")
    run, dry = cli("run", "d.yaml"), cli("run", "d.yaml", "--dry-run")
    assert run.code == dry.code == 2
    assert dry.err == run.err and "missing.env not found" in dry.err


def test_a_refresh_dry_run_reads_nothing_and_touches_no_entry(project: Path, cli) -> None:
    (project / "chain.yaml").write_text(CHAIN)
    assert cli("run", "chain.yaml", "-q").code == 0
    entries = sorted((project / "logs" / "cache" / "tasks").glob("*/*.json"))
    assert len(entries) == 2
    for entry in entries:
        os.utime(entry, (1_000_000, 1_000_000))
    assert _predicted(cli, "chain.yaml", "--refresh")["up"].startswith("cache: refresh (runs, key ")
    assert _hit(_predicted(cli, "chain.yaml")["up"])
    assert [entry.stat().st_mtime for entry in entries] == [1_000_000, 1_000_000]  # a dry run only looks
    assert _served(cli, "chain.yaml", "--refresh") == {"up": False, "down": False}
