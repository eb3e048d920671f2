"""The stdlib sd_notify client: socket addresses, watchdog interval, environment handling, failures."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagctl.schedule.sdnotify import Notifier


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    address = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(address)
    server.settimeout(5)
    yield address, server
    server.close()


def test_messages_reach_a_filesystem_socket(path_socket: tuple[str, socket.socket]) -> None:
    address, server = path_socket
    notifier = Notifier(address)
    assert notifier.enabled
    assert notifier.ready("3 schedules")
    assert server.recv(4096) == b"READY=1\nSTATUS=3 schedules"
    assert notifier.watchdog() and server.recv(4096) == b"WATCHDOG=1"
    assert notifier.reloading(12.5) and server.recv(4096) == b"RELOADING=1\nMONOTONIC_USEC=12500000"
    assert notifier.stopping() and server.recv(4096) == b"STOPPING=1"
    notifier.close()


def test_abstract_namespace_addresses_start_with_at() -> None:
    name = f"dagctl-test-{secrets.token_hex(4)}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(b"\0" + name.encode())
    server.settimeout(5)
    try:
        assert Notifier.from_env({"NOTIFY_SOCKET": "@" + name}).status("hello")
        assert server.recv(4096) == b"STATUS=hello"
    finally:
        server.close()


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = Notifier.from_env({})
    assert not notifier.enabled and notifier.watchdog_interval is None
    assert notifier.ready() is False and notifier.watchdog() is False


def test_watchdog_interval_is_half_of_watchdog_usec_and_respects_watchdog_pid() -> None:
    assert Notifier.from_env({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "30000000"}).watchdog_interval == 15.0
    mine = {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}
    assert Notifier.from_env(mine).watchdog_interval == 1.0
    other = {**mine, "WATCHDOG_PID": "1"}
    assert Notifier.from_env(other).watchdog_interval is None
    assert Notifier.from_env({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "soon"}).watchdog_interval is None


def test_unset_removes_the_variables_so_tasks_do_not_inherit_them() -> None:
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": str(os.getpid()), "KEEP": "1"}
    notifier = Notifier.from_env(env, unset=True)
    assert notifier.address == "/run/x" and env == {"KEEP": "1"}


def test_a_vanished_socket_or_bad_address_never_raises(tmp_path: Path) -> None:
    assert Notifier(str(tmp_path / "missing.sock")).ready() is False
    assert not Notifier("relative/path").enabled
