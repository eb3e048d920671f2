"""``param_problems``: every problem ``merge_params`` stops at the first of, for checks made before a run."""

from __future__ import annotations

import pytest

from dagctl.dag.params import merge_params, param_problems, split_params
from dagctl.errors import UsageError

DEFAULTS, TYPES = split_params(
    {
        "rows": {"type": "int", "max": 1000, "default": 10},
        "day": {"type": "date", "required": True},
        "mode": "full",
    }
)


def test_every_problem_is_listed_with_the_param_it_is_about() -> None:
    found = [(name, str(error)) for name, error in param_problems(DEFAULTS, {"nope": 1, "rows": 5000}, TYPES)]
    assert found == [
        ("nope", "unknown param 'nope' — declare it under params: (known: rows, day, mode)"),
        ("rows", "param 'rows' must be at most 1000, got 5000 — pass -p rows=1000 or less"),
        ("day", "param 'day' is required — pass it, e.g. -p day=2026-12-06"),
    ]


def test_a_required_param_given_a_bad_value_is_reported_once() -> None:
    found = param_problems(DEFAULTS, {"day": "someday"}, TYPES)
    assert [(name, error.message) for name, error in found] == [
        ("day", "param 'day' must be a date (YYYY-MM-DD), got 'someday'")
    ]


@pytest.mark.parametrize("overrides", [{"nope": 1}, {"rows": 5000, "day": "2026-01-01"}, {}, {"day": "x"}])
def test_merge_params_raises_the_first_of_them(overrides: dict[str, object]) -> None:
    first = param_problems(DEFAULTS, overrides, TYPES)[0][1]
    with pytest.raises(UsageError) as caught:
        merge_params(DEFAULTS, overrides, types=TYPES)
    assert str(caught.value) == str(first)


def test_fitting_params_have_no_problems() -> None:
    assert param_problems(DEFAULTS, {"rows": "1000", "day": "2026-01-01", "mode": "quick"}, TYPES) == []
