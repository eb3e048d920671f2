"""The security rules (:mod:`dagctl.web.security`) applied to every request, as one plain ASGI middleware.

In order: the ``Host`` check (loopback-only servers), the token (bearer header or session cookie; the read-only
token for safe methods only), the ``Origin`` check of mutating requests, and the body size cap
(``Content-Length`` first; a chunked body is counted as it is read). Every response gets headers that keep pages
from being framed or sniffed, and a Content-Security-Policy that allows nothing from elsewhere (the dashboard
needs nothing from elsewhere).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

from .config import ServeSettings
from .security import FULL, READ, SAFE_METHODS, SESSION_COOKIE, access_of, host_of, is_loopback_host, origin_allowed

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = ("/healthz", "/login", "/static/")
"""Answered without a token: a health check, the login page, and the dashboard's assets (no data in them)."""

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
]


ACCESS_KEY = "dagctl.access"
"""In the scope of every request let in: what it may do (:data:`~dagctl.web.security.FULL` or ``READ``); a stream
ends when the token it was let in with changes."""
HEAD_KEY = "dagctl.head"
"""In the scope of a HEAD request passed on as GET (so that errors name the method the client used)."""
STREAM_PATH = re.compile(r"/api/runs/[^/]+/(?:events|logs/[^/]+)")


def is_stream_path(path: str) -> bool:
    """An SSE stream (a run's events, a task's log): GET only."""
    return STREAM_PATH.fullmatch(path) is not None


def is_page_load(method: str, path: str, headers: dict[str, str]) -> bool:
    """A browser loading a page (a navigation), which is sent to the login page when it has no session; a script's
    request (``fetch``, EventSource: ``Sec-Fetch-Mode`` other than ``navigate``) and the API get a 401 instead,
    which the page can tell its user about (a redirect would hand the script the login page as its answer)."""
    mode = headers.get("sec-fetch-mode", "navigate")
    return (
        method == "GET"
        and "text/html" in headers.get("accept", "")
        and not path.startswith("/api/")
        and (mode == "navigate")
    )


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in scope.get("headers", ()):
        out[key.decode("latin-1").lower()] = value.decode("latin-1")
    return out


def _cookie(header: str | None, name: str) -> str | None:
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


async def _reply(send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers + SECURITY_HEADERS})
    await send({"type": "http.response.body", "body": data})


class Guard:
    """The middleware. ``config`` gives the server's :class:`ServeSettings` as they are now (SIGHUP may have read
    a new token)."""

    def __init__(self, app: ASGIApp, config: Callable[[], ServeSettings]) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET").upper()
        config = self.config()
        host = headers.get("host", "")
        if config.loopback_only and not is_loopback_host(host_of(host)):
            await _reply(
                send,
                403,
                {
                    "error": f"this server answers requests for localhost only, not for host {host!r}",
                    "location": path,
                    "hint": f"open it as {scope.get('scheme', 'http')}://127.0.0.1:PORT, or start dagctl serve with "
                    "--token-file",
                },
            )
            return
        access: str | None = FULL
        if config.token and not path.startswith(OPEN_PATHS):
            cookie = _cookie(headers.get("cookie"), SESSION_COOKIE)
            access = access_of(headers.get("authorization"), cookie, config.token, config.read_token)
            if access is None:
                if is_page_load(method, path, headers):
                    target = path + ("?" + scope["query_string"].decode() if scope.get("query_string") else "")
                    location = f"/login?next={quote(target, safe='')}".encode()
                    await send({"type": "http.response.start", "status": 303, "headers": [(b"location", location)]})
                    await send({"type": "http.response.body", "body": b""})
                    return
                await _reply(
                    send,
                    401,
                    {
                        "error": "missing or wrong token",
                        "location": path,
                        "hint": "send 'Authorization: Bearer <token>' (the contents of --token-file)",
                    },
                    [(b"www-authenticate", b'Bearer realm="dagctl"')],
                )
                return
            if access == READ and method not in SAFE_METHODS:
                await _reply(
                    send,
                    403,
                    {
                        "error": f"the read-only token cannot {method} {path}: it may only read",
                        "location": path,
                        "hint": "send the token of --token-file to start, cancel, approve or change anything",
                    },
                )
                return
        own = f"{scope.get('scheme', 'http')}://{host}"
        if not origin_allowed(
            method,
            origin=headers.get("origin"),
            fetch_site=headers.get("sec-fetch-site"),
            own_origin=own,
            allowed=config.allowed_origins,
        ):
            await _reply(
                send,
                403,
                {
                    "error": f"cross-site {method} refused (origin {headers.get('origin') or 'unknown'})",
                    "location": path,
                    "hint": f"send it from {own} itself, or allow that origin with --allow-origin",
                },
            )
            return
        limit = config.max_body_bytes
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _reply(send, 413, _too_large(f"request body of {length} bytes", limit, path))
            return
        if length is None and "transfer-encoding" in headers:  # chunked: counted as it is read, before the app
            body = await _read_capped(receive, limit)
            if body is None:
                return  # the client went away
            if len(body) > limit:
                await _reply(send, 413, _too_large("request body", limit, path), [(b"connection", b"close")])
                return
            receive = _replay(body, receive)
        if method == "HEAD":
            if is_stream_path(path):  # a stream has no head to send without running it
                await _reply(
                    send,
                    405,
                    {"error": "HEAD is not allowed here", "location": path, "hint": "use GET"},
                    [(b"allow", b"GET")],
                )
                return
            scope = {**scope, "method": "GET", HEAD_KEY: True}  # answered as GET; the server sends the head only
        await self.app({**scope, ACCESS_KEY: access or FULL}, receive, _secured(send))


def _too_large(what: str, limit: int, path: str) -> dict[str, Any]:
    return {
        "error": f"{what} is larger than the limit of {limit} bytes",
        "location": path,
        "hint": "send less, or raise --max-body",
    }


async def _read_capped(receive: Receive, limit: int) -> bytes | None:
    """The whole body of a request without ``Content-Length``; once it passes ``limit`` bytes, what was read so
    far (longer than ``limit``: the rest is not read, the connection is closed after the 413); None when the
    client went away."""
    parts: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        parts.append(chunk)
        seen += len(chunk)
        if seen > limit or not message.get("more_body", False):
            return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app: the body read already, in one message, then whatever comes next (a disconnect)."""
    sent = False

    async def wrapped() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return wrapped


def _secured(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *SECURITY_HEADERS]
        await send(message)

    return wrapped
