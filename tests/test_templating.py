from __future__ import annotations

import shutil
import subprocess
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from dagctl.dag.shellquote import ShellContext
from dagctl.dag.templating import (
    Reference,
    TemplateContext,
    find_references,
    format_value,
    reference_problems,
    render,
    render_argv,
    render_value,
)
from dagctl.errors import TemplateError


def make_ctx(**overrides: Any) -> TemplateContext:
    values: dict[str, Any] = {
        "params": {
            "date": "2024-06-01",
            "limit": 5,
            "ratio": 0.5,
            "flag": True,
            "nothing": None,
            "empty": "",
            "cfg": {"sub": "deep", "nested": {"x": 1}},
            "items": ["zero", "one"],
        },
        "env": {"HOME": "/home/me", "EMPTY": ""},
        "outputs": {
            "extract": {"rows": 42, "path": "/data/out.csv", "meta": {"source": "api"}},
            "my-task": {"key": "dashed"},
            "build.linux": {"status": "ok"},
            "a": {"b.c": "from a"},
            "a.b": {"c": "from a.b"},
        },
        "run_id": "r-123",
        "extra": {
            "logical_date": "2024-06-01T00:00:00+00:00",
            "dag.name": "etl",
            "task": {"id": "load"},
            "attempt": 2,
        },
    }
    values.update(overrides)
    return TemplateContext(**values)


CTX = make_ctx()


# ------------------------------------------------------------------------------------------ find_references


def test_find_references_reports_namespace_path_default_and_span():
    text = "cp ${outputs.extract.path} ${env.DEST:-/tmp/x} # ${run_id}"
    refs = find_references(text)
    assert [(r.namespace, r.path, r.default) for r in refs] == [
        ("outputs", ("extract", "path"), None),
        ("env", ("DEST",), "/tmp/x"),
        ("run_id", (), None),
    ]
    for ref in refs:
        assert text[ref.start : ref.end] == ref.source


def test_find_references_skips_escapes_and_plain_dollars():
    assert find_references("echo $${literal} $HOME $$ $1 cost: 5$") == []


def test_find_references_splits_dotted_names_into_segments():
    (ref,) = find_references("${outputs.build.linux.status}")
    assert ref == Reference("outputs", ("build", "linux", "status"), 0, 29)
    assert ref.name == "outputs.build.linux.status"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("echo ${params.x", "unclosed reference at column 6"),
        ("${}", "empty reference"),
        ("${params.a b}", "malformed reference"),
        ("${ params.a }", "malformed reference"),
        ("${params.}", "malformed reference"),
        ("${params..x}", "malformed reference"),
        ("${.x}", "malformed reference"),
        ("${params.x:y}", "a default is written ${env.X:-value}"),
        ("${env.A:-${env.B}}", "nested reference in the default"),
        ("ok ${run_id} then ${params.x!}", "at column 19"),
    ],
)
def test_find_references_rejects_malformed_syntax(text, fragment):
    with pytest.raises(TemplateError) as err:
        find_references(text)
    assert fragment in str(err.value)


# ------------------------------------------------------------------------------------------------- render


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${params.date}", "2024-06-01"),
        ("limit=${params.limit}", "limit=5"),
        ("${params.cfg.sub}", "deep"),
        ("${params.cfg.nested.x}", "1"),
        ("${params.items.1}", "one"),
        ("${env.HOME}/bin", "/home/me/bin"),
        ("${outputs.extract.rows} rows", "42 rows"),
        ("${outputs.extract.meta.source}", "api"),
        ("${outputs.my-task.key}", "dashed"),
        ("${outputs.build.linux.status}", "ok"),
        ("${run_id}", "r-123"),
        ("${logical_date}", "2024-06-01T00:00:00+00:00"),
        ("${dag.name}/${task.id}#${attempt}", "etl/load#2"),
        ("no references at all", "no references at all"),
    ],
)
def test_render_substitutes_every_namespace(text, expected):
    assert render(text, CTX) == expected


def test_render_resolves_dotted_task_ids_by_longest_match():
    # both "a" (key "b.c") and "a.b" (key "c") exist: the longer task id wins
    assert render("${outputs.a.b.c}", CTX) == "from a.b"
    only_a = make_ctx(outputs={"a": {"b.c": "from a"}})
    assert render("${outputs.a.b.c}", only_a) == "from a"


def test_render_reads_context_values_from_flat_or_nested_extra():
    nested = make_ctx(extra={"dag": {"name": "nested"}, "task.id": "flat"})
    assert render("${dag.name} ${task.id}", nested) == "nested flat"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$${params.x}", "${params.x}"),
        ("echo $${HOME:-x} ${run_id}", "echo ${HOME:-x} r-123"),
        ("$$${run_id}", "$${run_id}"),  # "$" then the escape: $${ always means a literal ${
        ("$HOME $$ $1 $", "$HOME $$ $1 $"),
        ("$$$${x}", "$$${x}"),
    ],
)
def test_render_escapes(text, expected):
    assert render(text, CTX) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${env.MISSING:-fallback}", "fallback"),
        ("${env.EMPTY:-fallback}", "fallback"),
        ("${env.HOME:-fallback}", "/home/me"),
        ("${env.MISSING:-}", ""),
        ("${params.nope:-7}", "7"),
        ("${params.nothing:-was none}", "was none"),
        ("${params.empty:-was empty}", "was empty"),
        ("${params.limit:-0}", "5"),
        ("${params.cfg.missing:-d}", "d"),
        ("${outputs.ghost.key:-no task}", "no task"),
        ("${outputs.extract.ghost:-no key}", "no key"),
        ("${attempt:-1}", "2"),
        ("${run_id:-local}", "r-123"),
        ("${env.MISSING:-a b:c/d}", "a b:c/d"),
    ],
)
def test_render_defaults_apply_to_missing_none_and_empty_in_every_namespace(text, expected):
    assert render(text, CTX) == expected


