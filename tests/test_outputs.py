"""Task outputs: the $DAGCTL_OUTPUT file format of shell tasks and the checks on Python task return values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagctl.errors import TaskError
from dagctl.run.actions.outputs import OUTPUT_CAP_BYTES, encode_outputs, format_size, read_output_file


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "outputs" / "task@1.out"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_missing_file_means_no_outputs(out: Path) -> None:
    assert read_output_file(out) == {}


@pytest.mark.parametrize("text", ["", "\n\n", "   \n\t\n"])
def test_empty_file_means_no_outputs(out: Path, text: str) -> None:
    assert read_output_file(write(out, text)) == {}


def test_json_object_keeps_its_types(out: Path) -> None:
    data = {"rows": 200, "ratio": 0.5, "ok": True, "none": None, "tags": ["a", "b"], "nested": {"k": "v"}}
    assert read_output_file(write(out, "\n  " + json.dumps(data, indent=2) + "\n")) == data


def test_key_value_lines_stay_strings_and_are_stripped(out: Path) -> None:
    text = "rows=200\n  path = /tmp/x.csv  \nempty=\nurl=http://h/?a=1&b=2\n"
    assert read_output_file(write(out, text)) == {
        "rows": "200",
        "path": "/tmp/x.csv",
        "empty": "",
        "url": "http://h/?a=1&b=2",  # split at the first '=' only
    }


def test_blank_lines_and_comments_are_ignored_and_the_last_repeat_wins(out: Path) -> None:
    text = "# totals by region\n\nnorth=1\n   # indented comment\nnorth=2\r\nsouth=3\n"
    assert read_output_file(write(out, text)) == {"north": "2", "south": "3"}


def test_a_line_without_equals_names_its_line_number(out: Path) -> None:
    with pytest.raises(TaskError) as exc:
        read_output_file(write(out, "# header\nrows=2\njust some text\n"))
    assert str(exc.value).startswith("output file line 3 has no '=': 'just some text'")


def test_an_empty_key_is_an_error(out: Path) -> None:
    with pytest.raises(TaskError, match="line 2 has an empty key"):
        read_output_file(write(out, "a=1\n=2\n"))


def test_broken_json_says_where(out: Path) -> None:
    with pytest.raises(TaskError) as exc:
        read_output_file(write(out, '{"rows": 2,\n "path": }'))
    assert "not valid JSON" in str(exc.value) and "line 2 column" in str(exc.value)


def test_json_nan_is_refused(out: Path) -> None:
    with pytest.raises(TaskError, match="NaN is not JSON"):
        read_output_file(write(out, '{"ratio": NaN}'))


def test_non_utf8_bytes_are_refused(out: Path) -> None:
    with pytest.raises(TaskError, match=r"not UTF-8 text \(byte 0xff at offset 2\)"):
        read_output_file(write(out, b"a=\xff\n"))


def test_a_file_over_the_cap_is_refused_with_its_size(out: Path) -> None:
    write(out, "blob=" + "x" * int(1.3 * OUTPUT_CAP_BYTES))
    with pytest.raises(TaskError) as exc:
        read_output_file(out)
    assert str(exc.value) == (
        "output file is 1.3 MiB, over the 1 MiB cap — write large data to a file and output its path"
    )


def test_a_file_exactly_at_the_cap_is_fine(out: Path) -> None:
    write(out, "k=" + "x" * (OUTPUT_CAP_BYTES - 3) + "\n")
    assert len(read_output_file(out)["k"]) == OUTPUT_CAP_BYTES - 3


def test_sizes_just_over_the_cap_are_not_shown_as_the_cap() -> None:
    assert format_size(OUTPUT_CAP_BYTES + 1) == "1,048,577 bytes"
    assert format_size(int(2.5 * OUTPUT_CAP_BYTES)) == "2.5 MiB"


def test_a_folder_instead_of_a_file_is_an_error(out: Path) -> None:
    out.mkdir(parents=True)
    with pytest.raises(TaskError, match="is a folder"):
        read_output_file(out)


def test_encode_outputs_accepts_json_data() -> None:
    assert json.loads(encode_outputs({"a": [1, 2.5, None, True], "b": {"c": "é"}})) == {
        "a": [1, 2.5, None, True],
        "b": {"c": "é"},
    }


def test_encode_outputs_names_the_key_that_is_not_json() -> None:
    with pytest.raises(TaskError) as exc:
        encode_outputs({"fine": 1, "when": {1, 2}})
    assert str(exc.value).startswith("outputs are not JSON-serialisable: key 'when': Object of type set")


def test_encode_outputs_refuses_nan_and_non_string_keys() -> None:
    with pytest.raises(TaskError, match="output 'ratio' is NaN"):
        encode_outputs({"ratio": float("nan")})
    with pytest.raises(TaskError, match=r"output keys must be strings; got 1 \(int\)"):
        encode_outputs({1: "x"})


def test_encode_outputs_applies_the_same_cap() -> None:
    with pytest.raises(TaskError) as exc:
        encode_outputs({"blob": "x" * (2 * OUTPUT_CAP_BYTES)})
    assert str(exc.value) == "outputs are 2.0 MiB, over the 1 MiB cap — write large data to a file and return its path"
