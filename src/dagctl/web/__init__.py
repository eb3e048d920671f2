"""``dagctl serve``: the HTTP API and the web dashboard (the optional ``web`` extra: FastAPI, uvicorn,
prometheus_client).

Owns everything HTTP: the app factory (:func:`dagctl.web.app.create_app`, no module-level app), the routes
per area (``api_runs``, ``api_control``, ``api_dags``, ``api_panel``, ``pages``), Server-Sent Events over the
JSONL files (``watch``, ``sse``, ``streams``), the security rules (``security``, ``middleware``), the templates
folder (``templates``), Prometheus metrics (``metrics``), the pure layout of a run page (``runview``) and the
uvicorn runner with sd_notify (``server``). Static assets (HTML, one script, one stylesheet) are in ``static/``.

It reads the same files as the CLI and starts runs as processes of their own (``dagctl run``), so it can run
beside ``dagctl schedule --serve``, workers and plain runs. It may import every layer below it (schedule, run,
report, dag, store, base); nothing imports it but the CLI's ``serve`` command. Only this package imports
fastapi, starlette, uvicorn and prometheus_client; this module imports none of them, so
:func:`require_extra` can say what to install.
"""

from __future__ import annotations

EXTRA_MODULES = ("fastapi", "uvicorn", "prometheus_client")


def require_extra() -> None:
    """Raise :class:`~dagctl.errors.EnvironmentProblem` (exit 3) naming what is missing for ``dagctl serve``."""
    from importlib.util import find_spec

    from dagctl.errors import EnvironmentProblem

    missing = [name for name in EXTRA_MODULES if find_spec(name) is None]
    if missing:
        raise EnvironmentProblem(
            f"dagctl serve needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed",
            hint="install the web extra: pip install 'dagctl[web]'",
        )