def test_render_uses_default_for_empty_run_id():
    assert render("${run_id:-local}", make_ctx(run_id="")) == "local"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("s", "s"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        (3, "3"),
        (1.5, "1.5"),
        ({"a": [1, "x"]}, '{"a": [1, "x"]}'),
        ([1, 2], "[1, 2]"),
        (("é",), '["é"]'),
        (date(2024, 6, 1), "2024-06-01"),
        (datetime(2024, 6, 1, tzinfo=timezone.utc), "2024-06-01T00:00:00+00:00"),
        ({"when": date(2024, 6, 1)}, '{"when": "2024-06-01"}'),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text
    assert render("${params.v}", make_ctx(params={"v": value})) == text


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "${params.dat}",
            ["unknown param 'dat' in ${params.dat}", "known: cfg, date,", "did you mean 'date'?"],
        ),
        (
            "${params.cfg.sbu}",
            ["no key 'sbu' under params.cfg", "it has: nested, sub", "did you mean 'sub'?"],
        ),
        ("${params.limit.x}", ["params.limit is not a mapping (int), so it has no key 'x'"]),
        ("${params.items.5}", ["params.items has 2 items, no item 5"]),
        ("${params.items.x}", ["params.items is not a mapping (a list: index it with a number)"]),
        ("${params}", ["${params} needs a param name"]),
        ("${env.NOPE}", ["environment variable 'NOPE' is not set", "${env.NOPE:-value}"]),
        ("${outputs.extrct.rows}", ["no outputs from task 'extrct'", "did you mean 'extract'?"]),
        (
            "${outputs.extract.rws}",
            ["task 'extract' has no output 'rws'", "known: meta, path, rows", "did you mean 'rows'?"],
        ),
        ("${outputs.extract}", ["needs a task id and an output key"]),
        ("${param.x}", ["unknown namespace 'param'", "did you mean 'params'?"]),
        ("${param.x:-d}", ["unknown namespace 'param'"]),  # a default does not hide a typo in the namespace
        ("${dag.nme}", ["no value for 'dag.nme'", "known: attempt, dag.name"]),
    ],
)
def test_render_errors_say_what_is_missing_and_what_exists(text, fragments):
    with pytest.raises(TemplateError) as err:
        render(text, CTX)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_render_reports_missing_logical_date_with_available_context():
    with pytest.raises(TemplateError, match=r"no value for 'logical_date'.*known: attempt"):
        render("${logical_date}", make_ctx(extra={"attempt": 1}))


def test_render_accepts_extra_context_keys_beyond_the_builtin_ones():
    assert render("${scheduled.slot}", make_ctx(extra={"scheduled": {"slot": "s1"}})) == "s1"


# ---------------------------------------------------------------------------------------------- render_argv


def test_render_argv_keeps_each_element_one_argument_without_quoting():
    ctx = make_ctx(outputs={"a": {"x": "two words; rm -rf /"}})
    argv = ["echo", "${outputs.a.x}", "--n=${params.limit}", "$${literal}"]
    assert render_argv(argv, ctx) == ["echo", "two words; rm -rf /", "--n=5", "${literal}"]


def test_render_argv_accepts_tuples_and_refuses_a_plain_string():
    assert render_argv(("a", "${run_id}"), CTX) == ["a", "r-123"]
    with pytest.raises(TypeError, match="use render"):
        render_argv("echo ${run_id}", CTX)


# --------------------------------------------------------------------------------------------- render_value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("${params.limit}", 5),
        ("${params.ratio}", 0.5),
        ("${params.flag}", True),
        ("${params.nothing}", None),
        ("${params.cfg}", {"sub": "deep", "nested": {"x": 1}}),
        ("${params.items}", ["zero", "one"]),
        ("${outputs.extract.rows}", 42),
        ("${params.missing:-3}", "3"),  # a default is text
        ("n=${params.limit}", "n=5"),
        (" ${params.limit}", " 5"),
        ("${params.limit}${params.limit}", "55"),
        ("$${params.limit}", "${params.limit}"),
        ("plain", "plain"),
        (7, 7),
        (None, None),
        (False, False),
    ],
)
def test_render_value_keeps_type_only_for_a_lone_reference(value, expected):
    result = render_value(value, CTX)
    assert result == expected
    assert type(result) is type(expected)


def test_render_value_walks_dicts_lists_and_tuples_but_not_keys():
    value = {"${params.date}": ["${params.limit}", ("${run_id}", 1)], "n": {"deep": "x-${params.limit}"}}
    assert render_value(value, CTX) == {"${params.date}": [5, ("r-123", 1)], "n": {"deep": "x-5"}}


