"""``--params-file`` values are checked against the DAG's params as ``-p`` values are, and a plain value YAML 1.1
reads otherwise than it looks (``no``, ``0755``) is reported at its line and column, as in DAG files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DAG = """\
name: p
params: {country: {type: str, default: se}, n: 3, code: "x", lr: 0.5, flag: false}
tasks:
  - {id: a, run: "echo ${params.country} ${params.n} ${params.code}"}
"""


@pytest.fixture
def dag(tmp_path: Path) -> Path:
    (tmp_path / "p.yaml").write_text(DAG)
    return tmp_path / "p.yaml"


def with_file(cli, dag: Path, text: str):
    params = dag.with_name("params.yaml")
    params.write_text(text)
    return cli("run", str(dag), "--params-file", str(params), "--dry-run", "--json"), str(params)


@pytest.mark.parametrize(
    ("text", "where", "expected"),
    [
        (
            "country: no\n",
            "1:10",
            'country: YAML reads unquoted no as the boolean false — quote it if it is text ("no")',
        ),
        (
            "n: 4\ncode: 0755\n",
            "2:7",
            'code: YAML reads unquoted 0755 as the integer 493 — quote it if it is text ("0755")',
        ),
        (
            "flag: On\n",
            "1:7",
            'flag: YAML reads unquoted On as the boolean true — quote it if it is text ("On"), or write true',
        ),
        ("flag: true\nn: 0b11\n", "2:4", "n: YAML reads unquoted 0b11 as the integer 3"),
    ],
)
def test_what_yaml_1_1_reads_otherwise_is_reported_where_it_is(cli, dag: Path, text, where, expected) -> None:
    result, params = with_file(cli, dag, text)
    assert result.code == 2, result
    assert result.err.startswith(f"{params}:{where}: {expected}"), result.err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n: [1, 2]\n", "param 'n' must be a whole number (its default is 3), got [1, 2]"),
        ("n: 1.5\n", "param 'n' must be a whole number (its default is 3), got 1.5"),
        ("flag: 1\n", "param 'flag' must be true or false (its default is false), got 1"),
        ("code: [a]\n", 'param \'code\' must be text (its default is "x"), got ["a"]'),
        ("country: true\n", "param 'country' must be text, got true — quote it if it is text: country: \"true\""),
        ("n:\n", "param 'n' must be a whole number (its default is 3), got null"),
    ],
)
def test_values_are_checked_as_p_checks_them(cli, dag: Path, text: str, expected: str) -> None:
    result, _ = with_file(cli, dag, text)
    assert result.code == 2, result
    assert result.err.startswith(f"dagctl: error: {expected}"), result.err


def test_values_that_fit_are_the_run_s(cli, dag: Path) -> None:
    result, _ = with_file(cli, dag, 'country: "no"\nn: 4\ncode: "0755"\nlr: 1\nflag: true\n')
    assert result.code == 0, result
    assert json.loads(result.out)["params"] == {"country": "no", "n": 4, "code": "0755", "lr": 1.0, "flag": True}


def test_p_still_wins_over_the_file(cli, dag: Path) -> None:
    params = dag.with_name("params.yaml")
    params.write_text("n: 4\n")
    result = cli("run", str(dag), "--params-file", str(params), "-p", "n=5", "--dry-run", "--json")
    assert json.loads(result.out)["params"]["n"] == 5
