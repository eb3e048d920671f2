from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import pytest

from dagctl.dag.conditions import MAX_DEPTH, MAX_LENGTH, Condition, compile_condition, condition_problems
from dagctl.errors import TemplateError

SCOPE: dict[str, Any] = {
    "params": {
        "env": "prod",
        "dry_run": False,
        "mode": "a",
        "limit": 10,
        "cfg": {"region": "eu", "tiers": [1, 2]},
        "_private": "ok",
    },
    "outputs": {
        "check": {"count": "3", "status": "ok", "score": 0.5},
        "scan": {"tags": ["x", "y"], "summary": "all clear", "empty": []},
        "my-task": {"key": "dashed"},
        "build.linux": {"status": "ok"},
        "skipped": {},
    },
    "env": {"CI": "true", "EMPTY": ""},
    "run_id": "r-123",
    "logical_date": datetime(2024, 6, 2, 3, 0, tzinfo=timezone.utc),
}


def evaluate(expr: str, scope: dict[str, Any] | None = None) -> bool:
    return compile_condition(expr).evaluate(SCOPE if scope is None else scope)


# ---------------------------------------------------------------------------------------------- accepted


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('params.env == "prod"', True),
        ('params.env != "prod"', False),
        ("outputs.check.count > 0 and not params.dry_run", True),
        ('"x" in outputs.scan.tags', True),
        ('"z" not in outputs.scan.tags', True),
        ('params.mode in ["a", "b"]', True),
        ('params.mode in ("b", "c")', False),
        ('params.mode in {"a"}', True),
        ('outputs.check.status != "skip"', True),
        ('outputs["my-task"]["key"] == "dashed"', True),
        ('outputs["my-task"].key == "dashed"', True),
        ('outputs["build.linux"].status == "ok"', True),
        ('params["cfg"]["region"] == "eu"', True),
        ("params.cfg.tiers[0] == 1", True),
        ("params.cfg.tiers[-1] == 2", True),
        ("params.cfg.tiers[9] is None", True),
        ('params["_private"] == "ok"', True),
        ("outputs.skipped.key is None", True),
        ("outputs.never_ran.key is None", True),
        ("outputs.never_ran is None", True),
        ("outputs.check.count is not None", True),
        ("outputs.check.count is not null", True),
        ("params.cfg.missing is None", True),
        ("env.NOT_SET is None", True),
        ('env.CI == "true"', True),
        ('env.EMPTY == ""', True),
        ('run_id == "r-123"', True),
        ('logical_date >= "2024-06-01"', True),
        ('logical_date < "2024-06-02"', False),
        ("0 < params.limit <= 10", True),
        ("0 < params.limit < 10", False),
        ("params.dry_run == false", True),
        ("params.dry_run == False", True),
        ("not params.dry_run", True),
        ("outputs.check.score >= 0.5", True),
        ("-params.limit < 0", True),
        ("+params.limit == 10", True),
        ("true", True),
        ("null", False),
        ("outputs.scan.tags", True),
        ("outputs.scan.empty", False),
        ("outputs.scan.empty or outputs.scan.tags", True),
        ('"clear" in outputs.scan.summary', True),
        ('"env" in params', True),
        ('"check" in outputs', True),
        ("[1, 2] == params.cfg.tiers", True),
        ("params.limit == 10.0", True),
    ],
)
def test_accepted_expressions_evaluate(expr, expected):
    assert evaluate(expr) is expected


@pytest.mark.parametrize(
    "expr",
    [
        "params.env ==\n'prod'",  # a YAML block scalar: newlines count as spaces
        "  params.env == 'prod'  ",
        "(params.env == 'prod'\n and params.limit > 1)",
    ],
)
def test_whitespace_and_newlines_are_allowed(expr):
    assert evaluate(expr) is True