def test_render_value_returns_copies_not_the_context_objects():
    ctx = make_ctx()
    result = render_value("${params.cfg}", ctx)
    result["sub"] = "changed"
    assert ctx.params["cfg"]["sub"] == "deep"


# ------------------------------------------------------------------------------------------- shell quoting


SHELLS = [path for path in (shutil.which("sh"), shutil.which("bash")) if path]

NASTY = [
    "",
    "plain",
    "two words",
    "it's",
    'say "hi"',
    "$(touch PWNED)",
    "`touch PWNED`",
    "; touch PWNED",
    "&& touch PWNED || touch PWNED",
    "> PWNED",
    "$HOME ${HOME} $1 $$",
    "a\\b\\",
    "\\'",
    "'\"'\"",
    "line1\nline2",
    "*",
    "~",
    "-n",
    "é ✓",
    "$'x'",
    "!x",
    "#not a comment",
    "a}b{",
    "\t tab",
    "x[$(touch PWNED)]",
    "a[$(touch PWNED)]=1",
    "-v",
]

# (template, text printed around the value); values from $( ) lose trailing newlines, as in any shell
TEMPLATES: list[tuple[str, str]] = [
    ("printf '%s|' ${outputs.a.x}", "{}|"),
    ("printf '%s|' \"${outputs.a.x}\"", "{}|"),
    ("printf '%s|' '${outputs.a.x}'", "{}|"),
    ("printf '%s|' \"pre ${outputs.a.x} post\"", "pre {} post|"),
    ("printf '%s|' 'pre ${outputs.a.x} post'", "pre {} post|"),
    ("printf '%s|' pre${outputs.a.x}post", "pre{}post|"),
    ("printf '%s|' \"$(printf '%s' ${outputs.a.x})\"", "$({})|"),
    ("printf '%s|' \"$(printf '%s' \"${outputs.a.x}\")\"", "$({})|"),
    ("X=${outputs.a.x}; printf '%s|' \"$X\"", "{}|"),
    ("# it's a comment\nprintf '%s|' ${outputs.a.x}", "{}|"),
    ("printf '%s|' \"it's\" ${outputs.a.x}", "it's|{}|"),
    ("printf '%s|' 'say \"' ${outputs.a.x}", 'say "|{}|'),
    ("printf '%s|' \\' ${outputs.a.x}", "'|{}|"),
    ("printf '%s|' $${HOME:+} ${outputs.a.x}", "{}|"),  # ${HOME:+} expands to nothing and vanishes
]


def _expected(shape: str, value: str) -> str:
    if shape.startswith("$("):
        return shape[2:].replace("{})", value.rstrip("\n"))
    return shape.replace("{}", value)


@pytest.mark.skipif(not SHELLS, reason="no POSIX shell on this machine")
@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(("template", "shape"), TEMPLATES)
def test_shell_quoted_values_reach_the_command_as_exact_literals(shell, template, shape, tmp_path):
    script = "\n".join(
        render(template, make_ctx(outputs={"a": {"x": value}}), shell_quote=True) + "\necho" for value in NASTY
    )
    result = subprocess.run([shell, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    expected = "".join(_expected(shape, value) + "\n" for value in NASTY)
    assert result.stdout == expected
    assert not (tmp_path / "PWNED").exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not shutil.which("sh"), reason="no /bin/sh")
def test_shell_quote_blocks_command_injection_from_an_output(tmp_path: Path):
    marker = tmp_path / "pwned"
    value = f"$(touch {marker}); y"
    ctx = make_ctx(outputs={"a": {"x": value}})
    command = render("echo ${outputs.a.x}", ctx, shell_quote=True)
    result = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=10)
    assert result.stdout == value + "\n"
    assert not marker.exists()
    # without quoting the same command would run the payload: the test above is not vacuous
    subprocess.run(["/bin/sh", "-c", render("echo ${outputs.a.x}", ctx)], capture_output=True, timeout=10)
    assert marker.exists()


@pytest.mark.skipif(not SHELLS, reason="no POSIX shell on this machine")
@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    "template",
    [
        "# note: ${outputs.a.x}\nprintf ok",  # a newline in the value must not end the comment
        'printf "%s" "$$(${outputs.a.x}"; printf ok',  # $$ is one token, so "( " is still inside "..."
        "printf '%s' $? ${outputs.a.x} $# ; printf ok",
    ],
)
def test_shell_quote_regressions_found_by_fuzzing(shell, template, tmp_path):
    for value in ["\ntouch PWNED\n", "\\'; touch PWNED #", "')\ntouch PWNED\n('"]:
        command = render(template, make_ctx(outputs={"a": {"x": value}}), shell_quote=True)
        subprocess.run([shell, "-c", command], cwd=tmp_path, capture_output=True, timeout=10)
        assert not (tmp_path / "PWNED").exists(), command


