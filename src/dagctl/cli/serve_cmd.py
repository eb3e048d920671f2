"""``dagctl serve``: the HTTP API and the web dashboard (the ``web`` extra)."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import typer

SERVE_HELP = """Serve the HTTP API and the web dashboard: runs, live logs, schedules, per-tenant KPIs, metrics.

Reads the same files as the other commands (DAGCTL_LOGS_DIR ...) and runs beside `schedule --serve`,
workers and plain runs; runs started here are `dagctl run` processes of their own. Listens on 127.0.0.1
by default; any other address needs --token-file (every request then needs 'Authorization: Bearer
TOKEN'; --read-token-file adds a token that may only read, e.g. for /metrics); --tls-cert serves HTTPS.
SIGHUP reads the token files and the certificate again. systemd-ready (Type=notify); SIGTERM ends open
streams cleanly and exits 0. Needs
`pip install 'dagctl[web]'`. API reference: /docs on the server, and docs/serve.md.

\b
Examples:
  dagctl serve                                   http://127.0.0.1:8080
  dagctl serve --port 9000 --dags configs/dags
  dagctl serve --host 0.0.0.0 --token-file /etc/dagctl/token
  dagctl serve --host 0.0.0.0 --token-file /etc/dagctl/token \\
      --tls-cert /etc/dagctl/tls/cert.pem --tls-key /etc/dagctl/tls/key.pem
"""


def _logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S%z"))
    for name in ("dagctl", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = [handler] if name in ("dagctl", "uvicorn") else []
        logger.setLevel(logging.WARNING if quiet else logging.INFO)


def register(app: typer.Typer) -> None:
    @app.command("serve", help=SERVE_HELP)
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
        port: int = typer.Option(8080, "--port", min=0, max=65535, help="TCP port (0: any free port)."),
        port_p: int | None = typer.Option(None, "-p", min=0, max=65535, hidden=True),  # old: -p is --param elsewhere
        dags: Path = typer.Option(Path("configs/dags"), "--dags", help="Folder of the DAG files that may be run."),
        schedules: Path = typer.Option(Path("configs/schedules"), "--schedules", help="Folder of schedule files."),
        templates: Path = typer.Option(
            Path("configs/templates"), "--templates", help="Folder where DAG templates are kept."
        ),
        token_file: Path | None = typer.Option(
            None, "--token-file", help="File holding the API token (required beyond loopback); SIGHUP reads it again."
        ),
        read_only_file: Path | None = typer.Option(
            None,
            "--read-token-file",
            metavar="FILE",
            help="File holding a read-only token (GET requests: the dashboard, streams, /metrics); SIGHUP reads it "
            "again.",
        ),
        tls_cert: Path | None = typer.Option(
            None, "--tls-cert", help="Serve HTTPS with this PEM certificate (then intermediates); SIGHUP reloads it."
        ),
        tls_key: Path | None = typer.Option(
            None, "--tls-key", help="The certificate's private key (PEM, unencrypted), unless --tls-cert holds it."
        ),
        allow_origin: list[str] = typer.Option(
            [], "--allow-origin", help="Another origin allowed to POST (e.g. https://ops.example.com); repeatable."
        ),
        max_streams: int = typer.Option(200, "--max-streams", min=1, help="Event/log streams open at once."),
        max_body: int = typer.Option(1 << 20, "--max-body", min=1, help="Largest request body, in bytes."),
        idle: str = typer.Option("5m", "--stream-idle", help="Close a stream that has sent nothing for this long."),
        send_timeout: str = typer.Option(
            "30s",
            "--send-timeout",
            metavar="DURATION",
            help="Drop a connection whose client takes nothing sent to it for this long.",
        ),
        access_log: bool = typer.Option(False, "--access-log", help="Log every request."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Log only warnings and errors."),
    ) -> None:
        from dagctl.dag.durations import parse_duration
        from dagctl.errors import UsageError
        from dagctl.schedule.sdnotify import Notifier
        from dagctl.settings import Settings, env_text
        from dagctl.web import require_extra

        from .signals import handle_signals

        port = port if port_p is None else port_p
        require_extra()
        from dagctl.web.app import create_app
        from dagctl.web.config import ServeSettings
        from dagctl.web.security import read_token_file
        from dagctl.web.server import Server

        try:
            idle_s = parse_duration(idle)
        except ValueError as exc:
            raise UsageError(f"--stream-idle: {exc}") from None
        try:
            send_timeout_s = parse_duration(send_timeout)
        except ValueError as exc:
            raise UsageError(f"--send-timeout: {exc}", hint="e.g. --send-timeout 30s (the default)") from None
        settings = Settings.from_env()
        settings.check_writable("logs", "events")
        config = ServeSettings(
            settings=settings,
            dags_dir=dags,
            schedules_dir=schedules,
            templates_dir=templates,
            host=host,
            port=port,
            token=read_token_file(token_file) if token_file is not None else None,
            token_file=token_file,
            read_token=read_token_file(read_only_file, "--read-token-file") if read_only_file is not None else None,
            read_token_file=read_only_file,
            allowed_origins=tuple(allow_origin),
            max_streams=max_streams,
            max_body_bytes=max_body,
            stream_idle_s=idle_s,
            send_timeout_s=send_timeout_s,
            panel_window=env_text(os.environ, "ORCH_PANEL_WINDOW_H") or "24",
            tls_cert=tls_cert,
            tls_key=tls_key,
        )
        config.check()
        config.check_folders()
        _logging(quiet)
        tls = None
        if tls_cert is not None:
            from dagctl.web.tls import Certificates

            tls = Certificates(tls_cert, tls_key)
        elif config.token_in_clear:
            logging.getLogger("dagctl.web").warning(
                "the token crosses the network in clear text on %s: serve HTTPS with --tls-cert/--tls-key, "
                "or put a TLS reverse proxy in front",
                host,
            )
        notifier = Notifier.from_env(unset=True)  # runs started here must not inherit NOTIFY_SOCKET
        server = Server(
            create_app(config),
            config,
            notifier=notifier,
            access_log=access_log,
            on_listening=lambda url: print(f"dagctl serve: listening on {url}", file=sys.stderr, flush=True),
            tls=tls,
        )

        def on_stop(signum: int, again: bool) -> None:
            logging.getLogger("dagctl.web").info(
                "%s: %s", signal.Signals(signum).name, "stopping now" if again else "closing streams, then exiting"
            )
            server.request_stop(now=again)

        try:
            with handle_signals(on_stop, on_reload=server.reload):
                code = server.run()
        finally:
            notifier.close()
        raise typer.Exit(code)
