"""What operators rely on around a run: secrets never written anywhere, .env files, typed params,
preconditions, failures that do not fail the run, retries only for some exit codes, handlers after the run,
and notifications received by a real HTTP server."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest

from dagctl.errors import UsageError
from tests.support import wait_until

SECRET = "s3cr3t-Value-42"


def _everything_written(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def test_a_secret_reaches_the_task_and_no_output_of_dagctl(proj, cli, monkeypatch) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET)
    (proj.folder / "db.pass").write_text("hunter2-long\n")
    proj.write(
        "s.yaml",
        """
        name: s
        secrets: {TOKEN: {from_env: API_TOKEN}}
        tasks:
          - id: use
            secrets: {DB_PASS: {from_file: db.pass}}
            run: 'echo "token=$TOKEN pass=$DB_PASS"; test $${#TOKEN} -eq 15 && test $${#DB_PASS} -eq 12'
          - {id: leak, run: 'echo "oops $TOKEN" >&2; echo "x=$TOKEN" > $DAGCTL_OUTPUT; exit 3'}
        """,
    )
    result = cli("run", "s.yaml", "--json")
    assert result.code == 1
    assert result.err + result.out and SECRET not in result.out + result.err
    run_id = json.loads(result.out)["run_id"]
    shown = cli("show", run_id, "--json")
    assert json.loads(shown.out)["tasks"]["use"]["status"] == "success"  # the task had the real values
    logs = cli("logs", run_id, "use")
    assert "token=*** pass=***" in logs.out
    written = _everything_written(proj.folder / "logs")
    assert SECRET not in written and "hunter2-long" not in written and SECRET not in shown.out
    assert "***" in cli("logs", run_id, "leak").out


def test_an_isolated_python_task_leaves_no_secret_in_the_run_folder(proj, cli, monkeypatch) -> None:
    """A Python task in its own process got its environment through a request file in the run folder, which was
    kept with the secret in it, next to the unmasked text of its exception."""
    monkeypatch.setenv("API_TOKEN", SECRET)
    (proj.folder / "steps.py").write_text(
        "import os\n\ndef use():\n    raise RuntimeError('bad token ' + os.environ['TOKEN'])\n"
    )
    proj.write(
        "iso.yaml",
        """
        name: iso
        secrets: {TOKEN: {from_env: API_TOKEN}}
        tasks:
          - {id: use, python: "steps:use", isolation: process}
        """,
    )
    result = cli("run", "iso.yaml", "--json")
    assert result.code == 1, result.err
    assert json.loads(result.out)["tasks"]["use"]["error"].endswith("bad token ***")
    assert SECRET not in _everything_written(proj.folder / "logs")


def test_a_missing_secret_stops_the_run_before_any_task(proj) -> None:
    proj.write("m.yaml", "name: m\nsecrets: {T: {from_env: NOT_SET_ANYWHERE}}\ntasks:\n  - {id: a, run: 'touch ran'}\n")
    with pytest.raises(UsageError, match="secret T: environment variable NOT_SET_ANYWHERE is not set"):
        proj.run("m.yaml")
    assert not (proj.folder / "ran").exists()


def test_env_files_come_before_env_and_the_command_line_adds_more(proj, cli) -> None:
    (proj.folder / "base.env").write_text("A=from-file\nB=from-file\n")
    (proj.folder / "extra.env").write_text('C="quoted value"\n')
    proj.write(
        "e.yaml",
        """
        name: e
        env_file: base.env
        env: {B: from-env}
        tasks: [{id: t, run: 'echo "a=$A" "b=$B" "c=$C" > $DAGCTL_OUTPUT'}]
        """,
    )
    result = cli("run", "e.yaml", "--env-file", "extra.env", "--json")
    assert result.code == 0, result.err
    outputs = json.loads(cli("show", "latest", "--json").out)
    assert outputs is not None
    run_dir = Path(json.loads(result.out)["run_dir"])
    assert json.loads((run_dir / "outputs" / "t.json").read_text()) == {"a": "from-file b=from-env c=quoted value"}


def test_a_line_of_an_env_file_that_is_not_name_value_is_named_before_anything_runs(proj, cli) -> None:
    (proj.folder / "bad.env").write_text("A=1\nthis is not a variable\nB=2\n")
    proj.write("e.yaml", "name: e\nenv_file: bad.env\ntasks: [{id: t, run: 'touch ran'}]\n")
    result = cli("run", "e.yaml", "-q")
    assert result.code == 2
    assert result.err.strip().startswith(f"dagctl: error: {proj.folder / 'bad.env'}:2: env file line is not NAME=value")
    assert not (proj.folder / "ran").exists()


def test_typed_params_are_converted_and_checked_at_start(proj, cli) -> None:
    proj.write(
        "p.yaml",
        """
        name: p
        params:
          rows: {type: int, default: 200, min: 1}
          mode: {enum: [fast, full], default: fast}
          day: {type: date, required: true}
          plain: 3
        tasks:
          - id: t
            python: steps:show
            params: {rows: "${params.rows}", mode: "${params.mode}", day: "${params.day}", plain: "${params.plain}"}
        """,
    )
    proj.write("steps.py", "def show(rows, mode, day, plain):\n    return {'got': [rows, mode, day, plain]}\n")
    assert cli("run", "p.yaml", "-q", "-p", "day=2026-12-06", "-p", "rows=7").code == 0
    run_dir = next((proj.folder / "logs" / "runs").iterdir())
    assert json.loads((run_dir / "outputs" / "t.json").read_text()) == {"got": [7, "fast", "2026-12-06", 3]}
    for args, message in (
        ((), "param 'day' is required"),
        (("-p", "day=tomorrow"), "param 'day' must be a date"),
        (("-p", "day=2026-01-01", "-p", "rows=0"), "param 'rows' must be at least 1"),
        (("-p", "day=2026-01-01", "-p", "mode=slow"), "param 'mode' must be one of fast, full"),
        (("-p", "day=2026-01-01", "-p", "rows=nan"), "param 'rows' must be a whole number"),
    ):
        result = cli("run", "p.yaml", "-q", *args)
        assert result.code == 2 and message in result.err, (args, result.err)
    bad = proj.write("bad.yaml", "name: b\nparams: {n: {type: integer}}\ntasks: [{id: t, run: x}]\n")
    assert cli("validate", str(bad)).code == 2


def test_preconditions_skip_with_the_reason(proj) -> None:
    result, _ = proj.run(
        "pre.yaml",
        """
        name: pre
        params: {env: dev}
        tasks:
          - {id: cmd_unmet, run: 'touch ran1', precondition: 'test -f nope.txt'}
          - {id: cmd_met, run: 'touch ran2', precondition: {run: 'true'}}
          - {id: cond_unmet, run: 'touch ran3', precondition: {when: 'params.env == "prod"'}}
          - {id: after, depends_on: cmd_unmet, run: 'touch ran4'}
        """,
    )
    status = {t.id: t.status for t in result.tasks.values()}
    assert status == {"cmd_unmet": "skipped", "cmd_met": "success", "cond_unmet": "skipped", "after": "skipped"}
    assert result.tasks["cmd_unmet"].reason == "precondition: `test -f nope.txt` exited 1"
    assert not (proj.folder / "ran1").exists() and (proj.folder / "ran2").exists()


def test_continue_on_and_retry_on_exit_codes(proj) -> None:
    result, _ = proj.run(
        "c.yaml",
        """
        name: c
        tasks:
          - {id: tolerated, run: 'echo "x=1" > $DAGCTL_OUTPUT; exit 3', continue_on: {exit_codes: [3]}}
          - {id: next, depends_on: tolerated, run: 'echo "seen=${outputs.tolerated.x}" > $DAGCTL_OUTPUT'}
          - {id: any, run: 'exit 9', continue_on: {failure: true}}
          - {id: picky, run: 'echo x >> picky.count; exit 4', retries: 3, retry_delay: 0, retry_on_exit_codes: [75]}
          - {id: busy, run: 'echo x >> busy.count; test $(wc -l < busy.count) -ge 2 || exit 75', retries: 3,
             retry_delay: 0, retry_on_exit_codes: [75]}
        """,
    )
    status = {t.id: t.status for t in result.tasks.values()}
    assert status == {"tolerated": "success", "next": "success", "any": "success", "picky": "failed", "busy": "success"}
    assert result.tasks["tolerated"].reason.startswith("continue_on: exit code 3 allowed")
    # what it wrote before it failed reaches downstream, "as after a success" (it was lost: `next` failed)
    assert result.tasks["tolerated"].outputs == {"x": "1"} and result.tasks["next"].outputs == {"seen": "1"}
    assert (proj.folder / "picky.count").read_text().count("x") == 1  # exit 4 is not retried
    assert (proj.folder / "busy.count").read_text().count("x") == 2  # exit 75 is


def test_handlers_run_after_the_dag_and_never_change_its_outcome(proj) -> None:
    result, sink = proj.run(
        "h.yaml",
        """
        name: h
        handlers:
          failure: {run: 'echo "$DAGCTL_RUN_STATUS $DAGCTL_FAILED_TASKS $DAGCTL_RUN_ID" > failure.out'}
          success: {run: 'touch success.out'}
          exit: {run: 'echo exit > exit.out; exit 5'}
        tasks: [{id: a, run: 'exit 2'}, {id: b, run: 'true'}]
        """,
    )
    assert result.status == "failed"
    assert (proj.folder / "failure.out").read_text().split() == ["failed", "a", result.run_id]
    assert (proj.folder / "exit.out").exists() and not (proj.folder / "success.out").exists()
    handler_events = [(e.kind, e.task_id) for e in sink.events if getattr(e, "task_id", "").startswith("handler:")]
    assert handler_events == [
        ("task_start", "handler:failure"),
        ("task_ok", "handler:failure"),
        ("task_start", "handler:exit"),
        ("task_fail", "handler:exit"),
    ]
    assert sink.of("dag_done")[0].status == "failed"


def test_a_failed_handler_is_said_in_the_summary_while_the_run_keeps_its_outcome(cli, write) -> None:
    """A success handler that fails leaves the run a success (exit 0), and the summary says which handler failed,
    why, and how to read its log: JUnit and the GitHub annotations already count it as a failure."""
    dag = write("ok.yaml", "name: ok\ntasks: [{id: a, run: 'true'}]\nhandlers:\n  success: {run: 'exit 9'}\n")
    result = cli("run", str(dag))
    assert result.code == 0, result
    [line] = [line for line in result.out.splitlines() if line.startswith("Handler failed:")]
    run_id = next(line.split(": ")[1] for line in result.out.splitlines() if line.startswith("Run: "))
    assert line == f"Handler failed: handler:success: exit code 9 (dagctl logs {run_id} handler:success)"
    assert cli("logs", run_id, "handler:success").code == 0


def test_a_handler_is_retried_as_its_retries_say(proj) -> None:
    """`retries:` on a handler was accepted (and honoured by the Argo export) but dagctl run ran it once."""
    flaky = "echo x >> tries; test $(wc -l < tries) -ge 3"
    result, sink = proj.run(
        "hr.yaml",
        f"""
        name: hr
        handlers:
          failure: {{run: '{flaky}', retries: 3, retry_delay: 0s}}
          exit: {{run: 'echo x >> exits; exit 4', retries: 2, retry_delay: 0s, retry_on_exit_codes: [75]}}
        tasks: [{{id: a, run: 'exit 2'}}]
        """,
    )
    assert result.status == "failed"
    assert (proj.folder / "tries").read_text().count("x") == 3  # two failures retried, then a success
    assert (proj.folder / "exits").read_text().count("x") == 1  # exit 4 is not one to retry
    kinds = [(e.kind, e.task_id, e.attempt) for e in sink.events if getattr(e, "task_id", "").startswith("handler:")]
    assert kinds == [
        ("task_start", "handler:failure", 1),
        ("task_retry", "handler:failure", 1),
        ("task_start", "handler:failure", 2),
        ("task_retry", "handler:failure", 2),
        ("task_start", "handler:failure", 3),
        ("task_ok", "handler:failure", 3),
        ("task_start", "handler:exit", 1),
        ("task_fail", "handler:exit", 1),
    ]


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append(json.loads(body or b"{}"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_notifications_reach_a_local_http_receiver(proj, monkeypatch) -> None:
    pytest.importorskip("apprise", reason="the notify extra (apprise) is not installed")
    monkeypatch.setenv("API_TOKEN", SECRET)
    _Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        result, _ = proj.run(
            "n.yaml",
            f"""
            name: n
            secrets: {{TOKEN: {{from_env: API_TOKEN}}}}
            notify: {{events: [failure, retry], urls: ["json://127.0.0.1:{port}/hook"]}}
            tasks: [{{id: a, run: 'echo "bad $TOKEN" >&2; exit 1', retries: 1, retry_delay: 0}}]
            """,
        )
        assert result.status == "failed"
        wait_until(lambda: len(_Receiver.received) >= 2, timeout=15)
    finally:
        server.shutdown()
    titles = [m.get("title", "") for m in _Receiver.received]
    assert any("retrying a" in t for t in titles) and any("n failed" in t for t in titles)
    assert SECRET not in json.dumps(_Receiver.received)
    failure = next(m for m in _Receiver.received if "failed" in m.get("title", ""))
    assert result.run_id in failure["message"] and "Failed tasks: a" in failure["message"]