@pytest.mark.skipif(not shutil.which("sh"), reason="no /bin/sh")
def test_shell_quote_never_lets_a_value_run_in_random_templates(tmp_path: Path):
    import random

    rng = random.Random(20240601)
    fragments = [
        "'",
        '"',
        "\\",
        "$(",
        ")",
        "`",
        " ",
        "#",
        "\n",
        "<<",
        "$${",
        "}",
        "case ",
        "echo ",
        "$$",
        "$#",
    ]
    fragments += [";", "$", "((", "(", "$'", "{", "|", "&", "=", "x=", "esac", " in ", "*", "a"]
    payloads = [
        "$(touch PWNED)",
        "`touch PWNED`",
        "'; touch PWNED; '",
        '"; touch PWNED; "',
        "\\'; touch PWNED #",
    ]
    payloads += [")\ntouch PWNED\n(", "\ntouch PWNED\n", '\\"; touch PWNED #']
    accepted = 0
    for _ in range(300):
        parts = [rng.choice(fragments) for _ in range(rng.randint(0, 8))]
        parts.insert(rng.randint(0, len(parts)), "${outputs.a.x}")
        try:
            command = render("".join(parts), make_ctx(outputs={"a": {"x": rng.choice(payloads)}}), shell_quote=True)
        except TemplateError:
            continue
        accepted += 1
        subprocess.run(
            ["/bin/sh", "-c", command],
            cwd=tmp_path,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=10,
        )
        assert not (tmp_path / "PWNED").exists(), command
    assert accepted > 150  # most random templates are quotable, so the loop really ran commands


def test_shell_quote_quotes_for_the_context_it_lands_in():
    ctx = make_ctx(outputs={"a": {"x": "a'b\"$c"}})
    assert render("echo ${outputs.a.x}", ctx, shell_quote=True) == "echo 'a'\"'\"'b\"$c'"
    assert render("echo '${outputs.a.x}'", ctx, shell_quote=True) == "echo 'a'\\''b\"$c'"
    assert render('echo "${outputs.a.x}"', ctx, shell_quote=True) == 'echo "a\'b\\"\\$c"'


def test_shell_quote_applies_to_defaults_too():
    assert render("echo ${env.NOPE:-a b}", CTX, shell_quote=True) == "echo 'a b'"


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("echo `echo ${run_id}`", "after a backtick"),
        ("echo `date` ${run_id}", "after a backtick"),
        ("cat <<EOF\n${run_id}\nEOF", "after a here-document (<<), before the line EOF that ends it"),
        ("cat <<-'END'\nx\n\t${run_id}\nEND", "after a here-document (<<), before the line END that ends it"),
        ("cat <<EOF\nEOFX\n${run_id}\nEOF", "after a here-document (<<), before the line EOF that ends it"),
        ("cat <<< ${run_id}", "after a here-string (<<<)"),
        ("echo $((1 + ${params.limit}))", "after $(( )), before the )) that ends it"),
        ("echo $(( (1) + $(echo ${run_id}) ))", "after $(( )), before the )) that ends it"),
        ("(( x = ${params.limit} ))", "after (( )), before the )) that ends it"),
        ("echo $'x ${run_id}'", "after $'...', before the ' that ends it"),
        ("echo $${X:-${run_id}}", "inside a shell ${...}"),
        ("echo $${X:-'a'} ${run_id}", "after quoting inside a shell ${...}"),
        ("echo \\${run_id}", "follows a backslash"),
        ('echo "\\${run_id}"', "follows a backslash"),
        ("echo $(case a in a) echo ${run_id};; esac)", "after 'case' inside $( )"),
        ("x=(${run_id} b)", "after a bash array assignment =( ), before the ) that ends it"),
        ('x=(a "${run_id}")', "after a bash array assignment =( ), before the ) that ends it"),
        ("cat <<EOF # ${run_id}\nEOF", "in a comment on the line of a here-document (<<)"),
    ],
)
def test_shell_quote_refuses_contexts_it_cannot_read(template, fragment):
    with pytest.raises(TemplateError) as err:
        render(template, CTX, shell_quote=True)
    assert fragment in str(err.value)
    assert "pass the value through env:" in str(err.value)
    assert render(template, CTX)  # without shell quoting the same text renders


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("echo $'it\\'s' ${run_id}", "after \\' inside $'...'"),  # bash and sh end it at different quotes
        ("cat <<EOF\n$(date)\nEOF\necho ${run_id}", "after a command substitution inside a here-document"),
        ("cat <<EOF\na\\\nEOF\nEOF\necho ${run_id}", "after a backslash at the end of a here-document line"),
        ("echo $(cat <<EOF\nx\nEOF)\necho ${run_id}", "after a here-document line 'EOF)' that nearly ends it"),
        ("cat <<$$X\nx\n$$X\necho ${run_id}", "after a here-document (<<) with a delimiter dagctl cannot read"),
        ("cat <<EOF${run_id}\nx\nEOF", "after a here-document (<<) with a delimiter dagctl cannot read"),
        ("echo $(cat <<EOF) ${run_id}", "after a here-document (<<) inside $( ) that ends before its body"),
        ("cat <<EOF; x=(a\nb)\nEOF\necho ${run_id}", "after a line break inside a command that has a here-document"),
        ("echo $((a)+(b)) ${run_id}", "after $(( )) that is not ended by ))"),
        ("echo $(( 'a' )) ${run_id}", 'after "\'" inside $(( ))'),
        ("((echo a); echo b) ${run_id}", "after (( )) that is not ended by ))"),
        ("(( x = 1 << 2 ))\necho ${run_id}", "after << inside (( ))"),
        ("x=(a; b) ${run_id}", "after ';' inside a bash array assignment =( )"),
    ],
)
def test_shell_quote_gives_up_where_sh_and_bash_could_read_a_construct_differently(template, fragment):
    with pytest.raises(TemplateError) as err:
        render(template, CTX, shell_quote=True)
    assert fragment in str(err.value)
    problems = reference_problems(template, params=PARAMS, upstream=UPSTREAM, task_ids=TASK_IDS, shell=True)
    assert [problem for problem in problems if fragment in problem]


