"""A file read as YAML is read up to the size limit and one byte more, whatever it is: a stream that never ends
(``dagctl validate /dev/zero``) is refused, not read until memory runs out."""

from __future__ import annotations

import os

import pytest

import dagctl.dag.source
from dagctl.dag.yamlread import read_text
from dagctl.errors import SpecError


def test_a_stream_longer_than_the_limit_is_refused_after_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dagctl.dag.source, "MAX_BYTES", 1024)
    read, write = os.pipe()
    os.write(write, b"#" * 4096)
    os.close(write)
    with pytest.raises(SpecError, match="file is over the 0 MiB limit") as caught:
        read_text(f"/dev/fd/{read}")
    assert caught.value.problems[0].line == 1
    left = os.read(read, 10_000)  # what was never read
    os.close(read)
    assert len(left) == 4096 - 1025


def test_dev_zero_is_refused(cli) -> None:
    result = cli("validate", "/dev/zero")
    assert result.code == 2
    assert "/dev/zero:1:1: file is over the 5 MiB limit" in result.err
