"""``dagctl schema`` and ``dagctl validate`` agree: an editor that checks a DAG file against the JSON Schema accepts
what dagctl runs, and refuses what dagctl refuses wherever a schema can say it (not: cross-task rules, templates)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import yaml

from dagctl.dag.durations import parse_duration
from dagctl.dag.loader import load_dag_text
from dagctl.dag.schema import dag_json_schema
from dagctl.dag.specfields import DURATION_TEXT
from dagctl.errors import SpecError

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (the dev extra) checks the emitted schema")

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "configs" / "dags").rglob("*.yaml"))

VALID = {
    "x- keys at the top level": "x-common: &c {retries: 1}\ntasks:\n  - {id: a, run: echo, <<: *c}",
    "a precondition that is a command": "tasks:\n  - {id: a, run: echo, precondition: test -f x}",
    "a precondition with when:": "params: {n: 1}\ntasks:\n  - {id: a, run: echo, precondition: {when: params.n > 0}}",
    "depends_on: null": "tasks:\n  - {id: a, run: echo, depends_on: null}",
    "matrix values holding null": "tasks:\n  - {id: a, run: echo, matrix: {v: [1, null, {k: null}]}}",
    "durations with spaces and capitals": "tasks:\n  - {id: a, run: echo, timeout: 1h 30m, retry_delay: 30 s}\n"
    "  - {id: b, run: echo, timeout: 1H, max_delay: 2D}\n  - {id: c, run: echo, timeout: 500 ms, retry_delay: 0}",
    "durations as numbers": "options: {timeout: 3600}\ndefaults: {timeout: 1.5, retry_delay: 0}\ntasks:\n"
    "  - {id: a, run: echo}",
    "a matrix from a param": "params: {vs: [1, 2]}\ntasks:\n  - {id: a, run: echo, matrix: {v: '${params.vs}'}}",
    "every kind of task": "tasks:\n  - {id: a, run: [echo, hi]}\n  - {id: b, python: 'mod:fn'}\n"
    "  - {id: c, dag: {tasks: [{id: x, run: echo}]}}\n  - {id: d, approval: {message: Go on}}\n"
    "  - {id: e, run: echo, python: null}",
    "handlers": "tasks:\n  - {id: a, run: echo}\nhandlers:\n  failure: {run: 'echo ${outputs.a.k}', timeout: 1m}\n"
    "  exit: {python: 'mod:fn'}",
    "caches": "tasks:\n  - {id: a, run: echo, cache: true}\n  - {id: b, run: echo, cache: null}\n"
    "  - {id: c, run: echo, cache: {ttl: 7d, inputs: ['data/*.csv'], key: v2}}",
    "secrets, env and outputs": "secrets: {TOKEN: {from_env: API_TOKEN}}\nenv: {A: 1, B: true, C: x}\n"
    "tasks:\n  - {id: a, run: echo, secrets: {F: {from_file: f.txt, from_env: null}}}\noutputs: {k: '${outputs.a.v}'}",
    "workflows": "workflows: {w: 'mod:fn'}\ntasks:\n  - {id: a, run: echo}",
}

INVALID = {
    "timeout: 0": "tasks:\n  - {id: a, run: echo, timeout: 0}",
    "timeout: 0s": "tasks:\n  - {id: a, run: echo, timeout: 0s}",
    "a run timeout of 0 m": "options: {timeout: 0 m}\ntasks:\n  - {id: a, run: echo}",
    "a default timeout of 0.0": "defaults: {timeout: 0.0}\ntasks:\n  - {id: a, run: echo}",
    "cache ttl 0": "tasks:\n  - {id: a, run: echo, cache: {ttl: 0}}",
    "cache ttl -1": "tasks:\n  - {id: a, run: echo, cache: {ttl: -1}}",
    "cache ttl 0d": "tasks:\n  - {id: a, run: echo, cache: {ttl: 0d}}",
    "a duration that is not one": "tasks:\n  - {id: a, run: echo, timeout: 5x}",
    "a duration over a year": "tasks:\n  - {id: a, run: echo, retry_delay: 99999999}",
    "a task with nothing to do": "tasks:\n  - {id: a}",
    "a task of two kinds": "tasks:\n  - {id: a, run: echo, python: 'mod:fn'}",
    "a task whose only kind is null": "tasks:\n  - {id: a, run: null}",
    "an empty command": "tasks:\n  - {id: a, run: ''}",
    "an empty argv": "tasks:\n  - {id: a, run: []}",
    "a bad matrix key": "tasks:\n  - {id: a, run: echo, matrix: {bad-key: [1]}}",
    "an empty matrix": "tasks:\n  - {id: a, run: echo, matrix: {}}",
    "a matrix of a word": "tasks:\n  - {id: a, run: echo, matrix: {v: word}}",
    "a handler with depends_on": "tasks:\n  - {id: a, run: echo}\nhandlers:\n  failure: {run: echo, depends_on: a}",
    "a handler with no kind": "tasks:\n  - {id: a, run: echo}\nhandlers:\n  failure: {timeout: 1m}",
    "a handler of two kinds": "tasks:\n  - {id: a, run: echo}\nhandlers:\n  failure: {run: echo, python: 'm:f'}",
    "a handler with a sub-DAG": "tasks:\n  - {id: a, run: echo}\nhandlers:\n  exit: {dag: child.yaml}",
    "an unknown handler": "tasks:\n  - {id: a, run: echo}\nhandlers:\n  always: {run: echo}",
    "a bad output name": "tasks:\n  - {id: a, run: echo}\noutputs: {bad-key: 1}",
    "a bad workflow name": "workflows: {'bad name': 'mod:fn'}\ntasks:\n  - {id: a, run: echo}",
    "a secret from two sources": "secrets: {T: {from_env: A, from_file: f}}\ntasks:\n  - {id: a, run: echo}",
    "a secret from nowhere": "secrets: {T: {}}\ntasks:\n  - {id: a, run: echo}",
    "a precondition of both kinds": "tasks:\n  - {id: a, run: echo, precondition: {run: x, when: 'true'}}",
    "a name that is a folder": "name: '..'\ntasks:\n  - {id: a, run: echo}",
    "an environment name with =": "env: {'A=B': 1}\ntasks:\n  - {id: a, run: echo}",
    "an unknown top-level key": "extra: 1\ntasks:\n  - {id: a, run: echo}",
}


def _document(body: str) -> tuple[str, object]:
    text = body if body.startswith("name:") else "name: d\n" + body
    return text, yaml.safe_load(text)


@pytest.fixture(scope="module")
def validator() -> object:
    schema = dag_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_dag_matches_the_schema(validator, path: Path) -> None:
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


@pytest.mark.parametrize("body", VALID.values(), ids=VALID.keys())
def test_what_validate_accepts_the_schema_accepts(validator, body: str) -> None:
    text, data = _document(body)
    load_dag_text(text)  # valid for dagctl...
    assert [e.message for e in validator.iter_errors(data)] == []  # ...and for an editor


@pytest.mark.parametrize("body", INVALID.values(), ids=INVALID.keys())
def test_what_validate_refuses_the_schema_refuses(validator, body: str) -> None:
    text, data = _document(body)
    with pytest.raises(SpecError):
        load_dag_text(text)
    assert not validator.is_valid(data)


def test_the_duration_pattern_reads_exactly_what_dagctl_reads() -> None:
    pattern = re.compile(DURATION_TEXT)
    chance = random.Random(7)
    words = ["1h 30m", "30 s", "1H", "2D", "500 M S", " 10m ", "1.5h", "1 .5", "1h30", "h", "1hh", "1 0s", "9999999d"]
    words += [
        "".join(chance.choice("0123456789.smhdwSMHDW \t") for _ in range(chance.randint(1, 7))) for _ in range(5000)
    ]
    for word in words:
        try:
            read = parse_duration(word) is not None
        except ValueError as exc:
            read = "longer than 365 days" in str(exc)  # the pattern does not count: the schema's numbers do
        assert bool(pattern.search(word)) == read, word
