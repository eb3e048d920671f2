"""Serving the app with uvicorn, systemd-ready like ``dagctl schedule --serve``.

* ``READY=1`` (sd_notify) once the socket is bound and the app has started; ``STATUS=`` with the address, open
  streams and runs started, every few seconds; ``WATCHDOG=1`` at half ``WatchdogSec`` from the event loop (a
  hung loop stops pinging and gets restarted); ``STOPPING=1`` when asked to stop.
* Stopping (:meth:`Server.request_stop`, called by the CLI's signal handling on SIGTERM/SIGINT): no new
  connections, every open stream ends cleanly after the event it is sending, idle keep-alive connections close,
  and the process exits 0. A connection that holds the stop up (its client takes nothing, or stopped sending its
  request) is dropped after :data:`STOP_STALL_S`, whatever is left a moment before :data:`GRACEFUL_S` too, so no
  request is ever cancelled with a traceback. A second signal stops at once. Runs started from the dashboard are
  processes of their own and keep going.
* A connection whose client takes nothing sent to it for ``--send-timeout`` is dropped (:class:`Stalls`): a
  stream that cannot send would otherwise hold its slot for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import weakref
from collections.abc import Callable, Iterator
from typing import Any

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
"""How long open connections get to finish once the server stops (streams end at once; this is a backstop: what
is still open a moment before it runs out is dropped, so uvicorn never has to cancel a request's task)."""
STATUS_EVERY_S = 10.0
CLOSE_NOTIFY_S = 0.5
"""How long a TLS connection closed while idle may wait for the client's close_notify once the server stops."""
STOP_STALL_S = 1.0
"""Once the server stops: a connection whose client takes no bytes, or sends no more of a request it began,
for this long is dropped (it would hold the stop for the whole backstop)."""
FORCE_WAIT_S = 1.0
"""On a second signal: how long the requests of the dropped connections get to end (quietly) before exit."""


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
    def __init__(
        self,
        config: uvicorn.Config,
        on_started: Callable[[_Uvicorn], None],
        *,
        send_timeout_s: float,
        monotonic: Callable[[], float],
    ) -> None:
        super().__init__(config)
        self._on_started = on_started
        self._stalls = Stalls(send_timeout_s, monotonic)
        self._dropped: weakref.WeakSet[Any] = weakref.WeakSet()
        self._keeper: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # signals are the caller's (dagctl.cli.signals): no handlers of uvicorn's, no re-raised SIGTERM

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            self._keeper = asyncio.get_running_loop().create_task(self._keep_connections())
            self._on_started(self)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._stalls.stopping()
        loop = asyncio.get_running_loop()
        dropper = loop.create_task(self._drop_closed_tls())
        backstop = loop.call_later(GRACEFUL_S - 0.5, self._drop_all, "the server is stopping")
        try:
            await super().shutdown(sockets)
            if self.force_exit:  # a second signal: drop what is left, and let its requests end quietly
                self._drop_all("the server stops now")
                deadline = self._stalls.monotonic() + FORCE_WAIT_S
                while self.server_state.tasks and self._stalls.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                # uvicorn skips the app's shutdown then, and its lifespan task would be cancelled, with a
                # traceback: ours is quick (streams told to end, pollers stopped), so it runs
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.lifespan.shutdown(), FORCE_WAIT_S)
        finally:
            backstop.cancel()
            dropper.cancel()
            if self._keeper is not None:
                self._keeper.cancel()

    async def _keep_connections(self) -> None:
        """Drop the connections :class:`Stalls` gives up on, every :data:`KEEP_EVERY_S` until the server ends."""
        while True:
            await asyncio.sleep(KEEP_EVERY_S)
            for connection, why in self._stalls.check(list(self.server_state.connections)):
                _drop(connection, why, self._dropped)

    def _drop_all(self, why: str) -> None:
        for connection in list(self.server_state.connections):
            _drop(connection, why, self._dropped)

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


KEEP_EVERY_S = 0.25
"""How often connections are looked at for stalls."""


class Stalls:
    """Which connections to drop because their client stopped taking what the server sends (a full write buffer
    that does not shrink for ``send_timeout_s``) or, once the server stops, also because it stalls the stop:
    bytes it does not take, or a request whose body it stopped sending, for :data:`STOP_STALL_S`. Looks at
    uvicorn's connection objects only through ``transport``, ``flow.write_paused`` and ``cycle``."""

    def __init__(self, send_timeout_s: float, monotonic: Callable[[], float]) -> None:
        self.send_timeout_s = send_timeout_s
        self.monotonic = monotonic
        self.stopped_at: float | None = None
        self._since: dict[object, tuple[int, float]] = {}
        """Per connection with bytes waiting: how many there were when it last took some, and when that was."""

    def stopping(self) -> None:
        self.stopped_at = self.monotonic()

    def check(self, connections: list[Any]) -> list[tuple[Any, str]]:
        now = self.monotonic()
        stopping = self.stopped_at is not None
        limit = STOP_STALL_S if stopping else self.send_timeout_s
        drop: list[tuple[Any, str]] = []
        seen: set[object] = set()
        for connection in connections:
            seen.add(connection)
            transport = getattr(connection, "transport", None)
            if transport is None or not hasattr(transport, "get_write_buffer_size"):
                continue
            waiting = transport.get_write_buffer_size()
            flow = getattr(connection, "flow", None)
            # bytes wait for the client: a full buffer (the app waits to write more), or the last bytes of a
            # connection being closed, or of any connection while the server stops
            blocked = bool(getattr(flow, "write_paused", False)) or (
                waiting > 0 and (stopping or transport.is_closing())
            )
            if not blocked:
                self._since.pop(connection, None)
            else:
                before = self._since.get(connection)
                if before is None or waiting < before[0]:
                    self._since[connection] = (waiting, now)  # it took some: the clock starts again
                elif now - before[1] >= limit:
                    drop.append((connection, f"its client took nothing of the {waiting} bytes for it in {limit:g}s"))
                    continue
            cycle = getattr(connection, "cycle", None)
            if (
                self.stopped_at is not None
                and now - self.stopped_at >= STOP_STALL_S
                and cycle is not None
                and getattr(cycle, "more_body", False)
                and not getattr(cycle, "response_started", True)
            ):
                drop.append((connection, "its client has not sent the rest of its request and the server is stopping"))
        for gone in set(self._since) - seen:
            del self._since[gone]
        return drop


def _drop(connection: Any, why: str, dropped: weakref.WeakSet[Any]) -> None:
    """Abort a connection (nothing more is sent or waited for): the request it carries sees its client gone and
    ends as it does for a client that left, quietly. Said once (``dropped``: the connections aborted already)."""
    transport = getattr(connection, "transport", None)
    if transport is None or connection in dropped:
        return
    dropped.add(connection)
    client = getattr(connection, "client", None)
    who = f"{client[0]}:{client[1]}" if client else "a client"
    scope = getattr(getattr(connection, "cycle", None), "scope", None) or {}
    what = f" ({scope.get('method')} {scope.get('path')})" if scope.get("path") else ""
    log.info("dropped the connection of %s%s: %s", who, what, why)
    transport.abort()


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
            send_timeout_s=config.send_timeout_s,
            monotonic=context_of(app).clock.monotonic,
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
        if ctx.config.token_file is None and ctx.config.read_token_file is None and self.tls is None:
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