# ---------------------------------------------------------------------------------------------- rejected


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("__import__('os')", "function calls are not allowed"),
        ("__import__('os').system('id')", "function calls are not allowed"),
        ("params.get('x')", "function calls are not allowed"),
        ("params.__class__", "attribute '__class__' is not allowed"),
        ("params._private", "attribute '_private' is not allowed"),
        ("().__class__.__bases__", "attribute '__bases__' is not allowed"),
        ("().x", "'.' and [...] only work on params, outputs and env"),
        ("'abc'.upper", "'.' and [...] only work on params, outputs and env"),
        ("params.x()[0]", "function calls are not allowed"),
        ("lambda: 1", "lambda is not allowed"),
        ("(lambda: 1)()", "function calls are not allowed"),
        ("[x for x in params]", "comprehensions are not allowed"),
        ("{x for x in params}", "comprehensions are not allowed"),
        ("{k: 1 for k in params}", "comprehensions are not allowed"),
        ("any(x for x in params)", "function calls are not allowed"),
        ("(x for x in params)", "comprehensions are not allowed"),
        ('f"{params.x}" == "1"', "f-strings are not allowed"),
        ("(y := 1)", "the walrus operator := is not allowed"),
        ("params.limit % 2 == 1", "this operator is not allowed"),
        ("params.limit ** 2 > 4", "this operator is not allowed"),
        ("len(params.limit) > 1", "function calls are not allowed"),
        ("1 if params.limit else 2", "conditional expressions"),
        ("{'a': 1}", "dict literals are not allowed"),
        ("[*params]", "* unpacking is not allowed"),
        ("params.cfg.tiers[0:1]", "slices are not allowed"),
        ("params[params.mode]", "a subscript must be a constant string or integer"),
        ("params.cfg[True]", "a subscript must be a constant string or integer"),
        ("params[0]", "keys of params are names"),
        ("~params.limit", "operator ~ is not allowed"),
        ("params.mode is 'a'", "'is' only works with None"),
        ("params.mode is not 1", "'is not' only works with None"),
        ("os.system", "unknown name 'os'"),
        ("prams.mode == 'a'", "did you mean 'params'?"),
        ("prod == params.env", "unknown name 'prod'"),
        ("run_id.x", "'run_id' is a single value; it has no keys"),
        ("true.x", "'true' is a single value"),
        ("b'x'", "bytes literals are not allowed"),
        ("1j", "complex literals are not allowed"),
        ("...", "ellipsis literals are not allowed"),
        ("params.env == ", "unexpected end of expression"),
        ("params.env = 'prod'", "compare with =="),
        ("params.env == 'prod", "unterminated string literal"),
        ("(params.env", "was never closed"),
        ("params.env == 'a'; import os", "invalid syntax"),
        ("", "empty condition"),
        ("   ", "empty condition"),
        ("not " * 40 + "true", f"nested more than {MAX_DEPTH} levels"),
        ("[" * 40 + "]" * 40, f"nested more than {MAX_DEPTH} levels"),
        ("params" + ".a" * 40, f"nested more than {MAX_DEPTH} levels"),
        ("true or " * 200 + "true", f"longer than {MAX_LENGTH} characters"),
        ("params.x == '\0'", "control character '\\x00' at column 14"),
        ("params.x == '\x1b[2J'", "control character '\\x1b'"),
    ],
)
def test_rejected_expressions_name_the_construct(expr, fragment):
    with pytest.raises(TemplateError) as err:
        compile_condition(expr)
    message = str(err.value)
    assert fragment in message
    assert message.startswith("when:")
    assert " — " in message  # every message says how to fix it


def test_non_string_condition_is_rejected():
    with pytest.raises(TemplateError, match="must be a string"):
        compile_condition(True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expr", "column"),
    [
        ("params.env == 'prod' and foo", 26),
        ("params.x == 1 and params.__dict__", 19),
        ("params.x == 1 or len(params)", 18),
        ("'ünïcödé' == params.x or bad", 26),  # columns count characters, not UTF-8 bytes
        ("params.x ==", 12),
    ],
)
def test_messages_point_at_the_column(expr, column):
    with pytest.raises(TemplateError) as err:
        compile_condition(expr)
    assert f"at column {column}" in str(err.value)


def test_message_format_is_expr_what_column_and_fix():
    with pytest.raises(TemplateError) as err:
        compile_condition("__import__('os')")
    assert str(err.value) == (
        "when: __import__('os'): function calls are not allowed at column 1 — "
        "the only functions are abs(), min() and max()"
    )


# --------------------------------------------------------------------------------------------- evaluation


@pytest.mark.parametrize("a", [True, False])
@pytest.mark.parametrize("b", [True, False])
def test_boolean_operators_follow_their_truth_tables(a, b):
    scope = {"params": {"a": a, "b": b}}
    assert evaluate("params.a and params.b", scope) is (a and b)
    assert evaluate("params.a or params.b", scope) is (a or b)
    assert evaluate("not params.a", scope) is (not a)
    assert evaluate("not (params.a and params.b)", scope) is (not (a and b))
    assert evaluate("params.a == params.b", scope) is (a == b)
    assert evaluate("params.a != params.b", scope) is (a != b)


