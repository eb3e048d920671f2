"""What the command line says about itself is true: a usage error points at the help of the command it is about,
the examples of ``dagctl --help`` name files that exist, ``validate -q`` says what it hides, and ``--debug`` adds a
traceback without changing the exit code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dagctl.cli.app
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["run", "x.yaml", "-p"], "dagctl run"),
        (["run", "--dag"], "dagctl run"),
        (["validate", "x.yaml", "--nosuch"], "dagctl validate"),
        (["schedule", "list", "--now"], "dagctl schedule list"),
    ],
)
def test_a_usage_error_points_at_its_command_s_help(cli, args: list[str], command: str) -> None:
    result = cli(*args)
    assert result.code == 2
    assert result.err.endswith(f" — see '{command} --help'\n"), result.err


def test_the_examples_of_the_help_name_files_that_exist(cli) -> None:
    result = cli("--help")
    named = re.findall(r"^\s+dagctl \w+ (\S+)", result.out, flags=re.MULTILINE)
    assert named, result.out
    for path in named:
        assert (ROOT / path).exists(), path


def test_validate_quiet_says_it_hides_warnings(cli) -> None:
    result = cli("validate", "--help")
    line = next(line for line in result.out.splitlines() if "--quiet" in line)
    assert "warnings" in line and "nothing" not in line.lower()


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_debug_shows_the_traceback_and_keeps_the_exit_code(
    cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str
) -> None:
    def broken(args=None):
        raise RuntimeError("a bug")

    monkeypatch.setattr(dagctl.cli.app, "build_app", broken)
    plain = cli("validate", str(tmp_path))
    assert plain.code == 3 and "internal error: RuntimeError: a bug" in plain.err
    if how == "flag":
        debug = cli("--debug", "validate", str(tmp_path))
    else:
        monkeypatch.setenv("DAGCTL_DEBUG", "1")
        debug = cli("validate", str(tmp_path))
    assert debug.code == 3
    assert "Traceback (most recent call last)" in debug.err and "RuntimeError: a bug" in debug.err
