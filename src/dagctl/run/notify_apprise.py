"""``notify:`` URLs as apprise services, one per URL, each sent to on its own, and why a send failed.

Apprise sends to every service of an ``Apprise`` object and answers one False when any of them failed; a message
retried on that answer reached the services that had taken it again. So each URL gets an object of its own
(:class:`Service`), and :class:`~dagctl.run.notify.Notifier` delivers and retries each on its own.

Apprise says why a service failed only in its log. :func:`reason_of` turns what it logged during one send (the
records of that send, :class:`LogTaker`) into a few words an operator can act on: ``HTTP 404 (Not Found)``,
``connection refused``, ``host name not found (DNS)``, ``timed out`` ... with the URL's secrets (its user, password,
path and query, where services keep their tokens) replaced by ``***``.
"""

from __future__ import annotations

import logging
import re
import threading
from contextlib import contextmanager

from dagctl.errors import ExecutorError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from typing import Any

INSTALL_HINT = "pip install 'dagctl[notify]' (apprise)"
NO_REASON = "the service did not take the message (apprise gave no reason)"
MIN_SECRET = 4
"""Parts of a URL at least this long are hidden wherever they appear in a reason."""

_CAUSES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), words)
    for pattern, words in (
        (r"connection refused|errno 111\b|errno 61\b", "connection refused"),
        (
            r"name ?resolution|failed to resolve|name or service not known|nodename nor servname|getaddrinfo failed"
            r"|temporary failure in name resolution|no address associated with hostname",
            "host name not found (DNS)",
        ),
        (r"certificate|ssl ?error|tlsv1|wrong version number", "TLS error (certificate or protocol)"),
        (r"timed? ?out|timeout", "timed out"),
        (r"connection reset|connection aborted|remote ?disconnected|broken pipe", "connection closed by the service"),
        (r"network is unreachable|no route to host", "network unreachable"),
    )
)
_HTTP = re.compile(r"\berror=(\d{3})\b|\bHTTP(?: status)?[ :]+(\d{3})\b")
_HTTP_HINTS = {
    401: "the service refused the credentials: a revoked or mistyped token?",
    403: "the service refused the credentials: a revoked or mistyped token?",
    404: "no such webhook or address: a revoked or mistyped URL?",
    410: "the webhook was removed",
    429: "the service is rate limiting",
}
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>)]+")


class NotSent(OSError):
    """A service did not take a message; the text is why, secrets masked."""


class Service:
    """One ``notify:`` URL: ``name`` (its secrets masked, for warnings) and ``send(title, body, kind)``, which
    raises :class:`NotSent` with the reason when the service does not take the message."""

    __slots__ = ("name", "send")

    def __init__(self, name: str, send: Any) -> None:
        self.name = name
        self.send = send


def apprise_services(urls: list[str], environ: Mapping[str, str] | None = None) -> list[Service]:
    """A :class:`Service` for each of ``urls`` (their ``${env.NAME}`` filled from ``environ``, default the
    process's). A URL apprise does not know is bad input (exit 2), named without its secrets: it is printed where
    CI logs and cron mail keep it."""
    import os

    from dagctl.dag.notifyurls import filled, masked

    ready = [filled(url, os.environ if environ is None else environ) for url in urls]
    try:
        import apprise
    except ImportError:
        raise ExecutorError("notify: needs the apprise package", hint=INSTALL_HINT) from None
    services = []
    for written, url in zip(urls, ready, strict=True):
        app = apprise.Apprise()
        if not app.add(url):
            shown = written if written != url else masked(url)
            raise UsageError(
                f"notify: apprise does not understand the URL {shown!r}",
                hint="check its scheme and form against apprise's list of services (https://appriseit.com/services)",
            )
        services.append(Service(masked(written if written != url else url), _sender(app, url)))
    return services


def _sender(app: Any, url: str) -> Any:
    secrets = secrets_of(url)

    def send(title: str, body: str, kind: str = "info") -> None:
        try:
            with _APPRISE_LOG.taken() as entries:
                if app.notify(title=title, body=body, notify_type=kind):
                    return
        except Exception as exc:  # a bug of a plugin: its words, without the URL's secrets
            raise NotSent(scrub(f"{type(exc).__name__}: {exc}", secrets)) from None
        raise NotSent(reason_of(entries, secrets))

    return send


