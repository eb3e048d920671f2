"""The Celery app dagctl's coordinators and workers share: JSON only, late acks, one message at a time per
worker process, redelivery when a worker process is lost, short broker timeouts.

:func:`make_app` builds one per caller (no module-level app). The two task names it speaks are
:data:`ATTEMPT_TASK` (one task attempt) and :data:`RUN_TASK` (one whole-DAG job); what a worker does with
them lives in :mod:`dagctl.run.worker`.
"""

from __future__ import annotations

import logging
from typing import Any

from .celery_config import CeleryConfig, require

logger = logging.getLogger(__name__)

ATTEMPT_TASK = "dagctl.attempt"
RUN_TASK = "dagctl.run"


# ---------------------------------------------------------------------------------------- the app


def make_app(config: CeleryConfig) -> Any:
    """A Celery app for ``config``; with ``worker=True`` the dagctl tasks and worker step are registered."""
    celery = require("celery")
    app = celery.Celery("dagctl", broker=config.broker, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_accept_content=["json"],
        event_serializer="json",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_default_queue=config.queue,
        task_create_missing_queues=True,
        broker_connection_timeout=config.connect_timeout,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": config.visibility_timeout,
            "socket_connect_timeout": config.connect_timeout,
            "socket_timeout": max(10.0, config.connect_timeout),
            "socket_keepalive": True,
            "fanout_prefix": True,
            "fanout_patterns": True,
        },
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_disable_rate_limits=True,
        worker_send_task_events=False,
        task_send_sent_event=False,
        enable_utc=True,
        timezone="UTC",
    )
    return app
