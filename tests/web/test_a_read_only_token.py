"""``--read-token-file``: a second token for what only looks (Prometheus, a status board, a CI job): GET and
HEAD requests (the API's reads, the dashboard, its streams, ``/metrics``) pass with it; anything that would
start, cancel, approve or change something is 403 with it. It is rotated by SIGHUP as the token is, and it must
differ from the token, which it never replaces."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from dagctl.errors import UsageError
from dagctl.web.config import ServeSettings
from tests.support import wait_until
from tests.web.sse_client import Reader, collect, read

TOKEN = "s3cret-token-0123456789abcdef"
READER = "r3ad-only-token-0123456789abcdef"


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_read_only_token_reads_and_changes_nothing(live) -> None:
    server = live(token=TOKEN, read_token=READER)
    client = server.client
    started = client.post("/api/runs", json={"dag": "quick"}, headers=_as(TOKEN))
    assert started.status_code == 202
    run_id = started.json()["run_id"]
    wait_until(lambda: client.get(f"/api/runs/{run_id}", headers=_as(READER)).json()["status"] == "success", 30)
    for path in ("/api/runs", f"/api/runs/{run_id}", "/api/dags", "/api/stats", "/metrics", f"/api/runs/{run_id}/view"):
        answer = client.get(path, headers=_as(READER))
        assert answer.status_code == 200, (path, answer.text)
    assert client.head("/api/runs", headers=_as(READER)).status_code == 200
    events = collect(client, f"/api/runs/{run_id}/events", headers=_as(READER))
    assert events[-1].event == "complete"
    for path, body in (
        ("/api/runs", {"dag": "quick"}),
        (f"/api/runs/{run_id}/retry", {}),
        (f"/api/runs/{run_id}/cancel", None),
        ("/api/templates", {"name": "t", "yaml": "x"}),
    ):
        refused = client.post(path, json=body, headers=_as(READER))
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["error"] == f"the read-only token cannot POST {path}: it may only read"
    assert client.delete("/api/templates/t", headers=_as(READER)).status_code == 403
    assert len(server.ctx.launcher.launches()) == 1  # only the run the token started
    assert client.get("/api/runs", headers=_as("wrong-token-0000000000")).status_code == 401


def test_the_dashboard_signs_in_with_the_read_only_token(live) -> None:
    server = live(token=TOKEN, read_token=READER)
    client = server.client
    signed_in = client.post("/login", data={"token": READER, "next": "/"})
    assert signed_in.status_code == 303 and READER not in signed_in.headers["set-cookie"]
    assert client.get("/", headers={"Accept": "text/html"}).status_code == 200
    assert client.get("/api/runs").status_code == 200
    refused = client.post("/api/runs", json={"dag": "quick"})
    assert refused.status_code == 403 and "read-only token" in refused.json()["error"]


def test_the_read_only_token_is_rotated_by_sighup(live, tmp_path: Path) -> None:
    token_file, read_file = tmp_path / "token", tmp_path / "read-token"
    for path, value in ((token_file, TOKEN), (read_file, READER)):
        path.write_text(value + "\n")
        path.chmod(0o600)
    server = live(token=TOKEN, token_file=token_file, read_token=READER, read_token_file=read_file)
    started = server.client.post("/api/runs", json={"dag": "slow", "params": {"seconds": 30}}, headers=_as(TOKEN))
    run_id = started.json()["run_id"]
    readers: dict[str, Reader] = {"old-read": Reader(), "full": Reader()}

    def follow(name: str, token: str) -> None:
        url = f"{server.url}/api/runs/{run_id}/events"
        with httpx.stream("GET", url, headers=_as(token), timeout=30) as response:
            for _ in read(response, readers[name]):
                pass

    threads = [
        threading.Thread(target=follow, args=(name, token)) for name, token in (("old-read", READER), ("full", TOKEN))
    ]
    for thread in threads:
        thread.start()
    wait_until(lambda: all(r.messages for r in readers.values()), 20, "both streams under way")
    new = "n3w-read-token-" * 3
    read_file.write_text(new + "\n")
    server.server.reload()
    wait_until(lambda: server.ctx.config.read_token == new, 10, "the new read-only token in force")
    threads[0].join(10)
    assert not threads[0].is_alive() and readers["old-read"].ended_cleanly  # let in by the old one: ended
    assert threads[1].is_alive()  # the token did not change: its stream goes on
    assert server.client.get("/api/runs", headers=_as(READER)).status_code == 401
    assert server.client.get("/api/runs", headers=_as(new)).status_code == 200
    assert server.client.get("/api/runs", headers=_as(TOKEN)).status_code == 200
    read_file.write_text(TOKEN + "\n")  # by mistake: the token itself
    assert server.ctx.reload_token() is False and server.ctx.config.read_token == new
    assert server.client.post(f"/api/runs/{run_id}/cancel", headers=_as(TOKEN)).status_code == 202
    threads[1].join(20)
    assert not threads[1].is_alive()


def test_the_read_only_token_needs_a_token_of_its_own() -> None:
    with pytest.raises(UsageError, match="--read-token-file needs --token-file"):
        ServeSettings(read_token=READER).check()
    with pytest.raises(UsageError, match="--read-token-file holds the same token as --token-file"):
        ServeSettings(token=TOKEN, read_token=TOKEN).check()
    ServeSettings(token=TOKEN, read_token=READER).check()


def test_serve_refuses_a_read_only_token_without_a_token(cli, tmp_path: Path) -> None:
    read_file = tmp_path / "read-token"
    read_file.write_text(READER)
    read_file.chmod(0o600)
    result = cli("serve", "--dags", str(tmp_path), "--read-token-file", str(read_file))
    assert result.code == 2 and "--read-token-file needs --token-file" in result.err
    short = tmp_path / "short"
    short.write_text("x")
    token = tmp_path / "token"
    token.write_text(TOKEN)
    result = cli("serve", "--dags", str(tmp_path), "--token-file", str(token), "--read-token-file", str(short))
    assert result.code == 2 and f"--read-token-file {short} holds no usable token" in result.err
