"""``dagctl serve`` as a program: refuses unsafe binds, says what to install, tells systemd it is ready, and stops
on SIGTERM with open streams ended cleanly and exit 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from dagctl.cli import main
from tests.support import process_alive, wait_until
from tests.web.sse_client import Reader, read


def test_a_public_bind_without_a_token_is_refused(cli) -> None:
    result = cli("serve", "--host", "0.0.0.0")
    assert result.code == 2
    assert "refusing to listen on 0.0.0.0 without a token" in result.err and "--token-file" in result.err


def test_a_missing_web_extra_names_the_install_command(cli, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    result = cli("serve")
    assert result.code == 3
    assert "dagctl serve needs uvicorn" in result.err and "pip install 'dagctl[web]'" in result.err


def test_help_has_examples(capsys) -> None:
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "dagctl serve --host 0.0.0.0 --token-file" in out and "--max-streams" in out


def test_serve_notifies_systemd_and_stops_cleanly_on_sigterm(web_project: Path, tmp_path: Path) -> None:
    notify_path = tmp_path / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(20)
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_path)}
    err_path = tmp_path / "serve.err"
    with err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dagctl", "serve", "--port", "0"],
            cwd=web_project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    run_pid = 0
    try:
        assert notify.recv(4096).decode().startswith("READY=1")
        url = wait_until(lambda: _url(err_path), 20, "the listening line")
        client = httpx.Client(base_url=str(url), timeout=20)
        started = client.post("/api/runs", json={"dag": "slow", "params": {"seconds": 60}})
        assert started.status_code == 202
        run_pid = started.json()["pid"]
        reader = Reader()
        events: list[str] = []

        def follow() -> None:
            with client.stream("GET", f"/api/runs/{started.json()['run_id']}/events") as response:
                for message in read(response, reader):
                    events.append(message.json["event"])

        thread = threading.Thread(target=follow)
        thread.start()
        wait_until(lambda: "task_start" in events, 20, "the stream under way")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        thread.join(20)
        assert reader.ended_cleanly  # the stream was ended, not cut
        messages = []
        notify.settimeout(0.5)
        while True:
            try:
                messages.append(notify.recv(4096).decode())
            except OSError:
                break
        assert any(m.startswith("STOPPING=1") for m in messages), messages
        assert process_alive(run_pid)  # a run started from the dashboard outlives the server
        assert "SIGTERM: closing streams" in err_path.read_text()
    finally:
        notify.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if run_pid and process_alive(run_pid):
            os.killpg(run_pid, signal.SIGTERM)
            wait_until(lambda: not process_alive(run_pid), 20, "the run stopped")


def _url(err_path: Path) -> str | None:
    for line in err_path.read_text().splitlines():
        if line.startswith("dagctl serve: listening on "):
            return line.rsplit(" ", 1)[1]
    return None


def test_only_the_serve_command_imports_the_web_layer() -> None:
    """The web layer is optional: nothing but ``dagctl serve`` may depend on it (and that one lazily)."""
    import ast

    src = Path(__file__).resolve().parents[2] / "src" / "dagctl"
    importers = set()
    for path in src.rglob("*.py"):
        if "web" in path.relative_to(src).parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "dagctl.web" or n.startswith("dagctl.web.") for n in names):
                importers.add(path.relative_to(src).as_posix())
    assert importers == {"cli/serve_cmd.py"}


def test_run_takes_the_id_the_server_chose(cli, tmp_path: Path) -> None:
    """``dagctl run --run-id``: how the server knows a run's id before the run starts."""
    dag = tmp_path / "one.yaml"
    dag.write_text("name: one\ntasks:\n  - {id: a, run: 'true'}\n")
    run_id = "20261206-120000.000-abc123"
    assert cli("run", str(dag), "-q", "--run-id", run_id).code == 0
    assert (tmp_path / "logs" / "runs" / run_id / "events.jsonl").exists()
    again = cli("run", str(dag), "-q", "--run-id", run_id)
    assert again.code == 2 and "that run already exists" in again.err
    bad = cli("run", str(dag), "-q", "--run-id", "../../x")
    assert bad.code == 2 and "is not a run id" in bad.err


def _serve(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``dagctl serve ARGS`` as a program that is expected to stop at once (it cannot listen)."""
    return subprocess.run(
        [sys.executable, "-m", "dagctl", "serve", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_an_address_in_use_is_one_line_naming_it(web_project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve(web_project, "--port", str(port))
    assert result.returncode == 3  # the machine's state (README: 3 environment problem)
    assert result.stderr.strip().splitlines() == [
        f"dagctl: error: cannot listen on 127.0.0.1:{port}: address already in use — "
        "stop what uses it or pass another --port"
    ]


def test_a_host_that_is_no_address_is_named(web_project: Path, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("0123456789abcdef0123456789abcdef\n")
    token.chmod(0o600)
    result = _serve(web_project, "--host", "999.1.1.1", "--port", "0", "--token-file", str(token))
    assert result.returncode == 2  # bad input
    *warnings, line = result.stderr.strip().splitlines()
    assert all("clear text" in w for w in warnings)  # that warning, and no traceback or uvicorn line
    assert line.startswith("dagctl: error: cannot listen on 999.1.1.1:0: '999.1.1.1' is not an address")
    assert "--host" in line


def test_missing_folders_are_refused_at_start(cli, tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    mistyped = cli("serve", "--dags", str(tmp_path / "dagz"))
    assert mistyped.code == 2 and f"--dags {tmp_path / 'dagz'} does not exist" in mistyped.err
    (tmp_path / "afile").write_text("")
    templates = cli("serve", "--dags", str(dags), "--templates", str(tmp_path / "afile"))
    assert templates.code == 2 and f"--templates {tmp_path / 'afile'} is not a folder" in templates.err
    assert len(templates.err.strip().splitlines()) == 1


def test_a_stream_idle_below_the_heartbeat_is_refused(cli, tmp_path: Path) -> None:
    result = cli("serve", "--dags", str(tmp_path), "--stream-idle", "0")
    assert result.code == 2 and "--stream-idle 0s is shorter than the 15s heartbeat" in result.err


def test_a_send_timeout_that_is_no_duration_or_too_short_is_refused(cli, tmp_path: Path) -> None:
    result = cli("serve", "--dags", str(tmp_path), "--send-timeout", "soon")
    assert result.code == 2 and result.err.startswith("dagctl: error: --send-timeout: ")
    short = cli("serve", "--dags", str(tmp_path), "--send-timeout", "0.1s")
    assert short.code == 2 and "--send-timeout 0.1s is too short" in short.err