class LogTaker(logging.Filter):
    """What a logger says for the sends that ask (:meth:`taken`), DEBUG included, while nothing more than before
    reaches its handlers or its parents'.

    Apprise says why a connection failed (refused, DNS) only at DEBUG. While a send is under way the logger is let
    down to DEBUG and this filter, on the logger, keeps each record made for a send for that send (a context
    variable marks them, and apprise hands its context on to the worker threads it sends from), and lets through
    only what the logger's level let through before. One per logger, so one per process for apprise's
    (:data:`_APPRISE_LOG`): it holds nothing between sends, and the logger is as it was once none is under way."""

    def __init__(self, name: str) -> None:
        super().__init__()
        import contextvars

        self.logger = logging.getLogger(name)
        self._lock = threading.Lock()
        self._sends = 0
        self._entries: contextvars.ContextVar[list[tuple[str, str]] | None] = contextvars.ContextVar(
            f"dagctl-log-{name}", default=None
        )
        self._before = logging.WARNING  # the logger's effective level when the first send began
        self._level = logging.NOTSET  # its own level then, given back after the last

    def filter(self, record: logging.LogRecord) -> bool:
        entries = self._entries.get()
        if entries is not None:
            entries.append((record.levelname, record.getMessage()))
        return record.levelno >= self._before

    @contextmanager
    def taken(self) -> Iterator[list[tuple[str, str]]]:
        """``(level, message)`` of what the logger says for what the block does."""
        entries: list[tuple[str, str]] = []
        with self._lock:
            if not self._sends:
                self._before, self._level = self.logger.getEffectiveLevel(), self.logger.level
                self.logger.addFilter(self)
                self.logger.setLevel(logging.DEBUG)
            self._sends += 1
        token = self._entries.set(entries)
        try:
            yield entries
        finally:
            self._entries.reset(token)
            with self._lock:
                self._sends -= 1
                if not self._sends:
                    self.logger.setLevel(self._level)
                    self.logger.removeFilter(self)


_APPRISE_LOG = LogTaker("apprise")


def secrets_of(url: str) -> list[str]:
    """The parts of ``url`` a service may keep a token in (user, password, path segments, query values), longest
    first; the scheme, and a host and port that look like ones (as :func:`~dagctl.dag.notifyurls.masked` keeps),
    are not secret."""
    from urllib.parse import unquote

    _, sep, rest = url.partition("://")
    if not sep:
        return [url] if len(url) >= MIN_SECRET else []
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    path, _, query = rest[len(authority) :].partition("?")
    userinfo, at, host = authority.rpartition("@")
    parts = userinfo.split(":") if at else []
    name = host.split(":")[0]
    if "." not in name and not name.startswith("[") and name != "localhost":  # slack://T000/...: not a host
        parts.append(host)
    parts += [path.strip("/"), *path.split("/")]
    parts += [value for _, _, value in (item.partition("=") for item in re.split(r"[&;#]", query))]
    found = {piece for part in parts for piece in (part, unquote(part)) if len(piece) >= MIN_SECRET}
    return sorted(found, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every URL in it masked and every secret replaced by ``***``."""
    from dagctl.dag.notifyurls import masked

    for secret in secrets:
        text = text.replace(secret, "***")
    return _URL_IN_TEXT.sub(lambda m: masked(m.group(0)), text)


def reason_of(entries: Iterable[tuple[str, str]], secrets: Iterable[str] = ()) -> str:
    """Why a send failed, from what apprise logged during it (``(level, message)``): an HTTP status with its
    meaning, a network cause, else apprise's last warning, secrets masked."""
    from http import HTTPStatus

    kept = list(entries)
    text = "\n".join(message for _, message in kept)
    codes = [int(a or b) for a, b in _HTTP.findall(text)]
    if codes:
        code = codes[-1]
        try:
            phrase = f" ({HTTPStatus(code).phrase})"
        except ValueError:
            phrase = ""
        hint = _HTTP_HINTS.get(code)
        return f"HTTP {code}{phrase}" + (f": {hint}" if hint else "")
    for pattern, words in _CAUSES:
        if pattern.search(text):
            return words
    warned = [message for level, message in kept if level in ("WARNING", "ERROR", "CRITICAL")]
    if not warned:
        return NO_REASON
    reason = scrub(warned[-1].strip(), secrets)
    return reason if len(reason) <= 200 else reason[:199] + "…"