# Where bash evaluates even a quoted value as arithmetic or as a variable name, running any $( ) in an array
# subscript of it: (template, what the refusal says, the value of ${outputs.a.x}); ${outputs.a.v} is "-v"
EVALUATED: list[tuple[str, str, str]] = [
    ("[[ ${outputs.a.x} -eq 1 ]]", "it is inside [[ ]]", "x[$(touch PWNED)]"),
    ("if [[ -v ${outputs.a.x} ]]; then :; fi", "it is inside [[ ]]", "x[$(touch PWNED)]"),
    ("[[ $(echo ${outputs.a.x}) -gt 0 ]] && echo", "it is inside [[ ]]", "x[$(touch PWNED)]"),
    ("[[ ${outputs.a.x} -lt 3 ]] || :", "it is inside [[ ]]", "x[$(touch PWNED)]"),
    ("let ${outputs.a.x}", "it is an argument of let", "x[$(touch PWNED)]"),
    ("let n=${outputs.a.x}+1", "it is an argument of let", "x[$(touch PWNED)]"),
    ("2>/dev/null let ${outputs.a.x}", "it is an argument of let", "x[$(touch PWNED)]"),
    ("true && let n=1 >&2 ${outputs.a.x}", "it is an argument of let", "x[$(touch PWNED)]"),
    ('"let" ${outputs.a.x}', "it is an argument of let", "x[$(touch PWNED)]"),
    ("$'let' ${outputs.a.x}", "it is an argument of let", "x[$(touch PWNED)]"),
    (">|/dev/null {fd}>/dev/null let ${outputs.a.x}", "it is an argument of let", "x[$(touch PWNED)]"),
    ("0<<-EOF let ${outputs.a.x}\n\tEOF", "it is an argument of let", "x[$(touch PWNED)]"),
    ("function f { let ${outputs.a.x}; }; f", "it is an argument of let", "x[$(touch PWNED)]"),
    ('echo "$(let ${outputs.a.x})"', "it is an argument of let", "x[$(touch PWNED)]"),
    ("declare -i n=${outputs.a.x}", "it is an argument of declare", "x[$(touch PWNED)]"),
    ("builtin typeset -i n=${outputs.a.x}", "it is an argument of typeset", "x[$(touch PWNED)]"),
    ("f() { local -i n=${outputs.a.x}; }; f", "it is an argument of local", "x[$(touch PWNED)]"),
    ('declare -n r=${outputs.a.x}; echo "$r"', "it is an argument of declare", "x[$(touch PWNED)]"),
    ("x=(); declare x=${outputs.a.x}", "it is an argument of declare", "([$(touch PWNED)]=1)"),
    ("x=(1); unset ${outputs.a.x}", "it is an argument of unset", "x[$(touch PWNED)]"),
    ("echo a | read ${outputs.a.x}", "it is an argument of read", "x[$(touch PWNED)]"),
    ("echo a | mapfile -C ${outputs.a.x} -c 1", "it is an argument of mapfile", "touch PWNED"),
    ("printf -v ${outputs.a.x} %s 1", "it is an argument of printf -v", "x[$(touch PWNED)]"),
    ("printf -v OPTIND %s ${outputs.a.x}", "it is an argument of printf -v", "x[$(touch PWNED)]"),
    ("arr[${outputs.a.x}]=1", "it is inside an array subscript name[ ]", "x[$(touch PWNED)]"),
    ("arr[1+${outputs.a.x}]+=1", "it is inside an array subscript name[ ]", "x[$(touch PWNED)]"),
    ("[ -v ${outputs.a.x} ]", "it follows -v in [", "x[$(touch PWNED)]"),
    ("test -v ${outputs.a.x}", "it follows -v in test", "x[$(touch PWNED)]"),
    ("[ ${outputs.a.v} ${outputs.a.x} ]", "it follows an expansion (maybe -v) in [", "x[$(touch PWNED)]"),
    ("export ${outputs.a.x}; set -x; true", "it is in a variable name of export", "PS4=$(touch PWNED)"),
    ("RANDOM=${outputs.a.x}", "it is assigned to RANDOM (an integer)", "x[$(touch PWNED)]"),
    ("export OPTIND=${outputs.a.x}", "it is assigned to OPTIND (an integer)", "x[$(touch PWNED)]"),
    ("for OPTIND in ${outputs.a.x}; do :; done", "it is assigned to the loop variable OPTIND", "x[$(touch PWNED)]"),
    ("declare -i n; n=${outputs.a.x}", "it is assigned to n (after declare -i)", "x[$(touch PWNED)]"),
    ("declare -ai a; i=0; a[$i]=${outputs.a.x}", "it is assigned to a (after declare -ai)", "x[$(touch PWNED)]"),
    ("typeset -ri n=$(echo ${outputs.a.x})", "it is an argument of typeset", "x[$(touch PWNED)]"),
    ("declare -i n; n=$(echo ${outputs.a.x})", "it is assigned to n (after declare -i)", "x[$(touch PWNED)]"),
    ("declare -i n; for n in ${outputs.a.x}; do :; done", "assigned to the loop variable n", "x[$(touch PWNED)]"),
]


