"""Serving the app with uvicorn, systemd-ready like ``dagctl schedule --serve``.

* ``READY=1`` (sd_notify) once the socket is bound and the app has started; ``STATUS=`` with the address, open
  streams and runs started, every few seconds; ``WATCHDOG=1`` at half ``WatchdogSec`` from the event loop (a
  hung loop stops pinging and gets restarted); ``STOPPING=1`` when asked to stop.
* Stopping (:meth:`Server.request_stop`, called by the CLI's signal handling on SIGTERM/SIGINT): no new
  connections, every open stream ends cleanly after the event it is sending, idle keep-alive connections close,
  and the process exits 0. A second signal stops at once. Runs started from the dashboard are processes of their
  own and keep going.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable, Iterator

import uvicorn
from fastapi import FastAPI

from dagctl.errors import DagctlError, EnvironmentProblem, UsageError
from dagctl.schedule.sdnotify import Notifier

from .app import context_of
from .config import ServeSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .tls import Certificates

log = logging.getLogger(__name__)

GRACEFUL_S = 10.0
"""How long open connections get to finish once the server stops (streams end at once; this is a backstop)."""
STATUS_EVERY_S = 10.0
CLOSE_NOTIFY_S = 0.5
"""How long a TLS connection closed while idle may wait for the client's close_notify once the server stops."""


def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for ``host:port`` (one per address the host names, as asyncio would make them), bound
    before uvicorn starts so that an address that cannot be used is one clear error and nothing else."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(
            f"cannot listen on {where}: {host!r} is not an address or a host name ({reason})",
            hint="pass an address of this machine with --host, e.g. 127.0.0.1 or 0.0.0.0",
        ) from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise bind_error(where, exc) from None
    return sockets


def bind_error(where: str, exc: OSError) -> DagctlError:
    """What to say when ``where`` cannot be bound (pure): an address in use or a port that needs privileges is
    the machine's state (exit 3); an address this machine does not have is bad input (exit 2)."""
    reason = (exc.strerror or str(exc)).lower()
    if exc.errno == errno.EADDRINUSE:
        return EnvironmentProblem(
            f"cannot listen on {where}: address already in use", hint="stop what uses it or pass another --port"
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return EnvironmentProblem(
            f"cannot listen on {where}: {reason}",
            hint="ports below 1024 need privileges: pass --port 1024 or higher (8080 is the default)",
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return UsageError(
            f"cannot listen on {where}: no such address on this machine",
            hint="pass an address of this machine with --host, e.g. 127.0.0.1 or 0.0.0.0",
        )
    return EnvironmentProblem(f"cannot listen on {where}: {reason}", hint="pass another --host or --port")


class _Uvicorn(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_started: Callable[[_Uvicorn], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # signals are the caller's (dagctl.cli.signals): no handlers of uvicorn's, no re-raised SIGTERM

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            self._on_started(self)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        dropper = asyncio.get_running_loop().create_task(self._drop_closed_tls())
        try:
            await super().shutdown(sockets)
        finally:
            dropper.cancel()

    async def _drop_closed_tls(self) -> None:
        """An idle HTTPS connection that the stopping server closes waits for the client's close_notify, which a
        client's idle connection pool never sends: uvicorn would then wait its whole graceful timeout (10 s) for
        it. Such connections (closing, nothing left to send) are dropped after :data:`CLOSE_NOTIFY_S`."""
        if self.config.ssl is None:
            return
        await asyncio.sleep(CLOSE_NOTIFY_S)
        while True:
            for connection in list(self.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None and transport.is_closing() and not transport.get_write_buffer_size():
                    transport.abort()
            await asyncio.sleep(0.1)


class _Config(uvicorn.Config):
    """uvicorn's settings, with a TLS context of ours (one that SIGHUP can load a renewed certificate into)."""

    def __init__(self, *args: object, tls: Certificates | None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._tls = tls

    def load(self) -> None:
        super().load()
        if self._tls is not None:
            self.ssl = self._tls.context


class Server:
    """One app on one address. :meth:`run` blocks until :meth:`request_stop` (from another thread)."""

    def __init__(
        self,
        app: FastAPI,
        config: ServeSettings,
        *,
        notifier: Notifier | None = None,
        access_log: bool = False,
        on_listening: Callable[[str], None] | None = None,
        tls: Certificates | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.tls = tls
        self._loop: asyncio.AbstractEventLoop | None = None
        self.notifier = notifier or Notifier()
        self.on_listening = on_listening
        self.url: str | None = None
        self._server = _Uvicorn(
            _Config(
                app,
                tls=tls,
                host=config.host,
                port=config.port,
                log_config=None,  # our loggers (the CLI sets them up); uvicorn's logger names still apply
                access_log=access_log,
                lifespan="on",
                timeout_graceful_shutdown=int(GRACEFUL_S),
                server_header=False,
                proxy_headers=True,  # X-Forwarded-Proto from a local reverse proxy (forwarded_allow_ips)
                ws="none",
            ),
            self._started,
        )
        self._tasks: list[asyncio.Task[None]] = []

    def run(self) -> int:
        """Bind (:func:`bind`: a DagctlError, before anything is logged, when the address cannot be used), then
        serve until :meth:`request_stop`."""
        sockets = bind(self.config.host, self.config.port)
        try:
            self._server.run(sockets=sockets)
        finally:
            for sock in sockets:
                sock.close()
        return 0

    def request_stop(self, now: bool = False) -> None:
        """Stop serving (thread-safe): streams end, connections close, :meth:`run` returns. ``now``: at once."""
        if now:
            self._server.force_exit = True
        self.notifier.stopping("stopping: closing streams and connections")
        context_of(self.app).stop()
        self._server.should_exit = True

    def reload(self) -> None:
        """SIGHUP (thread-safe): read the token file and the TLS certificate and key again, on the server's event
        loop: a rotated token and a renewed certificate apply from the next request and connection on."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._reload()
        else:
            loop.call_soon_threadsafe(self._reload)

    def _reload(self) -> None:
        ctx = context_of(self.app)
        if ctx.config.token_file is None and self.tls is None:
            log.info("SIGHUP: nothing to reload (no --token-file, no --tls-cert)")
            return
        ctx.reload_token()
        if self.tls is not None:
            self.tls.reload()

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    def _started(self, server: _Uvicorn) -> None:
        host, port = self.config.host, self.config.port
        for listener in server.servers:
            for sock in listener.sockets:
                port = sock.getsockname()[1]
                break
        shown = f"[{host}]" if ":" in host else host
        self.url = f"{'https' if self.tls is not None else 'http'}://{shown}:{port}"
        log.debug("listening on %s", self.url)
        if self.on_listening is not None:
            self.on_listening(self.url)
        self.notifier.ready(f"listening on {self.url}")
        loop = self._loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._status()))
        if self.notifier.watchdog_interval:
            self._tasks.append(loop.create_task(self._watchdog(self.notifier.watchdog_interval)))

    async def _watchdog(self, every: float) -> None:
        while not self._server.should_exit:
            self.notifier.watchdog()
            await asyncio.sleep(every)

    async def _status(self) -> None:
        ctx = context_of(self.app)
        while not self._server.should_exit:
            gauges = ctx.server_gauges()
            self.notifier.status(
                f"listening on {self.url}; {int(gauges['streams_open'])} streams open; "
                f"{int(gauges['runs_started'])} runs started here"
            )
            await asyncio.sleep(STATUS_EVERY_S)
