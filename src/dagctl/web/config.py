"""What ``dagctl serve`` is told: where the files are, where to listen, and its limits. Plain values.

The limits are documented in docs/serve.md; each has a flag of ``dagctl serve``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from dagctl.errors import UsageError
from dagctl.settings import Settings

from .security import is_loopback_host

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MAX_STREAMS = 200
"""Event and log streams open at once (a browser tab on a run page holds one or two); more get 503."""
MAX_BODY_BYTES = 1 << 20
"""Request bodies (a DAG template, a YAML file to validate) larger than this get 413."""
STREAM_IDLE_S = 300.0
"""A stream that has sent no event for this long is closed; EventSource reconnects with Last-Event-ID."""
HEARTBEAT_S = 15.0
"""A comment line on quiet streams, so proxies keep them and dead clients are noticed."""
SEND_TIMEOUT_S = 30.0
"""A connection whose client takes none of the bytes waiting for it for this long is dropped (a stream that
cannot send holds its stream slot, and its memory, until then); an EventSource reconnects with Last-Event-ID."""
MIN_SEND_TIMEOUT_S = 1.0
POLL_S = 0.1
"""How often watched files are checked for new lines (an event reaches clients within about this long)."""


@dataclass(frozen=True)
class ServeSettings:
    """Everything ``create_app`` needs besides the clock and the launcher."""

    settings: Settings = field(default_factory=Settings)
    dags_dir: Path = Path("configs/dags")
    schedules_dir: Path = Path("configs/schedules")
    templates_dir: Path = Path("configs/templates")
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    token_file: Path | None = None
    """Where ``token`` was read from (SIGHUP reads it again)."""
    read_token: str | None = None
    """A second token that may only read (GET and HEAD): for Prometheus, status boards, CI jobs that look."""
    read_token_file: Path | None = None
    """Where ``read_token`` was read from (SIGHUP reads it again)."""
    allowed_origins: tuple[str, ...] = ()
    """Origins (``https://ops.example.com``) allowed to send mutating requests besides the server's own."""
    max_streams: int = MAX_STREAMS
    max_body_bytes: int = MAX_BODY_BYTES
    stream_idle_s: float = STREAM_IDLE_S
    heartbeat_s: float = HEARTBEAT_S
    send_timeout_s: float = SEND_TIMEOUT_S
    poll_s: float = POLL_S
    panel_window: str = "24"
    """``ORCH_PANEL_WINDOW_H``: hours (a bare number) or a duration such as ``2d``."""
    python: str = sys.executable
    """The interpreter that runs ``python -m dagctl run ...`` for runs started here."""
    tls_cert: Path | None = None
    """HTTPS: the PEM certificate (chain), which may hold the key too (:mod:`dagctl.web.tls`)."""
    tls_key: Path | None = None

    def check(self) -> None:
        """Refuse settings that would expose the server: a non-loopback bind needs a token."""
        if not is_loopback_host(self.host) and not self.token:
            raise UsageError(
                f"refusing to listen on {self.host} without a token: anyone who can reach it could start runs",
                hint="pass --token-file FILE (every request then needs 'Authorization: Bearer <token>'), "
                "or bind 127.0.0.1 and put a reverse proxy in front",
            )
        if self.read_token and not self.token:
            raise UsageError(
                "--read-token-file needs --token-file: without a token every request may do anything anyway",
                hint="pass --token-file FILE too (the token that may start, cancel and change things)",
            )
        if self.read_token and self.read_token == self.token:
            raise UsageError(
                "--read-token-file holds the same token as --token-file",
                hint="give the read-only token one of its own: openssl rand -hex 32 > FILE; chmod 600 FILE",
            )
        if self.tls_key is not None and self.tls_cert is None:
            raise UsageError("--tls-key needs --tls-cert", hint="pass both: --tls-cert CERT.pem --tls-key KEY.pem")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port {self.port} is not a TCP port", hint="use 1-65535 (0: any free port)")
        for name, value in (("--max-streams", self.max_streams), ("--max-body", self.max_body_bytes)):
            if value < 1:
                raise UsageError(f"{name} must be at least 1, got {value}")
        if not self.send_timeout_s >= MIN_SEND_TIMEOUT_S:  # also NaN
            raise UsageError(
                f"--send-timeout {self.send_timeout_s:g}s is too short: a client on a slow link would be cut off",
                hint=f"give at least {MIN_SEND_TIMEOUT_S:g}s, e.g. --send-timeout 30s (the default)",
            )
        if not self.stream_idle_s >= self.heartbeat_s:  # also NaN
            raise UsageError(
                f"--stream-idle {self.stream_idle_s:g}s is shorter than the {self.heartbeat_s:g}s heartbeat: streams "
                "would end before their first heartbeat and clients reconnect without end",
                hint=f"give at least {self.heartbeat_s:g}s, e.g. --stream-idle 5m (the default)",
            )

    def check_folders(self) -> None:
        """Refuse, at start, folders that are not there: a mistyped ``--dags`` would serve an empty list, and a
        ``--templates`` that is a file could never keep a template. A missing ``--templates`` folder is made on
        the first save."""
        _folder("--dags", self.dags_dir, "the folder of the DAG files that may be run")
        if self.templates_dir.exists() or self.templates_dir.is_symlink():
            _folder("--templates", self.templates_dir, "a folder for templates (it is made on the first save)")

    @property
    def token_in_clear(self) -> bool:
        """The token would cross the network unencrypted (no TLS here, and not a loopback bind)."""
        return bool(self.token) and self.tls_cert is None and not is_loopback_host(self.host)

    @property
    def loopback_only(self) -> bool:
        """Bound to loopback without a token: only loopback Host headers are served (against DNS rebinding)."""
        return is_loopback_host(self.host) and not self.token


def _folder(flag: str, path: Path, what: str) -> None:
    """UsageError unless ``path`` is a folder (a symlink to one will do)."""
    if path.is_dir():
        return
    if path.exists():
        problem = "is not a folder"
    elif path.is_symlink():
        problem = "is a broken symbolic link"
    else:
        problem = "does not exist"
    raise UsageError(f"{flag} {path} {problem}", hint=f"pass {flag} FOLDER: {what}")
