"""The security rules of ``dagctl serve``, as pure functions (the middleware applies them to requests).

* Bind: loopback by default; any other address needs a token (:meth:`ServeSettings.check`).
* Token: every request but ``/healthz``, ``/login`` and ``/static/`` needs ``Authorization: Bearer <token>``, or
  the session cookie the login page sets (a browser cannot add a header to a page load or an EventSource). The
  cookie holds an HMAC of the token, never the token. A second, read-only token (``--read-token-file``) is let
  in for safe methods only (GET, HEAD: the dashboard, streams, ``/metrics``); it changes nothing (403).
* Host: without a token (loopback only), a request must name a loopback host, so a web page on another site
  cannot reach the API through DNS rebinding.
* Origin: a mutating request (POST, PUT, PATCH, DELETE) from a browser must come from the server's own origin
  (or one allowed with ``--allow-origin``): no cross-site POSTs.
* Names: a DAG, template or task name in a URL never resolves outside its folder (:func:`contained`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import re
from pathlib import Path

from dagctl.errors import UsageError

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "dagctl_session"
MIN_TOKEN_CHARS = 16
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
"""A template name (and a file name part): 1-64 letters, digits, ``_``, ``.``, ``-``; not starting with a dot."""


def is_loopback_host(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` and ``::1`` (brackets allowed)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The host part of a ``Host`` header: ``[::1]:8080`` -> ``::1``, ``localhost:8080`` -> ``localhost``."""
    value = header.strip()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Does ``Authorization: Bearer <token>`` carry ``token``? Compared in constant time."""
    if not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def session_value(token: str) -> str:
    """The session cookie's value for ``token``: an HMAC, so the cookie never holds the token itself."""
    return hmac.new(token.encode(), b"dagctl-session-v1", hashlib.sha256).hexdigest()


def session_matches(cookie: str | None, token: str) -> bool:
    return bool(cookie) and hmac.compare_digest(str(cookie).encode(), session_value(token).encode())


FULL = "full"
READ = "read"
"""What a request may do: everything (the token of ``--token-file``), or read only (``--read-token-file``)."""


def access_of(authorization: str | None, cookie: str | None, token: str, read_token: str | None) -> str | None:
    """:data:`FULL` for the token (bearer header or session cookie), :data:`READ` for the read-only token, None
    for neither."""
    if bearer_matches(authorization, token) or session_matches(cookie, token):
        return FULL
    if read_token and (bearer_matches(authorization, read_token) or session_matches(cookie, read_token)):
        return READ
    return None


def origin_allowed(
    method: str,
    *,
    origin: str | None,
    fetch_site: str | None,
    own_origin: str,
    allowed: tuple[str, ...] = (),
) -> bool:
    """May a request with this method and these headers change anything?

    Safe methods always may. A browser sends ``Origin`` with every POST: it must be the server's own origin or
    one of ``allowed`` (``null``, from a sandboxed frame or a file, never is). Without ``Origin`` (curl, scripts)
    ``Sec-Fetch-Site``, when a browser sent one, must say ``same-origin`` or ``none``."""
    if method.upper() in SAFE_METHODS:
        return True
    if origin is not None:
        given = origin.strip().rstrip("/").lower()
        return given != "null" and (given == own_origin.lower() or given in {a.rstrip("/").lower() for a in allowed})
    return fetch_site is None or fetch_site.lower() in ("same-origin", "none")


def check_name(name: str, what: str) -> str:
    """``name`` if it is a safe file name part (see :data:`NAME_RE`); UsageError otherwise."""
    if not NAME_RE.fullmatch(name) or ".." in name:
        raise UsageError(
            f"{what} name {name!r} is not allowed",
            hint="use 1-64 letters, digits, '_', '.' or '-', not starting with '.'",
        )
    return name


def contained(folder: Path, relative: str, what: str) -> Path:
    """``folder/relative``, refusing anything that resolves outside ``folder`` (``..``, absolute paths, symlinks
    leading out)."""
    if not relative or "\x00" in relative or os.path.isabs(relative):
        raise UsageError(f"{what} {relative!r} is not a name inside {folder}", hint="give a path relative to it")
    root = os.path.realpath(folder)
    target = os.path.realpath(os.path.join(root, relative))
    if os.path.commonpath([root, target]) != root or target == root:
        raise UsageError(f"{what} {relative!r} is outside {folder}", hint=f"name a file inside {folder}")
    return Path(target)


def read_token_file(path: Path, flag: str = "--token-file") -> str:
    """The token in ``path`` (surrounding whitespace removed). A readable-by-others file is logged as a warning."""
    try:
        text = path.read_text(encoding="utf-8").strip()
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UsageError(
            f"{flag} {path} does not exist", hint="create it, e.g. openssl rand -hex 32 > FILE; chmod 600 FILE"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{flag} {path} cannot be read: {exc}", hint="check the file's permissions") from None
    if len(text) < MIN_TOKEN_CHARS or any(c.isspace() for c in text):
        raise UsageError(
            f"{flag} {path} holds no usable token (at least {MIN_TOKEN_CHARS} characters, no spaces)",
            hint="write a long random one: openssl rand -hex 32 > FILE",
        )
    if mode & 0o077:
        log.warning("%s can be read by other users; chmod 600 it", path)
    return text