@pytest.mark.skipif(not shutil.which("bash"), reason="needs bash")
@pytest.mark.parametrize(("template", "fragment", "value"), EVALUATED)
def test_shell_quote_refuses_where_bash_evaluates_a_value(template, fragment, value, tmp_path, monkeypatch):
    ctx = make_ctx(outputs={"a": {"x": value, "v": "-v"}})
    with pytest.raises(TemplateError) as err:
        render(template, ctx, shell_quote=True)
    assert fragment in str(err.value)
    assert "where bash evaluates a value as arithmetic or as a name" in str(err.value)
    hints = ["pass the value through env:", "use [ ]", "assign the value on its own: local x; x=${outputs.a.x}"]
    assert [hint for hint in hints if hint in str(err.value)]
    problems = reference_problems(template, params=[], upstream=["a"], task_ids=["a"], shell=True)
    assert [problem for problem in problems if fragment in problem]
    # without the refusal the value would be quoted as anywhere else, and bash would run the payload
    monkeypatch.setattr(ShellContext, "_evaluated", lambda self: None)
    command = render(template, ctx, shell_quote=True)
    subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, stdin=subprocess.DEVNULL, timeout=10)
    assert (tmp_path / "PWNED").exists(), command


@pytest.mark.skipif(not shutil.which("bash"), reason="needs bash")
def test_shell_quote_gives_up_after_old_bash_arithmetic(tmp_path):
    with pytest.raises(TemplateError, match=r"after \$\[ \]"):
        render('echo "$[ ${outputs.a.x} ]"', make_ctx(outputs={"a": {"x": "x"}}), shell_quote=True)
    assert reference_problems("echo $[1] ${run_id}", params=[], upstream=[], task_ids=[], shell=True)
    # what quoting alone would give: bash evaluates $[ ] as $(( ))
    subprocess.run(["bash", "-c", "echo $[ 'x[$(touch PWNED)]' ]"], cwd=tmp_path, capture_output=True, timeout=10)
    assert (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    "template",
    ['[[ "${run_id}" == x ]]', 'a["${run_id}"]=1', 'let "n=${run_id}"', "[ -v \"$(echo '${run_id}')\" ]"],
)
def test_shell_quote_refuses_where_bash_evaluates_a_value_even_in_quotes(template):
    # bash 5.2 happens not to run a $( ) escaped inside double quotes here (it does inside single quotes): refused
    with pytest.raises(TemplateError, match="where bash evaluates a value"):
        render(template, CTX, shell_quote=True)


def test_shell_quote_says_how_to_compare_instead_of_in_double_brackets():
    with pytest.raises(TemplateError) as err:
        render("[[ ${params.limit} -gt 3 ]] && echo big", CTX, shell_quote=True)
    assert str(err.value) == (
        "cannot shell-quote ${params.limit} at column 4: it is inside [[ ]], where bash evaluates a value as "
        "arithmetic or as a name, running any $( ) in it (as in x[$(cmd)]) — use [ ], which does not evaluate "
        'values: [ ${params.limit} -eq 1 ], or with env: {A: ${params.limit}}, [ "$A" -eq 1 ]'
    )
    with pytest.raises(TemplateError) as err:
        render("echo $(( ${params.limit} + 1 ))", CTX, shell_quote=True)
    assert err.value.hint == (
        'bash evaluates even "$NAME" here, so check it ([ "$NAME" -eq "$NAME" ] || exit 1), '
        'pass the value through env: and use "$NAME"'
    )