def test_and_or_short_circuit():
    # the right-hand side would fail (unknown param) if it were evaluated
    assert evaluate("false and params.nope") is False
    assert evaluate("true or params.nope") is True
    assert evaluate("outputs.never.n is not None and outputs.never.n > 1") is False


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("outputs.check.count == 3", True),  # numeric text compares as a number
        ("outputs.check.count > 2", True),
        ("outputs.check.count >= 3.0", True),
        ("3 == outputs.check.count", True),
        ('outputs.check.count == "3"', True),
        ("outputs.check.status == 0", False),  # not numeric text: plain inequality
        ("outputs.never.n > 0", False),  # ordering with a missing value is false...
        ("outputs.never.n <= 0", False),
        ("outputs.never.n == 0", False),
        ("outputs.never.n != 0", True),
        ('"x" in outputs.never.tags', False),  # ...and so is membership in it
        ('"x" not in outputs.never.tags', True),
        ('"1e3" == 1000', True),
        ('"-2" < 0', True),
        ('" 7 " == 7', True),
        ('"1_000" == 1000', False),  # only plain decimal text counts as a number
        ('"nan" == "nan"', True),
        ('"0x10" == 16', False),
        ("true == 1", True),  # bools are not coerced from text, but Python's True == 1 holds
        ('"true" == true', False),
    ],
)
def test_comparison_rules(expr, expected):
    assert evaluate(expr) is expected


NUMERIC_TEXT: dict[str, Any] = {
    "params": {"s": "9", "n": 10, "name": "abc"},
    "outputs": {"a": {"v": "10", "w": "9", "f": "9.5", "word": "ten", "flag": True}},
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("outputs.a.v > outputs.a.w", True),  # "10" > "9" as numbers, not as text
        ("outputs.a.w < outputs.a.v", True),
        ("outputs.a.v > params.s", True),
        ("outputs.a.v <= params.s", False),
        ("outputs.a.f >= outputs.a.w", True),
        ('outputs.a.v == "10.0"', True),
        ('outputs.a.v != "1e1"', False),
        ('" 2 " < "10"', True),
        ('"-5" < "-1"', True),
        ("outputs.a.v in [10, 11]", True),  # numeric text matches numbers in a list...
        ("outputs.a.v not in [10, 11]", False),
        ("outputs.a.w in (10, 11)", False),
        ("outputs.a.v in {9, 10}", True),
        ("params.n in ['9', '10']", True),  # ...and a number matches numeric text
        ('outputs.a.v in ["10.0", "x"]', True),
        ("params.n not in [outputs.a.v]", False),
    ],
)
def test_two_numeric_texts_compare_and_match_as_numbers(expr, expected):
    assert evaluate(expr, NUMERIC_TEXT) is expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('"b" > "a"', True),
        ('"10" > "9x"', False),  # not both numbers: text order
        ('"1.10.0" > "1.9.0"', False),  # version strings are text
        ('outputs.a.word == "ten"', True),
        ('outputs.a.v == "ten"', False),
        ('outputs.a.word in ["ten", 10]', True),
        ('"10" in "a10b"', True),  # in a string: still a substring test
        ('"1" in [true]', False),  # booleans are never converted from text
        ("outputs.a.flag in [1]", True),  # ...but Python's True == 1 holds, as with ==
        ('outputs.a.flag == "1"', False),
        ("outputs.a.missing in [1, null]", True),
        ('outputs.a.missing in ["null", "None", ""]', False),
        ('outputs.a.missing == "0"', False),
    ],
)
def test_text_booleans_and_null_keep_their_comparison_rules(expr, expected):
    assert evaluate(expr, NUMERIC_TEXT) is expected


@pytest.mark.parametrize(
    ("loss", "previous", "expected"),
    [("10", "9", True), ("9", "10", False), ("0.5", "0.25", True), ("1e-3", "0.01", False)],
)
def test_a_loop_until_compares_key_value_outputs_as_numbers(loss, previous, expected):
    scope = {"outputs": {"fit": {"loss": loss}}, "previous": {"fit": {"loss": previous}}}
    assert compile_condition("outputs.fit.loss >= previous.fit.loss").evaluate(scope) is expected


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("outputs.check.status > 1", "cannot compare str 'ok' > int 1"),
        ("params.limit in 5", "cannot test 10 in int 5"),
        ("1 in outputs.scan.summary", "cannot test 1 in str"),
        ("-params.env", "unary - needs a number"),
        ("params.cfg.region.x == 1", "params.cfg.region is str 'eu'; it has no key 'x'"),
        ("params.cfg.tiers.x == 1", "has no key 'x'"),
        ("{params.cfg} == 1", "a {...} set can only hold"),
        ("params.nope == 1", "unknown param 'nope' (known: _private, cfg, dry_run, env, limit, mode)"),
    ],
)
def test_evaluation_errors_explain_the_problem(expr, fragment):
    with pytest.raises(TemplateError) as err:
        evaluate(expr)
    assert fragment in str(err.value)
    assert str(err.value).startswith(f"when: {expr}: ")


