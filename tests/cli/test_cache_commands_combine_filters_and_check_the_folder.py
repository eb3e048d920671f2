"""`dagctl cache clear --key K` with `--dag` or `--older-than` removes K only if it matches them too (it removed
another DAG's entry); `cache ls|show|clear` with a DAGCTL_CACHE_DIR that is a file say so and exit 3, as
`dagctl run` does (they reported an empty cache, exit 0)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _entries(cli) -> dict[str, str]:
    return {e["dag"]: e["key"] for e in json.loads(cli("cache", "ls", "--json").out)}


def test_the_filters_of_cache_clear_combine_with_its_key(project: Path, cli) -> None:
    for name in ("c1", "ttl"):
        (project / f"{name}.yaml").write_text(f"name: {name}\ntasks:\n  - {{id: a, cache: true, run: 'echo {name}'}}\n")
        assert cli("run", f"{name}.yaml", "-q").code == 0
    key = _entries(cli)["c1"]
    other = cli("cache", "clear", "--dag", "ttl", "--key", key[:12])
    assert other.code == 0
    assert other.err == (
        f"cache entry {key[:12]} kept: it is an entry of DAG 'c1', not of 'ttl'\nremoved 0 cache entries (0 bytes)\n"
    )
    recent = cli("cache", "clear", "--older-than", "30d", "--key", key[:12], "--json")
    assert json.loads(recent.out)["removed"] == 0 and recent.err == ""
    recent = cli("cache", "clear", "--older-than", "30d", "--key", key[:12])
    assert recent.err.startswith(f"cache entry {key[:12]} kept: it was last used ")
    assert set(_entries(cli)) == {"c1", "ttl"}  # both still there
    mine = cli("cache", "clear", "--dag", "c1", "--key", key[:12])
    assert mine.code == 0 and mine.err.startswith("removed 1 cache entry (")
    assert set(_entries(cli)) == {"ttl"}


@pytest.mark.parametrize(("args", "verb"), [(("ls",), "read"), (("show", "abc"), "read"), (("clear",), "clear")])
def test_a_cache_folder_that_is_a_file_is_an_environment_problem(project: Path, cli, monkeypatch, args, verb) -> None:
    (project / "notadir").write_text("x\n")
    monkeypatch.setenv("DAGCTL_CACHE_DIR", str(project / "notadir"))
    result = cli("cache", *args)
    assert result.code == 3 and result.out == ""
    assert result.err == (
        f"dagctl: error: cannot {verb} the task cache {project / 'notadir'} (DAGCTL_CACHE_DIR): it exists and is not "
        "a directory — point DAGCTL_CACHE_DIR at a folder, or unset it\n"
    )
