"""``run --dry-run --json`` shows the params the run would use (defaults, ``--params-file``, ``-p``), as its
cells do."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import EXAMPLE_DAGS


def test_the_params_are_the_merged_ones(cli) -> None:
    dag = str(EXAMPLE_DAGS / "hyperparameter_search.yaml")
    result = cli("run", dag, "-p", "learning_rates=[0.5]", "--dry-run", "--json")
    assert result.code == 0, result
    data = json.loads(result.out)
    assert data["params"] == {"learning_rates": [0.5]}
    (train,) = [t for t in data["tasks"] if t["id"] == "train"]
    assert {cell["matrix"]["lr"] for cell in train["cells"]} == {0.5}


def test_a_required_param_shows_its_value(cli, tmp_path: Path) -> None:
    dag = tmp_path / "r.yaml"
    dag.write_text("name: r\nparams: {day: {type: date, required: true}, n: 2}\ntasks:\n  - {id: a, run: echo}\n")
    result = cli("run", str(dag), "-p", "day=2026-01-31", "--dry-run", "--json")
    assert result.code == 0, result
    assert json.loads(result.out)["params"] == {"day": "2026-01-31", "n": 2}
