"""A client that stops taking what the server sends does not keep what it holds: its connection is dropped after
``send_timeout_s`` (and its stream slot given back), and at once when the server stops, as is a request whose
body stopped coming. A stop with such clients is quick and logs no traceback, also on a second signal."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagctl.web import server as web_server
from tests.support import wait_until

SPEW = """name: spew
tasks:
  - id: spew
    run: head -c 30000000 /dev/zero | tr '\\0' x | fold -w 99
"""


@pytest.fixture
def big_log(live, web_project: Path):
    """``(start_server, run_id)``: a finished run whose one task wrote a 30 MB log."""
    (web_project / "configs" / "dags" / "spew.yaml").write_text(SPEW)

    def start(**overrides):
        server = live(**overrides)
        run_id = server.start("spew")
        assert server.wait_for_run(run_id, timeout=60)["status"] == "success"
        return server, run_id

    return start


@contextlib.contextmanager
def stalled(url: str, request: bytes) -> Iterator[socket.socket]:
    """A client that sends ``request`` and then reads nothing (a small receive buffer: it fills at once)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    try:
        sock.sendall(request)
        yield sock
    finally:
        sock.close()


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


HALF_POST = (
    b'POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"dag"'
)


def test_a_stream_whose_client_takes_nothing_gives_its_slot_back(big_log) -> None:
    server, run_id = big_log(max_streams=2, send_timeout_s=1.0)
    logs = f"/api/runs/{run_id}/logs/spew"
    with stalled(server.url, _get(logs)), stalled(server.url, _get(logs)):
        wait_until(lambda: server.ctx.slots.open == 2, 10, "both streams open")
        # both stop reading: within the send timeout (and a look every quarter second) they are dropped
        wait_until(lambda: server.ctx.slots.open == 0, 15, "the slots of the stalled streams given back")
        with server.client.stream("GET", logs) as response:
            assert response.status_code == 200  # a slot is free for a client that reads


def _blocked(server) -> bool:
    """Whether a connection of the server waits for its client to take bytes (uvicorn's flow control)."""
    connections = list(server.server._server.server_state.connections)
    return any(getattr(getattr(c, "flow", None), "write_paused", False) for c in connections)


def _stop(server, now: bool = False) -> float:
    """Ask the server to stop (twice with ``now``), and how long until it has."""
    thread = next(t for t in threading.enumerate() if t.name == "dagctl-serve-test")
    began = time.monotonic()
    server.server.request_stop()
    if now:
        server.server.request_stop(now=True)
    thread.join(30)
    assert not thread.is_alive()
    return time.monotonic() - began


@pytest.mark.parametrize("now", [False, True], ids=["sigterm", "second-sigterm"])
def test_a_stop_with_a_client_that_takes_nothing_is_quick_and_clean(big_log, caplog, now: bool) -> None:
    server, run_id = big_log()  # the default send timeout (30 s): only the stop drops it
    with stalled(server.url, _get(f"/api/runs/{run_id}/logs/spew")), caplog.at_level(logging.INFO):
        wait_until(lambda: _blocked(server), 10, "the stream waiting for its client to take something")
        took = _stop(server, now)
    assert took < web_server.GRACEFUL_S / 2, took
    assert "Traceback" not in caplog.text and "Exception in ASGI application" not in caplog.text
    assert "timeout graceful shutdown exceeded" not in caplog.text
    assert "dropped the connection of 127.0.0.1:" in caplog.text
    assert server.ctx.slots.open == 0


@pytest.mark.parametrize("now", [False, True], ids=["sigterm", "second-sigterm"])
def test_a_stop_with_a_request_half_sent_is_quick_and_clean(live, caplog, now: bool) -> None:
    server = live()
    with stalled(server.url, HALF_POST), caplog.at_level(logging.INFO):
        wait_until(lambda: server.server._server.server_state.tasks, 10, "the request read")
        took = _stop(server, now)
    assert took < web_server.GRACEFUL_S / 2, took
    assert "Traceback" not in caplog.text and "Exception in ASGI application" not in caplog.text
    assert "timeout graceful shutdown exceeded" not in caplog.text


class _Transport:
    def __init__(self, waiting: int, closing: bool = False) -> None:
        self.waiting, self.closing = waiting, closing

    def get_write_buffer_size(self) -> int:
        return self.waiting

    def is_closing(self) -> bool:
        return self.closing


class _Connection:
    def __init__(self, waiting: int = 0, paused: bool = False, half_sent: bool = False) -> None:
        self.transport = _Transport(waiting)
        self.flow = type("Flow", (), {"write_paused": paused})()
        self.cycle = type("Cycle", (), {"more_body": half_sent, "response_started": False})()


def test_which_connections_are_given_up_on() -> None:
    """:class:`Stalls` on an injected clock: a full buffer that does not shrink for the send timeout is dropped,
    one that shrinks is not; once stopping, a client that takes nothing or sends nothing more for a second is."""
    now = [100.0]
    stalls = web_server.Stalls(30.0, lambda: now[0])
    stuck, slow, idle = _Connection(70_000, paused=True), _Connection(70_000, paused=True), _Connection()
    every = [stuck, slow, idle]
    assert stalls.check(every) == []
    for _ in range(29):
        now[0] += 1
        slow.transport.waiting -= 1000  # it takes some, slowly
        assert stalls.check(every) == []
    now[0] += 1.5
    slow.transport.waiting -= 1000
    assert [c for c, _ in stalls.check(every)] == [stuck]
    half = _Connection(half_sent=True)
    closing = _Connection(500)
    closing.transport.closing = True  # its last bytes, never taken
    stalls = web_server.Stalls(30.0, lambda: now[0])
    assert stalls.check([half, closing, idle]) == []
    stalls.stopping()
    assert stalls.check([half, closing, idle]) == []
    now[0] += web_server.STOP_STALL_S
    dropped = dict(stalls.check([half, closing, idle]))
    assert set(dropped) == {half, closing}
    assert "has not sent the rest of its request" in dropped[half] and "took nothing" in dropped[closing]
