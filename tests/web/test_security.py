"""The security model of ``dagctl serve``: bind rules, token, Host, Origin, body size, names inside folders."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx
import pytest

from dagctl.errors import UsageError
from dagctl.web.config import ServeSettings
from dagctl.web.security import (
    bearer_matches,
    check_name,
    contained,
    host_of,
    is_loopback_host,
    origin_allowed,
    read_token_file,
    session_value,
)
from tests.support import wait_until
from tests.web.sse_client import Reader, read

TOKEN = "s3cret-token-0123456789abcdef"


# --------------------------------------------------------------------------------------------- pure rules


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("localhost", True), ("::1", True), ("[::1]", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.com", False), ("", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_a_non_loopback_bind_needs_a_token() -> None:
    with pytest.raises(UsageError, match=r"refusing to listen on 0\.0\.0\.0 without a token"):
        ServeSettings(host="0.0.0.0").check()
    with pytest.raises(UsageError, match="without a token"):
        ServeSettings(host="::").check()
    ServeSettings(host="0.0.0.0", token=TOKEN).check()
    ServeSettings(host="localhost").check()
    assert ServeSettings().loopback_only and not ServeSettings(token=TOKEN).loopback_only


def test_host_headers_and_tokens() -> None:
    assert [host_of(h) for h in ("localhost:8080", "[::1]:80", "127.0.0.1", "evil.example:1")] == [
        "localhost",
        "::1",
        "127.0.0.1",
        "evil.example",
    ]
    assert bearer_matches(f"Bearer {TOKEN}", TOKEN) and bearer_matches(f"bearer {TOKEN}", TOKEN)
    assert not bearer_matches(f"Bearer {TOKEN}x", TOKEN) and not bearer_matches(TOKEN, TOKEN)
    assert not bearer_matches(None, TOKEN) and not bearer_matches("Basic abc", TOKEN)
    assert TOKEN not in session_value(TOKEN) and session_value(TOKEN) != session_value(TOKEN + "x")


@pytest.mark.parametrize(
    ("method", "origin", "site", "allowed"),
    [
        ("GET", "https://evil.example", "cross-site", True),  # reading is not changing (and no CORS)
        ("POST", "http://127.0.0.1:8080", "same-origin", True),
        ("POST", "http://127.0.0.1:8080/", None, True),
        ("POST", "https://evil.example", "cross-site", False),
        ("POST", "http://127.0.0.1:9999", "same-site", False),  # another port is another origin
        ("DELETE", "null", None, False),
        ("POST", None, None, True),  # curl and scripts send no Origin
        ("POST", None, "none", True),
        ("POST", None, "cross-site", False),
        ("PUT", "https://ops.example.com", "cross-site", True),  # allowed by --allow-origin
    ],
)
def test_origin_rule(method: str, origin: str | None, site: str | None, allowed: bool) -> None:
    assert (
        origin_allowed(
            method,
            origin=origin,
            fetch_site=site,
            own_origin="http://127.0.0.1:8080",
            allowed=("https://ops.example.com",),
        )
        is allowed
    )


def test_names_never_resolve_outside_their_folder(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (tmp_path / "secret.yaml").write_text("x")
    os.symlink(tmp_path / "secret.yaml", folder / "link.yaml")
    assert contained(folder, "ok.yaml", "template") == folder.resolve() / "ok.yaml"
    for bad in ("../secret.yaml", "/etc/passwd", "link.yaml", "a/../../secret.yaml", "", ".", "x\x00y"):
        with pytest.raises(UsageError):
            contained(folder, bad, "template")
    for name in ("nightly", "etl_v2.1", "A-b_c"):
        assert check_name(name, "template") == name
    for name in ("..", "../x", ".hidden", "a/b", "a\\b", "x" * 65, "", "a..b", "a b"):
        with pytest.raises(UsageError, match="not allowed"):
            check_name(name, "template")


def test_token_files_must_hold_a_real_token(tmp_path: Path) -> None:
    good = tmp_path / "token"
    good.write_text(TOKEN + "\n")
    good.chmod(0o600)
    assert read_token_file(good) == TOKEN
    short = tmp_path / "short"
    short.write_text("abc")
    with pytest.raises(UsageError, match="no usable token"):
        read_token_file(short)
    with pytest.raises(UsageError, match="does not exist"):
        read_token_file(tmp_path / "missing")


# --------------------------------------------------------------------------------------------- over HTTP


def test_with_a_token_every_request_needs_it(live) -> None:
    server = live(token=TOKEN)
    client = server.client
    denied = client.get("/api/runs")
    assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith("Bearer")
    assert denied.json()["error"] == "missing or wrong token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/api/runs", headers={"Authorization": "Bearer wrong-token-0000000000"}).status_code == 401
    assert client.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/healthz").status_code == 200  # for load balancers; says nothing
    assert client.get("/static/dashboard.css").status_code == 200
    page = client.get("/runs/x?y=1", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fruns%2Fx%3Fy%3D1"


def test_sighup_rotates_the_token(live, tmp_path: Path, caplog) -> None:
    """The token file is read again on SIGHUP (``Server.reload``): the new token works from the next request, the
    old one and the sessions made with it are refused; a file that holds no usable token keeps the one in force."""
    import logging

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    server = live(token=TOKEN, token_file=token_file)
    client = server.client
    assert client.post("/login", data={"token": TOKEN, "next": "/"}).status_code == 303  # a browser's session
    assert client.get("/api/runs").status_code == 200
    run_id = server.start("slow", seconds=30)
    reader, kinds = Reader(), []

    def follow() -> None:  # a stream opened with the old token
        with httpx.stream("GET", f"{server.url}/api/runs/{run_id}/events", headers=old, timeout=20) as response:
            kinds.extend(m.json["event"] for m in read(response, reader))

    old = {"Authorization": f"Bearer {TOKEN}"}
    stream = threading.Thread(target=follow)
    stream.start()
    wait_until(lambda: "task_start" in kinds, 20, "the stream under way")
    new = "n3w-token-" * 4
    token_file.write_text(new + "\n")
    server.server.reload()
    wait_until(lambda: server.ctx.config.token == new, 10, "the new token in force")
    stream.join(10)
    assert not stream.is_alive() and reader.ended_cleanly  # ended with the old token, its last message whole
    assert client.get("/api/runs").status_code == 401  # the old session
    client.cookies.clear()
    assert client.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
    assert client.get("/api/runs", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    assert client.post(f"/api/runs/{run_id}/cancel", headers={"Authorization": f"Bearer {new}"}).status_code < 300
    token_file.write_text("short\n")  # written half-way, or by mistake
    with caplog.at_level(logging.ERROR, logger="dagctl.web.context"):
        assert server.ctx.reload_token() is False
    assert "token not reloaded, the one read before still applies" in caplog.text
    assert client.get("/api/runs", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_the_login_page_sets_a_session_cookie_for_browsers(live) -> None:
    server = live(token=TOKEN)
    client = server.client
    wrong = client.post("/login", data={"token": "nope", "next": "/tenants"})
    assert wrong.status_code == 401 and "not right" in wrong.text and "set-cookie" not in wrong.headers
    right = client.post("/login", data={"token": TOKEN, "next": "/tenants"})
    assert right.status_code == 303 and right.headers["location"] == "/tenants"
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
    assert client.get("/api/runs").status_code == 200  # the client keeps the cookie
    client.cookies.clear()
    assert client.get("/api/runs").status_code == 401
    away = client.post("/login", data={"token": TOKEN, "next": "//evil.example/x"})
    assert away.headers["location"] == "/"  # no open redirect


def test_without_a_token_only_loopback_host_names_are_answered(live) -> None:
    server = live()
    assert server.client.get("/api/runs").status_code == 200
    port = server.url.rsplit(":", 1)[1]
    assert server.client.get("/api/runs", headers={"Host": f"localhost:{port}"}).status_code == 200
    rebound = server.client.get("/api/runs", headers={"Host": f"evil.example:{port}"})
    assert rebound.status_code == 403 and "localhost only" in rebound.json()["error"]


def test_cross_site_posts_are_refused(live) -> None:
    server = live(allowed_origins=("https://ops.example.com",))
    body = {"dag": "nope"}
    evil = server.client.post("/api/runs", json=body, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403 and "cross-site POST refused" in evil.json()["error"]
    assert server.client.post("/api/runs", json=body, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert server.client.delete("/api/templates/x", headers={"Origin": "null"}).status_code == 403
    own = server.client.post("/api/runs", json=body, headers={"Origin": server.url})
    assert own.status_code == 422  # past the check: the DAG is unknown
    allowed = server.client.post("/api/runs", json=body, headers={"Origin": "https://ops.example.com"})
    assert allowed.status_code == 422
    assert server.client.post("/api/runs", json=body).status_code == 422  # no Origin: curl, scripts


def test_request_bodies_are_capped(live) -> None:
    server = live(max_body_bytes=200)
    big = "name: x\n" + "# padding\n" * 50
    declared = server.client.post("/api/validate", content=big)
    assert declared.status_code == 413 and "larger than the limit of 200 bytes" in declared.json()["error"]

    def chunks():
        for _ in range(10):
            yield b"# padding padding padding padding\n"

    streamed = server.client.post("/api/validate", content=chunks())  # chunked: no Content-Length
    assert streamed.status_code == 413 and streamed.json()["location"] == "/api/validate"
    assert server.client.post("/api/validate", content="name: x\n").status_code == 200

    def json_chunks():
        yield b'{"name": "t", "yaml": "'
        for _ in range(10):
            yield b"# padding padding padding padding "
        yield b'"}'

    model = server.client.post("/api/templates", content=json_chunks(), headers={"content-type": "application/json"})
    assert model.status_code == 413, model.text  # a body read into a model: 413 too, not a parse error
    assert "larger than the limit of 200 bytes" in model.json()["error"]
    parts = iter([b'{"name": "t", ', b'"yaml": "x"}'])
    small = server.client.post("/api/templates", content=parts, headers={"content-type": "application/json"})
    assert small.status_code == 422  # read whole and passed on (an invalid DAG, but not too large)


def test_every_response_carries_the_security_headers(live) -> None:
    server = live()
    for path in ("/", "/api/runs", "/nowhere"):
        headers = server.client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in headers["content-security-policy"]
        assert "server" not in headers


def test_a_task_in_a_log_url_is_never_a_path(live) -> None:
    server = live()
    launch = server.ctx.launcher.start_run(server.ctx.config.dags_dir / "quick.yaml", {}, "20261206-120000.000-abcdef")
    for task in ("..%2F..%2Fsecret", "a%2Fb", "x%00"):  # (a bare ".." is resolved away by any client)
        response = server.client.get(f"/api/runs/{launch.run_id}/logs/{task}", headers={"Last-Event-ID": "1:0"})
        assert response.status_code == 404, task
    launch.done.wait(30)