# (template, text printed around the value, whether only bash can run it): after a construct ends, a
# reference is quoted for where it lands as anywhere else
AFTER_CONSTRUCTS: list[tuple[str, str, bool]] = [
    ("echo $((1 + 2)); printf '%s|' ${outputs.a.x}", "3\n{}|", False),
    ("printf '%s|' $(( (1 << 2) * $(echo 2) )) \"${outputs.a.x}\"", "8|{}|", False),
    ("printf '%s|' $((1+2))'${outputs.a.x}'", "3{}|", False),
    ("cat <<EOF\nhello\nEOF\nprintf '%s|' ${outputs.a.x}", "hello\n{}|", False),
    (
        "cat <<'EOF'\n$HOME 'q' \"d\" `x` $(x) \\\nEOF\nprintf '%s|' ${outputs.a.x}",
        "$HOME 'q' \"d\" `x` $(x) \\\n{}|",
        False,
    ),
    ("cat <<-EOF\n\tindented $${NOPE:-dflt}\n\tEOF\nprintf '%s|' \"${outputs.a.x}\"", "indented dflt\n{}|", False),
    ("cat <<A; cat <<'B'\na\nA\nb\nB\nprintf '%s|' '${outputs.a.x}'", "a\nb\n{}|", False),
    ("cat <<E\"O\"F # it's a comment\nEOF)x\nEOF\nprintf '%s|' ${outputs.a.x}", "EOF)x\n{}|", False),
    ("printf '%s|' \"$(cat <<EOF\nin\nEOF\n)\" ${outputs.a.x}", "in|{}|", False),
    ("printf '%s|' ${outputs.a.x} <<EOF\nignored\nEOF", "{}|", False),
    ("x=(1 '2 3' # note\n  4); printf '%s|' \"$${x[1]}\" ${outputs.a.x}", "2 3|{}|", True),
    ("printf '%s|' $'tab\\there' ${outputs.a.x}", "tab\there|{}|", True),
    ("printf '%s|' $'a\\\\' \"${outputs.a.x}\"", "a\\|{}|", True),
    ("(( x = (1 + 2) * 2 )); printf '%s|' $x ${outputs.a.x}", "6|{}|", True),
    ("[ ${outputs.a.x} -eq 1 ] 2>/dev/null; test ${outputs.a.x} -lt 3 2>&-; printf '%s|' ${outputs.a.x}", "{}|", False),
    ("[ -n ${outputs.a.x} ] || [ x = ${outputs.a.x} ] || :; printf '%s|' ${outputs.a.x}", "{}|", False),
    ('export X=${outputs.a.x}; (readonly Y="${outputs.a.x}"; printf \'%s|\' "$X" "$Y")', "{}|{}|", False),
    ("for v in ${outputs.a.x}; do printf '%s|' \"$v\"; done", "{}|", False),
    ("[[ -n x ]] && printf '%s|' ${outputs.a.x}", "{}|", True),
    ("a[1]=${outputs.a.x}; printf '%s|' \"$${a[1]}\"", "{}|", True),
    ("declare -i n=2; let n+=1; printf '%s|' $n ${outputs.a.x}", "3|{}|", True),
    ("printf -v y %s 1; printf '%s|' \"$y\" ${outputs.a.x}", "1|{}|", True),
    ("f() { local n=1; printf '%s|' $n \"$1\"; }; f ${outputs.a.x}", "1|{}|", True),
    ("y=(1); f() { local y; y=${outputs.a.x}; printf '%s|' \"$y\"; }; f", "{}|", True),  # what the hint says
]


