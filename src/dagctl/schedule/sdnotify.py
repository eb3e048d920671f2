"""A tiny sd_notify client (standard library only) for ``Type=notify`` systemd services.

systemd passes ``NOTIFY_SOCKET`` (a filesystem path, or ``@name`` for the abstract namespace) and, with
``WatchdogSec=``, ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``). We send one datagram per message:
``READY=1`` when the scheduler is up (after its state store was checked), ``WATCHDOG=1`` at half the
watchdog interval while the loop is healthy (not while its ticks fail), ``RELOADING=1`` / ``READY=1``
around a reload, ``STOPPING=1`` on the way out, and ``STATUS=...`` for ``systemctl status``. Without
``NOTIFY_SOCKET`` every call is a cheap no-op; a message the receiver has no room for is dropped, never
waited for.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping, MutableMapping

__all__ = ["Notifier"]

log = logging.getLogger(__name__)

_ENV_KEYS = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def _address(raw: str) -> str | bytes:
    if raw.startswith("@"):
        return b"\0" + raw[1:].encode()  # abstract namespace
    return raw


class Notifier:
    """Sends sd_notify messages to ``address`` (None: disabled)."""

    def __init__(self, address: str | None = None, watchdog_usec: int | None = None) -> None:
        if address is not None and not (address.startswith(("/", "@"))):
            log.warning("NOTIFY_SOCKET=%r is not a unix socket path or @abstract name; not notifying", address)
            address = None
        self.address = address
        self.watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self.sent: list[str] = []  # last messages, for tests and debugging (bounded)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | MutableMapping[str, str] | None = None, *, unset: bool = False
    ) -> Notifier:
        """Read ``NOTIFY_SOCKET`` / ``WATCHDOG_USEC`` / ``WATCHDOG_PID``; ``unset`` removes them from ``env``
        so child processes (the DAGs' tasks) do not inherit them, as sd_notify(3)'s unset_environment does."""
        e = os.environ if env is None else env
        address = e.get("NOTIFY_SOCKET") or None
        usec: int | None = None
        raw = e.get("WATCHDOG_USEC")
        pid = e.get("WATCHDOG_PID")
        if raw and (not pid or pid == str(os.getpid())):
            try:
                usec = int(raw)
            except ValueError:
                log.warning("WATCHDOG_USEC=%r is not a number; ignoring it", raw)
        if unset and isinstance(e, MutableMapping):
            for key in _ENV_KEYS:
                e.pop(key, None)
        return cls(address, usec)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings: half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises."""
        return self.watchdog_usec / 2e6 if self.watchdog_usec else None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines as one datagram; True if it was sent. Never raises, never blocks (a
        message the receiver has no room for is dropped: a stuck receiver must not stall the scheduler)."""
        if self.address is None or not assignments:
            return False
        message = "\n".join(assignments)
        with self._lock:
            try:
                if self._sock is None:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                    try:
                        sock.connect(_address(self.address))
                    except OSError:
                        sock.close()
                        raise
                    self._sock = sock
                self._sock.send(message.encode(), socket.MSG_DONTWAIT)  # never block the scheduler's loop
            except BlockingIOError:  # the receiver is not reading (its queue is full): drop this one message
                log.debug("sd_notify %r to %s dropped: the socket's queue is full", message, self.address)
                return False
            except OSError as exc:
                log.debug("sd_notify %r to %s failed: %s", message, self.address, exc)
                self._close()
                return False
            self.sent = [*self.sent[-31:], message]
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self, monotonic_s: float) -> bool:
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={int(monotonic_s * 1e6)}")

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        with self._lock:
            self._close()