@pytest.mark.parametrize(
    "expr",
    ["env.CI", "not env.CI", "env.CI and true", "false or outputs.check.status", "outputs.check.count"],
)
def test_a_string_is_never_used_as_true_or_false(expr):
    with pytest.raises(TemplateError, match=r"is the string .* not true/false .* compare it: "):
        evaluate(expr)


def test_values_are_read_with_lookups_never_getattr():
    class Sneaky:
        secret = "attribute"

    assert compile_condition("params.obj.secret is None").names == frozenset({("params", "obj")})
    with pytest.raises(TemplateError, match="has no key 'secret'"):
        evaluate("params.obj.secret == 'attribute'", {"params": {"obj": Sneaky()}})


def test_missing_roots_in_scope_are_empty():
    assert evaluate("outputs.a.b is None and env.X is None and run_id is None", {}) is True
    with pytest.raises(TemplateError, match="unknown param 'x' \\(known: \\(none\\)\\)"):
        evaluate("params.x", {})


@pytest.mark.parametrize(
    ("logical_date", "expected"),
    [
        (date(2024, 6, 1), True),
        (datetime(2024, 5, 31, 23, 59, tzinfo=timezone.utc), False),
        ("2024-06-15", True),
    ],
)
def test_logical_date_compares_as_iso_text(logical_date, expected):
    assert evaluate('logical_date >= "2024-06-01"', {"logical_date": logical_date}) is expected


def test_condition_is_reusable_and_records_names_and_paths():
    condition = compile_condition(
        'outputs.check.count > 0 and params.env == "prod" and outputs["my-task"].key and run_id '
        "and params.cfg.tiers[0] and env.CI"
    )
    assert isinstance(condition, Condition)
    assert condition.names == frozenset(
        {
            ("outputs", "check"),
            ("params", "env"),
            ("outputs", "my-task"),
            ("run_id", None),
            ("params", "cfg"),
            ("env", "CI"),
        }
    )
    assert ("params", "cfg", "tiers", 0) in condition.paths
    first = compile_condition("params.limit > 5")
    assert first.evaluate({"params": {"limit": 6}}) is True
    assert first.evaluate({"params": {"limit": 4}}) is False
    assert first == compile_condition(" params.limit > 5 ")


# --------------------------------------------------------------------------------------------- validation


PARAMS = ["env", "limit", "dry_run"]
UPSTREAM = ["check", "my-task", "build.linux"]


@pytest.mark.parametrize(
    "expr",
    [
        'params.env == "prod" and not params.dry_run',
        'outputs.check.count > 0 and outputs["my-task"].key == "x"',
        'outputs["build.linux"].status == "ok"',
        "env.ANYTHING is None and run_id and logical_date",
        '"check" in outputs',
        'params.env == "no" and "x" in outputs',  # strings compared, not tested
    ],
)
def test_condition_problems_accepts_valid_conditions(expr):
    assert condition_problems(expr, params=PARAMS, upstream=UPSTREAM) == []


@pytest.mark.parametrize(
    ("expr", "fragments"),
    [
        (
            "params.evn == 'prod'",
            ["unknown param 'evn' at column 1", "known: dry_run, env, limit", "did you mean 'env'?"],
        ),
        ("params.zzz", ["unknown param 'zzz'", "declare it under params:"]),
        (
            "outputs.deploy.ok",
            [
                "reads outputs of task 'deploy' at column 1",
                "not upstream of this task",
                "add 'deploy' to depends_on",
            ],
        ),
        (
            "outputs.build.linux.status",
            ['task ids with dots need brackets: outputs["build.linux"]["status"]'],
        ),
        ("__import__('os')", ["function calls are not allowed"]),
        ("params.env ==", ["unexpected end of expression"]),
        ('"no"', ["\"no\" at column 1 is the string 'no', not true/false", "without quotes"]),  # failed every run
        ("params.dry_run or 'yes'", ["'yes' at column 19 is the string 'yes'"]),
        ("not 'x'", ["'x' at column 5 is the string 'x'"]),
    ],
)
def test_condition_problems_reports_what_and_how_to_fix(expr, fragments):
    problems = condition_problems(expr, params=PARAMS, upstream=UPSTREAM)
    assert len(problems) == 1
    for fragment in fragments:
        assert fragment in problems[0]
    assert problems[0].startswith("when: ")


def test_condition_problems_lists_each_problem_once():
    problems = condition_problems(
        "params.nope == 1 or params.nope == 2 or outputs.other.x", params=PARAMS, upstream=UPSTREAM
    )
    assert len(problems) == 2
    assert "unknown param 'nope'" in problems[0]
    assert "task 'other'" in problems[1]