@pytest.mark.skipif(not SHELLS, reason="no POSIX shell on this machine")
@pytest.mark.parametrize(
    ("shell", "template", "shape"),
    [
        (shell, template, shape)
        for template, shape, bash_only in AFTER_CONSTRUCTS
        for shell in SHELLS
        if not bash_only or shell.endswith("bash")
    ],
)
def test_shell_quote_resumes_after_a_construct_ends(shell, template, shape, tmp_path):
    assert reference_problems(template, params=[], upstream=["a"], task_ids=["a"], shell=True) == []
    script = "\n".join(
        render(template, make_ctx(outputs={"a": {"x": value}}), shell_quote=True) + "\necho" for value in NASTY
    )
    result = subprocess.run([shell, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "".join(shape.replace("{}", value) + "\n" for value in NASTY)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "text",
    [
        "echo $((1 + 2)); echo ${params.date}",
        "x=(1 2); echo ${params.date}",
        "echo $'tab\\there'; echo ${params.date}",
        "cat <<EOF\nhello\nEOF\necho ${params.date}",
    ],
)
def test_reference_problems_accepts_a_reference_after_a_construct_ended(text):
    assert reference_problems(text, params=PARAMS, upstream=UPSTREAM, task_ids=TASK_IDS, shell=True) == []
    assert render(text, make_ctx(params={"date": "a b"}), shell_quote=True).endswith("echo 'a b'")


@pytest.mark.skipif(not (shutil.which("sh") and shutil.which("bash")), reason="needs sh and bash")
def test_shell_quote_never_lets_a_value_run_around_constructs_in_sh_or_bash(tmp_path: Path):
    import random

    rng = random.Random(20260601)
    ref = "${outputs.a.x}"

    def some(bits: list[str]) -> str:
        return "".join(rng.choice(bits) for _ in range(rng.randint(0, 5)))

    def heredoc() -> str:
        word = rng.choice(["EOF", "'EOF'", "-EOF", '"EOF"', "\\EOF", "$$X", ""])
        tail = rng.choice(["", f" {ref}", " # it's", f" # {ref}", "; cat <<B\nb\nB", ' "a\nb"', ")"])
        body = [some(["a", " ", "'", '"', "$(", ")", "$${", "}", "`", "\\", "\n", "EOF", "EOF)", "\tEOF", ref])]
        return f"cat <<{word}{tail}\n" + "\n".join(body) + rng.choice(["\nEOF\n", "\n\tEOF\n", "\nEOF)\n", "\n"])

    arith = ["1", "+", "(", ")", ref, "$$x", "$(echo 1)", "'", "<<", " ", "\n", ";", "))"]
    constructs = [
        heredoc,
        lambda: "echo $((" + some(arith) + "))",
        lambda: "((" + some(arith) + "))",
        lambda: "echo $'" + some(["a", "\\'", "\\\\", "'", ref, "\n", "$("]) + "'",
        lambda: "x=(" + some(["a", " ", "'b c'", "(", ")", "#c\n", "$(echo e)", ref, ";"]) + ")",
        lambda: rng.choice([f"printf '%s|' {ref}", f'echo "{ref}"', f"echo '{ref}'", f"# {ref}", f"echo $({ref})"]),
        lambda: rng.choice(["'", '"', "(", ")", "\\", "$(", "#", "<<", "$'", "=", "\n"]),
        # where bash evaluates a value as arithmetic or as a name (x[$(cmd)] runs cmd), and what resembles them
        lambda: (
            rng.choice(evaluating)
            + rng.choice([ref, f"{ref} -eq 1 ]]", f"1 {ref}", f"$(echo {ref})", "x"])
            + some([ref, " ", "1", "-eq ", "]", "]]", "'", '"', "$(", ")", "=", "a["])
        ),
    ]
    evaluating = ["[[ ", "let ", "declare -i v=", "declare -i v; v=", "local ", "a[", "echo $[ ", "read ", "[ -v "]
    evaluating += ["test ", "[ ", "printf -v ", "unset ", "export ", "RANDOM=", "for OPTIND in ", "x=(1); ", "2>&1 "]
    payloads = ["$(touch PWNED)", "`touch PWNED`", "'; touch PWNED; '", "\\'; touch PWNED #", "\nEOF\ntouch PWNED\n"]
    payloads += ["x\n$(touch PWNED)\nEOF", "))\ntouch PWNED\n", ")); touch PWNED; ((", "\nB\ntouch PWNED\n"]
    payloads += ["x[$(touch PWNED)]", "a[$(touch PWNED)]=1", "-v", "([$(touch PWNED)]=1)"]
    accepted = 0
    for _ in range(300):
        text = "".join(rng.choice(constructs)() + rng.choice(["\n", "; "]) for _ in range(rng.randint(1, 4)))
        try:
            command = render(text, make_ctx(outputs={"a": {"x": rng.choice(payloads)}}), shell_quote=True)
        except TemplateError:
            continue
        accepted += ref in text
        for shell in ("sh", "bash"):
            subprocess.run(
                [shell, "-c", command], cwd=tmp_path, capture_output=True, stdin=subprocess.DEVNULL, timeout=10
            )
            assert not (tmp_path / "PWNED").exists(), (shell, text)
    assert accepted > 50  # many of the texts hold a reference that was quoted and run


def test_shell_quote_leaves_text_without_references_alone():
    text = "echo `date` $((1+2)) <<EOF"
    assert render(text, CTX, shell_quote=True) == text


# --------------------------------------------------------------------------------------- reference_problems


PARAMS = ["date", "limit", "cfg"]
TASK_IDS = ["extract", "transform", "build.linux", "my-task", "load"]
UPSTREAM = ["extract", "build.linux", "my-task"]


@pytest.mark.parametrize(
    "text",
    [
        "echo ${params.date} ${params.cfg.sub} ${env.ANY} ${run_id} ${logical_date} ${attempt}",
        "${dag.name} ${task.id} ${outputs.extract.rows} ${outputs.build.linux.status} ${outputs.my-task.k}",
        "${params.limit:-3} $${not.checked} $HOME",
        "${env.UNSET:-default}",
    ],
)
def test_reference_problems_accepts_valid_references(text):
    assert reference_problems(text, params=PARAMS, upstream=UPSTREAM, task_ids=TASK_IDS) == []


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("${params.dat}", ["unknown param 'dat'", "known: cfg, date, limit", "did you mean 'date'?"]),
        ("${params.zzz}", ["unknown param 'zzz'", "declare it under params:"]),
        ("${params.zzz:-1}", ["unknown param 'zzz'"]),
        (
            "${outputs.transform.x}",
            ["reads outputs of task 'transform'", "not upstream", "add 'transform' to depends_on"],
        ),
        ("${outputs.extrat.rows}", ["unknown task 'extrat'", "did you mean 'extract'?"]),
        ("${outputs.extract}", ["needs a task id and an output key"]),
        ("${foo.bar}", ["unknown namespace 'foo'", "known: params, env, outputs"]),
        ("${parms.x}", ["did you mean 'params'?"]),
        ("${dag.nme}", ["unknown reference ${dag.nme}", "did you mean ${dag.name}?"]),
        ("${run_id.x}", ["did you mean ${run_id}?"]),
        ("${env}", ["needs a variable name"]),
        ("echo ${params.x", ["unclosed reference"]),
        ("${params.dat} and ${outputs.load.x}", ["at column 1", "at column 19"]),
    ],
)
def test_reference_problems_reports_each_problem_with_a_fix(text, fragments):
    problems = reference_problems(text, params=PARAMS, upstream=UPSTREAM, task_ids=TASK_IDS)
    assert problems
    joined = "\n".join(problems)
    for fragment in fragments:
        assert fragment in joined


def test_reference_problems_lists_every_problem():
    text = "${params.nope} ${outputs.load.x} ${wat}"
    assert len(reference_problems(text, params=PARAMS, upstream=UPSTREAM, task_ids=TASK_IDS)) == 3


def test_reference_problems_matches_dotted_task_ids_longest_first():
    problems = reference_problems(
        "${outputs.build.linux.status}", params=[], upstream=["build"], task_ids=["build", "build.linux"]
    )
    assert problems == [
        "${outputs.build.linux.status} at column 1 reads outputs of task 'build.linux', "
        "which is not upstream of this task — add 'build.linux' to depends_on"
    ]
